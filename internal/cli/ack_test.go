package cli

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ferry/internal/testnet"
)

var ackLineRe = regexp.MustCompile(`^([A-Z2-7]{52})/([A-Z2-7]{52})$`)

// ackLines parses what an ack wrote to fd 4.
func ackLines(t *testing.T, out string) [][2]string {
	t.Helper()
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("fd 4 output %q does not end with a newline", out)
	}
	var res [][2]string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m := ackLineRe.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("fd 4 line %q is not NODE/PKT", l)
		}
		res = append(res, [2]string{m[1], m[2]})
	}
	return res
}

// runAckFD4 runs impl's ack on nd with fd 4 open on a file and returns
// what was written there.
func runAckFD4(t *testing.T, nd *testnet.Node, impl testnet.Impl, args ...string) string {
	t.Helper()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	out, err := os.Create(filepath.Join(t.TempDir(), "fd4"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := nd.Cmd(t, impl, "ack", append([]string{"-noprogress", "-quiet"}, args...)...)
	cmd.ExtraFiles = []*os.File{devnull, out}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s ack: %v\n%s", impl, err, b)
	}
	return string(xpRead(t, out.Name()))
}

// TestAckBothWays: the sender keeps its packet (xfer -keep); the
// receiver ACKs it with the other implementation, listing the ACK packets
// on fd 4; the ACK carried back and tossed by the sender removes the kept
// packet.
func TestAckBothWays(t *testing.T) {
	for _, c := range []struct{ sender, acker testnet.Impl }{{testnet.NNCP, testnet.Ferry}, {testnet.Ferry, testnet.NNCP}} {
		t.Run(string(c.acker)+"-acks-"+string(c.sender), func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			a.Must(t, c.sender, []byte("ack me"), "exec", "-noprogress", "-quiet", "b", "save", "x")
			a.Must(t, c.sender, []byte("and me"), "exec", "-noprogress", "-quiet", "b", "save", "y")
			dir := t.TempDir()
			a.Must(t, c.sender, nil, "xfer", "-noprogress", "-quiet", "-keep", "-mkdir", "-tx", "-node", "b", dir)
			b.Must(t, c.acker, nil, "xfer", "-noprogress", "-quiet", "-rx", dir)
			if len(a.TxPackets(t, b)) != 2 || len(b.RxPackets(t, a)) != 2 {
				t.Fatal("xfer -keep did not leave the packets on both sides")
			}
			lines := ackLines(t, runAckFD4(t, b, c.acker, "-node", "a"))
			if len(lines) != 2 {
				t.Fatalf("fd 4: %d lines, want 2", len(lines))
			}
			queued := map[string]bool{}
			for _, p := range b.TxPackets(t, a) {
				queued[filepath.Base(p)] = true
			}
			for _, l := range lines {
				if l[0] != a.Keys.ID.String() || !queued[l[1]] {
					t.Errorf("fd 4 line %s/%s: not a's id and a queued ACK packet", l[0], l[1])
				}
			}
			net.Carry(t, b, c.acker, a, c.sender)
			a.Must(t, c.sender, nil, "toss", "-noprogress", "-quiet")
			if got := a.TxPackets(t, b); len(got) != 0 {
				t.Errorf("the ACKs left %v in a's tx/", got)
			}
		})
	}
}

