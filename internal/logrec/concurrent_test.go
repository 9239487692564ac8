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
