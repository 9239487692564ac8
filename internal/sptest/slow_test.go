package sptest

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
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

// TestByteCountsLikeNNCP: call-finished's RxBytes and TxBytes, on both
// sides, are what the real NNCP counts for the same call (envelopes and
// handshake included), with ferry on either side or both: log scrapers
// that sum them see the same traffic.
func TestByteCountsLikeNNCP(t *testing.T) {
	pairs := [][2]testnet.Impl{{testnet.NNCP, testnet.NNCP}, {testnet.Ferry, testnet.NNCP},
		{testnet.NNCP, testnet.Ferry}, {testnet.Ferry, testnet.Ferry}}
	counts := make([]string, len(pairs))
	for i, p := range pairs {
		net := testnet.New(t, "a", "b")
		a, b := net.Nodes["a"], net.Nodes["b"]
		queueFile(t, a, b, testnet.NNCP, "x", 100000, 1)
		queueFile(t, b, a, testnet.NNCP, "y", 3000, 2)
		addr, _ := daemon(t, b, p[1])
		a.Must(t, p[0], nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr)
		settled(t, b, 1)
		var rb map[string]string
		for _, r := range logRecs(t, b, "call-finished") {
			if r["RxBytes"] != "" {
				rb = r
			}
		}
		ra := logRecs(t, a, "call-finished")
		if len(ra) != 1 || rb == nil {
			t.Fatalf("%v: call-finished %v / %v", p, ra, rb)
		}
		counts[i] = fmt.Sprintf("caller rx %s tx %s, daemon rx %s tx %s", ra[0]["RxBytes"], ra[0]["TxBytes"], rb["RxBytes"], rb["TxBytes"])
		if counts[i] != counts[0] {
			t.Errorf("%s call -> %s daemon: %s\nnncp -> nncp: %s", p[0], p[1], counts[i], counts[0])
		}
	}
}

// TestLogRecordsLikeNNCP: a call logs, on each side, the same records
// (Who and field names) as the real nncp-call and nncp-daemon do for the
// same call, so that nncp-log and scrapers of NNCP's logs read ferry's.
func TestLogRecordsLikeNNCP(t *testing.T) {
	shape := func(impl testnet.Impl) [2]string {
		net := testnet.New(t, "a", "b")
		a, b := net.Nodes["a"], net.Nodes["b"]
		queueFile(t, a, b, testnet.NNCP, "x", 100000, 1)
		queueFile(t, b, a, testnet.NNCP, "y", 3000, 2)
		addr, _ := daemon(t, b, impl)
		a.Must(t, impl, nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr)
		settled(t, b, 1)
		var out [2]string
		for i, nd := range []*testnet.Node{a, b} {
			var recs []string
			for _, rec := range allRecs(t, nd) {
				if rec["Who"] == "tx" { // nncp-file's, queueing the packets
					continue
				}
				var keys []string
				for k := range rec {
					if k != "Who" {
						keys = append(keys, k)
					}
				}
				sort.Strings(keys)
				recs = append(recs, rec["Who"]+"{"+strings.Join(keys, ",")+"}")
			}
			sort.Strings(recs) // sessions run their directions concurrently
			out[i] = strings.Join(recs, "\n")
		}
		return out
	}
	want, got := shape(testnet.NNCP), shape(testnet.Ferry)
	for i, side := range []string{"caller", "daemon"} {
		if got[i] != want[i] {
			t.Errorf("%s's records:\n%s\nnncp's:\n%s", side, got[i], want[i])
		}
	}
}

// TestBadChecksumLoggedLikeNNCP: a packet whose bytes do not match its
// name is logged by ferry call as nncp-call logs it (Who
// sp-file-bad-checksum, Err "checksum mismatch", the same fields), and
// not kept.
func TestBadChecksumLoggedLikeNNCP(t *testing.T) {
	shape := func(impl testnet.Impl) string {
		net := testnet.New(t, "a", "b")
		a, b := net.Nodes["a"], net.Nodes["b"]
		queueFile(t, b, a, testnet.NNCP, "y", 3000, 2)
		p := b.TxPackets(t, a)[0]
		d, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		d[len(d)-1] ^= 1
		if err := os.WriteFile(p, d, 0o644); err != nil {
			t.Fatal(err)
		}
		addr, _ := daemon(t, b, testnet.Ferry)
		a.Run(t, impl, nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr)
		settled(t, b, 1)
		if n := len(a.RxPackets(t, b)); n != 0 {
			t.Fatalf("%s kept %d bad packets", impl, n)
		}
		for _, rec := range allRecs(t, a) {
			if rec["Who"] == "sp-file-bad-checksum" {
				var keys []string
				for k := range rec {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				return strings.Join(keys, ",") + " Err=" + rec["Err"] +
					" Msg=" + strings.Replace(rec["Msg"], rec["Pkt"], "PKT", 1)
			}
		}
		return "no sp-file-bad-checksum record:\n" + dumpLogs(t, a)
	}
	if want, got := shape(testnet.NNCP), shape(testnet.Ferry); got != want {
		t.Fatalf("ferry: %s\nnncp:  %s", got, want)
	}
}
