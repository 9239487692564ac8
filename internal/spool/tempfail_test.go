package spool

import (
	"errors"
	"os"
	"testing"

	"ferry/internal/node"
	"ferry/internal/tempfail"
)

// TestWriteErrorsAreTemporary: what goes wrong writing the spool is a
// condition of the spool (missing, in the way, locked), which a retry
// after the admin's fix cures: tempfail.Is says so, and cli exits 75.
func TestWriteErrorsAreTemporary(t *testing.T) {
	s, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var id node.ID

	// tmp/ gone (a cleanup script, a file system not mounted).
	os.Remove(s.TmpDir())
	if _, err := s.NewTmp(); err == nil || !tempfail.Is(err) {
		t.Errorf("NewTmp without tmp/: %v, temporary %v", err, tempfail.Is(err))
	}
	os.Mkdir(s.TmpDir(), 0o755)

	// A file where the node's directory should be.
	os.WriteFile(s.NodeDir(id), nil, 0o644)
	tmp, err := s.NewTmp()
	if err != nil {
		t.Fatal(err)
	}
	tmp.Write([]byte("packet"))
	if _, err := tmp.Commit(id, TX, ""); err == nil || !tempfail.Is(err) {
		t.Errorf("Commit into a blocked queue: %v, temporary %v", err, tempfail.Is(err))
	}
	if _, err := s.Lock(id, "toss"); err == nil || !tempfail.Is(err) {
		t.Errorf("Lock in a blocked node directory: %v, temporary %v", err, tempfail.Is(err))
	}
	os.Remove(s.NodeDir(id))

	// A lock another process holds.
	unlock, err := s.Lock(id, "rx")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = s.Lock(id, "rx")
	if !errors.Is(err, ErrLocked) || !tempfail.Is(err) {
		t.Errorf("held lock: %v, temporary %v", err, tempfail.Is(err))
	}

	// A packet that is not what its name says is not temporary.
	tmp, _ = s.NewTmp()
	tmp.Write([]byte("packet"))
	if _, err := tmp.Commit(id, RX, "AAAA"); !errors.Is(err, ErrChecksum) || tempfail.Is(err) {
		t.Errorf("checksum mismatch: %v, temporary %v", err, tempfail.Is(err))
	}
	if ents, _ := os.ReadDir(s.TmpDir()); len(ents) != 0 {
		t.Errorf("%d files left in tmp/", len(ents))
	}
}
