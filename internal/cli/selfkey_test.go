package cli

import (
	"os"
	"strings"
	"testing"

	"ferry/internal/node"
	"ferry/internal/testnet"
)

// TestSelfKeyMismatchRefused: a config whose self.exchpub is not its
// exchprv's (a hand edit gone wrong) still sends, since sending does not
// use the key; toss refuses before it touches a packet, and cfgmin, whose
// output goes to the neighbours, refuses to print it.
func TestSelfKeyMismatchRefused(t *testing.T) {
	net := testnet.New(t, "a", "b")
	a, b := net.Nodes["a"], net.Nodes["b"]
	a.Must(t, testnet.Ferry, []byte("hello"), "exec", "-noprogress", "-quiet", "b", "save", "x")
	net.Carry(t, a, testnet.Ferry, b, testnet.Ferry)
	if n := len(b.RxPackets(t, a)); n != 1 {
		t.Fatalf("%d packets in b's rx/, want 1", n)
	}
	cfg, err := os.ReadFile(b.CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	good := node.B32.EncodeToString(b.Keys.ExchPub[:])
	other := node.B32.EncodeToString(a.Keys.ExchPub[:])
	if !strings.Contains(string(cfg), good) {
		t.Fatalf("b's config does not hold its exchpub %s", good)
	}
	if err := os.WriteFile(b.CfgPath, []byte(strings.ReplaceAll(string(cfg), good, other)), 0o600); err != nil {
		t.Fatal(err)
	}

	b.Must(t, testnet.Ferry, []byte("still sends"), "exec", "-noprogress", "-quiet", "a", "save", "y")
	r := b.Run(t, testnet.Ferry, nil, "toss", "-noprogress", "-quiet")
	if r.Code == 0 || !strings.Contains(r.Stderr, "self.exchpub does not match self.exchprv") || !strings.Contains(r.Stderr, b.CfgPath) {
		t.Errorf("toss with a damaged exchpub: exit %d, want an error naming the key and the config:\n%s", r.Code, r.Stderr)
	}
	if n := len(b.RxPackets(t, a)); n != 1 {
		t.Errorf("%d packets left in rx/ after the refused toss, want 1 (kept)", n)
	}
	r = b.Run(t, testnet.Ferry, nil, "cfgmin")
	if r.Code == 0 || !strings.Contains(r.Stderr, "self.exchpub does not match self.exchprv") || r.Stdout != "" {
		t.Errorf("cfgmin with a damaged exchpub: exit %d, stdout %q:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}
