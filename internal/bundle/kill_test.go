package bundle

import (
	"bytes"
	"errors"
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

// killNodes makes nodes a and b for a kill test, with a's config, spool
// (without fsync: queueing is the test's setup) and a sender from a.
func killNodes(t *testing.T) (na, nb *testnet.Node, acfg *config.Config, asp *spool.Spool, sender *tx.Sender) {
	t.Helper()
	net := testnet.New(t, "a", "b")
	na, nb = net.Nodes["a"], net.Nodes["b"]
	acfg, err := config.Load(na.CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	asp, _ = spool.Open(acfg.Spool, spool.Options{NoSync: true})
	return na, nb, acfg, asp, &tx.Sender{Cfg: acfg, Spool: asp}
}

// Real `ferry bundle -rx` processes killed with SIGKILL at random points
// while reading a bundle (in the batched scheme: copies being written to
// tmp/, synced, placed in rx/), then run to completion on the same
// bundle: every packet is in rx/ once and whole, and tmp/ is swept.
func TestBundleRxKill9(t *testing.T) {
	if testing.Short() && !refbin.Required() {
		t.Skip("kill -9 runs")
	}
	rng := rand.New(rand.NewPCG(20261202, 3))
	na, nb, acfg, asp, sender := killNodes(t)
	bsp, _ := spool.Open(nb.Spool, spool.Options{})
	bid := nb.Keys.ID
	stream := filepath.Join(t.TempDir(), "bundle")
	want := map[string][]byte{}
	// Progress steps: a copy made in tmp/ (+1), placed in rx/ (+2 -1);
	// each run is killed after a random number of them (scale), anywhere
	// in the run: copies being written, synced, placed.
	scale := 1
	progress := func() int {
		tmp, _ := os.ReadDir(bsp.TmpDir())
		return (len(tmp) + 2*len(nb.RxPackets(t, na))) / scale
	}
	cmd := func() *exec.Cmd {
		scale = 1 + rng.IntN(1+(len(want)-len(nb.RxPackets(t, na)))*3/4)
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
	for round := 0; kills < 30 && round < 16; round++ {
		queueRandom(t, rng, sender, acfg.Neigh["b"], asp, round, 30, want)
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

// Real `ferry bundle -tx -delete` processes killed with SIGKILL at random
// points, each writing its own bundle file, then run to completion: every
// packet that left tx/ is whole in one of the bundles, and reading them
// all stores every packet once.
func TestBundleTxKill9(t *testing.T) {
	if testing.Short() && !refbin.Required() {
		t.Skip("kill -9 runs")
	}
	rng := rand.New(rand.NewPCG(20261203, 5))
	na, nb, acfg, asp, sender := killNodes(t)
	bcfg, err := config.Load(nb.CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	bsp, _ := spool.Open(nb.Spool, spool.Options{NoSync: true})
	dir := t.TempDir()
	want := map[string][]byte{}
	var streams []string
	cur := ""
	tx0, scale := 0, 1
	// Progress steps: a KiB written to the bundle, 8 per packet removed
	// from tx/; each run is killed after a random number of them, chosen
	// within the run (est).
	progress := func() int {
		fi, _ := os.Stat(cur)
		var n int64
		if fi != nil {
			n = fi.Size() >> 10
		}
		return (int(n) + 8*(tx0-len(na.TxPackets(t, nb)))) / scale
	}
	cmd := func() *exec.Cmd {
		cur = filepath.Join(dir, fmt.Sprintf("bundle-%03d", len(streams)))
		streams = append(streams, cur)
		f, err := os.Create(cur)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		// The removals from tx/ come together, once the batch is durable:
		// kill points are spread over the writing, and the removals' start.
		est := 8
		for _, p := range na.TxPackets(t, nb) {
			if fi, err := os.Stat(p); err == nil {
				est += int(fi.Size() >> 10)
			}
		}
		tx0, scale = len(na.TxPackets(t, nb)), 1+rng.IntN(1+est/3)
		c := testnet.Synced(na.Cmd(t, testnet.Ferry, "bundle", "-noprogress", "-quiet", "-tx", "-delete", "b"))
		c.Stdout = f
		return c
	}
	// A run that ends before its kill point ends the round; on a quiet
	// machine a run of 20 packets is over in milliseconds and a third to
	// a half of the runs are killed: enough rounds for 30 kills either way.
	kills := 0
	for round := 0; kills < 30 && round < 150; round++ {
		queueRandom(t, rng, sender, acfg.Neigh["b"], asp, round, 20, want)
		kills += testnet.KillRuns(t, rng, 30-kills, cmd, progress)
	}
	c := cmd()
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Run(); err != nil {
		t.Fatalf("bundle -tx: %v\n%s", err, errb.String())
	}
	if left := na.TxPackets(t, nb); len(left) != 0 {
		t.Fatalf("%d packets still in tx/", len(left))
	}
	o := Options{Self: bcfg.Self.ID, Known: func(id node.ID) bool { return id == acfg.Self.ID }}
	truncated := 0
	for _, p := range streams {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		failed, err := Rx(bsp, f, o)
		f.Close()
		if errors.Is(err, ErrTruncated) {
			truncated++ // cut by a kill: what was whole before is taken
		} else if err != nil || failed != 0 {
			t.Fatalf("%s: %d failed, %v", p, failed, err)
		}
	}
	lost := 0
	rx := nb.RxPackets(t, na)
	for name, data := range want {
		got, err := os.ReadFile(bsp.PktPath(acfg.Self.ID, spool.RX, name))
		if err != nil || !bytes.Equal(got, data) {
			lost++
		}
	}
	t.Logf("%d kills, %d bundles (%d cut); %d packets, %d in rx/, %d lost", kills, len(streams), truncated, len(want), len(rx), lost)
	if lost > 0 || len(rx) != len(want) {
		t.Fatal("packets lost or stray")
	}
	if kills < 30 {
		t.Errorf("only %d kills", kills)
	}
}

// queueRandom queues n file packets of sizes from 10 bytes to over a MiB
// for nb, and notes each packet's bytes in want.
func queueRandom(t *testing.T, rng *rand.Rand, sender *tx.Sender, nb *config.Neighbour, sp *spool.Spool, round, n int, want map[string][]byte) {
	t.Helper()
	for i := range n {
		size := []int{10, 5000, 200 << 10, 1<<20 + 3}[rng.IntN(4)]
		r, err := sender.File(nb, bytes.NewReader(make([]byte, size)), fmt.Sprintf("r%d-%02d", round, i), tx.Options{Nice: 224})
		if err != nil {
			t.Fatal(err)
		}
		want[r.Pkt], _ = os.ReadFile(sp.PktPath(r.Hop, spool.TX, r.Pkt))
	}
}