// TestAckVectors runs ack in-process on the vector sat: the ACK packet 08
// is not acknowledged, the freq reply 09 is, and a packet that cannot be
// decrypted is reported (nncp-ack hangs on it).
func TestAckVectors(t *testing.T) {
	v := xpVectors(t)
	v.put(t, "sat", xpHub, "rx", "08-ack-hub-to-sat.pkt", "AHIKFS4OKLBPV2XIA2UNQKE2TTCMAATROGYAIPBJBK44DTTNR5PQ")
	v.put(t, "sat", xpHub, "rx", "09-file-hub-to-sat-freq-reply.pkt", "OTM4WHTZ44WBQRCEAUHFNW7225Z5PF74PHZW35S6ODKENJIV5D5Q")
	fd4 := func() (*os.File, func() string) {
		f, err := os.Create(filepath.Join(t.TempDir(), "fd4"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f, func() string { return string(xpRead(t, f.Name())) }
	}
	f, read := fd4()
	r := xpRun(t, nil, map[int]*os.File{4: f}, "ack", "-cfg", v.cfg("sat"), "-all")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := ackLines(t, read())
	if len(lines) != 1 || lines[0][0] != xpHub {
		t.Fatalf("fd 4: %v", lines)
	}
	if !strings.Contains(r.stderr, "ACKing hub/AHIKFS4OKLBPV2XIA2UNQKE2TTCMAATROGYAIPBJBK44DTTNR5PQ: it is ACK, skipping") ||
		!strings.Contains(r.stderr, "ACK to hub of OTM4WHTZ44WBQRCEAUHFNW7225Z5PF74PHZW35S6ODKENJIV5D5Q is sent") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if got := xpPkts(t, v.queue("sat", xpHub, "tx")); len(got) != 1 || got[0] != lines[0][1] {
		t.Errorf("tx/hub: %v, fd 4 says %s", got, lines[0][1])
	}

	// Through a relay: the line names the destination (as nncp-ack does),
	// the packet waits in the relay's queue.
	f, read = fd4()
	xpRun(t, nil, map[int]*os.File{4: f}, "ack", "-cfg", v.cfg("sat"), "-node", "far", "-pkt", "2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA")
	if lines := ackLines(t, read()); len(lines) != 1 || lines[0][0] != xpFar {
		t.Errorf("via hub: fd 4 %v", lines)
	}
	if got := xpPkts(t, v.queue("sat", xpHub, "tx")); len(got) != 2 {
		t.Errorf("via hub: tx/hub has %d packets, want 2", len(got))
	}

	// A packet sat cannot decrypt (addressed to hub) is an error, the
	// others are still processed.
	v.put(t, "sat", xpHub, "rx", "01-file-sat-to-hub.pkt", "2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA")
	r = xpRun(t, nil, nil, "ack", "-cfg", v.cfg("sat"), "-node", "hub")
	if r.code != 1 || !strings.Contains(r.stderr, "ACKing hub/2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA") ||
		!strings.Contains(r.stderr, "ACK to hub of OTM4") {
		t.Errorf("undecryptable: exit %d\n%s", r.code, r.stderr)
	}

	for _, args := range [][]string{{}, {"-all", "-node", "hub"}, {"-node", "hub,far", "-pkt", "OTM4WHTZ44WBQRCEAUHFNW7225Z5PF74PHZW35S6ODKENJIV5D5Q"}, {"-node", "hub", "-pkt", "BAD"}} {
		if r := xpRun(t, nil, nil, append([]string{"ack", "-cfg", v.cfg("sat")}, args...)...); r.code != 1 {
			t.Errorf("%v: exit %d, want 1", args, r.code)
		}
	}
}

// TestAckAfterToss: ack -all run after toss finds rx/ empty and says so,
// with the working order; run before toss it acknowledges, and the ACK
// carried back clears the sender's kept copy.
func TestAckAfterToss(t *testing.T) {
	net := testnet.New(t, "a", "b")
	a, b := net.Nodes["a"], net.Nodes["b"]
	a.Must(t, testnet.Ferry, []byte("ack me"), "exec", "-noprogress", "-quiet", "b", "save", "x")
	dir := t.TempDir()
	a.Must(t, testnet.Ferry, nil, "xfer", "-noprogress", "-quiet", "-keep", "-mkdir", "-tx", "-node", "b", dir)
	b.Must(t, testnet.Ferry, nil, "xfer", "-noprogress", "-quiet", "-rx", dir)
	kept := a.TxPackets(t, b)
	b.Must(t, testnet.Ferry, nil, "toss", "-noprogress", "-quiet")
	// At a terminal, ack says what happened; from cron it says nothing.
	var stderr strings.Builder
	env := &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, IsTerminal: true,
		Getenv: func(k string) string {
			if k == "NNCPNOSYNC" {
				return "1"
			}
			return ""
		}}
	if code := Main(env, []string{"ferry", "ack", "-cfg", b.CfgPath, "-noprogress", "-all"}); code != 0 {
		t.Fatalf("ack -all: exit %d\n%s", code, stderr.String())
	}
	if out := stderr.String(); !strings.Contains(out, "nothing to acknowledge: no packet waits in rx/") || !strings.Contains(out, "before toss") {
		t.Errorf("ack -all after toss says:\n%s", out)
	}
	if out := b.Must(t, testnet.Ferry, nil, "ack", "-noprogress", "-all").Stderr; out != "" {
		t.Errorf("ack -all not at a terminal printed:\n%s", out)
	}
	if n := len(b.TxPackets(t, a)); n != 0 {
		t.Fatalf("%d ACK packets made from an empty rx/", n)
	}
	// The packet the toss took is acknowledged by its id.
	pkt := filepath.Base(kept[0])
	if out := b.Must(t, testnet.Ferry, nil, "ack", "-noprogress", "-node", "a", "-pkt", pkt).Stderr; strings.Contains(out, "nothing to acknowledge") {
		t.Errorf("ack -pkt printed %q", out)
	}
	net.Carry(t, b, testnet.Ferry, a, testnet.Ferry)
	a.Must(t, testnet.Ferry, nil, "toss", "-noprogress", "-quiet")
	if got := a.TxPackets(t, b); len(got) != 0 {
		t.Errorf("the ACK left %v in a's tx/", got)
	}
}
