package spool

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/safeio"
)

// This file is about the temporary files a kill -9 or a crash leaves
// behind: in SPOOL/tmp (packets being written, received, relayed), in
// incoming directories (files being tossed) and on xfer directories
// (packets being copied out). Their writers hold an flock on them while
// they live (HoldTemp), so a leftover is one that nobody has locked; and
// the automatic sweeps also want it unmodified for StaleAfter, for
// writers that do not lock (other programs' safeio files).

// StaleAfter is how long a temporary file must have gone unmodified
// before the next toss, xfer or bundle removes it as a leftover (when no
// process holds its lock either). `ferry rm -tmp` takes no such grace.
const StaleAfter = 10 * time.Minute

// TossMarkerPrefix starts the name of the marker toss links to a file it
// is placing (the rest is the packet's name and safeio.TempSuffix): while
// that packet is in an rx/ queue, the marker is not a leftover.
const TossMarkerPrefix = safeio.TempPrefix + "toss-"

// IsTemp reports whether name is a temporary file's (safeio's naming).
func IsTemp(name string) bool {
	return strings.HasPrefix(name, safeio.TempPrefix) && strings.HasSuffix(name, safeio.TempSuffix)
}

// HoldTemp locks a temporary file being written, for as long as it is
// open: sweeps leave it alone. A lock that cannot be taken is not an
// error (the age rule still protects the file).
func HoldTemp(f *safeio.File) {
	unix.Flock(int(f.OS().Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

// Unused reports whether the file at p was last modified before `before`
// (at any time when before is zero) and no process holds a lock on it.
func Unused(p string, before time.Time) bool {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || (!before.IsZero() && !fi.ModTime().Before(before)) {
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false // its writer is alive
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return true
}

// Pending reports whether a packet of that name waits in some node's
// rx/ queue.
func (s *Spool) Pending(pkt string) bool {
	if !ValidName(pkt) {
		return false
	}
	m, _ := filepath.Glob(filepath.Join(s.Dir, "*", string(RX), pkt))
	return len(m) > 0
}

// leftover reports whether the temporary file at dir/name is a leftover.
func (s *Spool) leftover(dir, name string, before time.Time) bool {
	if !IsTemp(name) {
		return false
	}
	if pkt, ok := strings.CutPrefix(name, TossMarkerPrefix); ok && s.Pending(strings.TrimSuffix(pkt, safeio.TempSuffix)) {
		return false // the next toss of that packet needs it
	}
	return Unused(filepath.Join(dir, name), before)
}

// StaleTemps lists the leftover temporary files directly in dir: ferry's
// temporary names, locked by nobody, unmodified since before (zero: any
// age).
func (s *Spool) StaleTemps(dir string, before time.Time) []Target {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []Target
	for _, e := range ents {
		if e.Type().IsRegular() && s.leftover(dir, e.Name(), before) {
			out = append(out, Target{Path: filepath.Join(dir, e.Name())})
		}
	}
	return out
}

// CleanTemps removes the leftovers StaleTemps lists in dir, older than
// StaleAfter, and returns how many it removed.
func (s *Spool) CleanTemps(dir string) int {
	n := 0
	for _, t := range s.StaleTemps(dir, time.Now().Add(-StaleAfter)) {
		if os.Remove(t.Path) == nil {
			n++
		}
	}
	return n
}

// CleanTmp removes the leftovers of SPOOL/tmp (see CleanTemps), and the
// pkt-* files earlier ferry versions named their temporary packets, on
// the same terms.
func (s *Spool) CleanTmp() int {
	n := s.CleanTemps(s.TmpDir())
	before := time.Now().Add(-StaleAfter)
	old, _ := filepath.Glob(filepath.Join(s.TmpDir(), "pkt-*"))
	for _, p := range old {
		if Unused(p, before) && os.Remove(p) == nil {
			n++
		}
	}
	return n
}

// sweepTemps lists, under each of dirs (walked), ferry's temporary files
// that nobody holds, modified before `before` (zero: any age).
func (s *Spool) sweepTemps(dirs []string, before time.Time) ([]Target, error) {
	var out []Target
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == dir {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && s.leftover(filepath.Dir(p), d.Name(), before) {
				out = append(out, Target{Path: p})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
