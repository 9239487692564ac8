package tx

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/pktcrypt"
	"ferry/internal/spool"
	"ferry/internal/testnet"
)

func sender(t *testing.T, nd *testnet.Node) *Sender {
	t.Helper()
	cfg, err := config.Load(nd.CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(cfg.Spool, spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return &Sender{Cfg: cfg, Spool: sp}
}

func TestRoutesAndPadding(t *testing.T) {
	net := testnet.New(t, "a", "b", "c", "d")
	net.Via(t, "a", "d", "b", "c")
	s := sender(t, net.Nodes["a"])
	d := s.Cfg.Neigh["d"]
	hops, err := s.Route(d, nil)
	if err != nil || len(hops) != 3 || hops[0].Name != "b" || hops[1].Name != "c" {
		t.Fatalf("route %v %v", hops, err)
	}
	direct := []node.ID{}
	if hops, _ := s.Route(d, &direct); len(hops) != 1 {
		t.Fatal("-via - not direct")
	}
	// Padded through two wrappers: the outermost packet reaches the
	// minimum, and not much more.
	const min = 300 * 1024
	r, err := s.File(d, strings.NewReader("tiny"), "x", Options{Nice: 224, MinSize: min})
	if err != nil {
		t.Fatal(err)
	}
	if r.Hop != s.Cfg.Neigh["b"].ID || r.PktSize < min || r.PktSize > min+64 {
		t.Fatalf("hop %s size %d", r.Hop, r.PktSize)
	}
	fi, _ := os.Stat(s.Spool.PktPath(r.Hop, spool.TX, r.Pkt))
	if fi.Size() != r.PktSize {
		t.Fatal("size on disk differs")
	}
	unpadded, _ := s.File(d, strings.NewReader("tiny"), "y", Options{Nice: 224})
	want := pktcrypt.EncryptedSize(276+pktcrypt.EncryptedSize(276+pktcrypt.EncryptedSize(276+4, 0), 0), 0)
	if unpadded.PktSize != want {
		t.Fatalf("unpadded onion is %d bytes, want %d", unpadded.PktSize, want)
	}
}

func TestRefusals(t *testing.T) {
	net := testnet.New(t, "a", "b")
	s := sender(t, net.Nodes["a"])
	b := s.Cfg.Neigh["b"]
	if _, err := s.File(b, strings.NewReader("x"), strings.Repeat("n", 256), Options{}); !errors.Is(err, ErrPathTooLong) {
		t.Fatalf("long path: %v", err)
	}
	if _, err := s.Exec(b, "h", []string{strings.Repeat("a", 254)}, strings.NewReader(""), ExecOptions{}); !errors.Is(err, ErrPathTooLong) {
		t.Fatalf("long exec args: %v", err)
	}
	if _, err := s.Wrap(b.ID, nil, bytes.NewReader(nil), Options{}); !errors.Is(err, ErrNoRelays) {
		t.Fatalf("wrap without relays: %v", err)
	}
	bad := []node.ID{{1, 2, 3}}
	if _, err := s.File(b, strings.NewReader("x"), "x", Options{Via: &bad}); !errors.Is(err, config.ErrUnknownNode) {
		t.Fatalf("unknown via: %v", err)
	}
	// A failing payload leaves nothing in tx/ or tmp/.
	if _, err := s.File(b, iotest.ErrReader(errors.New("boom")), "x", Options{}); err == nil {
		t.Fatal("failing reader accepted")
	}
	if n := len(net.Nodes["a"].TxPackets(t, net.Nodes["b"])); n != 0 {
		t.Fatalf("%d packets queued", n)
	}
	if ents, _ := os.ReadDir(s.Spool.TmpDir()); len(ents) != 0 {
		t.Fatalf("%d files left in tmp/", len(ents))
	}
}
