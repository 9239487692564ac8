package sptest

import (
	"strings"
	"testing"

	"ferry/internal/testnet"
)

// TestCallProgress: with -progress (a terminal's default), ferry call
// keeps a status line of the packets moving, cleared before each log
// line and at the end; the counts reach every packet of the call.
func TestCallProgress(t *testing.T) {
	tn := testnet.New(t, "a", "b")
	a, b := tn.Nodes["a"], tn.Nodes["b"]
	queueFile(t, a, b, testnet.NNCP, "up", 2<<20, 1)
	queueFile(t, b, a, testnet.NNCP, "down", 1000, 2)
	queueFile(t, b, a, testnet.NNCP, "down2", 2000, 3)
	addr, _ := daemon(t, b, testnet.Ferry)
	r := a.Run(t, testnet.Ferry, nil, "call", "-progress", "-onlinedeadline", "1", "b", addr)
	if r.Code != 0 {
		t.Fatalf("call: exit %d\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "\r[2 received, 1 sent]\x1b[K") {
		t.Fatalf("no final counts on the status line:\n%q", r.Stderr)
	}
	if !strings.HasSuffix(r.Stderr, "\r\x1b[K\r") {
		t.Fatalf("status line not cleared at the end:\n%q", r.Stderr)
	}
	// Every log line starts on a cleared line.
	for _, l := range strings.Split(r.Stderr, "\n") {
		if i := strings.LastIndex(l, "\r"); i >= 0 && strings.Contains(l[i:], "Finished call") && !strings.HasPrefix(l[i:], "\r\x1b[K") {
			t.Fatalf("log line drawn over the status line: %q", l)
		}
	}
	if !strings.Contains(r.Stderr, "Finished call with b") {
		t.Fatalf("no log lines:\n%q", r.Stderr)
	}
	r = a.Run(t, testnet.Ferry, nil, "call", "-noprogress", "-onlinedeadline", "1", "b", addr)
	if strings.Contains(r.Stderr, "\r") {
		t.Fatalf("-noprogress drew a status line:\n%q", r.Stderr)
	}
}
