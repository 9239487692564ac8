package sptest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/testnet"
)

// TestAutoTossDuringCall: -autotoss tosses every second while the call
// goes on, and what the toss queues for the peer leaves by the same
// call. A freq is answered within one call: the tossing side receives
// the request, tosses it, queues the file, and the session offers it.
// Both directions: nncp-call to ferry daemon -autotoss, and ferry call
// -autotoss to nncp-daemon. The call is kept up by a long
// onlinedeadline; the answer must reach the requester while it is up.
func TestAutoTossDuringCall(t *testing.T) {
	for _, ferryCalls := range []bool{false, true} {
		name := "nncp-call-ferry-daemon"
		if ferryCalls {
			name = "ferry-call-nncp-daemon"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tn := testnet.New(t, "a", "b")
			a, b := tn.Nodes["a"], tn.Nodes["b"]
			// The tosser serves a file; the other side asks for it.
			tosser, asker := b, a
			callImpl, daemonImpl := testnet.NNCP, testnet.Ferry
			daemonArgs := []string{"-autotoss"}
			callArgs := []string{"-noprogress", "-onlinedeadline", "120", "-maxonlinetime", "120"}
			if ferryCalls {
				tosser, asker = a, b
				callImpl, daemonImpl = testnet.Ferry, testnet.NNCP
				daemonArgs = nil
				callArgs = append(callArgs, "-autotoss")
			}
			want := strings.Repeat("served by freq\n", 100)
			if err := os.WriteFile(filepath.Join(tosser.Pub, "doc.txt"), []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			asker.Must(t, testnet.NNCP, nil, "freq", "-quiet", tosser.Name+":doc.txt", "got.txt")
			addr, _ := daemon(t, b, daemonImpl, daemonArgs...)
			call := a.Cmd(t, callImpl, "call", append(callArgs, "b", addr)...)
			if err := call.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { call.Wait(); close(exited) }()
			defer func() { call.Process.Kill(); <-exited }()
			for len(asker.RxPackets(t, tosser)) == 0 {
				select {
				case <-exited:
					t.Fatalf("the call ended before the answer arrived\n%s", dumpLogs(t, a, b))
				case <-time.After(50 * time.Millisecond): // polling the spool while the call runs
				}
			}
			// The answer is the requester's to toss.
			call.Process.Kill()
			<-exited
			asker.Must(t, testnet.NNCP, nil, "toss", "-quiet")
			got, err := os.ReadFile(filepath.Join(asker.Incoming, "got.txt"))
			if err != nil || string(got) != want {
				t.Fatalf("answer: %v\n%s", err, dumpLogs(t, a, b))
			}
		})
	}
}
