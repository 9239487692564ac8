package xfer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"ferry/internal/spool"
	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
	"ferry/internal/toss"
	"ferry/internal/tx"
)

// Real `ferry xfer -rx` processes killed with SIGKILL at random points,
// then run to completion: every packet reaches rx/ whole and once, the
// stick is emptied, tmp/ is swept, and the files are tossed once each.
func TestXferRxKill9(t *testing.T) {
	if testing.Short() && !refbin.Required() {
		t.Skip("kill -9 runs")
	}
	rng := rand.New(rand.NewPCG(20261202, 2))
	net := testnet.New(t, "a", "b")
	a, b := open(t, net.Nodes["a"]), open(t, net.Nodes["b"])
	nb := net.Nodes["b"]
	dir := t.TempDir()
	want := map[string][]byte{} // packet name -> bytes
	files := map[string]int{}   // file name -> size
	progress := func() int { return len(nb.RxPackets(t, net.Nodes["a"])) }
	cmd := func() *exec.Cmd {
		return testnet.Synced(nb.Cmd(t, testnet.Ferry, "xfer", "-noprogress", "-quiet", "-rx", dir))
	}
	kills := 0
	for round := 0; kills < 30 && round < 8; round++ {
		for i := range 30 {
			name := fmt.Sprintf("r%d-%02d", round, i)
			size := []int{10, 5000, 200 << 10, 1<<20 + 3}[rng.IntN(4)]
			files[name] = size
			r, err := a.tx.File(a.cfg.Neigh["b"], bytes.NewReader(make([]byte, size)), name, tx.Options{Nice: 224})
			if err != nil {
				t.Fatal(err)
			}
			want[r.Pkt], _ = os.ReadFile(a.sp.PktPath(r.Hop, spool.TX, r.Pkt))
		}
		o := a.opts(nil)
		o.Mkdir = true
		if f, err := Tx(a.sp, dir, o); err != nil || f != 0 {
			t.Fatal(f, err)
		}
		kills += testnet.KillRuns(t, rng, 30-kills, cmd, progress)
	}
	left, _ := os.ReadDir(b.sp.TmpDir())
	testnet.Backdate(t, b.sp.TmpDir(), ".ferry-")
	nb.Must(t, testnet.Ferry, nil, "xfer", "-noprogress", "-quiet", "-rx", dir)
	lost := 0
	rx := nb.RxPackets(t, net.Nodes["a"])
	for name, data := range want {
		got, err := os.ReadFile(b.sp.PktPath(a.cfg.Self.ID, spool.RX, name))
		if err != nil || !bytes.Equal(got, data) {
			lost++
		}
	}
	t.Logf("%d kills (leaving %d files in tmp/); %d packets, %d in rx/, %d lost", kills, len(left), len(want), len(rx), lost)
	if lost > 0 || len(rx) != len(want) {
		t.Fatal("packets lost or stray")
	}
	sdir := filepath.Join(dir, b.cfg.Self.ID.String(), a.cfg.Self.ID.String())
	if ents, _ := os.ReadDir(sdir); len(ents) != 0 {
		t.Errorf("stick not emptied: %d entries", len(ents))
	}
	if ents, _ := os.ReadDir(b.sp.TmpDir()); len(ents) != 0 {
		t.Errorf("tmp/ not swept: %v", ents)
	}
	tt := &toss.Tosser{Cfg: b.cfg, Spool: b.sp, Sender: b.tx}
	if f, err := tt.Run(); err != nil || f != 0 {
		t.Fatalf("toss: %d failed, %v", f, err)
	}
	ents, _ := os.ReadDir(nb.Incoming)
	if len(ents) != len(files) {
		t.Fatalf("%d files tossed, want %d", len(ents), len(files))
	}
	for _, e := range ents {
		fi, _ := e.Info()
		if sz, ok := files[e.Name()]; !ok || fi.Size() != int64(sz) {
			t.Errorf("%s: %d bytes (want %d, known %v)", e.Name(), fi.Size(), sz, ok)
		}
	}
}
