package toss

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/progress"
	"ferry/internal/tx"
)

// Names of 233 to 255 bytes are saved: the temporary file's name is
// shortened, not the target's.
func TestLongFileNames(t *testing.T) {
	a, b, carry := pair(t)
	var names []string
	for _, n := range []int{232, 233, 234, 240, 254, 255} {
		names = append(names, strings.Repeat("a", n))
		mb := strings.Repeat("日", n/3) // 3 bytes each
		mb += strings.Repeat("é", (n-len(mb))/2)
		mb += strings.Repeat("b", n-len(mb))
		names = append(names, mb)
	}
	for _, name := range names {
		if _, err := a.sender.File(a.neigh("b"), strings.NewReader(name[:10]), name, tx.Options{Nice: 224}); err != nil {
			t.Fatalf("%d bytes: %v", len(name), err)
		}
	}
	carry()
	for _, ev := range b.toss(t, Options{}) {
		if ev.Outcome != Done {
			t.Errorf("%d-byte name: %v", len(ev.Dst), ev.Err)
		}
	}
	for _, name := range names {
		got, err := os.ReadFile(filepath.Join(b.nd.Incoming, name))
		if err != nil || string(got) != name[:10] {
			t.Errorf("%d-byte name: %q %v", len(name), got, err)
		}
	}
	if n := rxCount(t, b, a); n != 0 {
		t.Errorf("%d packets stuck in rx/", n)
	}
	if ents, _ := os.ReadDir(b.nd.Incoming); len(ents) != len(names) {
		t.Errorf("%d entries in incoming, want %d (temporary files left?)", len(ents), len(names))
	}
}

// A toss killed after placing a file but before removing its packet
// leaves a marker; the next toss finishes the job instead of saving the
// file again as NAME.0.
func TestFilePlacedBeforeNotSavedTwice(t *testing.T) {
	a, b, carry := pair(t)
	a.sender.File(a.neigh("b"), strings.NewReader("once"), "f.txt", tx.Options{Nice: 224})
	carry()
	pkt := b.nd.RxPackets(t, a.nd)[0]
	saved, _ := os.ReadFile(pkt)
	if ev := only(t, b.toss(t, Options{})); ev.Outcome != Done {
		t.Fatalf("%+v", ev)
	}
	// Back to the state of the kill: packet in rx/, marker linked.
	os.WriteFile(pkt, saved, 0o644)
	dst := filepath.Join(b.nd.Incoming, "f.txt")
	if err := os.Link(dst, filepath.Join(b.nd.Incoming, markerName(filepath.Base(pkt)))); err != nil {
		t.Fatal(err)
	}
	ev := only(t, b.toss(t, Options{}))
	if ev.Outcome != Done || ev.Saved != dst {
		t.Fatalf("%+v", ev)
	}
	if ents, _ := os.ReadDir(b.nd.Incoming); len(ents) != 1 {
		t.Fatalf("incoming: %v", ents)
	}
	// A marker that is linked to nothing placed (killed before the
	// placement) does not stop the toss.
	os.WriteFile(pkt, saved, 0o644)
	m := filepath.Join(b.nd.Incoming, markerName(filepath.Base(pkt)))
	os.WriteFile(m, []byte("on"), 0o600)
	os.Link(m, filepath.Join(b.nd.Incoming, ".ferry-f.txt.xyz.part"))
	ev = only(t, b.toss(t, Options{}))
	if ev.Outcome != Done || ev.Saved != dst+".0" {
		t.Fatalf("%+v", ev)
	}
	if _, err := os.Stat(m); err == nil {
		t.Fatal("marker left")
	}
}

// Temporary files a crash left in incoming are removed by the next toss
// that writes there, unless young or locked by a live writer.
func TestStaleTempsCleaned(t *testing.T) {
	a, b, carry := pair(t)
	inc := b.nd.Incoming
	old := time.Now().Add(-2 * StaleAfter)
	mk := func(name string, age time.Time) string {
		p := filepath.Join(inc, name)
		os.WriteFile(p, []byte("x"), 0o600)
		os.Chtimes(p, age, age)
		return p
	}
	stale := mk(".ferry-big.iso.k3j4.part", old)
	fresh := mk(".ferry-new.iso.k3j5.part", time.Now())
	locked := mk(".ferry-live.iso.k3j6.part", old)
	other := mk("user-file.part", old)
	lf, _ := os.Open(locked)
	defer lf.Close()
	unix.Flock(int(lf.Fd()), unix.LOCK_EX)
	a.sender.File(a.neigh("b"), strings.NewReader("x"), "f", tx.Options{Nice: 224})
	carry()
	if ev := only(t, b.toss(t, Options{})); ev.Outcome != Done {
		t.Fatalf("%+v", ev)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("stale temporary file kept")
	}
	for _, p := range []string{fresh, locked, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed", filepath.Base(p))
		}
	}
}

// progressCount is a progress.Meter that counts.
type progressCount struct{ n, dones int64 }

func (m *progressCount) Add(n int64) { m.n += n }
func (m *progressCount) Done()       { m.dones++ }

// Progress is asked for a meter for a file being written to incoming,
// with the packet's event (job, type, name as sent); the meter sees the
// file's bytes and is done once.
func TestFileProgress(t *testing.T) {
	a, b, carry := pair(t)
	body := strings.Repeat("p", 300<<10)
	if _, err := a.sender.File(a.neigh("b"), strings.NewReader(body), "big.bin", tx.Options{}); err != nil {
		t.Fatal(err)
	}
	carry()
	m := &progressCount{}
	var asked []string
	evs := b.toss(t, Options{Progress: func(ev *Event) progress.Meter {
		asked = append(asked, fmt.Sprintf("%s %s %v", ev.Type, ev.Path, ev.Job.Size > int64(len(body))))
		return m
	}})
	if e := only(t, evs); e.Outcome != Done {
		t.Fatalf("%+v", e)
	}
	if len(asked) != 1 || asked[0] != "file big.bin true" || m.n != int64(len(body)) || m.dones != 1 {
		t.Errorf("asked %q; meter counted %d, done %d times", asked, m.n, m.dones)
	}
}
