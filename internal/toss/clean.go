package toss

import (
	"os"
	"path/filepath"
	"syscall"

	"ferry/internal/safeio"
	"ferry/internal/spool"
)

// StaleAfter is how long a temporary file must have gone unmodified
// before a toss removes it as a crash's leftover (when no process holds
// its lock either).
const StaleAfter = spool.StaleAfter

func markerName(pkt string) string { return spool.TossMarkerPrefix + pkt + safeio.TempSuffix }

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
		if spool.IsTemp(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err == nil && os.SameFile(fi, mi) {
			return filepath.Join(dir, e.Name()), fi.Size(), true
		}
	}
	return "", 0, false
}

// cleanStale sweeps dir of leftover temporary files, once per Tosser.
func (t *Tosser) cleanStale(dir string) {
	t.mu.Lock()
	if t.cleaned == nil {
		t.cleaned = map[string]bool{}
	}
	done := t.cleaned[dir]
	t.cleaned[dir] = true
	t.mu.Unlock()
	if !done {
		t.Spool.CleanTemps(dir)
	}
}
