package toss

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/pktcrypt"
	"ferry/internal/spool"
	"ferry/internal/testnet"
	"ferry/internal/tx"
	"ferry/internal/wire"
)

// side is one node of a test network, driven in-process.
type side struct {
	nd     *testnet.Node
	cfg    *config.Config
	spool  *spool.Spool
	sender *tx.Sender
}

func open(t *testing.T, nd *testnet.Node) *side {
	t.Helper()
	cfg, err := config.Load(nd.CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(cfg.Spool, spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return &side{nd: nd, cfg: cfg, spool: sp, sender: &tx.Sender{Cfg: cfg, Spool: sp}}
}

// pair makes a and b, and returns them with a function that moves a's
// queued packets for b into b's rx/ (what xfer does).
func pair(t *testing.T) (a, b *side, carry func()) {
	net := testnet.New(t, "a", "b")
	a, b = open(t, net.Nodes["a"]), open(t, net.Nodes["b"])
	carry = func() {
		t.Helper()
		carryTo(t, a, b)
	}
	return a, b, carry
}

// carryTo moves from's packets for to into to's rx/.
func carryTo(t *testing.T, from, to *side) {
	t.Helper()
	for _, p := range from.nd.TxPackets(t, to.nd) {
		dst := to.spool.PktPath(from.cfg.Self.ID, spool.RX, filepath.Base(p))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.Rename(p, dst); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *side) toss(t *testing.T, o Options) []*Event {
	t.Helper()
	var evs []*Event
	o.Report = func(e *Event) { evs = append(evs, e) }
	tt := &Tosser{Cfg: s.cfg, Spool: s.spool, Sender: s.sender, Opts: o}
	if _, err := tt.Run(); err != nil {
		t.Fatal(err)
	}
	return evs
}

func (s *side) neigh(name string) *config.Neighbour { return s.cfg.Neigh[name] }

func only(t *testing.T, evs []*Event) *Event {
	t.Helper()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	return evs[0]
}

func rxCount(t *testing.T, b, a *side) int { return len(b.nd.RxPackets(t, a.nd)) }

func TestFileAndCollision(t *testing.T) {
	a, b, carry := pair(t)
	for i := 0; i < 3; i++ {
		if _, err := a.sender.File(a.neigh("b"), strings.NewReader("v"+string(rune('0'+i))), "sub/x.txt", tx.Options{Nice: 224}); err != nil {
			t.Fatal(err)
		}
	}
	carry()
	evs := b.toss(t, Options{})
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	got := map[string]bool{}
	for _, e := range evs {
		if e.Outcome != Done || e.Dst != "sub/x.txt" {
			t.Fatalf("%+v", e)
		}
		got[filepath.Base(e.Saved)] = true
	}
	for _, n := range []string{"x.txt", "x.txt.0", "x.txt.1"} {
		if !got[n] {
			t.Errorf("no %s among %v", n, got)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(b.nd.Incoming, "sub")); len(ents) != 3 {
		t.Errorf("%d files in incoming/sub (temporary files left?)", len(ents))
	}
}

func TestRefusedPacketsStay(t *testing.T) {
	cases := []struct {
		name string
		// make queues one packet in a's tx for b, then damages it.
		make   func(t *testing.T, a, b *side) []byte
		damage func(p []byte) []byte
		want   error
	}{
		{"truncated", fileOf(300 * 1024), func(p []byte) []byte { return p[:len(p)-1000] }, pktcrypt.ErrTruncated},
		{"truncated header", fileOf(10), func(p []byte) []byte { return p[:100] }, nil},
		{"corrupted", fileOf(300 * 1024), func(p []byte) []byte { p[200*1024] ^= 0x40; return p }, pktcrypt.ErrAuth},
		{"forged signature", fileOf(10), func(p []byte) []byte { p[wire.EncHeaderSize-1] ^= 1; return p }, pktcrypt.ErrBadSignature},
		{"trailing garbage", fileOf(10), func(p []byte) []byte { return append(p, 1, 2, 3) }, nil},
		{"escaping path", func(t *testing.T, a, b *side) []byte {
			_, err := a.sender.File(a.neigh("b"), strings.NewReader("x"), "../../evil", tx.Options{Nice: 224})
			if err != nil {
				t.Fatal(err)
			}
			return nil
		}, nil, ErrBadPath},
		{"absolute path", func(t *testing.T, a, b *side) []byte {
			a.sender.File(a.neigh("b"), strings.NewReader("x"), "/etc/evil", tx.Options{Nice: 224})
			return nil
		}, nil, ErrBadPath},
		{"unknown handle", func(t *testing.T, a, b *side) []byte {
			a.sender.Exec(a.neigh("b"), "nosuch", nil, strings.NewReader("x"), tx.ExecOptions{Options: tx.Options{Nice: 96}})
			return nil
		}, nil, ErrNoHandle},
		{"failing handle", func(t *testing.T, a, b *side) []byte {
			a.sender.Exec(a.neigh("b"), "fail", nil, strings.NewReader("x"), tx.ExecOptions{Options: tx.Options{Nice: 96}})
			return nil
		}, nil, ErrHandleFailed},
		{"freq outside freq.path", func(t *testing.T, a, b *side) []byte {
			a.sender.Freq(a.neigh("b"), "../cfg.hjson", "x", 224, tx.Options{Nice: 160})
			return nil
		}, nil, ErrBadPath},
		{"freq of a missing file", func(t *testing.T, a, b *side) []byte {
			a.sender.Freq(a.neigh("b"), "nosuch", "x", 224, tx.Options{Nice: 160})
			return nil
		}, nil, os.ErrNotExist},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b, carry := pair(t)
			c.make(t, a, b)
			if c.damage != nil {
				p := a.nd.TxPackets(t, b.nd)[0]
				data, _ := os.ReadFile(p)
				os.WriteFile(p, c.damage(data), 0o644)
			}
			carry()
			before := snapshot(t, b)
			for round := 0; round < 2; round++ { // and again: still there, still refused
				ev := only(t, b.toss(t, Options{}))
				if ev.Outcome != Failed || ev.Err == nil {
					t.Fatalf("round %d: %+v", round, ev)
				}
				if c.want != nil && !errors.Is(ev.Err, c.want) {
					t.Fatalf("err %v, want %v", ev.Err, c.want)
				}
				if c.name == "failing handle" && !bytes.Contains(ev.Output, []byte("handle says no")) {
					t.Errorf("handle output not captured: %q", ev.Output)
				}
				if rxCount(t, b, a) != 1 {
					t.Fatal("refused packet was removed")
				}
			}
			if after := snapshot(t, b); after != before {
				t.Errorf("incoming/exec changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func fileOf(n int) func(t *testing.T, a, b *side) []byte {
	return func(t *testing.T, a, b *side) []byte {
		if _, err := a.sender.File(a.neigh("b"), bytes.NewReader(make([]byte, n)), "f", tx.Options{Nice: 224}); err != nil {
			t.Fatal(err)
		}
		return nil
	}
}

// snapshot lists everything in incoming/ and exec/ (temporary files too).
func snapshot(t *testing.T, s *side) string {
	var names []string
	for _, d := range []string{s.nd.Incoming, s.nd.ExecDir} {
		filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err == nil && p != d {
				names = append(names, p)
			}
			return nil
		})
	}
	return strings.Join(names, " ")
}

func TestForeignAndUnknown(t *testing.T) {
	net := testnet.New(t, "a", "b", "c")
	a, b := open(t, net.Nodes["a"]), open(t, net.Nodes["b"])
	// A packet a made for c, dropped into b's rx: not for b.
	r, err := a.sender.File(a.neigh("c"), strings.NewReader("x"), "f", tx.Options{Nice: 224})
	if err != nil {
		t.Fatal(err)
	}
	src := a.spool.PktPath(r.Hop, spool.TX, r.Pkt)
	dst := b.spool.PktPath(a.cfg.Self.ID, spool.RX, r.Pkt)
	os.MkdirAll(filepath.Dir(dst), 0o755)
	os.Rename(src, dst)
	ev := only(t, b.toss(t, Options{}))
	if !errors.Is(ev.Err, pktcrypt.ErrNotForUs) {
		t.Fatalf("foreign: %v", ev.Err)
	}
	// b forgets a: a's packets are from an unknown node.
	os.Remove(dst)
	delete(b.cfg.Neigh, "a")
	delete(b.cfg.ByID, a.cfg.Self.ID)
	r, _ = a.sender.File(a.neigh("b"), strings.NewReader("x"), "f", tx.Options{Nice: 224})
	os.Rename(a.spool.PktPath(r.Hop, spool.TX, r.Pkt), b.spool.PktPath(a.cfg.Self.ID, spool.RX, r.Pkt))
	ev = only(t, (&Tosser{Cfg: b.cfg, Spool: b.spool, Sender: b.sender}).withReport(t, a.cfg.Self.ID))
	if !errors.Is(ev.Err, ErrUnknownSender) {
		t.Fatalf("unknown sender: %v", ev.Err)
	}
}

func (tt *Tosser) withReport(t *testing.T, id node.ID) []*Event {
	var evs []*Event
	tt.Opts.Report = func(e *Event) { evs = append(evs, e) }
	if _, err := tt.RunNode(id); err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestSeenAndDryRun(t *testing.T) {
	a, b, carry := pair(t)
	a.sender.File(a.neigh("b"), strings.NewReader("once"), "f", tx.Options{Nice: 224})
	saved := a.nd.TxPackets(t, b.nd)[0]
	copyOf, _ := os.ReadFile(saved)
	carry()
	if ev := only(t, b.toss(t, Options{DryRun: true})); ev.Outcome != Done {
		t.Fatalf("dry run: %+v", ev)
	}
	if rxCount(t, b, a) != 1 || snapshot(t, b) != "" {
		t.Fatal("dry run changed something")
	}
	if ev := only(t, b.toss(t, Options{Seen: true})); ev.Outcome != Done {
		t.Fatalf("%+v", ev)
	}
	// The same packet arrives again (another route, a replay).
	os.WriteFile(b.spool.PktPath(a.cfg.Self.ID, spool.RX, filepath.Base(saved)), copyOf, 0o644)
	ev := only(t, b.toss(t, Options{Seen: true}))
	if ev.Outcome != Duplicate || !errors.Is(ev.Err, ErrSeen) {
		t.Fatalf("replay: %+v", ev)
	}
	if ents, _ := os.ReadDir(b.nd.Incoming); len(ents) != 1 {
		t.Fatalf("replay delivered again: %d files", len(ents))
	}
}

func TestSkipFlags(t *testing.T) {
	a, b, carry := pair(t)
	a.sender.Exec(a.neigh("b"), "save", []string{"x"}, strings.NewReader("x"), tx.ExecOptions{Options: tx.Options{Nice: 96}})
	carry()
	if ev := only(t, b.toss(t, Options{Skip: TypesOf(wire.TypeExec)})); ev.Outcome != Skipped {
		t.Fatalf("%+v", ev)
	}
	if rxCount(t, b, a) != 1 {
		t.Fatal("skipped packet removed")
	}
	if ev := only(t, b.toss(t, Options{})); ev.Outcome != Done {
		t.Fatalf("%+v", ev)
	}
}

func TestACKRemovesKeptPacket(t *testing.T) {
	a, b, carry := pair(t)
	r, _ := a.sender.File(a.neigh("b"), strings.NewReader("x"), "f", tx.Options{Nice: 224})
	// b got a copy (xfer -keep) and acknowledges it.
	id, _ := node.B32.DecodeString(r.Pkt)
	if _, err := b.sender.ACK(b.neigh("a"), [32]byte(id), tx.Options{Nice: 160}); err != nil {
		t.Fatal(err)
	}
	for _, p := range b.nd.TxPackets(t, a.nd) {
		os.MkdirAll(a.spool.QueueDir(b.cfg.Self.ID, spool.RX), 0o755)
		os.Rename(p, a.spool.PktPath(b.cfg.Self.ID, spool.RX, filepath.Base(p)))
	}
	_ = carry
	ev := only(t, a.toss(t, Options{Node: &b.cfg.Self.ID}))
	if ev.Outcome != Done || ev.Dst != r.Pkt {
		t.Fatalf("%+v", ev)
	}
	if len(a.nd.TxPackets(t, b.nd)) != 0 {
		t.Fatal("acknowledged packet still queued")
	}
}

func TestSafeRel(t *testing.T) {
	for _, p := range []string{"", "..", "../x", "a/../../x", "/abs", "a\x00b", "."} {
		if _, err := SafeRel(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	for in, want := range map[string]string{"a": "a", "./a": "a", "a/b/c.txt": "a/b/c.txt", "a//b": "a/b"} {
		if got, err := SafeRel(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
}
