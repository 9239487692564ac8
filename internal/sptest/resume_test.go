package sptest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"ferry/internal/testnet"
)

// waitPart polls until rx/NAME.part on nd holds at least min bytes and
// returns its size; it fails if the packet completes first.
func waitPart(t *testing.T, nd, from *testnet.Node, name string, min int64) int64 {
	t.Helper()
	p := filepath.Join(nd.Spool, from.Keys.ID.String(), "rx", name+".part")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(p); err == nil && fi.Size() >= min {
			return fi.Size()
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), name)); err == nil {
			t.Fatal("packet completed before it could be interrupted")
		}
		time.Sleep(10 * time.Millisecond) // polling the part's growth, with a deadline
	}
	t.Fatalf("%s did not grow to %d bytes", p, min)
	return 0
}

// TestResumeOtherImpl interrupts a transfer with kill -9 (of the
// receiving daemon in one case, of the sending caller in the other) and
// finishes it with a call in which the other implementation takes over
// the interrupted side: only the missing part crosses.
func TestResumeOtherImpl(t *testing.T) {
	const size = 6 << 20
	cases := []struct {
		name string
		// phase 1: caller impl, daemon impl, which to kill
		call1, daemon1 testnet.Impl
		killDaemon     bool
		// phase 2
		call2, daemon2 testnet.Impl
	}{
		{"nncp-part-resumed-by-ferry", testnet.Ferry, testnet.NNCP, true, testnet.NNCP, testnet.Ferry},
		{"ferry-part-resumed-by-nncp", testnet.NNCP, testnet.Ferry, false, testnet.Ferry, testnet.NNCP},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			queueFile(t, a, b, testnet.NNCP, "big", size, 42)
			sent := snapshot(t, a.TxPackets(t, b))
			var name string
			for n := range sent {
				name = n
			}
			addr, d := daemon(t, b, c.daemon1)
			call := a.Cmd(t, c.call1, "call", "-noprogress", "-txrate", "8", "b", addr)
			if err := call.Start(); err != nil {
				t.Fatal(err)
			}
			callDone := make(chan struct{})
			go func() { call.Wait(); close(callDone) }()
			t.Cleanup(func() { call.Process.Kill(); <-callDone })
			got := waitPart(t, b, a, name, size/4)
			if c.killDaemon {
				killDaemon(t, d)
			} else {
				call.Process.Kill()
			}
			<-callDone
			killDaemon(t, d)
			// What b kept of the part once nothing writes it any more.
			fi, err := os.Stat(filepath.Join(b.Spool, a.Keys.ID.String(), "rx", name+".part"))
			if err != nil {
				t.Fatal(err)
			}
			kept := fi.Size()
			if kept < got || kept >= int64(len(sent[name])) {
				t.Fatalf("part of %d bytes (saw %d), packet %d", kept, got, len(sent[name]))
			}
			addr2, _ := daemon(t, b, c.daemon2)
			r := a.Run(t, c.call2, nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr2)
			if r.Code != 0 {
				t.Fatalf("second call: exit %d\n%s\n%s", r.Code, r.Stderr, dumpLogs(t, a, b))
			}
			checkArrived(t, sent, b.RxPackets(t, a))
			if n := len(a.TxPackets(t, b)); n != 0 {
				t.Fatalf("a still has %d packets", n)
			}
			// b's last sp-info for the packet asked from the part's end.
			infos := logRecs(t, b, "sp-info")
			if len(infos) == 0 {
				t.Fatalf("no sp-info on b\n%s", dumpLogs(t, b))
			}
			last := infos[len(infos)-1]
			if off, _ := strconv.ParseInt(last["Offset"], 10, 64); last["Pkt"] != name || off != kept {
				t.Fatalf("resumed at %v, part was %d bytes", last, kept)
			}
			// And the second call moved only the rest: a's last
			// call-finished sent fewer bytes than the packet.
			fin := logRecs(t, a, "call-finished")
			tx, _ := strconv.ParseInt(fin[len(fin)-1]["TxBytes"], 10, 64)
			if missing := int64(len(sent[name])) - kept; tx < missing || tx > missing+missing/20+256<<10 {
				t.Fatalf("second call sent %d bytes for %d missing", tx, missing)
			}
		})
	}
}
