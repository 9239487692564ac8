package sptest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/mth"
	"ferry/internal/node"
	"ferry/internal/testnet"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// daemon starts impl's daemon on nd, listening on a free port, and
// returns its address once it accepts connections. The test stops it.
func daemon(t *testing.T, nd *testnet.Node, impl testnet.Impl, args ...string) (string, *exec.Cmd) {
	t.Helper()
	return daemonEnv(t, nd, impl, nil, args...)
}

// daemonExited maps each daemon's *exec.Cmd to a channel closed once it
// has been reaped.
var daemonExited sync.Map

// killDaemon kills a daemon started by daemon with SIGKILL and waits
// until it is gone: its flocks (rx.lock, tx.lock) are released only when
// its exit has finished, which for a big (race-detector) process on a
// busy machine takes a while after the signal.
func killDaemon(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Kill()
	if ch, ok := daemonExited.Load(cmd); ok {
		<-ch.(chan struct{})
	}
}

// daemonEnv is daemon with extra environment variables.
func daemonEnv(t *testing.T, nd *testnet.Node, impl testnet.Impl, env []string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	addr := freePort(t)
	cmd := nd.Cmd(t, impl, "daemon", append([]string{"-bind", addr, "-quiet"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	daemonExited.Store(cmd, exited)
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("%s daemon exited: %s", impl, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s daemon does not listen on %s", impl, addr)
		}
		time.Sleep(20 * time.Millisecond) // polling for the listener, with a deadline
	}
	return addr, cmd
}

func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// queueFile makes a file packet of n bytes from `from` to `to` with impl.
func queueFile(t *testing.T, from, to *testnet.Node, impl testnet.Impl, name string, n int, seed uint64, extra ...string) []byte {
	t.Helper()
	data := payload(n, seed)
	src := filepath.Join(from.Dir, "src-"+name)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-noprogress", "-quiet"}, extra...)
	args = append(args, src, to.Name+":"+name)
	from.Must(t, impl, nil, "file", args...)
	return data
}

// snapshot maps packet name -> bytes of every whole packet in dir.
func snapshot(t *testing.T, paths []string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m[filepath.Base(p)] = b
	}
	return m
}

// checkArrived checks that rx holds exactly the packets sent, byte for
// byte, each named by its MTH.
func checkArrived(t *testing.T, sent map[string][]byte, rx []string) {
	t.Helper()
	got := snapshot(t, rx)
	if len(got) != len(sent) {
		t.Fatalf("%d packets arrived, %d sent: %v", len(got), len(sent), keys(got))
	}
	for name, b := range sent {
		g, ok := got[name]
		if !ok {
			t.Fatalf("packet %s did not arrive", name)
		}
		if !bytes.Equal(g, b) {
			t.Fatalf("packet %s differs", name)
		}
		h := mth.New()
		h.Write(g)
		if n := node.B32.EncodeToString(h.Sum(nil)); n != name {
			t.Fatalf("packet %s hashes to %s", name, n)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// logRecs returns the records of nd's log whose Who is who, as maps.
func logRecs(t *testing.T, nd *testnet.Node, who string) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, m := range allRecs(t, nd) {
		if m["Who"] == who {
			out = append(out, m)
		}
	}
	return out
}

// allRecs returns every record of nd's log as a map (none when there is
// no log yet).
func allRecs(t *testing.T, nd *testnet.Node) []map[string]string {
	t.Helper()
	b, _ := os.ReadFile(nd.Log)
	var out []map[string]string
	for _, rec := range strings.Split(string(b), "\n\n") {
		m := map[string]string{}
		for _, l := range strings.Split(rec, "\n") {
			if k, v, ok := strings.Cut(l, ": "); ok {
				m[k] = v
			}
		}
		if len(m) > 0 {
			out = append(out, m)
		}
	}
	return out
}

func dumpLogs(t *testing.T, nds ...*testnet.Node) string {
	var s strings.Builder
	for _, nd := range nds {
		b, _ := os.ReadFile(nd.Log)
		fmt.Fprintf(&s, "=== %s log\n%s\n", nd.Name, b)
	}
	return s.String()
}

// waitLog polls nd's log until it has a record with Who who (a daemon
// may log after its caller has exited).
func waitLog(t *testing.T, nd *testnet.Node, who string) []map[string]string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if recs := logRecs(t, nd, who); len(recs) > 0 || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(20 * time.Millisecond) // polling the log, with a deadline
	}
}

// settled waits until nd (a daemon's node) has logged n finished
// sessions: the real daemon holds the node's spool locks until its side
// of a session is over, and refuses a new call meanwhile.
func settled(t *testing.T, nd *testnet.Node, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(logRecs(t, nd, "call-finished")) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not finish %d sessions\n%s", nd.Name, n, dumpLogs(t, nd))
		}
		time.Sleep(20 * time.Millisecond) // polling the log, with a deadline
	}
}
