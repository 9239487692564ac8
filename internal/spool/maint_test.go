package spool

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"ferry/internal/mth"
	"ferry/internal/node"
	"ferry/internal/wire"
)

// fakePkt is a file that starts with an encrypted header of niceness
// nice; its name is its MTH, as a packet's is.
func fakePkt(nice uint8, body string) (name string, data []byte) {
	h := wire.EncHeader{Nice: nice}
	hb := h.Marshal()
	data = append(hb[:], body...)
	sum := mth.Sum256(data)
	return node.B32.EncodeToString(sum[:]), data
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScanVerifyPromote(t *testing.T) {
	s, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var id node.ID
	rx := s.QueueDir(id, RX)
	whole, wd := fakePkt(96, "whole")
	nock, nd := fakePkt(224, "nock")
	bad, _ := fakePkt(160, "bad")
	_, bd := fakePkt(160, "not the bad one")
	write(t, filepath.Join(rx, whole), wd)
	write(t, filepath.Join(rx, nock+NoCKSuffix), nd)
	write(t, filepath.Join(rx, bad+NoCKSuffix), bd)
	write(t, filepath.Join(rx, whole+PartSuffix), wd[:10])
	write(t, filepath.Join(rx, "junk"), nil)
	write(t, filepath.Join(rx, "junk.nock"), nil)

	ents, err := s.Scan(id, RX, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 4 {
		t.Fatalf("%d entries, want 4: %+v", len(ents), ents)
	}
	byFile := map[string]*Entry{}
	for i := range ents {
		byFile[ents[i].File] = &ents[i]
	}
	if e := byFile[whole]; e == nil || e.Kind != KindPkt || e.Header == nil || e.Header.Nice != 96 || e.Pkt() != whole {
		t.Errorf("whole packet: %+v", e)
	}
	if e := byFile[whole+PartSuffix]; e == nil || e.Kind != KindPart || e.Header != nil || e.Size != 10 {
		t.Errorf(".part: %+v", e)
	}
	if _, err := os.Stat(filepath.Join(rx, "hdr", whole)); err != nil {
		t.Errorf("no hdr/ for the whole packet: %v", err)
	}
	if _, err := os.Stat(filepath.Join(rx, "hdr", nock)); err == nil {
		t.Errorf("hdr/ for a .nock file")
	}
	for file, want := range map[string]bool{whole: true, nock + NoCKSuffix: true, bad + NoCKSuffix: false} {
		if ok, err := s.Verify(byFile[file], nil); ok != want || err != nil {
			t.Errorf("Verify(%s) = %v, %v; want %v", file, ok, err, want)
		}
	}
	if err := s.PromoteNoCK(id, RX, byFile[nock+NoCKSuffix]); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(rx, nock), filepath.Join(rx, "hdr", nock)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("after promotion: %v", err)
		}
	}
	if err := s.PromoteNoCK(id, RX, byFile[whole]); err == nil {
		t.Error("promoted a whole packet")
	}
}

func TestSweepNode(t *testing.T) {
	s, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var id node.ID
	nd := s.NodeDir(id)
	for _, f := range []string{"rx/P1", "rx/P2.part", "rx/P3.nock", "rx/hdr/P1", "rx/seen/S", "tx/T1", "tx/T2.part",
		"tx/hdr/T1", "area/A/x", "toss.lock"} {
		write(t, filepath.Join(nd, f), nil)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(nd, "rx", "P1"), old, old)
	sweep := func(w Sweep) string {
		ts, err := s.SweepNode(id, w)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range ts {
			rel, _ := filepath.Rel(nd, x.Path)
			out = append(out, rel)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		w    Sweep
		want string
	}{
		{Sweep{}, ""},
		{Sweep{Rx: true}, "rx/P1 rx/P2.part rx/P3.nock"},
		{Sweep{Tx: true}, "tx/T1 tx/T2.part"},
		{Sweep{Part: true}, "rx/P2.part"},
		{Sweep{Part: true, Tx: true}, "rx/P2.part tx/T2.part"},
		{Sweep{NoCK: true, Part: true}, "rx/P2.part rx/P3.nock"},
		{Sweep{Hdr: true}, ""},
		{Sweep{Hdr: true, Tx: true}, "tx/hdr/T1"},
		{Sweep{Seen: true, Tx: true}, "rx/seen/S"},
		{Sweep{Area: true}, "area/A/x"},
		{Sweep{Pkts: map[string]bool{"P1": true, "T1": true, "hdr": true}}, "rx/P1 tx/T1"},
		{Sweep{Rx: true, Before: time.Now().Add(-time.Minute)}, "rx/P1"},
	} {
		if got := sweep(tc.w); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.w, got, tc.want)
		}
	}
	ts, _ := s.SweepNode(id, Sweep{Pkts: map[string]bool{"P1": true}})
	if err := s.RemoveTarget(ts[0]); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"rx/P1", "rx/hdr/P1"} {
		if _, err := os.Stat(filepath.Join(nd, p)); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
	locks, err := s.SweepLocks()
	if err != nil || len(locks) != 1 || filepath.Base(locks[0].Path) != "toss.lock" {
		t.Errorf("locks: %+v, %v", locks, err)
	}
}
