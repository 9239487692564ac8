package sptest

import (
	"strconv"
	"testing"

	"ferry/internal/testnet"
)

// TestUnpaddedFirstPayload: with sp-pad: 0 (and sp-deadline, sp-ping)
// in ferry's config for the neighbour, ferry's first message carries no
// HALT padding, and the real NNCP accepts it on either side of a call:
// as the daemon answering ferry's call, and as the caller ferry answers.
// NNCP itself ignores the keys in the config it shares.
func TestUnpaddedFirstPayload(t *testing.T) {
	for _, ferryCalls := range []bool{true, false} {
		name := "ferry-call-nncp-daemon"
		if !ferryCalls {
			name = "nncp-call-ferry-daemon"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			zero := 0
			ferryNode, peer := a, "b"
			callImpl, daemonImpl := testnet.Ferry, testnet.NNCP
			if !ferryCalls {
				ferryNode, peer = b, "a"
				callImpl, daemonImpl = testnet.NNCP, testnet.Ferry
			}
			n := ferryNode.Cfg.Neigh[peer]
			n.SPPad, n.SPDeadline, n.SPPing = &zero, 30, 30
			net.Write(t)
			for i := range 3 {
				queueFile(t, a, b, testnet.NNCP, "ab"+strconv.Itoa(i), 100+i, uint64(i))
				queueFile(t, b, a, testnet.NNCP, "ba"+strconv.Itoa(i), 200+i, uint64(i+10))
			}
			sentAB, sentBA := snapshot(t, a.TxPackets(t, b)), snapshot(t, b.TxPackets(t, a))
			addr, _ := daemon(t, b, daemonImpl)
			r := a.Run(t, callImpl, nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr)
			if r.Code != 0 {
				t.Fatalf("call: exit %d\n%s\n%s", r.Code, r.Stderr, dumpLogs(t, a, b))
			}
			checkArrived(t, sentAB, b.RxPackets(t, a))
			checkArrived(t, sentBA, a.RxPackets(t, b))
			// Everything ferry sent, its first message included, is less
			// than NNCP's padding alone (half a payload: 32,640 bytes).
			recs := waitLog(t, ferryNode, "call-finished")
			if len(recs) != 1 {
				t.Fatalf("ferry's call-finished: %v", recs)
			}
			if tx, _ := strconv.Atoi(recs[0]["TxBytes"]); tx <= 0 || tx >= 32640 {
				t.Fatalf("ferry sent %d bytes: want less than a padded first message\n%s", tx, dumpLogs(t, ferryNode))
			}
		})
	}
}

// TestFirstPayloadLikeNNCP: by default ferry's daemon pads its first
// message as the real nncp-daemon does, byte for byte in length: a
// ferry call -list (which fetches nothing, so it receives only that
// message) counts the same RxBytes from either daemon, with 0 and with
// 7 packets offered.
func TestFirstPayloadLikeNNCP(t *testing.T) {
	for _, n := range []int{0, 7} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			for i := range n {
				queueFile(t, b, a, testnet.NNCP, "p"+strconv.Itoa(i), 10+i, uint64(i))
			}
			rx := map[testnet.Impl]string{}
			for i, impl := range []testnet.Impl{testnet.NNCP, testnet.Ferry} {
				addr, cmd := daemon(t, b, impl)
				r := a.Run(t, testnet.Ferry, nil, "call", "-noprogress", "-onlinedeadline", "1", "-list", "b", addr)
				if r.Code != 0 {
					t.Fatalf("call %s: exit %d\n%s", impl, r.Code, r.Stderr)
				}
				settled(t, b, i+1)
				cmd.Process.Kill()
				recs := logRecs(t, a, "call-finished")
				if len(recs) != i+1 {
					t.Fatalf("call-finished: %v", recs)
				}
				rx[impl] = recs[i]["RxBytes"]
			}
			if rx[testnet.NNCP] == "" || rx[testnet.NNCP] != rx[testnet.Ferry] {
				t.Fatalf("first message from nncp-daemon %s bytes, from ferry daemon %s", rx[testnet.NNCP], rx[testnet.Ferry])
			}
		})
	}
}
