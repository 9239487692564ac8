package spool

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ferry/internal/node"
)

// Sweep selects what to remove from one node's part of the spool, the way
// nncp-rm does. Exactly one family applies, checked in this order:
//
//   - Pkts set: files in rx/ and tx/ with those names (any suffix must be
//     part of the name); nothing else.
//   - any of Part, NoCK, Seen, Hdr, Area: only those. Part and NoCK look in
//     rx/, and in tx/ too when Tx is set; Seen looks in rx/seen/; Hdr in
//     the hdr/ of the queues named by Rx and Tx (none when neither is
//     set); Area in area/.
//   - otherwise every file of the queues named by Rx and Tx, with its hdr/
//     file.
type Sweep struct {
	Rx, Tx                      bool
	Part, NoCK, Seen, Hdr, Area bool
	// Pkts are packet names, for rm -pkt.
	Pkts map[string]bool
	// Before, when not zero, keeps files modified at or after it.
	Before time.Time
}

// Target is a file to remove.
type Target struct {
	Path string
	// hdr is the hdr/ file to remove with it, silently ("" for none).
	hdr string
}

// SweepNode lists what w selects in node id's directories, in the order
// nncp-rm goes through them: queue directories in the order the file
// system lists them, seen/, hdr/ and area/ walked in lexical order. Missing
// directories select nothing.
func (s *Spool) SweepNode(id node.ID, w Sweep) ([]Target, error) {
	var out []Target
	queues := func(rx bool) []XX {
		var q []XX
		if w.Rx || rx {
			q = append(q, RX)
		}
		if w.Tx {
			q = append(q, TX)
		}
		return q
	}
	if w.Pkts != nil {
		for _, xx := range []XX{RX, TX} {
			t, err := s.queueFiles(id, xx, w.Before, func(name string) bool { return w.Pkts[name] })
			if err != nil {
				return nil, err
			}
			out = append(out, t...)
		}
		return out, nil
	}
	if !(w.Part || w.NoCK || w.Seen || w.Hdr || w.Area) {
		for _, xx := range queues(false) {
			t, err := s.queueFiles(id, xx, w.Before, func(string) bool { return true })
			if err != nil {
				return nil, err
			}
			out = append(out, t...)
		}
		return out, nil
	}
	if w.Part || w.NoCK {
		for _, xx := range queues(true) {
			t, err := s.queueFiles(id, xx, w.Before, func(name string) bool {
				return (w.Part && strings.HasSuffix(name, PartSuffix)) ||
					(w.NoCK && strings.HasSuffix(name, NoCKSuffix))
			})
			if err != nil {
				return nil, err
			}
			out = append(out, t...)
		}
	}
	var walk []string
	if w.Seen {
		walk = append(walk, filepath.Join(s.QueueDir(id, RX), "seen"))
	}
	if w.Hdr {
		for _, xx := range queues(false) {
			walk = append(walk, filepath.Join(s.QueueDir(id, xx), "hdr"))
		}
	}
	if w.Area {
		walk = append(walk, filepath.Join(s.NodeDir(id), "area"))
	}
	for _, dir := range walk {
		t, err := walkFiles(dir, w.Before, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, t...)
	}
	return out, nil
}

// queueFiles lists the regular files of a queue directory that keep
// selects, in directory order, each with its hdr/ companion.
func (s *Spool) queueFiles(id node.ID, xx XX, before time.Time, keep func(string) bool) ([]Target, error) {
	dir := s.QueueDir(id, xx)
	ents, err := ReadDirUnsorted(dir)
	if err != nil {
		return nil, err
	}
	var out []Target
	for _, de := range ents {
		if de.IsDir() || !keep(de.Name()) {
			continue
		}
		if !before.IsZero() {
			fi, err := de.Info()
			if err != nil || !fi.ModTime().Before(before) {
				continue
			}
		}
		out = append(out, Target{Path: filepath.Join(dir, de.Name()), hdr: filepath.Join(dir, "hdr", de.Name())})
	}
	return out, nil
}

// walkFiles lists every non-directory under dir in lexical order, keeping
// those older than before (if set) that keep (if set) selects.
func walkFiles(dir string, before time.Time, keep func(string) bool) ([]Target, error) {
	var out []Target
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || (keep != nil && !keep(d.Name())) {
			return nil
		}
		if !before.IsZero() {
			fi, err := d.Info()
			if err != nil || !fi.ModTime().Before(before) {
				return nil
			}
		}
		out = append(out, Target{Path: p})
		return nil
	})
	return out, err
}

// SweepTmp lists the files under tmp/ (rm -tmp), except those a live
// process holds (HoldTemp), and ferry's temporary files left under the
// extra directories (incoming directories: files being tossed when a
// toss was killed).
func (s *Spool) SweepTmp(before time.Time, extra ...string) ([]Target, error) {
	ts, err := walkFiles(s.TmpDir(), before, nil)
	if err != nil {
		return nil, err
	}
	var out []Target
	for _, t := range ts {
		if Unused(t.Path, time.Time{}) {
			out = append(out, t)
		}
	}
	more, err := s.sweepTemps(extra, before)
	return append(out, more...), err
}

// SweepLocks lists every *.lock file in the spool (rm -lock). Like
// nncp-rm it takes no age limit: a lock's age says nothing.
func (s *Spool) SweepLocks() ([]Target, error) {
	return walkFiles(s.Dir, time.Time{}, func(name string) bool { return strings.HasSuffix(name, ".lock") })
}

// RemoveTarget deletes t (and its hdr/ file, whose absence is no error).
func (s *Spool) RemoveTarget(t Target) error {
	if t.hdr != "" {
		os.Remove(t.hdr)
	}
	if err := os.Remove(t.Path); err != nil {
		return err
	}
	s.SyncDir(filepath.Dir(t.Path))
	return nil
}
