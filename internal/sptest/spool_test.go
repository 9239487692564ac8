package sptest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/testnet"
)

// TestNoCKThenCheck: -nock leaves NAME.nock and no DONE; once
// check -nock has verified it, the next call acknowledges it and the
// sender drops its copy.
func TestNoCKThenCheck(t *testing.T) {
	tn := testnet.New(t, "a", "b")
	a, b := tn.Nodes["a"], tn.Nodes["b"]
	queueFile(t, b, a, testnet.NNCP, "x", 5000, 1)
	sent := snapshot(t, b.TxPackets(t, a))
	addr, _ := daemon(t, b, testnet.NNCP)
	r := a.Run(t, testnet.Ferry, nil, "call", "-noprogress", "-nock", "-onlinedeadline", "1", "b", addr)
	if r.Code != 0 {
		t.Fatalf("call -nock: exit %d\n%s", r.Code, r.Stderr)
	}
	name := keys(sent)[0]
	nock := filepath.Join(a.Spool, b.Keys.ID.String(), "rx", name+".nock")
	if _, err := os.Stat(nock); err != nil {
		t.Fatalf("no .nock after -nock: %v", err)
	}
	if len(b.TxPackets(t, a)) != 1 {
		t.Fatal("sender dropped a packet that was not verified")
	}
	a.Must(t, testnet.Ferry, nil, "check", "-nock")
	settled(t, b, 1)
	r = a.Run(t, testnet.Ferry, nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr)
	if r.Code != 0 {
		t.Fatalf("second call: exit %d\n%s\n%s", r.Code, r.Stderr, dumpLogs(t, b))
	}
	checkArrived(t, sent, a.RxPackets(t, b))
	if len(b.TxPackets(t, a)) != 0 {
		t.Fatal("verified packet not acknowledged")
	}
}

// TestSeenAcknowledged: a packet tossed with -seen and offered again is
// acknowledged without being fetched.
func TestSeenAcknowledged(t *testing.T) {
	for _, d := range []testnet.Impl{testnet.Ferry, testnet.NNCP} {
		t.Run(string(d)+"-daemon", func(t *testing.T) {
			t.Parallel()
			tn := testnet.New(t, "a", "b")
			a, b := tn.Nodes["a"], tn.Nodes["b"]
			queueFile(t, a, b, testnet.NNCP, "x", 5000, 1)
			pkt := a.TxPackets(t, b)[0]
			copyOf, err := os.ReadFile(pkt)
			if err != nil {
				t.Fatal(err)
			}
			addr, _ := daemon(t, b, d)
			a.Must(t, other(d), nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr)
			settled(t, b, 1)
			b.Must(t, testnet.NNCP, nil, "toss", "-seen")
			if len(b.RxPackets(t, a)) != 0 {
				t.Fatal("toss left the packet")
			}
			if err := os.WriteFile(pkt, copyOf, 0o644); err != nil {
				t.Fatal(err)
			}
			a.Must(t, other(d), nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr)
			if len(a.TxPackets(t, b)) != 0 {
				t.Fatal("seen packet not acknowledged")
			}
			if len(b.RxPackets(t, a)) != 0 {
				t.Fatal("seen packet fetched again")
			}
		})
	}
}

