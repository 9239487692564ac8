package xfer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/safeio"
	"ferry/internal/spool"
	"ferry/internal/testnet"
	"ferry/internal/tx"
)

type side struct {
	cfg *config.Config
	sp  *spool.Spool
	tx  *tx.Sender
}

func open(t *testing.T, nd *testnet.Node) *side {
	cfg, err := config.Load(nd.CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := spool.Open(cfg.Spool, spool.Options{NoSync: true})
	return &side{cfg, sp, &tx.Sender{Cfg: cfg, Spool: sp}}
}

func (s *side) opts(report func(*Event)) Options {
	o := Options{Self: s.cfg.Self.ID, Report: report}
	for id := range s.cfg.ByID {
		o.Nodes = append(o.Nodes, id)
	}
	return o
}

func TestTxRxAndRefusals(t *testing.T) {
	net := testnet.New(t, "a", "b", "c")
	a, b := open(t, net.Nodes["a"]), open(t, net.Nodes["b"])
	for _, body := range []string{"one", "two", "three"} {
		if _, err := a.tx.File(a.cfg.Neigh["b"], strings.NewReader(body), body, tx.Options{Nice: 224}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	// Without -mkdir and no directory for b: nothing moves.
	if f, err := Tx(a.sp, dir, a.opts(nil)); err != nil || f != 0 {
		t.Fatal(f, err)
	}
	if len(net.Nodes["a"].TxPackets(t, net.Nodes["b"])) != 3 {
		t.Fatal("packets left without -mkdir")
	}
	o := a.opts(nil)
	o.Mkdir, o.Keep = true, true
	if f, err := Tx(a.sp, dir, o); err != nil || f != 0 {
		t.Fatal(f, err)
	}
	if len(net.Nodes["a"].TxPackets(t, net.Nodes["b"])) != 3 {
		t.Fatal("-keep removed packets")
	}
	bdir := filepath.Join(dir, b.cfg.Self.ID.String(), a.cfg.Self.ID.String())
	files, _ := os.ReadDir(bdir)
	if len(files) != 3 {
		t.Fatalf("%d files in the xfer dir", len(files))
	}
	for _, id := range []node.ID{b.cfg.Self.ID, a.cfg.Neigh["c"].ID} { // -mkdir made every neighbour's dir
		if _, err := os.Stat(filepath.Join(dir, id.String(), a.cfg.Self.ID.String())); err != nil {
			t.Errorf("-mkdir: %v", err)
		}
	}
	// Damage: one file renamed to another's name (checksum mismatch), one
	// packet for c dropped into b's directory (foreign).
	p0, p1 := filepath.Join(bdir, files[0].Name()), filepath.Join(bdir, files[1].Name())
	os.Rename(p0, p1+"X")
	os.Rename(p1, p0) // p0 now holds p1's bytes
	r, _ := a.tx.File(a.cfg.Neigh["c"], strings.NewReader("for c"), "c", tx.Options{Nice: 224})
	foreign, _ := os.ReadFile(a.sp.PktPath(r.Hop, spool.TX, r.Pkt))
	os.WriteFile(filepath.Join(bdir, r.Pkt), foreign, 0o644)
	var evs []*Event
	failed, err := Rx(b.sp, dir, b.opts(func(e *Event) { evs = append(evs, e) }))
	if err != nil {
		t.Fatal(err)
	}
	if failed != 2 {
		t.Fatalf("%d failed, want 2 (checksum, foreign)", failed)
	}
	for _, e := range evs {
		if e.Err != nil {
			if _, err := os.Stat(e.Path); err != nil {
				t.Errorf("refused %s was removed from the stick", e.Path)
			}
		}
	}
	if got := len(net.Nodes["b"].RxPackets(t, net.Nodes["a"])); got != 1 {
		t.Fatalf("%d packets in b's rx, want 1", got)
	}
	if ents, _ := os.ReadDir(b.sp.TmpDir()); len(ents) != 0 {
		t.Errorf("%d files left in tmp/", len(ents))
	}
	// The one that arrived was tossed with -seen; its copy on the stick
	// is skipped and removed.
	got := net.Nodes["b"].RxPackets(t, net.Nodes["a"])[0]
	name := filepath.Base(got)
	os.Remove(got)
	b.sp.MarkSeen(a.cfg.Self.ID, name)
	os.WriteFile(filepath.Join(bdir, name), foreign, 0o644)
	evs = nil
	Rx(b.sp, dir, b.opts(func(e *Event) { evs = append(evs, e) }))
	seen := false
	for _, e := range evs {
		seen = seen || (e.Pkt == name && e.Skip == "already seen")
	}
	if !seen {
		t.Error("seen packet not skipped")
	}
}

// A packet leaving a stick on the spool's file system is moved (hard
// link, same inode), not copied, and stays one with -keep; one with a
// second name elsewhere is copied (someone else may write it).
func TestRxMovesOnSameFileSystem(t *testing.T) {
	for _, c := range []struct {
		name        string
		keep, other bool
		moved       bool
	}{{"move", false, false, true}, {"keep", true, false, false}, {"second name", false, true, false}} {
		t.Run(c.name, func(t *testing.T) {
			net := testnet.New(t, "a", "b")
			a, b := open(t, net.Nodes["a"]), open(t, net.Nodes["b"])
			r, err := a.tx.File(a.cfg.Neigh["b"], strings.NewReader("body"), "f", tx.Options{Nice: 224})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			o := a.opts(nil)
			o.Mkdir = true
			if f, err := Tx(a.sp, dir, o); err != nil || f != 0 {
				t.Fatal(f, err)
			}
			src := filepath.Join(dir, b.cfg.Self.ID.String(), a.cfg.Self.ID.String(), r.Pkt)
			sfi, err := os.Stat(src)
			if err != nil {
				t.Fatal(err)
			}
			if c.other {
				if err := os.Link(src, filepath.Join(t.TempDir(), "other")); err != nil {
					t.Fatal(err)
				}
			}
			bo := b.opts(nil)
			bo.Keep = c.keep
			if f, err := Rx(b.sp, dir, bo); err != nil || f != 0 {
				t.Fatal(f, err)
			}
			rfi, err := os.Stat(b.sp.PktPath(a.cfg.Self.ID, spool.RX, r.Pkt))
			if err != nil {
				t.Fatal(err)
			}
			if got := os.SameFile(sfi, rfi); got != c.moved {
				t.Errorf("same inode %v, want %v", got, c.moved)
			}
			if rfi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v", rfi.Mode())
			}
			if _, err := os.Stat(src); (err == nil) != c.keep {
				t.Errorf("source after rx: %v (keep %v)", err, c.keep)
			}
			if ents, _ := os.ReadDir(b.sp.TmpDir()); len(ents) != 0 {
				t.Errorf("tmp/ not empty: %v", ents)
			}
		})
	}
}

// xfer -tx moves a packet to a stick on the spool's file system (hard
// link, same inode) with the mode a copy gets, and copies with -keep.
func TestTxMovesOnSameFileSystem(t *testing.T) {
	for _, keep := range []bool{false, true} {
		net := testnet.New(t, "a", "b")
		a, b := open(t, net.Nodes["a"]), open(t, net.Nodes["b"])
		r, err := a.tx.File(a.cfg.Neigh["b"], strings.NewReader("body"), "f", tx.Options{Nice: 224})
		if err != nil {
			t.Fatal(err)
		}
		sfi, err := os.Stat(a.sp.PktPath(b.cfg.Self.ID, spool.TX, r.Pkt))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		o := a.opts(nil)
		o.Mkdir, o.Keep = true, keep
		if f, err := Tx(a.sp, dir, o); err != nil || f != 0 {
			t.Fatal(f, err)
		}
		dfi, err := os.Stat(filepath.Join(dir, b.cfg.Self.ID.String(), a.cfg.Self.ID.String(), r.Pkt))
		if err != nil {
			t.Fatal(err)
		}
		if os.SameFile(sfi, dfi) == keep {
			t.Errorf("keep %v: same inode %v", keep, !keep)
		}
		if dfi.Mode().Perm() != safeio.SharedPerm() {
			t.Errorf("keep %v: mode %v, want %v", keep, dfi.Mode().Perm(), safeio.SharedPerm())
		}
	}
}
