package spool

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Leftovers of killed writers go; files of live writers (locked) and
// young ones stay; rm -tmp takes no grace but spares live writers.
func TestLeftoverTemps(t *testing.T) {
	s, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	live, err := s.NewTmp() // locked while open
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	dead, _ := s.NewTmp()
	dead.f.OS().Close() // its writer died: the lock went with it
	old := time.Now().Add(-2 * StaleAfter)
	for _, p := range []string{live.Name(), dead.Name()} {
		os.Chtimes(p, old, old)
	}
	young, _ := s.NewTmp()
	young.f.OS().Close()
	foreign := filepath.Join(s.TmpDir(), "smtpd-123")
	os.WriteFile(foreign, nil, 0o600)
	os.Chtimes(foreign, old, old)
	legacy := filepath.Join(s.TmpDir(), "pkt-123456")
	os.WriteFile(legacy, nil, 0o600)
	os.Chtimes(legacy, old, old)
	if n := s.CleanTmp(); n != 2 {
		t.Fatalf("removed %d, want 2", n)
	}
	for p, want := range map[string]bool{live.Name(): true, dead.Name(): false, young.Name(): true, foreign: true, legacy: false} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	ts, err := s.SweepTmp(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, x := range ts {
		got[x.Path] = true
	}
	if got[live.Name()] || !got[young.Name()] || !got[foreign] || len(got) != 2 {
		t.Errorf("rm -tmp would remove %v", got)
	}
}
