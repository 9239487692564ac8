package bundle

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/spool"
	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
	"ferry/internal/tx"
)

// Real `ferry bundle -rx` processes killed with SIGKILL at random points
// while reading a bundle, then run to completion on the same bundle:
// every packet is in rx/ once and whole, and tmp/ is swept.
func TestBundleRxKill9(t *testing.T) {
	if testing.Short() && !refbin.Required() {
		t.Skip("kill -9 runs")
	}
	rng := rand.New(rand.NewPCG(20261202, 3))
	net := testnet.New(t, "a", "b")
	na, nb := net.Nodes["a"], net.Nodes["b"]
	acfg, err := config.Load(na.CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	asp, _ := spool.Open(acfg.Spool, spool.Options{NoSync: true})
	sender := &tx.Sender{Cfg: acfg, Spool: asp}
	bsp, _ := spool.Open(nb.Spool, spool.Options{})
	bid := nb.Keys.ID
	stream := filepath.Join(t.TempDir(), "bundle")
	want := map[string][]byte{}
	progress := func() int { return len(nb.RxPackets(t, na)) }
	cmd := func() *exec.Cmd {
		c := testnet.Synced(nb.Cmd(t, testnet.Ferry, "bundle", "-noprogress", "-quiet", "-rx"))
		f, err := os.Open(stream)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		c.Stdin = f
		return c
	}
	kills := 0
	for round := 0; kills < 30 && round < 8; round++ {
		for i := range 30 {
			size := []int{10, 5000, 200 << 10, 1<<20 + 3}[rng.IntN(4)]
			r, err := sender.File(acfg.Neigh["b"], bytes.NewReader(make([]byte, size)), fmt.Sprintf("r%d-%02d", round, i), tx.Options{Nice: 224})
			if err != nil {
				t.Fatal(err)
			}
			want[r.Pkt], _ = os.ReadFile(asp.PktPath(r.Hop, spool.TX, r.Pkt))
		}
		f, err := os.Create(stream) // the whole queue each round: old packets are skipped
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Tx(asp, f, Options{Self: acfg.Self.ID, Nodes: []node.ID{bid}}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		kills += testnet.KillRuns(t, rng, 30-kills, cmd, progress)
	}
	left, _ := os.ReadDir(bsp.TmpDir())
	testnet.Backdate(t, bsp.TmpDir(), ".ferry-")
	c := cmd()
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("bundle -rx: %v\n%s", err, out)
	}
	lost := 0
	rx := nb.RxPackets(t, na)
	for name, data := range want {
		got, err := os.ReadFile(bsp.PktPath(acfg.Self.ID, spool.RX, name))
		if err != nil || !bytes.Equal(got, data) {
			lost++
		}
	}
	t.Logf("%d kills (leaving %d files in tmp/); %d packets, %d in rx/, %d lost", kills, len(left), len(want), len(rx), lost)
	if lost > 0 || len(rx) != len(want) {
		t.Fatal("packets lost or stray")
	}
	if ents, _ := os.ReadDir(bsp.TmpDir()); len(ents) != 0 {
		t.Errorf("tmp/ not swept: %v", ents)
	}
}
