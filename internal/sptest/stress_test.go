package sptest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
	"ferry/internal/wire"
)

// TestLargeAndMany: one 64 MiB packet from the real nncp-call to a ferry
// daemon while a hundred small ones go the other way, in one call as a
// rule. nncp-call hangs up after a second without traffic
// (-onlinedeadline 1), and on a loaded machine a second can pass while
// the daemon checks 64 MiB before its DONE, or earlier: then the next
// call resumes or acknowledges what is left. The test calls until both
// queues are empty (at most 5 calls) and checks that everything arrived
// whole, each packet received once.
func TestLargeAndMany(t *testing.T) {
	if testing.Short() && !refbin.Required() {
		t.Skip("64 MiB transfer")
	}
	tn := testnet.New(t, "a", "b")
	a, b := tn.Nodes["a"], tn.Nodes["b"]
	queueFile(t, a, b, testnet.Ferry, "big", 64<<20, 7)
	for i := range 100 {
		queueFile(t, b, a, testnet.Ferry, fmt.Sprint("s", i), 10+i*37, uint64(i))
	}
	sentAB, sentBA := snapshot(t, a.TxPackets(t, b)), snapshot(t, b.TxPackets(t, a))
	addr, _ := daemon(t, b, testnet.Ferry)
	start := time.Now()
	calls := 0
	for calls == 0 || len(a.TxPackets(t, b))+len(b.TxPackets(t, a)) != 0 {
		if calls == 5 {
			t.Fatalf("after %d calls, left in tx: a %d, b %d\n%s", calls, len(a.TxPackets(t, b)), len(b.TxPackets(t, a)), dumpLogs(t, a, b))
		}
		r := a.Run(t, testnet.NNCP, nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr)
		calls++
		if r.Code != 0 {
			t.Fatalf("call %d: exit %d\n%s", calls, r.Code, r.Stderr)
		}
		// The daemon finishes its side (the DONEs it got) after the caller exits.
		settled(t, b, calls)
	}
	took := time.Since(start)
	checkArrived(t, sentAB, b.RxPackets(t, a))
	checkArrived(t, sentBA, a.RxPackets(t, b))
	if n := len(logRecs(t, b, "sp-file-done")); n != 1 {
		t.Fatalf("b received %d packets, want the one", n)
	}
	if n := len(logRecs(t, a, "sp-file-done")); n != 100 {
		t.Fatalf("a received %d packets, want 100", n)
	}
	t.Logf("64 MiB + 100 small packets in %s, %d call(s) (1 s of each the online deadline)", took, calls)
}

// TestDaemonUnderFlood: a ferry daemon with dozens of half-open
// connections that never speak and dozens more that send garbage still
// serves a real nncp-call, and drops the silent ones at the handshake
// deadline.
func TestDaemonUnderFlood(t *testing.T) {
	tn := testnet.New(t, "a", "b")
	a, b := tn.Nodes["a"], tn.Nodes["b"]
	queueFile(t, a, b, testnet.NNCP, "x", 100000, 1)
	queueFile(t, b, a, testnet.NNCP, "y", 2000, 2)
	sentAB, sentBA := snapshot(t, a.TxPackets(t, b)), snapshot(t, b.TxPackets(t, a))
	addr, d := daemonEnv(t, b, testnet.Ferry, []string{"NNCPDEADLINE=3"})
	var stalled []net.Conn
	for range 40 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		stalled = append(stalled, c)
	}
	r := rand.New(rand.NewPCG(1, 2))
	garbage := func(i int) []byte {
		switch i % 4 {
		case 0: // random bytes
			b := make([]byte, 1+r.IntN(200000))
			for k := range b {
				b[k] = byte(r.Uint32())
			}
			return b
		case 1: // a valid envelope of noise garbage
			m := make([]byte, 1+r.IntN(wire.MaxNoiseMessage))
			for k := range m {
				m[k] = byte(r.Uint32())
			}
			return wire.AppendSPEnvelope(nil, m)
		case 2: // an envelope announcing 4 GiB
			return append(wire.MagicSP[:], 0xff, 0xff, 0xff, 0xff)
		default: // half an envelope, then silence
			return wire.AppendSPEnvelope(nil, make([]byte, 1000))[:500]
		}
	}
	for i := range 40 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		g := garbage(i)
		go func() { c.Write(g) }()
	}
	res := a.Run(t, testnet.NNCP, nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr)
	if res.Code != 0 {
		t.Fatalf("call under flood: exit %d\n%s\n%s", res.Code, res.Stderr, dumpLogs(t, b))
	}
	checkArrived(t, sentAB, b.RxPackets(t, a))
	checkArrived(t, sentBA, a.RxPackets(t, b))
	// The silent connections are closed by the daemon at its handshake
	// deadline (3 s here): reads see EOF, not our own timeout.
	for _, c := range stalled {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("stalled connection not closed by the daemon: %v", err)
		}
	}
	if d.ProcessState != nil {
		t.Fatal("daemon died")
	}
}
