package logrec

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// bigOutput is a multi-line value of a few KiB, so that records are large
// enough for torn or interleaved writes to show.
func bigOutput(g, i int) string {
	var b strings.Builder
	for k := 0; k < 40; k++ {
		fmt.Fprintf(&b, "writer %d record %d line %d %s\n", g, i, k, strings.Repeat("x", 60))
	}
	return b.String()
}

func writeMany(t testing.TB, l *Logger, g, n int) {
	for i := 0; i < n; i++ {
		err := l.Info(Rec{Who: WhoTx, Fields: []Field{F("G", strconv.Itoa(g)), F("I", strconv.Itoa(i)),
			Output([]byte(bigOutput(g, i)))}, Msg: fmt.Sprintf("writer %d record %d", g, i)})
		if err != nil {
			t.Error(err)
			return
		}
	}
}

// checkWhole reads the log and demands writers*n intact records.
func checkWhole(t *testing.T, path string, writers, n int) {
	t.Helper()
	recs, err := readAll(mustRead(t, path))
	if err != nil {
		t.Fatalf("log does not parse: %v", err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		g, _ := r.Get("G")
		i, _ := r.Get("I")
		gi, _ := strconv.Atoi(g)
		ii, _ := strconv.Atoi(i)
		out, _ := r.Get("Output")
		msg, _ := r.Get("Msg")
		if len(r) != 6 || out != strings.Trim(bigOutput(gi, ii), "\n") || msg != fmt.Sprintf("writer %s record %s", g, i) {
			t.Fatalf("torn record: %q", r)
		}
		seen[g+"/"+i] = true
	}
	if len(recs) != writers*n || len(seen) != writers*n {
		t.Fatalf("%d records (%d distinct), want %d", len(recs), len(seen), writers*n)
	}
}

func TestConcurrentLoggers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	const writers, n = 8, 150
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		l, err := New(path, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); writeMany(t, l, g, n) }()
	}
	wg.Wait()
	checkWhole(t, path, writers, n)
}

func TestSharedLogger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var con bytes.Buffer // not safe itself: the Logger must serialize
	l, err := New(path, &con, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const writers, n = 8, 100
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() { defer wg.Done(); writeMany(t, l, g, n) }()
	}
	wg.Wait()
	checkWhole(t, path, writers, n)
	lines := strings.Split(strings.TrimSuffix(con.String(), "\n"), "\n")
	if len(lines) != writers*n {
		t.Fatalf("%d console lines, want %d", len(lines), writers*n)
	}
	for _, s := range lines {
		if _, rest, ok := strings.Cut(s, "Z writer "); !ok || !strings.Contains(rest, " record ") {
			t.Fatalf("console line %q", s)
		}
	}
}

// TestConcurrentProcesses runs writers in separate processes (this test
// binary re-executed), as ferry commands run beside each other.
func TestConcurrentProcesses(t *testing.T) {
	if os.Getenv("LOGREC_WRITER") != "" {
		writerProcess(t) // this is one of the writers
		return
	}
	path := filepath.Join(t.TempDir(), "log")
	const procs, n = 4, 150
	var wg sync.WaitGroup
	for g := 0; g < procs; g++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentProcesses$")
		cmd.Env = append(os.Environ(), "LOGREC_WRITER="+strconv.Itoa(g), "LOGREC_PATH="+path, "LOGREC_N="+strconv.Itoa(n))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("writer %d: %v\n%s", g, err, out)
			}
		}()
	}
	wg.Wait()
	checkWhole(t, path, procs, n)
}

// writerProcess is the body of one writer process of
// TestConcurrentProcesses (a test binary run with $LOGREC_WRITER set).
func writerProcess(t *testing.T) {
	g, err := strconv.Atoi(os.Getenv("LOGREC_WRITER"))
	if err != nil {
		t.Fatalf("LOGREC_WRITER: %v", err)
	}
	n, _ := strconv.Atoi(os.Getenv("LOGREC_N"))
	l, err := New(os.Getenv("LOGREC_PATH"), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeMany(t, l, g, n)
}

// TestKeptOpenFollowsRotation: the Logger keeps the log open between
// records, but a log moved away (logrotate) or removed is noticed at the
// next record, which goes to a new file at the path, as with NNCP's
// open-per-record; the lock file likewise.
func TestKeptOpenFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	l, err := New(path, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rec := func(i int) {
		t.Helper()
		if err := l.Info(Rec{Who: WhoTx, Fields: []Field{F("I", strconv.Itoa(i))}, Msg: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(p string) int {
		t.Helper()
		recs, err := readAll(mustRead(t, p))
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	rec(0)
	rec(1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	rec(2)
	if n, m := count(path+".1"), count(path); n != 2 || m != 1 {
		t.Fatalf("after the rotation: %d records in log.1, %d in log; want 2 and 1", n, m)
	}
	os.Remove(path)
	os.Remove(path + ".lock")
	rec(3)
	if n := count(path); n != 1 {
		t.Fatalf("after the removal: %d records in the new log, want 1", n)
	}
	if _, err := os.Stat(path + ".lock"); err != nil {
		t.Fatalf("the lock file was not made again: %v", err)
	}
	// Another writer in between (NNCP opens per record) appends to the
	// same file: nothing is overwritten.
	l2, _ := New(path, nil, Options{})
	l2.Info(Rec{Who: WhoTx, Msg: "other"})
	l2.Close()
	rec(4)
	if n := count(path); n != 3 {
		t.Fatalf("%d records, want 3", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rec(5) // reopens
	if n := count(path); n != 4 {
		t.Fatalf("%d records after Close and a record, want 4", n)
	}
}
