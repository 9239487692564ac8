package caller

import (
	"slices"
	"strings"
	"testing"

	"ferry/internal/spool"
	"ferry/internal/testnet"
	"ferry/internal/tx"
)

// Real packets in a real spool: what counts is niceness, and only whole
// packets in tx/.
func TestWithTx(t *testing.T) {
	n := testnet.New(t, "a", "b", "c", "d", "e")
	a := n.Nodes["a"]
	sp, err := spool.Open(a.Spool, spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s := &tx.Sender{Cfg: a.Cfg, Spool: sp}
	send := func(to string, nice uint8) {
		t.Helper()
		if _, err := s.File(a.Cfg.Neigh[to], strings.NewReader("hello"), "x", tx.Options{Nice: nice}); err != nil {
			t.Fatal(err)
		}
	}
	send("b", 64)  // flash
	send("b", 200) // bulk
	send("c", 200)
	send("e", 96)
	a.Cfg.Neigh["e"].NoisePub = nil // e cannot be called online
	// d has only a partly received file in tx/ (as a call leaves it).
	dDir := sp.QueueDir(a.Cfg.Neigh["d"].ID, spool.TX)
	if err := writeFile(dDir+"/AAAA.part", "x"); err != nil {
		t.Fatal(err)
	}

	q := SpoolQueue{sp}
	names := func(p []Pending) []string {
		var out []string
		for _, x := range p {
			out = append(out, x.Node.Name)
		}
		return out
	}
	for _, c := range []struct {
		nice uint8
		want []string
		bPkt int
	}{
		{255, []string{"b", "c"}, 2},
		{200, []string{"b", "c"}, 2},
		{199, []string{"b"}, 1},
		{64, []string{"b"}, 1},
		{63, nil, 0},
	} {
		p, err := WithTx(a.Cfg, q, c.nice)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(p), c.want) {
			t.Errorf("nice %d: %v, want %v", c.nice, names(p), c.want)
		}
		if len(p) > 0 && (p[0].Pkts != c.bPkt || p[0].Size <= 0) {
			t.Errorf("nice %d: b has %+v, want %d packets", c.nice, p[0].Backlog, c.bPkt)
		}
	}
	// self never, even with packets to itself.
	if b, err := q.Tx(a.Cfg.Neigh["self"].ID, 255); err != nil || b.Pkts != 0 {
		t.Errorf("self: %+v %v", b, err)
	}
}
