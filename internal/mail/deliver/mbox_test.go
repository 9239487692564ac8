package deliver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC) }

const fromDate = "Tue Mar  5 07:08:09 2024"

// mboxrd quotes like Mbox, line by line in memory.
func mboxrd(body string) string {
	re := regexp.MustCompile(`(?m)^(>*From )`)
	s := re.ReplaceAllString(body, ">$1")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s + "\n"
}

func TestMboxBytes(t *testing.T) {
	wants := map[string]string{
		"plain":       "Subject: hi\n\nhello\n\n",
		"from lines":  "Subject: f\n\n>From here\n>>From there\n>>>From everywhere\nFrom\nFromage\n From x\n\n",
		"dots":        "Subject: d\n\n.\n..\n.leading\n\n",
		"no newline":  "Subject: n\n\nlast line without newline\n\n",
		"crlf":        "Subject: c\r\n\r\n>From crlf\r\n.\r\n\n",
		"empty":       "\n",
		"8bit":        "Subject: caf\xc3\xa9\n\nna\xefve \xff\x00 bytes\n\n",
		"header only": "Subject: h\n\n",
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mbox")
			mb := Mbox{Path: path, Now: fixedNow}
			if res := one(t, mb, bytesMessage("alice@sat.example", body), "bob@hub.example"); res.Err != nil {
				t.Fatal(res.Err)
			}
			got, _ := os.ReadFile(path)
			nl := "\n"
			if name == "crlf" {
				nl = "\r\n"
			}
			want := "From alice@sat.example " + fromDate + "\nReturn-Path: <alice@sat.example>" + nl + "Delivered-To: bob@hub.example" + nl + wants[name]
			if string(got) != want {
				t.Errorf("got\n%q\nwant\n%q", got, want)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v", fi.Mode())
			}
			if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("dotlock left: %v", err)
			}
		})
	}
}

// TestMboxQuotingLongLines checks the quoting where lines and runs of ">"
// are longer than the read buffer.
func TestMboxQuotingLongLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	body := "Subject: long\n\nFrom " + long + "\n" + strings.Repeat(">", 70<<10) + "From q\n" +
		strings.Repeat(">", 70<<10) + "Fro\n" + long + "From not at start\nFrom end"
	path := filepath.Join(t.TempDir(), "mbox")
	mb := Mbox{Path: path, Now: fixedNow, NoTraceHeaders: true}
	if res := one(t, mb, bytesMessage("", body), "bob@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	got, _ := os.ReadFile(path)
	want := "From MAILER-DAEMON " + fromDate + "\n" + mboxrd(body)
	if string(got) != want {
		t.Errorf("quoting differs (got %d bytes, want %d)", len(got), len(want))
	}
}

// TestMboxAppend checks the separation from what the file held before.
func TestMboxAppend(t *testing.T) {
	msg := "From " + "alice@sat.example " + fromDate + "\nSubject: x\n\nbody\n\n"
	for old, sep := range map[string]string{
		"":                      "",
		"From a x\n\nold\n\n":   "",
		"From a x\n\nold\n":     "\n",
		"From a x\n\nold":       "\n\n",
		"\n":                    "",
		"From a x\n\nold\r\n\n": "",
	} {
		path := filepath.Join(t.TempDir(), "mbox")
		os.WriteFile(path, []byte(old), 0o640)
		mb := Mbox{Path: path, Now: fixedNow, NoTraceHeaders: true}
		if res := one(t, mb, bytesMessage("alice@sat.example", "Subject: x\n\nbody\n"), "b@hub.example"); res.Err != nil {
			t.Fatal(res.Err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != old+sep+msg {
			t.Errorf("after %q: got %q", old, got)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
			t.Errorf("mode changed to %v", fi.Mode())
		}
	}
}

// TestMboxFailures: the file keeps its old bytes whatever fails.
func TestMboxFailures(t *testing.T) {
	const old = "From a x\n\nold message\n\n"
	for name, msg := range map[string]*Message{
		"reader fails midway": failingMessage("Subject: x\n\n" + strings.Repeat("line\n", 30000)),
		"short message":       {Size: 1000, Open: bytesMessage("", "only a few bytes\n").Open},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mbox")
			os.WriteFile(path, []byte(old), 0o600)
			res := one(t, Mbox{Path: path}, msg, "b@hub.example")
			e := wantErr(t, res.Err, true, 451, "4.3.0")
			if !errors.Is(e, ErrReadMessage) {
				t.Errorf("%v does not wrap ErrReadMessage", e)
			}
			if got, _ := os.ReadFile(path); string(got) != old {
				t.Errorf("file now %d bytes: %.100q", len(got), got)
			}
		})
	}
}

func TestMboxRefuses(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, nil, 0o600)
	os.Symlink(target, filepath.Join(dir, "link"))
	os.Link(target, filepath.Join(dir, "hard"))
	os.Mkdir(filepath.Join(dir, "dir"), 0o700)
	for _, name := range []string{"link", "hard", "dir"} {
		res := one(t, Mbox{Path: filepath.Join(dir, name)}, bytesMessage("", "x\n"), "b@hub.example")
		wantErr(t, res.Err, true, 451, "4.3.0")
	}
	if b, _ := os.ReadFile(target); len(b) != 0 {
		t.Errorf("written through a link: %q", b)
	}
}

func TestMboxDotlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	lock := path + ".lock"

	// A fresh dotlock held by someone else: ErrLocked.
	os.WriteFile(lock, []byte("1\n"), 0o644)
	res := one(t, Mbox{Path: path, LockTimeout: 100 * time.Millisecond}, bytesMessage("", "x\n"), "b@hub.example")
	if e := wantErr(t, res.Err, true, 451, "4.2.0"); !errors.Is(e, ErrLocked) {
		t.Errorf("%v does not wrap ErrLocked", e)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Errorf("someone else's dotlock removed: %v", err)
	}

	// A stale one is removed.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(lock, old, old)
	if res := one(t, Mbox{Path: path, StaleLock: time.Minute}, bytesMessage("", "x\n"), "b@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dotlock left: %v", err)
	}

	// A fresh one whose holder no longer runs (killed while it
	// delivered): removed at once, not after StaleLock.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(lock, []byte(strconv.Itoa(dead.Process.Pid)+"\n"), 0o644)
	if res := one(t, Mbox{Path: path, LockTimeout: 5 * time.Second}, bytesMessage("", "y\n"), "b@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
}

// TestMboxKernelLock: a flock held on another open file description keeps
// the delivery out.
func TestMboxKernelLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	os.WriteFile(path, nil, 0o600)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	res := one(t, Mbox{Path: path, LockTimeout: 100 * time.Millisecond}, bytesMessage("", "x\n"), "b@hub.example")
	wantErr(t, res.Err, true, 451, "4.2.0")
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if res := one(t, Mbox{Path: path}, bytesMessage("", "x\n"), "b@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
}

// concurrentBody is the message writer w sends as its i-th: big enough
// that unlocked appends would interleave.
func concurrentBody(w string, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Subject: %s-%d\n\n", w, i)
	for k := 0; k < 2000; k++ {
		fmt.Fprintf(&b, "%s-%d line %d\n", w, i, k)
	}
	return b.String()
}

// deliverMany delivers n messages from each of g goroutines named
// prefix-G.
func deliverMany(path, prefix string, g, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, g*n)
	for k := 0; k < g; k++ {
		wg.Add(1)
		go func(w string) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				res := Mbox{Path: path}.Deliver(context.Background(), bytesMessage("a@sat.example", concurrentBody(w, i)), []string{"b@hub.example"})
				if res[0].Err != nil {
					errs <- res[0].Err
				}
			}
		}(fmt.Sprintf("%s-%d", prefix, k))
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// checkMbox splits the mbox into messages and checks each is whole.
func checkMbox(t *testing.T, path string, writers []string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, w := range writers {
		for i := 0; i < n; i++ {
			want["Return-Path: <a@sat.example>\nDelivered-To: b@hub.example\n"+concurrentBody(w, i)+"\n"] = true
		}
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	var msgs []string
	var cur strings.Builder
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "From a@sat.example ") {
			if cur.Len() > 0 {
				msgs = append(msgs, cur.String())
			}
			cur.Reset()
			continue
		}
		cur.WriteString(line + "\n")
	}
	msgs = append(msgs, cur.String())
	if len(msgs) != len(want) {
		t.Fatalf("%d messages in the mbox, want %d", len(msgs), len(want))
	}
	for _, m := range msgs {
		if !want[m] {
			t.Fatalf("damaged or repeated message: %.200q", m)
		}
		delete(want, m)
	}
}

func TestMboxConcurrentGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	if err := deliverMany(path, "g", 8, 5); err != nil {
		t.Fatal(err)
	}
	var writers []string
	for k := 0; k < 8; k++ {
		writers = append(writers, fmt.Sprintf("g-%d", k))
	}
	checkMbox(t, path, writers, 5)
}

// TestMboxConcurrentProcesses runs this test binary three times at once,
// each delivering from four goroutines.
func TestMboxConcurrentProcesses(t *testing.T) {
	if helper := os.Getenv("FERRY_MBOX_HELPER"); helper != "" {
		// This is one of the three processes.
		if err := deliverMany(helper, os.Getenv("FERRY_MBOX_PREFIX"), 4, 5); err != nil {
			t.Fatal(err)
		}
		return
	}
	path := filepath.Join(t.TempDir(), "mbox")
	var cmds []*exec.Cmd
	var writers []string
	for p := 0; p < 3; p++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMboxConcurrentProcesses$")
		cmd.Env = append(os.Environ(), "FERRY_MBOX_HELPER="+path, fmt.Sprintf("FERRY_MBOX_PREFIX=p%d", p))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		for k := 0; k < 4; k++ {
			writers = append(writers, fmt.Sprintf("p%d-%d", p, k))
		}
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	checkMbox(t, path, writers, 5)
}

