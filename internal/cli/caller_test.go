package cli

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ferry/internal/config"
	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
)

// cronExprs are the expressions nncp-cronexpr and ferry cronexpr must
// print the same times for: the manual's examples and each special
// character.
var cronExprs = []string{
	"*/5 * * * * * *", "*/1 * * * * SAT,SUN 2021", "*/1 * * * * SAT,SUN 2030", "*/2 * * * *",
	"*/1 * * * MON-FRI", "30 * * * SAT,SUN", "0 * * * SAT,SUN", "3-59/15 * * * *",
	"0 0 1 JAN-MAR,DEC *", "0 0 0 1 1 * 2000-2010", "0 0 0 1 1 * 2090-2099", "0 0 L * *", "0 0 L 2 *",
	"0 0 15W * *", "0 0 1W * *", "0 0 LW * *", "0 0 * * 5L", "0 0 * * 5#2", "0 0 * * FRI#3",
	"@annually", "@yearly", "@monthly", "@weekly", "@daily", "@hourly",
	"* * * * * 2013", "* * * * Mon", "0 0 * * 7", "0 0 * * SUN-SUN", "0 0 30 2 *", "0 0 29 2 *",
	"* * * * * * *", "*/10 * * * * *",
}

// The same output as nncp-cronexpr, but for the time it runs: both are
// run until they agree on the second they started in.
func TestInteropCronExpr(t *testing.T) {
	bin := refbin.NNCP(t, "cronexpr")
	for _, e := range cronExprs {
		t.Run(e, func(t *testing.T) {
			for range 20 {
				nncp := runNNCP(t, nil, "cronexpr", "-num", "12", e)
				ferry := runFerry(t, nil, "cronexpr", "-num", "12", e)
				if nncp.code != 0 || ferry.code != 0 {
					t.Fatalf("exit %d (%s) and %d (%s)", nncp.code, nncp.stderr, ferry.code, ferry.stderr)
				}
				nNow, nRest, _ := strings.Cut(nncp.stdout, "\n")
				fNow, fRest, _ := strings.Cut(ferry.stdout, "\n")
				if len(nNow) < 24 || len(fNow) < 24 || nNow[:24] != fNow[:24] { // "Now:\t2026-12-02T20:34:17"
					continue // a second boundary between the two runs
				}
				if nRest != fRest {
					t.Errorf("%s:\nnncp-cronexpr:\n%s\nferry cronexpr:\n%s", bin, nncp.stdout, ferry.stdout)
				}
				return
			}
			t.Fatal("never ran within one second")
		})
	}
	// Both refuse the same bad expressions, with exit status 1.
	for _, e := range []string{"61 * * * *", "", "* * * *", "@every 5m", "0 0 * * 8"} {
		nncp := runNNCP(t, nil, "cronexpr", e)
		ferry := runFerry(t, nil, "cronexpr", e)
		if nncp.code != 1 || ferry.code != 1 {
			t.Errorf("%q: nncp-cronexpr exit %d, ferry %d (%s)", e, nncp.code, ferry.code, ferry.stderr)
		}
	}
	// Where NNCP's library is wrong, ferry differs on purpose.
	for _, e := range []string{"0 0 * * 5-7", "0 0 * * FRI-SUN", "0 0 1 01 *"} {
		nncp := runNNCP(t, nil, "cronexpr", "-num", "3", e)
		ferry := runFerry(t, nil, "cronexpr", "-num", "3", e)
		_, nRest, _ := strings.Cut(nncp.stdout, "\n")
		_, fRest, _ := strings.Cut(ferry.stdout, "\n")
		if nRest == fRest || strings.Count(fRest, "\n") != 3 {
			t.Errorf("%q: nncp-cronexpr\n%s\nferry\n%s", e, nncp.stdout, ferry.stdout)
		}
	}
}

