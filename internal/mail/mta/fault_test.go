package mta

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/internal/mail/bsmtp"
	"ferry/internal/safeio"
)

// faultCases are the failures injected through safeio: the nth create,
// write, fsync, close, rename, link or directory fsync fails with EIO, or
// the disk fills up after limit bytes.
func faultCases() []struct {
	name string
	f    safeio.Fault
} {
	var out []struct {
		name string
		f    safeio.Fault
	}
	for _, op := range []safeio.Op{safeio.OpCreate, safeio.OpWrite, safeio.OpSync, safeio.OpClose, safeio.OpRename, safeio.OpLink, safeio.OpSyncDir} {
		for n := 1; n <= 7; n += 2 {
			out = append(out, struct {
				name string
				f    safeio.Fault
			}{fmt.Sprintf("%s#%d", op, n), safeio.FailNth(op, n, syscall.EIO)})
		}
	}
	for _, lim := range []int64{0, 200, 1000, 3000} {
		out = append(out, struct {
			name string
			f    safeio.Fault
		}{fmt.Sprintf("diskfull-%d", lim), safeio.DiskFull(lim)})
	}
	return out
}

// faultBatch is three messages, to alice, to bob, to both, with
// Message-IDs naming the case.
func faultBatch(t *testing.T, name string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := bsmtp.NewWriter(&b, bsmtp.WriterOptions{})
	for i, to := range [][]string{{"alice@hub.example"}, {"bob@hub.example"}, {"alice@hub.example", "bob@hub.example"}} {
		msg := fmt.Sprintf("Subject: %s\nMessage-ID: <%s-%d@sat.example>\n\n%s\n", name, name, i, strings.Repeat("body line\n", 30))
		if err := w.WriteMessage(&bsmtp.Envelope{From: "root@sat.example", To: to}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	return b.Bytes()
}

// countIDs counts the copies of the case's messages in a Maildir.
func countIDs(t *testing.T, dir, name string) map[int]int {
	out := map[int]int{}
	for _, m := range maildirFiles(t, dir) {
		for i := range 3 {
			if bytes.Contains(m, []byte(fmt.Sprintf("Message-ID: <%s-%d@sat.example>", name, i))) {
				out[i]++
			}
		}
	}
	return out
}

// drain runs the queue, the clock a day further each time, until it is
// empty.
func drain(t *testing.T, m *MTA, c *clock) {
	t.Helper()
	for range 10 {
		l, _ := m.Queue.List()
		if len(l) == 0 {
			return
		}
		c.t = c.t.Add(24 * time.Hour)
		if err := m.RunQueue(); err != nil {
			t.Fatal(err)
		}
	}
	l, _ := m.Queue.List()
	t.Fatalf("%d entries still queued", len(l))
}

// checkOnce checks that alice and bob each have each message of the case
// exactly once, and that nothing was bounced.
func checkOnce(t *testing.T, hubDir, name string, evs *events) {
	t.Helper()
	a := countIDs(t, filepath.Join(hubDir, "Maildir-alice"), name)
	b := countIDs(t, filepath.Join(hubDir, "Maildir-bob"), name)
	if a[0] != 1 || a[2] != 1 || b[1] != 1 || b[2] != 1 || a[1] != 0 || b[0] != 0 {
		t.Errorf("%s: alice has %v, bob %v; want each message once", name, a, b)
	}
	if n := evs.count("bounced"); n != 0 {
		t.Errorf("%s: %d bounces", name, n)
	}
}

// TestReceiveFaults: a write, fsync, rename... failing, or a full disk,
// while rsmtp receives and delivers a batch: the error is temporary (the
// handle exits 75 and NNCP keeps the packet), and tossing the batch
// again, then running the queue, delivers every message exactly once.
func TestReceiveFaults(t *testing.T) {
	net, ms, evs := setup(t)
	hub := ms["hub"]
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	hub.Now = c.now
	hub.Mail.GiveUp = 365 * 24 * time.Hour
	failed := 0
	for _, fc := range faultCases() {
		name := "rx-" + strings.ReplaceAll(fc.name, "#", "-")
		batch := faultBatch(t, name)
		restore := safeio.SetFault(fc.f)
		_, err := hub.ReceiveBSMTP(bytes.NewReader(batch), hub.Cfg.Neigh["sat"], ReceiveOptions{})
		restore()
		if err != nil {
			failed++
			if IsPermanent(err) {
				t.Errorf("%s: permanent error %v", name, err)
			}
			if _, err := hub.ReceiveBSMTP(bytes.NewReader(batch), hub.Cfg.Neigh["sat"], ReceiveOptions{}); err != nil {
				t.Fatalf("%s: again: %v", name, err)
			}
		}
		drain(t, hub, c)
		checkOnce(t, net.Nodes["hub"].Dir, name, evs["hub"])
	}
	if failed == 0 {
		t.Error("no fault made the reception fail: the hook is not reached")
	}
}

// TestQueueRunFaults: the same failures while the queue runner delivers
// queued messages: nothing is lost or delivered twice.
func TestQueueRunFaults(t *testing.T) {
	net, ms, evs := setup(t)
	hub := ms["hub"]
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	hub.Now = c.now
	hub.Mail.GiveUp = 365 * 24 * time.Hour
	for _, fc := range faultCases() {
		name := "run-" + strings.ReplaceAll(fc.name, "#", "-")
		if _, err := hub.ReceiveBSMTP(bytes.NewReader(faultBatch(t, name)), hub.Cfg.Neigh["sat"], ReceiveOptions{QueueOnly: true}); err != nil {
			t.Fatal(err)
		}
		restore := safeio.SetFault(fc.f)
		err := hub.RunQueue()
		restore()
		if err != nil && IsPermanent(err) {
			t.Errorf("%s: permanent error %v", name, err)
		}
		drain(t, hub, c)
		checkOnce(t, net.Nodes["hub"].Dir, name, evs["hub"])
	}
}
