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
// The kills fall anywhere in the batched scheme (copies being written to
// tmp/, synced, placed in rx/, sources being removed): progress counts
// the files in tmp/ as well as rx/. Both ways a packet enters tmp/ are
// killed: "move" (the stick is on the spool's file system and the
// packets are ours: hard links, no copy) and "copy" (each packet has a
// second name elsewhere, so it is copied).
func TestXferRxKill9(t *testing.T) {
	if testing.Short() && !refbin.Required() {
		t.Skip("kill -9 runs")
	}
	for _, mode := range []string{"move", "copy"} {
		t.Run(mode, func(t *testing.T) { xferRxKill9(t, mode == "copy") })
	}
}

func xferRxKill9(t *testing.T, copies bool) {
	rng := rand.New(rand.NewPCG(20261202, 2))
	net := testnet.New(t, "a", "b")
	a, b := open(t, net.Nodes["a"]), open(t, net.Nodes["b"])
	nb := net.Nodes["b"]
	dir := t.TempDir()
	want := map[string][]byte{} // packet name -> bytes
	files := map[string]int{}   // file name -> size
	sdir := filepath.Join(dir, b.cfg.Self.ID.String(), a.cfg.Self.ID.String())
	// Progress steps: a copy made in tmp/ (+1), placed in rx/ (+2 -1), its
	// source removed from the stick (+1); each run is killed after a
	// random number of them (scale), anywhere in the run.
	stick0, scale := 0, 1
	progress := func() int {
		tmp, _ := os.ReadDir(b.sp.TmpDir())
		st, _ := os.ReadDir(sdir)
		return (len(tmp) + 2*len(nb.RxPackets(t, net.Nodes["a"])) + stick0 - len(st)) / scale
	}
	cmd := func() *exec.Cmd {
		st, _ := os.ReadDir(sdir)
		stick0, scale = len(st), 1+rng.IntN(1+len(st)*3/4)
		return testnet.Synced(nb.Cmd(t, testnet.Ferry, "xfer", "-noprogress", "-quiet", "-rx", dir))
	}
	kills := 0
	for round := 0; kills < 30 && round < 30; round++ {
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
		if copies {
			side := t.TempDir()
			ents, _ := os.ReadDir(sdir)
			for _, e := range ents {
				if err := os.Link(filepath.Join(sdir, e.Name()), filepath.Join(side, e.Name())); err != nil && !os.IsExist(err) {
					t.Fatal(err)
				}
			}
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
	if kills < 30 {
		t.Errorf("only %d kills", kills)
	}
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

// Real `ferry xfer -tx` processes killed with SIGKILL at random points
// (copies being written on the stick, synced, renamed, packets leaving
// tx/), then run to completion: every packet is on the stick whole and
// once, tx/ is empty, and no temporary file is left on the stick. As
// for rx, both the "move" (hard link) and the "copy" path are killed.
func TestXferTxKill9(t *testing.T) {
	if testing.Short() && !refbin.Required() {
		t.Skip("kill -9 runs")
	}
	for _, mode := range []string{"move", "copy"} {
		t.Run(mode, func(t *testing.T) { xferTxKill9(t, mode == "copy") })
	}
}

func xferTxKill9(t *testing.T, copies bool) {
	rng := rand.New(rand.NewPCG(20261203, 4))
	net := testnet.New(t, "a", "b")
	a, b := open(t, net.Nodes["a"]), open(t, net.Nodes["b"])
	na := net.Nodes["a"]
	dir := t.TempDir()
	odir := filepath.Join(dir, b.cfg.Self.ID.String(), a.cfg.Self.ID.String())
	side := t.TempDir()         // second names of the packets, for copies
	carried := t.TempDir()      // what each round put on the stick
	want := map[string][]byte{} // packet name -> bytes
	// Progress steps: a copy made on the stick (+1), renamed to its name
	// (+2 -1), the packet removed from tx/ (+1); each run is killed after
	// a random number of them (scale), anywhere in the run.
	tx0, scale := 0, 1
	progress := func() int {
		ents, _ := os.ReadDir(odir)
		n := 0
		for _, e := range ents {
			if spool.ValidName(e.Name()) {
				n += 2
			} else {
				n++
			}
		}
		return (n + tx0 - len(na.TxPackets(t, net.Nodes["b"]))) / scale
	}
	cmd := func() *exec.Cmd {
		tx0 = len(na.TxPackets(t, net.Nodes["b"]))
		scale = 1 + rng.IntN(1+tx0*3/4)
		return testnet.Synced(na.Cmd(t, testnet.Ferry, "xfer", "-noprogress", "-quiet", "-mkdir", "-tx", dir))
	}
	kills := 0
	for round := 0; kills < 30 && round < 200; round++ {
		for i := range 20 {
			size := []int{10, 3000, 5000, 200 << 10}[rng.IntN(4)]
			r, err := a.tx.File(a.cfg.Neigh["b"], bytes.NewReader(make([]byte, size)), fmt.Sprintf("r%d-%02d", round, i), tx.Options{Nice: 224})
			if err != nil {
				t.Fatal(err)
			}
			want[r.Pkt], _ = os.ReadFile(a.sp.PktPath(r.Hop, spool.TX, r.Pkt))
			if copies {
				if err := os.Link(a.sp.PktPath(r.Hop, spool.TX, r.Pkt), filepath.Join(side, r.Pkt)); err != nil {
					t.Fatal(err)
				}
			}
		}
		kills += testnet.KillRuns(t, rng, 30-kills, cmd, progress)
		// The round's end: a run to completion (after the kills'
		// leftovers have aged), then the stick's packets put aside, so
		// that the next round's polls read a small directory.
		testnet.Backdate(t, odir, ".ferry-")
		na.Must(t, testnet.Ferry, nil, "xfer", "-noprogress", "-quiet", "-mkdir", "-tx", dir)
		ents, _ := os.ReadDir(odir)
		for _, e := range ents {
			if !spool.ValidName(e.Name()) {
				t.Fatalf("round %d: stray file on the stick: %s", round, e.Name())
			}
			if _, err := os.Stat(filepath.Join(carried, e.Name())); err == nil {
				t.Fatalf("round %d: %s carried twice", round, e.Name())
			}
			if err := os.Rename(filepath.Join(odir, e.Name()), filepath.Join(carried, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	lost := 0
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(carried, name))
		if err != nil || !bytes.Equal(got, data) {
			lost++
		}
	}
	ents, _ := os.ReadDir(carried)
	t.Logf("%d kills; %d packets, %d carried, %d lost", kills, len(want), len(ents), lost)
	if lost > 0 || len(ents) != len(want) {
		t.Fatal("packets lost, or stray files on the stick")
	}
	if left := na.TxPackets(t, net.Nodes["b"]); len(left) != 0 {
		t.Errorf("%d packets still in tx/", len(left))
	}
	if kills < 30 {
		t.Errorf("only %d kills", kills)
	}
}
