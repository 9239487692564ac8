package sptest

import (
	"fmt"
	"testing"

	"ferry/internal/testnet"
)

// TestCallBothWays: a calls b's daemon, packets queued on both sides
// cross in one call, for each pairing of implementations.
func TestCallBothWays(t *testing.T) {
	pairs := []struct{ caller, daemon testnet.Impl }{
		{testnet.Ferry, testnet.Ferry},
		{testnet.Ferry, testnet.NNCP},
		{testnet.NNCP, testnet.Ferry},
	}
	for _, p := range pairs {
		t.Run(fmt.Sprintf("%s-call-%s-daemon", p.caller, p.daemon), func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			for i := range 10 {
				queueFile(t, a, b, testnet.NNCP, fmt.Sprintf("a%d", i), 100+i*5000, uint64(i))
				queueFile(t, b, a, testnet.NNCP, fmt.Sprintf("b%d", i), 50+i*3000, uint64(i+100))
			}
			queueFile(t, a, b, testnet.NNCP, "abig", 3<<20+5, 1)
			sentAB := snapshot(t, a.TxPackets(t, b))
			sentBA := snapshot(t, b.TxPackets(t, a))
			addr, _ := daemon(t, b, p.daemon)
			r := a.Run(t, p.caller, nil, "call", "-onlinedeadline", "1", "-noprogress", "b", addr)
			if r.Code != 0 {
				t.Fatalf("call: exit %d\n%s\n%s", r.Code, r.Stderr, dumpLogs(t, a, b))
			}
			checkArrived(t, sentAB, b.RxPackets(t, a))
			checkArrived(t, sentBA, a.RxPackets(t, b))
			if n := len(a.TxPackets(t, b)); n != 0 {
				t.Fatalf("a still has %d packets for b", n)
			}
			if n := len(b.TxPackets(t, a)); n != 0 {
				t.Fatalf("b still has %d packets for a", n)
			}
			if recs := logRecs(t, a, "call-finished"); len(recs) != 1 || recs[0]["RxBytes"] == "" {
				t.Fatalf("call-finished: %v", recs)
			}
		})
	}
}
