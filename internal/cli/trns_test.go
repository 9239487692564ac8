package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testnet"
)

// TestTrnsRelayedByNNCP: ferry wraps packets made for c (sent directly)
// in transit packets for hub b, in both argument forms; a real nncp hub
// relays them and c gets the files.
func TestTrnsRelayedByNNCP(t *testing.T) {
	t.Parallel()
	net := testnet.New(t, "a", "b", "c")
	a, b, c := net.Nodes["a"], net.Nodes["b"], net.Nodes["c"]
	for _, name := range []string{"one", "two"} {
		src := filepath.Join(a.Dir, name)
		if err := os.WriteFile(src, []byte("via the hub: "+name), 0o644); err != nil {
			t.Fatal(err)
		}
		a.Must(t, testnet.Ferry, nil, "file", "-noprogress", "-quiet", "-via", "-", src, "c:"+name)
	}
	direct := a.TxPackets(t, c)
	if len(direct) != 2 {
		t.Fatalf("%d direct packets for c", len(direct))
	}
	// NODE:PKT and /path/to/PKT.
	a.Must(t, testnet.Ferry, nil, "trns", "-noprogress", "-quiet", "-via", "b", "c:"+filepath.Base(direct[0]))
	a.Must(t, testnet.Ferry, nil, "trns", "-noprogress", "-quiet", "-nice", "P", "-via", "b", direct[1])
	if got := a.TxPackets(t, b); len(got) != 2 {
		t.Fatalf("%d transit packets for b, want 2", len(got))
	}
	if len(a.TxPackets(t, c)) != 2 {
		t.Error("trns removed the original packets (nncp-trns keeps them)")
	}
	for _, p := range direct {
		os.Remove(p) // only the wrapped copies travel
	}
	net.Carry(t, a, testnet.Ferry, b, testnet.NNCP)
	b.Must(t, testnet.NNCP, nil, "toss", "-noprogress", "-quiet")
	net.Carry(t, b, testnet.NNCP, c, testnet.NNCP)
	c.Must(t, testnet.NNCP, nil, "toss", "-noprogress", "-quiet")
	for _, name := range []string{"one", "two"} {
		if got, err := os.ReadFile(filepath.Join(c.Incoming, name)); err != nil || string(got) != "via the hub: "+name {
			t.Errorf("%s: %q %v", name, got, err)
		}
	}

	// No relay at all is refused.
	a.Must(t, testnet.Ferry, nil, "file", "-noprogress", "-quiet", filepath.Join(a.Dir, "one"), "c:three")
	r := a.Run(t, testnet.Ferry, nil, "trns", "-via", "-", "c:"+filepath.Base(a.TxPackets(t, c)[0]))
	if r.Code != 1 || !strings.Contains(r.Stderr, "no relay") {
		t.Errorf("-via -: exit %d: %s", r.Code, r.Stderr)
	}
}