// TestAutoTossAndLeftovers: -autotoss delivers what arrived; a call
// that leaves packets queued (the daemon accepts only urgent ones) exits
// non-zero.
func TestAutoTossAndLeftovers(t *testing.T) {
	tn := testnet.New(t, "a", "b")
	a, b := tn.Nodes["a"], tn.Nodes["b"]
	data := queueFile(t, b, a, testnet.NNCP, "hello.txt", 3000, 1)
	addr, _ := daemon(t, b, testnet.NNCP)
	a.Must(t, testnet.Ferry, nil, "call", "-noprogress", "-autotoss", "-onlinedeadline", "1", "b", addr)
	got, err := os.ReadFile(filepath.Join(a.Incoming, "hello.txt"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("autotoss did not deliver: %v", err)
	}
	// b's daemon takes nothing above niceness 32 (file packets are 224).
	queueFile(t, a, b, testnet.NNCP, "y", 100, 2)
	settled(t, b, 1)
	addr2, _ := daemon(t, b, testnet.NNCP, "-nice", "32")
	r := a.Run(t, testnet.Ferry, nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr2)
	if r.Code == 0 {
		t.Fatal("call left a packet queued and exited 0")
	}
	if n := len(logRecs(t, a, "call-finished")); n != 2 {
		t.Fatalf("second session not established (%d sessions)\n%s", n, r.Stderr)
	}
	if len(a.TxPackets(t, b)) != 1 {
		t.Fatal("packet not left")
	}
}

// TestAddrsInTurn: every configured address is tried until one answers;
// NODE:ADDR picks one; maxonlinetime ends a session that onlinedeadline
// would keep open.
func TestAddrsInTurn(t *testing.T) {
	tn := testnet.New(t, "a", "b")
	a, b := tn.Nodes["a"], tn.Nodes["b"]
	queueFile(t, a, b, testnet.NNCP, "x", 3000, 1)
	sent := snapshot(t, a.TxPackets(t, b))
	addr, _ := daemon(t, b, testnet.NNCP)
	a.Cfg.Neigh["b"].Addrs = map[string]string{"1dead": freePort(t), "2live": addr}
	tn.Write(t)
	r := a.Run(t, testnet.Ferry, nil, "call", "-noprogress", "-onlinedeadline", "1", "b")
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	checkArrived(t, sent, b.RxPackets(t, a))
	if !strings.Contains(r.Stderr, "ERROR Connection to b") {
		t.Fatalf("failed address not reported:\n%s", r.Stderr)
	}
	settled(t, b, 1)
	r = a.Run(t, testnet.Ferry, nil, "call", "-noprogress", "-onlinedeadline", "1", "b:1dead")
	if r.Code == 0 {
		t.Fatal("call to a dead address succeeded")
	}
	// maxonlinetime 1 s against onlinedeadline 600 s on both sides.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := a.Cmd(t, testnet.Ferry, "call", "-noprogress", "-onlinedeadline", "600", "-maxonlinetime", "1", "b:2live")
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	cmd.Env = append(os.Environ(), "NNCPNOSYNC=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("maxonlinetime call: %v\n%s", err, out)
	}
}

// TestCallAllWithTx: call -all-with-tx calls, one after another, exactly
// the neighbours with packets queued at the -nice threshold: b and c get
// theirs; d, with nothing queued (its address answers nothing), and e,
// whose only packet is less urgent than the threshold, are not called.
func TestCallAllWithTx(t *testing.T) {
	t.Parallel()
	net := testnet.New(t, "a", "b", "c", "d", "e")
	a, b, c := net.Nodes["a"], net.Nodes["b"], net.Nodes["c"]
	queueFile(t, a, b, testnet.Ferry, "fb", 1000, 1, "-nice", "PRIORITY")
	queueFile(t, a, c, testnet.Ferry, "fc", 2000, 2, "-nice", "PRIORITY")
	queueFile(t, a, net.Nodes["e"], testnet.Ferry, "fe", 3000, 3, "-nice", "BULK")
	sentB, sentC := snapshot(t, a.TxPackets(t, b)), snapshot(t, a.TxPackets(t, c))
	addrB, _ := daemon(t, b, testnet.Ferry)
	addrC, _ := daemon(t, c, testnet.NNCP)
	a.Cfg.Neigh["b"].Addrs = map[string]string{"main": addrB}
	a.Cfg.Neigh["c"].Addrs = map[string]string{"main": addrC}
	a.Cfg.Neigh["d"].Addrs = map[string]string{"main": freePort(t)}
	a.Cfg.Neigh["e"].Addrs = map[string]string{"main": freePort(t)}
	net.Write(t)
	r := a.Run(t, testnet.Ferry, nil, "call", "-all-with-tx", "-nice", "NORMAL", "-onlinedeadline", "1", "-noprogress")
	if r.Code != 0 {
		t.Fatalf("call -all-with-tx: exit %d\n%s\n%s", r.Code, r.Stderr, dumpLogs(t, a, b, c))
	}
	checkArrived(t, sentB, b.RxPackets(t, a))
	checkArrived(t, sentC, c.RxPackets(t, a))
	if recs := logRecs(t, a, "call-started"); len(recs) != 2 {
		t.Fatalf("%d calls started, want 2 (b and c): %v", len(recs), recs)
	}
	if n := len(a.TxPackets(t, net.Nodes["e"])); n != 1 {
		t.Fatalf("e's BULK packet: %d queued, want 1 (not called)", n)
	}
	if r := a.Run(t, testnet.Ferry, nil, "call", "-all-with-tx", "b"); r.Code != 2 {
		t.Fatalf("-all-with-tx with a NODE: exit %d, want 2", r.Code)
	}
}
