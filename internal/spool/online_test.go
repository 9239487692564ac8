package spool

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"ferry/internal/node"
	"ferry/internal/safeio"
	"ferry/internal/sp"
)

// writePart writes data into a new part of name, in chunks of n bytes
// from offset 0 (n <= 0: one write), as a session does.
func writePart(t *testing.T, o Online, peer node.ID, name string, data []byte, n int) sp.Part {
	t.Helper()
	p, err := o.OpenPart(peer, name)
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 {
		n = len(data)
	}
	for off := 0; off < len(data); off += n {
		end := min(off+n, len(data))
		if _, err := p.WriteAt(data[off:end], int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// TestCommitParts commits batches of both sizes (below safeio.SyncFSMin: an
// fsync each; from it on: one syncfs), with a part whose checksum fails
// among them, a part written out of order and a resumed part (hashed from
// the file, not as written), with real syncs.
func TestCommitParts(t *testing.T) {
	for _, n := range []int{1, safeio.SyncFSMin - 1, safeio.SyncFSMin, 3 * safeio.SyncFSMin} {
		s, err := Open(t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		o := Online{S: s}
		var peer node.ID
		peer[0] = 7
		var parts []sp.Part
		var names []string
		for i := range n {
			name, data := fakePkt(uint8(64+i), string(make([]byte, 3000+i*1000)))
			names = append(names, name)
			switch i % 3 {
			case 0: // in order, in chunks
				parts = append(parts, writePart(t, o, peer, name, data, 1024))
			case 1: // out of order: the end first
				p, err := o.OpenPart(peer, name)
				if err != nil {
					t.Fatal(err)
				}
				p.WriteAt(data[1000:], 1000)
				p.WriteAt(data[:1000], 0)
				parts = append(parts, p)
			case 2: // resumed: a part of a previous session, then the rest
				p := writePart(t, o, peer, name, data[:1500], 0)
				p.Close()
				p, err := o.OpenPart(peer, name)
				if err != nil {
					t.Fatal(err)
				}
				p.WriteAt(data[1500:], 1500)
				parts = append(parts, p)
			}
		}
		// And one whose bytes are not its name.
		badName, badData := fakePkt(1, "the real one")
		copy(badData[len(badData)-4:], "fake")
		parts = append(parts, writePart(t, o, peer, badName, badData, 0))
		errs := o.CommitParts(peer, parts, false)
		if len(errs) != n+1 {
			t.Fatalf("%d errors for %d parts", len(errs), n+1)
		}
		dir := s.QueueDir(peer, RX)
		for i, name := range names {
			if errs[i] != nil {
				t.Fatalf("batch of %d, part %d: %v", n, i, errs[i])
			}
			if !exists(filepath.Join(dir, name)) || exists(filepath.Join(dir, name+PartSuffix)) {
				t.Fatalf("batch of %d, part %d: not renamed into rx/", n, i)
			}
			if st, _ := o.RxState(peer, name); !st.Have {
				t.Fatalf("batch of %d, part %d: RxState %+v", n, i, st)
			}
		}
		if !errors.Is(errs[n], sp.ErrChecksum) {
			t.Fatalf("bad part: %v, want ErrChecksum", errs[n])
		}
		if exists(filepath.Join(dir, badName)) || exists(filepath.Join(dir, badName+PartSuffix)) {
			t.Fatalf("bad part kept")
		}
		// Every part was closed: its flock is free again.
		p, err := o.OpenPart(peer, names[0]+"")
		if err != nil {
			t.Fatalf("part still locked: %v", err)
		}
		p.Close()
		os.Remove(filepath.Join(dir, names[0]+PartSuffix))
	}
}

// TestCommitPartsNoCK renames to NAME.nock without checking.
func TestCommitPartsNoCK(t *testing.T) {
	s, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	o := Online{S: s}
	var peer node.ID
	name, data := fakePkt(1, "body")
	copy(data[len(data)-4:], "fake")
	errs := o.CommitParts(peer, []sp.Part{writePart(t, o, peer, name, data, 0)}, true)
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	if st, _ := o.RxState(peer, name); !st.NoCK {
		t.Fatalf("RxState %+v, want NoCK", st)
	}
}

// TestCommitPartsFsyncFails: a small batch whose fsync fails leaves
// nothing in rx/ under the packet's name and says so (no DONE follows).
func TestCommitPartsFsyncFails(t *testing.T) {
	// One part (an fsync), and a batch (one syncfs): the fault hook sees
	// a sync per part either way; a failure keeps every part of the batch.
	for _, n := range []int{1, safeio.SyncFSMin} {
		s, err := Open(t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		o := Online{S: s}
		var peer node.ID
		var parts []sp.Part
		var names []string
		var datas [][]byte
		for i := range n {
			name, data := fakePkt(byte(i+1), "body")
			parts = append(parts, writePart(t, o, peer, name, data, 0))
			names, datas = append(names, name), append(datas, data)
		}
		restore := safeio.SetFault(safeio.FailNth(safeio.OpSync, n, syscall.EIO))
		errs := o.CommitParts(peer, parts, false)
		restore()
		for i := range n {
			if !errors.Is(errs[i], syscall.EIO) {
				t.Fatalf("%d parts: error %v for part %d, want EIO", n, errs[i], i)
			}
			if st, _ := o.RxState(peer, names[i]); st.Have || st.Part != int64(len(datas[i])) {
				t.Fatalf("%d parts: RxState %+v: want the whole part kept, not the packet", n, st)
			}
		}
	}
}