// A stub call program: it appends its arguments, one call per line, to
// calls.txt.
func stubCall(t *testing.T, dir string) (path, log string) {
	t.Helper()
	path, log = filepath.Join(dir, "stub-call"), filepath.Join(dir, "calls.txt")
	script := "#!/bin/sh\necho \"$*\" >> " + log + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

// pollFile waits until the file's content satisfies ok.
func pollFile(t *testing.T, path string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if ok(string(b)) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition never met; content:\n%s", path, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuf is a buffer a child process writes while the test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startCaller starts the ferry binary's caller; the test's cleanup stops it.
func startCaller(t *testing.T, nd *testnet.Node, args ...string) (*exec.Cmd, *syncBuf, chan error) {
	t.Helper()
	cmd := nd.Cmd(t, testnet.Ferry, "caller", args...)
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd, out, done
}

func stopCaller(t *testing.T, cmd *exec.Cmd, out *syncBuf, done chan error) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("ferry caller after SIGTERM: %v\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("ferry caller did not stop on SIGTERM\n%s", out)
	}
}

// ferry caller on the real clock: an every-second schedule runs the call
// program with nncp-call's command line; SIGTERM stops it with status 0.
func TestCallerEverySecond(t *testing.T) {
	n := testnet.New(t, "a", "b")
	a := n.Nodes["a"]
	stub, calls := stubCall(t, n.Dir)
	a.Cfg.Neigh["b"].Addrs = map[string]string{"lan": "127.0.0.1:1"}
	a.Cfg.Neigh["b"].Calls = []config.Call{{Cron: "* * * * * * *", Nice: 96, Addr: "lan", Xx: "tx"}}
	n.Write(t)
	cmd, out, done := startCaller(t, a, "-call-cmd", stub, "-autotoss")
	got := pollFile(t, calls, func(s string) bool { return strings.Count(s, "\n") >= 2 })
	stopCaller(t, cmd, out, done)
	want := "-cfg " + a.CfgPath + " -spool " + a.Spool + " -log " + a.Log +
		" -nice 96 -tx -onlinedeadline 10 -autotoss b:lan"
	if line, _, _ := strings.Cut(got, "\n"); line != want {
		t.Errorf("call program got\n%s\nwant\n%s", line, want)
	}
}

// Named nodes only; a node without calls is skipped and, with nothing
// left to call, caller exits at once as nncp-caller does.
func TestCallerNodes(t *testing.T) {
	n := testnet.New(t, "a", "b", "c")
	a := n.Nodes["a"]
	a.Cfg.Neigh["c"].Calls = []config.Call{{Cron: "@daily"}}
	n.Write(t)
	r := a.Run(t, testnet.Ferry, nil, "caller", "b")
	if r.Code != 0 {
		t.Errorf("caller b: exit %d: %s", r.Code, r.Stderr)
	}
	r = a.Run(t, testnet.Ferry, nil, "caller", "nosuch")
	if r.Code != 1 || !strings.Contains(r.Stderr, "invalid NODE specified") {
		t.Errorf("caller nosuch: exit %d: %s", r.Code, r.Stderr)
	}
	if commands["call"] == nil {
		// Until ferry has its call command, calls need -call-cmd.
		r = a.Run(t, testnet.Ferry, nil, "caller", "c")
		if r.Code != 1 || !strings.Contains(r.Stderr, "no call command") || !strings.Contains(r.Stderr, "hint: give -call-cmd") {
			t.Errorf("caller c without a call command: exit %d: %s", r.Code, r.Stderr)
		}
	}
}

// ferry caller drives the real nncp-call (-call-cmd) against a real
// nncp-daemon: a when-tx-exists call carries the queued packet.
func TestInteropCallerWithNNCPCall(t *testing.T) {
	callBin := refbin.NNCP(t, "call")
	daemonBin := refbin.NNCP(t, "daemon")
	n := testnet.New(t, "a", "b")
	a, b := n.Nodes["a"], n.Nodes["b"]
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	a.Cfg.Neigh["b"].Addrs = map[string]string{"main": addr}
	a.Cfg.Neigh["b"].Calls = []config.Call{{Cron: "* * * * * * *", WhenTxExists: true, OnlineDeadline: 1, Addr: "main"}} // nncp-call b:main
	n.Write(t)
	d := exec.Command(daemonBin, "-cfg", b.CfgPath, "-bind", addr, "-quiet")
	d.Env = append(os.Environ(), "NNCPNOSYNC=1")
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nncp-daemon does not listen: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.Must(t, testnet.Ferry, []byte("hello over the wire\n"), "file", "-", "b:hello.txt")
	cmd, out, done := startCaller(t, a, "-call-cmd", callBin, "-quiet")
	deadline = time.Now().Add(30 * time.Second)
	for len(b.RxPackets(t, a)) == 0 || len(a.TxPackets(t, b)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("packet never carried\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopCaller(t, cmd, out, done)
	b.Must(t, testnet.NNCP, nil, "toss", "-noprogress")
	got, err := os.ReadFile(filepath.Join(b.Incoming, "hello.txt"))
	if err != nil || string(got) != "hello over the wire\n" {
		t.Errorf("incoming/hello.txt: %q %v", got, err)
	}
}

// flagNames are the -options a -h output lists.
func flagNames(usage string) []string {
	var out []string
	for _, l := range strings.Split(usage, "\n") {
		if f, ok := strings.CutPrefix(l, "  -"); ok {
			name, _, _ := strings.Cut(f, " ")
			out = append(out, name)
		}
	}
	return out
}

// ferry caller and cronexpr take every option the 8.8.2 binaries take.
func TestInteropCallerFlags(t *testing.T) {
	for _, name := range []string{"caller", "cronexpr"} {
		nncp := runNNCP(t, nil, name, "-h")
		ferry := runFerry(t, nil, name, "-h")
		nf, ff := flagNames(nncp.stderr), flagNames(ferry.stderr)
		if len(nf) < 3 {
			t.Fatalf("nncp-%s -h lists %v:\n%s", name, nf, nncp.stderr)
		}
		for _, f := range nf {
			if !slices.Contains(ff, f) {
				t.Errorf("ferry %s has no -%s", name, f)
			}
		}
		if !strings.Contains(ferry.stderr, "Usage: ferry "+name+" ") {
			t.Errorf("ferry %s -h:\n%s", name, ferry.stderr)
		}
	}
}

// debugRecs returns the caller-* records of a -debug output as
// "Who|field names|Msg", with times and node names made generic.
func debugRecs(out string, ids map[string]string) []string {
	var recs []string
	for _, block := range strings.Split(out, "\n\n") {
		var who, msg string
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
			k, v, ok := strings.Cut(l, ": ")
			if !ok {
				continue
			}
			switch k {
			case "When", "Debug":
				continue
			case "Who":
				who = v
				continue
			case "Msg":
				msg = v
				continue
			case "Node":
				v = ids[v]
			}
			names = append(names, k+"="+v)
		}
		if !strings.HasPrefix(who, "caller") {
			continue
		}
		if i := strings.Index(msg, ": 20"); i >= 0 { // "b node, call 0: 2026-12-02 20:36:03 +0000 UTC"
			msg = msg[:i] + ": TIME"
		}
		recs = append(recs, who+"|"+strings.Join(names, ",")+"|"+msg)
	}
	slices.Sort(recs)
	return slices.Compact(recs)
}

// ferry caller -debug writes the caller-* records nncp-caller -debug
// writes, with the same fields and messages.
func TestInteropCallerDebugRecords(t *testing.T) {
	callerBin := refbin.NNCP(t, "caller")
	n := testnet.New(t, "a", "b", "c")
	a := n.Nodes["a"]
	a.Cfg.Neigh["b"].Addrs = map[string]string{"main": "127.0.0.1:1"}
	a.Cfg.Neigh["b"].Calls = []config.Call{
		{Cron: "* * * * * * *", WhenTxExists: true, Nice: 64},
		{Cron: "0 0 1 1 * * 2099"},
	}
	n.Write(t)
	// A packet too nice for the call: "no tx" every second.
	a.Must(t, testnet.Ferry, []byte("x"), "file", "-nice", "B", "-", "b:x")
	ids := map[string]string{}
	for _, nd := range n.Nodes {
		ids[nd.Keys.ID.String()] = nd.Name
	}
	ids[a.Keys.ID.String()] = "self"
	run := func(cmd *exec.Cmd) []string {
		out := &syncBuf{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		defer func() { cmd.Process.Kill(); <-done }()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(out.String(), "Who: caller-no-tx") || strings.Count(out.String(), "Who: caller-time") < 3 {
			select {
			case err := <-done:
				done <- err
				t.Fatalf("%s exited (%v):\n%s", cmd.Path, err, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no caller-no-tx record:\n%s", cmd.Path, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		done <- nil
		return debugRecs(out.String(), ids)
	}
	nc := exec.Command(callerBin, "-cfg", a.CfgPath, "-debug")
	nc.Env = append(os.Environ(), "NNCPNOSYNC=1")
	want := run(nc)
	got := run(a.Cmd(t, testnet.Ferry, "caller", "-debug", "-call-cmd", "/bin/false"))
	t.Logf("records:\n%s", strings.Join(got, "\n"))
	if len(got) < 5 || !slices.Equal(got, want) {
		t.Errorf("ferry caller -debug records\n%s\nnncp-caller -debug records\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