func TestMboxLarge(t *testing.T) {
	const size = 25 << 20
	path := filepath.Join(t.TempDir(), "mbox")
	var res Result
	alloc := allocated(func() { res = one(t, Mbox{Path: path}, genMessage(size), "b@hub.example") })
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if alloc > 2<<20 {
		t.Errorf("allocated %d bytes for a %d-byte message", alloc, size)
	}
	fi, _ := os.Stat(path)
	L := len(genLine)
	quoted := size / L // every whole line starts with "From " and gets a ">"
	tail := 1          // the blank line
	if rest := size % L; rest != 0 {
		tail++ // a newline after the cut last line
		if rest >= len("From ") {
			quoted++
		}
	}
	head := len("From big@sat.example Tue Mar  5 07:08:09 2024\nReturn-Path: <big@sat.example>\nDelivered-To: b@hub.example\n")
	if want := int64(head + size + quoted + tail); fi.Size() != want {
		t.Errorf("file has %d bytes, want %d", fi.Size(), want)
	}
}

// FuzzMboxrd compares the streaming quoting with mboxrd's rule applied to
// the whole text, through a small read buffer.
func FuzzMboxrd(f *testing.F) {
	for _, b := range bodies {
		f.Add(b)
	}
	f.Add(">>>>>>>>>>>>>>>>>>>>>>From x")
	f.Add("a\n>From\n>From \nFrom")
	f.Fuzz(func(t *testing.T, body string) {
		var out strings.Builder
		w := bufio.NewWriter(&out)
		endsNL, err := copyQuoted(w, bufio.NewReaderSize(strings.NewReader(body), 16))
		if err != nil {
			t.Fatal(err)
		}
		w.Flush()
		want := regexp.MustCompile(`(?m)^(>*From )`).ReplaceAllString(body, ">$1")
		if out.String() != want {
			t.Fatalf("quoted %q to %q, want %q", body, out.String(), want)
		}
		if endsNL != (body == "" || strings.HasSuffix(body, "\n")) {
			t.Fatalf("endsNL %v for %q", endsNL, body)
		}
	})
}

// memJournal is a deliver.Journal in memory.
type memJournal map[string][]byte

func (j memJournal) Intent(key string, rec []byte) error { j[key] = rec; return nil }
func (j memJournal) Prior(key string) ([]byte, bool)     { b, ok := j[key]; return b, ok }

// TestMboxKeyed: a keyed delivery records where it writes; the same
// delivery retried finds its whole copy and appends nothing, and finds a
// copy cut short at the end of the file (a kill while it wrote), cuts it
// off and writes it whole: the file ends up as if the first attempt had
// finished.
func TestMboxKeyed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	mb := Mbox{Path: path, Now: fixedNow}
	j := memJournal{}
	first := bytesMessage("a@sat.example", "Subject: one\n\nfirst\nFrom here\n")
	first.Key, first.Time, first.Journal = "K-1", time.Unix(1700000000, 0), j
	if res := one(t, mb, first, "bob@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	whole, _ := os.ReadFile(path)
	first.Retry = true
	if res := one(t, mb, first, "bob@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, whole) {
		t.Fatalf("retry appended a second copy:\n%s", b)
	}
	second := bytesMessage("a@sat.example", "Subject: two\n\nsecond\n")
	second.Key, second.Time, second.Journal = "K-2", time.Unix(1700000100, 0), j
	if res := one(t, mb, second, "bob@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	both, _ := os.ReadFile(path)
	for cut := len(whole) + 1; cut < len(both); cut += 7 {
		if err := os.Truncate(path, int64(cut)); err != nil {
			t.Fatal(err)
		}
		second.Retry = true
		if res := one(t, mb, second, "bob@hub.example"); res.Err != nil {
			t.Fatal(res.Err)
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, both) {
			t.Fatalf("cut at %d: after the retry\n%q\nwant\n%q", cut, b, both)
		}
	}
	// The first delivery retried now, with another message after it:
	// still there, nothing appended.
	if res := one(t, mb, first, "bob@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, both) {
		t.Fatal("a retry appended a copy that was there")
	}

	// The second copy cut short, and another message delivered before
	// the retry: the piece is cut off first, nothing half-written stays.
	if err := os.Truncate(path, int64(len(whole)+20)); err != nil {
		t.Fatal(err)
	}
	j[slotKey(path)] = []byte(fmt.Sprintf(`{"path":%q,"offset":%d,"length":%d}`, path, len(whole), len(both)-len(whole)))
	third := bytesMessage("a@sat.example", "Subject: three\n\nthird\n")
	third.Key, third.Time, third.Journal = "K-3", time.Unix(1700000200, 0), j
	if res := one(t, mb, third, "bob@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := one(t, mb, second, "bob@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte("\nFrom a@sat.example ")) + 1; n != 3 || bytes.Count(b, []byte("second\n")) != 1 ||
		bytes.Count(b, []byte("Subject: two")) != 1 || !bytes.HasPrefix(b, whole) {
		t.Fatalf("after a cut copy and another delivery:\n%s", b)
	}
}
