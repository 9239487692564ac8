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
	hops, err := s.Hops(d, Route{})
	if err != nil || len(hops) != 3 || hops[0].Name != "b" || hops[1].Name != "c" {
		t.Fatalf("route %v %v", hops, err)
	}
	if hops, _ := s.Hops(d, Direct()); len(hops) != 1 {
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
	if _, err := s.File(b, strings.NewReader("x"), "x", Options{Via: Through(bad...)}); !errors.Is(err, config.ErrUnknownNode) {
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

// -via as ParseRoute reads it, and Transit's relays: the route's, else the
// destination's configured ones, else none.
func TestParseRouteAndTransit(t *testing.T) {
	net := testnet.New(t, "a", "b", "c", "d")
	net.Via(t, "a", "d", "b")
	s := sender(t, net.Nodes["a"])
	b, c, d := s.Cfg.Neigh["b"], s.Cfg.Neigh["c"], s.Cfg.Neigh["d"]
	for _, tc := range []struct {
		via  string
		want []string
	}{{"", []string{"b", "d"}}, {"-", []string{"d"}}, {"c", []string{"c", "d"}}, {"c, " + b.ID.String(), []string{"c", "b", "d"}}} {
		r, err := ParseRoute(s.Cfg, tc.via)
		if err != nil {
			t.Fatalf("%q: %v", tc.via, err)
		}
		hops, err := s.Hops(d, r)
		var names []string
		for _, h := range hops {
			names = append(names, h.Name)
		}
		if err != nil || strings.Join(names, " ") != strings.Join(tc.want, " ") {
			t.Errorf("-via %q: hops %v %v, want %v", tc.via, names, err, tc.want)
		}
	}
	if _, err := ParseRoute(s.Cfg, "b,nosuch"); !errors.Is(err, config.ErrUnknownNode) {
		t.Errorf("unknown relay: %v", err)
	}
	if r, err := s.Transit(d.ID, Route{}, strings.NewReader("opaque"), Options{}); err != nil || r.Hop != b.ID {
		t.Errorf("transit by d's configured route: %+v %v", r, err)
	}
	if r, err := s.Transit(d.ID, Through(c.ID), strings.NewReader("opaque"), Options{}); err != nil || r.Hop != c.ID {
		t.Errorf("transit through c: %+v %v", r, err)
	}
	if _, err := s.Transit(c.ID, Route{}, strings.NewReader("opaque"), Options{}); !errors.Is(err, ErrNoRelays) {
		t.Errorf("transit to c, which has no via: %v", err)
	}
}
