package queue

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ferry/internal/safeio"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func open(t *testing.T) *Queue {
	t.Helper()
	q, err := Open(filepath.Join(t.TempDir(), "queue"), false)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func entry(key string, rcpts ...string) *Entry {
	e := &Entry{From: "root@sat.example", Received: t0, Key: key}
	for _, r := range rcpts {
		e.Rcpts = append(e.Rcpts, &Rcpt{Addr: r})
	}
	return e
}

// names lists a queue subdirectory.
func names(t *testing.T, q *Queue, sub string) []string {
	t.Helper()
	ents, err := os.ReadDir(q.path(sub, ""))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestAcceptAndGet(t *testing.T) {
	q := open(t)
	e, err := q.Accept(entry("", "a@x", "b@x"), strings.NewReader("hello\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID == "" || e.Size != 6 || e.Rcpts[0].State != Pending {
		t.Fatalf("%+v", e)
	}
	got, err := q.Get(e.ID)
	if err != nil || got.From != e.From || len(got.Rcpts) != 2 || got.State() != "queued" {
		t.Fatalf("%+v %v", got, err)
	}
	rc, err := q.Open(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello\n" {
		t.Errorf("message %q", b)
	}
	if len(names(t, q, "tmp")) != 0 {
		t.Errorf("tmp/ holds %v", names(t, q, "tmp"))
	}
	for _, id := range []string{"", ".", "..", "../env/x", "nope"} {
		if _, err := q.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v", id, err)
		}
	}
}

// TestAcceptWithKey: the same key accepted twice (queued, then finished)
// stores nothing the second time and returns the first entry.
func TestAcceptWithKey(t *testing.T) {
	q := open(t)
	first, err := q.Accept(entry("sat:0:abc", "a@x"), strings.NewReader("one\n"))
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != KeyID("sat:0:abc") || !q.Known(first.ID) {
		t.Fatalf("id %s", first.ID)
	}
	old, err := q.Accept(entry("sat:0:abc", "a@x"), strings.NewReader("two\n"))
	if !errors.Is(err, ErrDuplicate) || old.ID != first.ID {
		t.Fatalf("%v %+v", err, old)
	}
	rc, _ := q.Open(first.ID)
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "one\n" {
		t.Errorf("the duplicate overwrote the message: %q", b)
	}
	first.Rcpts[0].State = Delivered
	if err := q.Finish(first, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Accept(entry("sat:0:abc", "a@x"), strings.NewReader("three\n")); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("after finish: %v", err)
	}
	if len(names(t, q, "env")) != 0 || len(names(t, q, "msg")) != 0 || len(names(t, q, "done")) != 1 {
		t.Errorf("env %v msg %v done %v", names(t, q, "env"), names(t, q, "msg"), names(t, q, "done"))
	}
	if _, err := q.Accept(entry("sat:1:abc", "a@x"), strings.NewReader("other\n")); err != nil {
		t.Errorf("another key: %v", err)
	}
}

// TestEntryStates: what mailq shows, and when an entry is done: a failed
// recipient whose bounce is neither sent nor given up keeps it queued.
func TestEntryStates(t *testing.T) {
	e := entry("", "a@x", "b@x")
	for _, r := range e.Rcpts {
		r.State = Pending
	}
	check := func(want string, done bool) {
		t.Helper()
		if e.State() != want || e.Done() != done {
			t.Errorf("state %q done %v, want %q %v", e.State(), e.Done(), want, done)
		}
	}
	check("queued", false)
	e.Attempts = 1
	check("deferred", false)
	e.Rcpts[0].State = Delivered
	e.Rcpts[1].State = Failed
	check("bounce deferred", false)
	e.Rcpts[1].Bounced = true
	check("partly bounced", true)
	e.Rcpts[1].Bounced, e.Rcpts[1].BounceGaveUp = false, true
	check("partly bounced", true)
	e.Rcpts[0].State = Failed
	e.Rcpts[0].Bounced = true
	check("bounced", true)
}

// TestHistoryAndPrune: finished entries (done/) and the journal of
// messages delivered at once make the history, oldest first; Prune drops
// the finished entries older than its argument and keeps the rest.
func TestHistoryAndPrune(t *testing.T) {
	q := open(t)
	var ids []string
	for i := range 4 {
		e := entry("", "a@x")
		e.Received = t0.Add(time.Duration(i) * time.Hour)
		e, err := q.Accept(e, strings.NewReader("m\n"))
		if err != nil {
			t.Fatal(err)
		}
		e.Rcpts[0].State = Delivered
		if err := q.Finish(e, e.Received.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	j := entry("", "b@x")
	j.ID, j.Received, j.Finished = "J-1", t0.Add(90*time.Minute), t0.Add(91*time.Minute)
	j.Rcpts[0].State = Delivered
	if err := q.Record(j); err != nil {
		t.Fatal(err)
	}
	hist, err := q.History()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range hist {
		got = append(got, e.ID)
	}
	want := []string{ids[0], ids[1], "J-1", ids[2], ids[3]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	if err := q.Prune(t0.Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	hist, _ = q.History()
	got = nil
	for _, e := range hist {
		got = append(got, e.ID)
	}
	if want := []string{"J-1", ids[2], ids[3]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after prune %v, want %v", got, want)
	}
	if q.Known(ids[0]) || !q.Known(ids[3]) {
		t.Error("Known disagrees with Prune")
	}
}

func TestDueAndRemove(t *testing.T) {
	q := open(t)
	a, _ := q.Accept(entry("", "a@x"), strings.NewReader("a\n"))
	b := entry("", "b@x")
	b.NextTry = t0.Add(time.Hour)
	if _, err := q.Accept(b, strings.NewReader("b\n")); err != nil {
		t.Fatal(err)
	}
	due, err := q.Due(t0)
	if err != nil || len(due) != 1 || due[0].ID != a.ID {
		t.Fatalf("due %v %v", due, err)
	}
	if due, _ := q.Due(t0.Add(time.Hour)); len(due) != 2 {
		t.Fatalf("%d due later", len(due))
	}
	unlock, err := q.Lock(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Lock(a.ID); !errors.Is(err, ErrLocked) {
		t.Errorf("second lock: %v", err)
	}
	if err := q.Remove(a.ID); !errors.Is(err, ErrLocked) {
		t.Errorf("remove while locked: %v", err)
	}
	unlock()
	if err := q.Remove(a.ID); err != nil {
		t.Fatal(err)
	}
	hist, _ := q.History()
	if len(hist) != 1 || hist[0].Rcpts[0].State != Failed || !strings.Contains(hist[0].Rcpts[0].Err, "cancelled") {
		t.Fatalf("%+v", hist)
	}
	if _, err := q.Get(a.ID); !errors.Is(err, ErrNotFound) {
		t.Error("removed entry still queued")
	}
}

// TestKeyClaims: a new key is claimed with its intent recorded; a claim
// released without Done leaves the key in doubt, with the first
// attempt's time; after Done the key is handled.
func TestKeyClaims(t *testing.T) {
	q := open(t)
	c, err := q.Begin("sat:0:k", t0)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != KeyNew || !c.Since.Equal(t0) {
		t.Fatalf("%v %v", c.State, c.Since)
	}
	c.Release()
	if q.Handled("sat:0:k") {
		t.Fatal("handled without Done")
	}
	c, err = q.Begin("sat:0:k", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.State != KeyInDoubt || !c.Since.Equal(t0) {
		t.Fatalf("retry: %v %v, want in doubt since %v", c.State, c.Since, t0)
	}
	if err := c.Done(); err != nil {
		t.Fatal(err)
	}
	c.Release()
	if !q.Handled("sat:0:k") {
		t.Fatal("not handled after Done")
	}
	c, _ = q.Begin("sat:0:k", t0.Add(2*time.Hour))
	if c.State != KeyDone {
		t.Fatalf("after done: %v", c.State)
	}
	c.Release()
	if q.Handled("sat:1:k") {
		t.Error("another key handled")
	}
	if err := q.MarkHandled("sat:1:k"); err != nil || !q.Handled("sat:1:k") {
		t.Errorf("MarkHandled: %v", err)
	}
}

// sameBucket returns n keys that fall in one bucket.
func sameBucket(q *Queue, n int, prefix string) []string {
	want := q.keyBucket(prefix + "0")
	var out []string
	for i := 0; len(out) < n; i++ {
		k := prefix + strconv.Itoa(i)
		if q.keyBucket(k) == want {
			out = append(out, k)
		}
	}
	return out
}

// TestKeyRotation: a full bucket is rotated; keys of the older generation
// are still known (done or in doubt), keys two generations old are
// forgotten.
func TestKeyRotation(t *testing.T) {
	defer func(old int64) { keyBucketMax = old }(keyBucketMax)
	keyBucketMax = 2 << 10
	q := open(t)
	keys := sameBucket(q, 200, "k")
	doubt, err := q.Begin(keys[0], t0) // in doubt: never done
	if err != nil {
		t.Fatal(err)
	}
	doubt.Release()
	for _, k := range keys[1:40] {
		if err := q.MarkHandled(k); err != nil {
			t.Fatal(err)
		}
	}
	b := q.keyBucket(keys[0])
	if _, err := os.Stat(b + ".old"); err != nil {
		t.Fatalf("no rotation after %d keys of %d bytes: %v", 40, keyBucketMax, err)
	}
	if c, _ := q.Begin(keys[0], t0.Add(time.Hour)); c.State != KeyInDoubt || !c.Since.Equal(t0) {
		t.Errorf("rotated intent: %v %v", c.State, c.Since)
	} else {
		c.Release()
	}
	for _, k := range keys[1:40] {
		if !q.Handled(k) {
			t.Fatalf("%s forgotten after one rotation", k)
		}
	}
	for _, k := range keys[40:] {
		if err := q.MarkHandled(k); err != nil {
			t.Fatal(err)
		}
	}
	if q.Handled(keys[1]) {
		t.Error("a key two generations old is still remembered: the index grows without bound")
	}
	if !q.Handled(keys[len(keys)-1]) {
		t.Error("the newest key is forgotten")
	}
	fi, _ := os.Stat(b)
	if fi.Size() > keyBucketMax+100 {
		t.Errorf("bucket of %d bytes, limit %d", fi.Size(), keyBucketMax)
	}
}

// TestKeyClaimsTwoProcesses: two processes (this test binary run again)
// handle the same 300 keys at once, as a handle that outlived its killed
// toss and the next toss do, with rotations on the way: each key is
// handled exactly once.
func TestKeyClaimsTwoProcesses(t *testing.T) {
	if os.Getenv("QUEUE_HELPER") != "" {
		keyClaimsHelper(t) // this is one of the two processes
		return
	}
	q := open(t)
	out := filepath.Join(t.TempDir(), "handled")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	outs := make([][]byte, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestKeyClaimsTwoProcesses$")
			cmd.Env = append(os.Environ(), "QUEUE_HELPER="+q.Dir, "QUEUE_HELPER_OUT="+out, "QUEUE_HELPER_ORDER="+strconv.Itoa(i))
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("helper %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		count[l]++
	}
	if len(count) != 300 {
		t.Errorf("%d keys handled, want 300", len(count))
	}
	for k, n := range count {
		if n != 1 {
			t.Errorf("%s handled %d times", k, n)
		}
	}
}

// keyClaimsHelper is one process of TestKeyClaimsTwoProcesses (the test
// binary run with $QUEUE_HELPER set).
func keyClaimsHelper(t *testing.T) {
	dir := os.Getenv("QUEUE_HELPER")
	keyBucketMax = 1 << 10
	q, err := Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(os.Getenv("QUEUE_HELPER_OUT"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reverse := os.Getenv("QUEUE_HELPER_ORDER") == "1"
	for i := range 300 {
		n := i
		if reverse {
			n = 299 - i
		}
		key := fmt.Sprintf("sat:%d:x", n%30) + strings.Repeat("y", n)
		c, err := q.Begin(key, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if c.State != KeyDone {
			// The "delivery": one line, then Done, under the claim.
			if _, err := f.WriteString(key + "\n"); err != nil {
				t.Fatal(err)
			}
			if err := c.Done(); err != nil {
				t.Fatal(err)
			}
		}
		c.Release()
	}
}

// TestAcceptFaults: a failing create, write, fsync, rename or directory
// fsync, or a full disk, makes Accept fail with nothing left behind (no
// entry without its message, no temporary file), and a retry then
// succeeds once.
func TestAcceptFaults(t *testing.T) {
	faults := map[string]safeio.Fault{}
	for _, op := range []safeio.Op{safeio.OpCreate, safeio.OpWrite, safeio.OpSync, safeio.OpClose, safeio.OpRename, safeio.OpSyncDir} {
		for n := 1; n <= 2; n++ {
			faults[fmt.Sprintf("%s#%d", op, n)] = safeio.FailNth(op, n, syscall.EIO)
		}
	}
	for _, lim := range []int64{0, 10, 100} {
		faults[fmt.Sprintf("diskfull-%d", lim)] = safeio.DiskFull(lim)
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			q := open(t)
			restore := safeio.SetFault(f)
			_, err := q.Accept(entry("sat:0:f", "a@x"), strings.NewReader(strings.Repeat("body\n", 20)))
			restore()
			if err == nil {
				t.Fatal("no error")
			}
			if name[:4] == "disk" && !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("disk full: %v", err)
			}
			if n := names(t, q, "tmp"); len(n) != 0 {
				t.Errorf("tmp/ holds %v", n)
			}
			// A failed directory fsync may leave the renamed file: never
			// an envelope without its message.
			for _, id := range names(t, q, "env") {
				if _, err := q.Open(id); err != nil {
					t.Errorf("envelope %s without its message", id)
				}
			}
			e, err := q.Accept(entry("sat:0:f", "a@x"), strings.NewReader(strings.Repeat("body\n", 20)))
			if err != nil && !errors.Is(err, ErrDuplicate) {
				t.Fatalf("retry: %v", err)
			}
			rc, err := q.Open(e.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if len(b) != 100 {
				t.Errorf("message of %d bytes after the retry", len(b))
			}
			if l, _ := q.List(); len(l) != 1 {
				t.Errorf("%d entries", len(l))
			}
		})
	}
}
