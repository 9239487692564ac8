package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
	"ferry/internal/testnet/vectors"
)

// Helpers shared by the stat, rm, check, pkt and hash tests.

// runResult is a finished command.
type runResult struct {
	stdout, stderr string
	code           int
}

// runFerry runs ferry in-process as "ferry NAME ARGS...".
func runFerry(t *testing.T, stdin []byte, name string, args ...string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"NNCPNOSYNC": "1"}
	e := &Env{Stdin: bytes.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }}
	code := Main(e, append([]string{"ferry", name}, args...))
	return runResult{out.String(), errb.String(), code}
}

// runNNCP runs the real nncp-NAME (skipping the test when it is absent).
func runNNCP(t *testing.T, stdin []byte, name string, args ...string) runResult {
	t.Helper()
	cmd := exec.Command(refbin.NNCP(t, name), args...)
	cmd.Env = []string{"NNCPNOSYNC=1", "PATH=" + os.Getenv("PATH")}
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := runResult{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// Node ids of the vectors' nodes.
const (
	satID = "LSA57ADHTM35TSF2XAROSICGTKUQQCALHY4ZEBOOCEZCCZH6H7DA"
	hubID = "5JW27WTD2N3G7TJUZKESIAWWHVA2MD2C7YQ5YDLONQUEV4Z3SBVQ"
	farID = "XC4WFVVSR77AGWGO6ZFOUHFJTAQQV6R6NUTNLQUP3M2PYXEHI33Q"
)

// vnode is one of the vectors' nodes with its config written for a temp
// dir.
type vnode struct {
	dir, cfg, spool, log string
}

// vectorNode writes configs/NAME.hjson with /TESTDATA replaced by a temp
// dir; extra lines go at the top of the config (e.g. "nohdr: true").
func vectorNode(t *testing.T, name string, extra ...string) *vnode {
	t.Helper()
	dir := t.TempDir()
	text := strings.ReplaceAll(string(vectors.Read(t, "configs/"+name+".hjson")), "/TESTDATA", dir)
	if len(extra) > 0 {
		text = strings.Replace(text, "{", "{\n"+strings.Join(extra, "\n"), 1)
	}
	v := &vnode{dir: dir, cfg: filepath.Join(dir, name+".hjson"),
		spool: filepath.Join(dir, name, "spool"), log: filepath.Join(dir, name, "log")}
	for _, p := range []string{v.spool, filepath.Join(dir, name, "incoming")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(v.cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return v
}

// put writes a file under the spool, making directories; src is a path
// under the vectors' packets/ or, when it starts with "=", literal content.
func (v *vnode) put(t *testing.T, rel, src string) {
	t.Helper()
	var b []byte
	if strings.HasPrefix(src, "=") {
		b = []byte(src[1:])
	} else {
		b = vectors.Read(t, "packets/"+src)
	}
	p := filepath.Join(v.spool, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hubSpool makes hub's spool with the vectors' packets in every state a
// queue file can be in, plus the files rm deals with.
func hubSpool(t *testing.T, extra ...string) *vnode {
	t.Helper()
	v := vectorNode(t, "hub", extra...)
	for _, f := range [][2]string{
		{satID + "/rx/2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA", "01-file-sat-to-hub.pkt"},
		{satID + "/rx/RQ52TR4JD3J27PWBPMYMKIFZSJC6HSEYWMXQH4LZIAMZQN3G6TJA", "02-freq-sat-to-hub.pkt"},
		{satID + "/rx/7IE5HKF5DFZ43TBGL6O34P6KELFYKC3XKD5YBRK4QSZ3CXK5AZUQ.nock", "03-exec-rsmtp-sat-to-hub.pkt"},
		{satID + "/rx/HFBYWD44QQFGNHOC3LFTMLSASOJNOVLEUQF5ROI3A45AXM6AVPDA.nock", "chunked/chunk3.pkt"},
		{satID + "/rx/OURHFTNMGASCWNNBVWEGU4VL46NGOKB7O7Y2UJAJ6HPE7LZIYQHQ.part", "chunked/chunk3.pkt"},
		{satID + "/rx/ZPK6KQIYRNG3D2IH6NRAZW56Z3GMH6XYVLS3MTACWJD44OAQ535Q", "04-exec-args-sat-to-hub.pkt"},
		{satID + "/rx/foo.part", "=junk"},
		{satID + "/rx/junk", "=junk"},
		// A packet name whose content is no packet.
		{satID + "/rx/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "=not a packet at all"},
		{satID + "/rx/seen/B", "="},
		{satID + "/rx/seen/A", "="},
		{satID + "/tx/AHIKFS4OKLBPV2XIA2UNQKE2TTCMAATROGYAIPBJBK44DTTNR5PQ", "08-ack-hub-to-sat.pkt"},
		{satID + "/tx/OTM4WHTZ44WBQRCEAUHFNW7225Z5PF74PHZW35S6ODKENJIV5D5Q", "09-file-hub-to-sat-freq-reply.pkt"},
		{satID + "/tx/YQSWPONI6FYSIB32LEWHD5ZNZLNSOJRP23AHW72STOFVTH67SVEA.nock", "05-execfat-sat-to-hub.pkt"},
		{satID + "/tx/444N2QZFPKDJ43UGGGWPXM7DX5T44B4NCBEAXXJO7ZMARKKMMSIA.part", "06-trns-sat-to-far-via-hub.pkt"},
		{satID + "/area/X/1", "="},
		{satID + "/toss.lock", "="},
		{farID + "/tx/V5ZUN74US6ZF5BASCPZPO5USKFLSZG6CO53FB6EVNUEPJJRTU6TA", "07-file-sat-to-far-inner.pkt"},
		{"tmp/leftover", "=x"},
		{"tmp/sub/leftover", "=x"},
	} {
		v.put(t, f[0], f[1])
	}
	old := time.Now().Add(-3 * time.Hour)
	os.Chtimes(filepath.Join(v.spool, satID, "rx", "RQ52TR4JD3J27PWBPMYMKIFZSJC6HSEYWMXQH4LZIAMZQN3G6TJA"), old, old)
	os.Chtimes(filepath.Join(v.spool, "tmp", "leftover"), old, old)
	return v
}

// tree lists the files under dir (relative paths, sorted).
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			if fi.IsDir() {
				rel += "/"
			}
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestStatMatchesNNCP(t *testing.T) {
	v := hubSpool(t)
	for _, args := range [][]string{
		{}, {"-pkt"}, {"-node", "sat", "-pkt"}, {"-node", "far"}, {"-node", farID, "-pkt"}, {"-node", "nobody"},
	} {
		full := append([]string{"-cfg", v.cfg}, args...)
		want := runNNCP(t, nil, "stat", full...)
		got := runFerry(t, nil, "stat", full...)
		if got.stdout != want.stdout || got.code != want.code {
			t.Errorf("stat %v: exit %d, want %d\n--- ferry\n%s--- nncp\n%s%s", args, got.code, want.code, got.stdout, want.stdout, want.stderr)
		}
	}
}

func TestStatWritesHdr(t *testing.T) {
	v := hubSpool(t)
	rx := filepath.Join(v.spool, satID, "rx")
	if r := runFerry(t, nil, "stat", "-cfg", v.cfg, "-node", "sat"); r.code != 0 {
		t.Fatalf("stat: %+v", r)
	}
	// Whole packets with a readable header get one; .nock files do not.
	got := tree(t, filepath.Join(rx, "hdr"))
	want := []string{"2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA", "RQ52TR4JD3J27PWBPMYMKIFZSJC6HSEYWMXQH4LZIAMZQN3G6TJA", "ZPK6KQIYRNG3D2IH6NRAZW56Z3GMH6XYVLS3MTACWJD44OAQ535Q"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("hdr/ = %v, want %v", got, want)
	}
	hdr, _ := os.ReadFile(filepath.Join(rx, "hdr", want[0]))
	if pkt := vectors.Read(t, "packets/01-file-sat-to-hub.pkt"); !bytes.Equal(hdr, pkt[:172]) {
		t.Errorf("hdr/%s is not the packet's 172-byte header", want[0])
	}

	n := hubSpool(t, "nohdr: true")
	if r := runFerry(t, nil, "stat", "-cfg", n.cfg); r.code != 0 {
		t.Fatalf("stat: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(n.spool, satID, "rx", "hdr")); !os.IsNotExist(err) {
		t.Errorf("nohdr: hdr/ made anyway (%v)", err)
	}
}

// TestStatNiceRows queues packets of many niceness levels with the real
// nncp-file and compares the rows.
func TestStatNiceRows(t *testing.T) {
	refbin.NNCP(t, "file")
	net := testnet.New(t, "a", "b")
	a := net.Nodes["a"]
	src := filepath.Join(a.Dir, "f")
	os.WriteFile(src, []byte("hello"), 0o644)
	for _, nice := range []string{"F", "P+3", "N-31", "100", "MAX", "B", "B"} {
		a.Must(t, testnet.NNCP, nil, "file", "-quiet", "-noprogress", "-nice", nice, src, "b:")
	}
	for _, args := range [][]string{{}, {"-pkt"}} {
		full := append([]string{"-cfg", a.CfgPath}, args...)
		want := runNNCP(t, nil, "stat", full...)
		got := runFerry(t, nil, "stat", full...)
		if got.stdout != want.stdout || got.code != want.code {
			t.Errorf("stat %v: exit %d, want %d\n--- ferry\n%s--- nncp\n%s", args, got.code, want.code, got.stdout, want.stdout)
		}
	}
}

func TestNNCPSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 9: "9 B", 535: "535 B", 1023: "1023 B", 1024: "1.0 KiB", 12825: "12 KiB",
		1049184: "1.0 MiB", 10*1024 - 1: "10 KiB", 3158073: "3.0 MiB",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
