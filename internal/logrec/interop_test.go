package logrec

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
)

// nncpLog runs the real nncp-log on cfg (whose log: is the file to read).
func nncpLog(t *testing.T, cfg string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(refbin.NNCP(t, "log"), append([]string{"-cfg", cfg}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// ferryRecords writes a varied set of records with a Logger: the common
// events, errors, multi-line values, repeated fields, odd characters.
func ferryRecords(t *testing.T, path string) {
	t.Helper()
	n := testnet.New(t, "peer")
	id := n.Nodes["peer"].Keys.ID
	clock := time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC)
	l, err := New(path, nil, Options{Now: func() time.Time { clock = clock.Add(1234567 * time.Microsecond); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	recs := []struct {
		rec Rec
		err error
	}{
		{Rec{WhoTx, []Field{Type("file"), Node(id), Nice(224), Src("/a/b c.txt"), Dst("b c.txt"), Size(288),
			Pkt("ST5MBIMO7YGGAJ37FR7AMMGZVYUJWCVOKSTWETMTKT7JIVZWQ4UQ")}, "File /a/b c.txt (288 B) is sent to peer:b c.txt"}, nil},
		{Rec{WhoTx, []Field{Type("exec"), Node(id), Nice(96), ReplyNice(224), Dst("rsmtp a@b"), Size(294)},
			"Exec is sent to peer@rsmtp a@b (294 B)"}, nil},
		{Rec{WhoRxHandle, []Field{Node(id), Type("exec"), Dst("fail"), Output([]byte("out\n\n  two spaces\n+plus\n#hash\nerr\r\n"))},
			"Tossing exec peer/X (18 B): fail: handling"}, errors.New("exit status 3")},
		{Rec{WhoRx, []Field{Node(id), Pkt("A"), Type("ack"), Pkt("B")}, "Got ACK packet from peer of B"}, nil},
		{Rec{WhoTx, []Field{Dst("new\nline.txt")}, "File new\nline.txt (1 B) is sent to peer:new\nline.txt"}, nil},
		{Rec{WhoRx, nil, "ends in a backslash \\"}, nil},
		{Rec{WhoRx, nil, "unicode: äöü ✓, tab\there, cr\rmid"}, nil},
		{Rec{WhoRx, nil, ""}, errors.New("only an error")},
		{Rec{WhoRx, nil, "   leading blanks are lost"}, nil},
		{Rec{"", []Field{F("X_1", ""), F("Y", "")}, "no who"}, errors.New("")},
		{Rec{WhoRx, []Field{F("Long", strings.Repeat("z", 60000))}, "long value"}, nil},
	}
	for _, r := range recs {
		if r.err != nil {
			err = l.Error(r.rec, r.err)
		} else {
			err = l.Info(r.rec)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	l.Debug(Rec{WhoRx, nil, "debug records are not logged"})
}

// TestInteropNNCPLogReadsFerry: the real nncp-log, given a config whose
// log: is a file ferry wrote, prints exactly what Format prints.
func TestInteropNNCPLogReadsFerry(t *testing.T) {
	refbin.NNCP(t, "log")
	n := testnet.New(t, "me")
	me := n.Nodes["me"]
	ferryRecords(t, me.Log)
	raw := mustRead(t, me.Log)
	for _, c := range []struct {
		args []string
		opts FormatOptions
	}{{nil, FormatOptions{}}, {[]string{"-debug"}, FormatOptions{Debug: true}}} {
		got, stderr, err := nncpLog(t, me.CfgPath, c.args...)
		if err != nil {
			t.Fatalf("nncp-log %v: %v\n%s", c.args, err, stderr)
		}
		want, err := formatAll(t, raw, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("nncp-log %v:\n%s\nFormat:\n%s", c.args, got, want)
		}
		if strings.Count(got, "\n20") < 10 {
			t.Errorf("too few records printed:\n%s", got)
		}
	}
}

// TestInteropEdgeLive re-runs the real nncp-log on testdata/edge and
// testdata/nncp, to catch stale expectations.
func TestInteropEdgeLive(t *testing.T) {
	refbin.NNCP(t, "log")
	cfg := testnet.New(t, "me").Nodes["me"].CfgPath
	logs, _ := filepath.Glob("testdata/edge/*.log")
	logs = append(logs, "testdata/nncp/sat.log", "testdata/nncp/hub.log")
	for _, path := range logs {
		got, _, _ := nncpLog(t, cfg, "-log", path)
		want := strings.TrimSuffix(path, ".log") + ".out"
		if strings.HasPrefix(path, "testdata/nncp/") {
			want = path + ".out"
		}
		if got != string(mustRead(t, want)) {
			t.Errorf("%s: nncp-log now prints\n%q\nstored\n%q", path, got, mustRead(t, want))
		}
	}
}

// TestInteropSharedLog: the real nncp-file and ferry Loggers append to one
// log at the same time; every record stays whole and nncp-log reads it all.
func TestInteropSharedLog(t *testing.T) {
	nncpFile := refbin.NNCP(t, "file")
	n := testnet.New(t, "a", "b")
	a := n.Nodes["a"]
	src := filepath.Join(a.Dir, "f.txt")
	if err := os.WriteFile(src, []byte("payload\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const writers, per, files = 4, 100, 15
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		l, _ := New(a.Log, nil, Options{})
		wg.Add(1)
		go func() { defer wg.Done(); writeMany(t, l, g, per) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < files; i++ {
			cmd := exec.Command(nncpFile, "-cfg", a.CfgPath, "-noprogress", "-quiet", src, "b:f.txt")
			cmd.Env = append(os.Environ(), "NNCPNOSYNC=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("nncp-file: %v\n%s", err, out)
				return
			}
		}
	}()
	wg.Wait()
	recs, err := readAll(mustRead(t, a.Log))
	if err != nil {
		t.Fatal(err)
	}
	var ours, theirs int
	for _, r := range recs {
		if _, ok := r.Get("G"); ok {
			ours++
		} else if typ, _ := r.Get("Type"); typ == "file" {
			theirs++
		} else {
			t.Errorf("stray record %q", r)
		}
	}
	if ours != writers*per || theirs != files {
		t.Errorf("%d ferry and %d nncp records, want %d and %d", ours, theirs, writers*per, files)
	}
	out, stderr, err := nncpLog(t, a.CfgPath)
	if err != nil || strings.Count(out, " is sent to b:f.txt\n") != files {
		t.Errorf("nncp-log: %v %s", err, stderr)
	}
}
