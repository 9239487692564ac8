package toss

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/safeio"
	"ferry/internal/spool"
)

// StaleAfter is how long a temporary file must have gone unmodified
// before a toss removes it as a crash's leftover (when no process holds
// its lock either): a live writer keeps changing it.
const StaleAfter = 10 * time.Minute

// markerPrefix starts the name of a placed file's marker (see file()).
const markerPrefix = safeio.TempPrefix + "toss-"

func markerName(pkt string) string { return markerPrefix + pkt + safeio.TempSuffix }

// placedBefore reports whether marker exists and shares its inode with
// another file of its directory: the file a killed toss placed.
func placedBefore(marker string) (saved string, size int64, ok bool) {
	mi, err := os.Lstat(marker)
	if err != nil || !mi.Mode().IsRegular() {
		return "", 0, false
	}
	if st, isSys := mi.Sys().(*syscall.Stat_t); !isSys || st.Nlink < 2 {
		return "", 0, false
	}
	dir := filepath.Dir(marker)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", 0, false
	}
	for _, e := range ents {
		if IsTemp(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err == nil && os.SameFile(fi, mi) {
			return filepath.Join(dir, e.Name()), fi.Size(), true
		}
	}
	return "", 0, false
}

// IsTemp reports whether name is a temporary file of ferry's (safeio's
// naming).
func IsTemp(name string) bool {
	return strings.HasPrefix(name, safeio.TempPrefix) && strings.HasSuffix(name, safeio.TempSuffix)
}

// cleanStale sweeps dir of stale temporary files, once per Tosser.
func (t *Tosser) cleanStale(dir string) {
	if t.cleaned == nil {
		t.cleaned = map[string]bool{}
	}
	if t.cleaned[dir] {
		return
	}
	t.cleaned[dir] = true
	StaleTemps(dir, time.Now().Add(-StaleAfter), t.inRX, func(p string) { os.Remove(p) })
}

// inRX reports whether a packet of that name waits in any neighbour's
// rx/ queue.
func (t *Tosser) inRX(pkt string) bool {
	for id := range t.Cfg.ByID {
		if _, err := os.Stat(t.Spool.PktPath(id, spool.RX, pkt)); err == nil {
			return true
		}
	}
	return false
}

// StaleTemps calls remove for each temporary file directly in dir that a
// crash left: modified before `before`, and locked by no live process. A
// placed file's marker is left while its packet is still in rx/
// (pending(pkt)), as the next toss of that packet needs it.
func StaleTemps(dir string, before time.Time, pending func(pkt string) bool, remove func(path string)) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !IsTemp(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		if pkt, isMarker := strings.CutPrefix(e.Name(), markerPrefix); isMarker && pending != nil {
			if pending(strings.TrimSuffix(pkt, safeio.TempSuffix)) {
				continue
			}
		}
		p := filepath.Join(dir, e.Name())
		if !Unused(p, before) {
			continue
		}
		remove(p)
	}
}

// Unused reports whether the file at p was last modified before `before`
// (any time, when before is zero) and no process holds a lock on it.
func Unused(p string, before time.Time) bool {
	fi, err := os.Lstat(p)
	if err != nil || (!before.IsZero() && !fi.ModTime().Before(before)) {
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
