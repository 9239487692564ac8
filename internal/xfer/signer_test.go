package xfer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/node"
	"ferry/internal/pktcrypt"
	"ferry/internal/spool"
	"ferry/internal/testnet"
	"ferry/internal/tx"
	"ferry/internal/wire"
)

// Packets on a stick under a known neighbour's directory but signed by a
// stranger, or with a forged signature, are left on the stick: taken in,
// they would fail every toss forever.
func TestRxRefusesUnknownAndForgedSigners(t *testing.T) {
	net := testnet.New(t, "a", "b", "c", "x")
	a, b, c, x := open(t, net.Nodes["a"]), open(t, net.Nodes["b"]), open(t, net.Nodes["c"]), open(t, net.Nodes["x"])
	xid := x.cfg.Self.ID
	delete(b.cfg.Neigh, "x") // b has never heard of x
	delete(b.cfg.ByID, xid)
	dir := t.TempDir()
	adir := filepath.Join(dir, b.cfg.Self.ID.String(), a.cfg.Self.ID.String())
	os.MkdirAll(adir, 0o755)
	put := func(s *side, forge bool) string {
		r, err := s.tx.File(s.cfg.Neigh["b"], strings.NewReader("from "+s.cfg.Self.ID.String()), "f", tx.Options{Nice: 224})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(s.sp.PktPath(r.Hop, spool.TX, r.Pkt))
		if forge {
			data[wire.EncHeaderSize-1] ^= 1
		}
		os.WriteFile(filepath.Join(adir, r.Pkt), data, 0o644)
		return r.Pkt
	}
	good := put(a, false)
	relayed := put(c, false) // signed by c, carried in a's directory: a relay
	stranger := put(x, false)
	forged := put(a, true)
	o := b.opts(nil)
	o.Known = func(id node.ID) bool { _, ok := b.cfg.ByID[id]; return ok }
	o.Verify = func(h *wire.EncHeader) error { return pktcrypt.Verify(h, &b.cfg.ByID[h.Sender].Public) }
	evs := map[string]*Event{}
	o.Report = func(e *Event) { evs[e.Pkt] = e }
	failed, err := Rx(b.sp, dir, o)
	if err != nil || failed != 2 {
		t.Fatalf("failed %d (want 2), %v", failed, err)
	}
	if e := evs[stranger]; e == nil || !errors.Is(e.Err, ErrUnknownSigner) {
		t.Errorf("stranger: %+v", e)
	}
	if e := evs[forged]; e == nil || !errors.Is(e.Err, pktcrypt.ErrBadSignature) {
		t.Errorf("forged: %+v", e)
	}
	for _, p := range []string{stranger, forged} {
		if _, err := os.Stat(filepath.Join(adir, p)); err != nil {
			t.Errorf("refused packet removed from the stick: %v", err)
		}
		if _, err := os.Stat(b.sp.PktPath(a.cfg.Self.ID, spool.RX, p)); err == nil {
			t.Error("refused packet taken in")
		}
	}
	for _, p := range []string{good, relayed} {
		if e := evs[p]; e == nil || e.Err != nil {
			t.Errorf("%+v", e)
		}
		if _, err := os.Stat(b.sp.PktPath(a.cfg.Self.ID, spool.RX, p)); err != nil {
			t.Errorf("not taken in: %v", err)
		}
	}
}

// The same through `ferry xfer -rx`: the stranger's packet stays on the
// stick, the run says why in the log and exits 1.
func TestFerryXferRxRefusesStranger(t *testing.T) {
	net := testnet.New(t, "a", "b", "x")
	na, nb := net.Nodes["a"], net.Nodes["b"]
	delete(nb.Cfg.Neigh, "x")
	net.Write(t)
	x := open(t, net.Nodes["x"])
	r, err := x.tx.File(x.cfg.Neigh["b"], strings.NewReader("hi"), "f", tx.Options{Nice: 224})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	adir := filepath.Join(dir, nb.Keys.ID.String(), na.Keys.ID.String())
	os.MkdirAll(adir, 0o755)
	data, _ := os.ReadFile(x.sp.PktPath(r.Hop, spool.TX, r.Pkt))
	os.WriteFile(filepath.Join(adir, r.Pkt), data, 0o644)
	if res := nb.Run(t, testnet.Ferry, nil, "xfer", "-noprogress", "-rx", dir); res.Code != 1 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	if _, err := os.Stat(filepath.Join(adir, r.Pkt)); err != nil {
		t.Fatal("stranger's packet removed from the stick")
	}
	if n := len(nb.RxPackets(t, na)); n != 0 {
		t.Fatalf("%d packets taken in", n)
	}
	log, _ := os.ReadFile(nb.Log)
	if !strings.Contains(string(log), "packet signed by an unknown node "+x.cfg.Self.ID.String()) {
		t.Errorf("log does not say why:\n%s", log)
	}
}
