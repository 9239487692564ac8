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
	"ferry/internal/safeio"
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

// -maxsize: FileSize is the exact size File queues; a payload of known
// size over the limit is refused before it is read, and one of unknown
// size (stdin, pax) once built but before it is placed in tx/: no packet
// over the limit is ever visible there for an xfer or a call to carry.
func TestMaxSize(t *testing.T) {
	net := testnet.New(t, "a", "b", "c", "d")
	net.Via(t, "a", "d", "b", "c")
	s := sender(t, net.Nodes["a"])
	d := s.Cfg.Neigh["d"]
	body := strings.Repeat("x", 200<<10) // two blocks at each layer
	r, err := s.File(d, strings.NewReader(body), "x", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if est, err := s.FileSize(d, int64(len(body)), Options{}); err != nil || est != r.PktSize {
		t.Fatalf("FileSize %d %v, the packet is %d", est, err, r.PktSize)
	}
	s.Spool.Remove(r.Hop, spool.TX, r.Pkt)

	o := Options{MaxSize: r.PktSize - 1}
	var se *SizeError
	if err := s.CheckFileSize(d, int64(len(body)), o); !errors.As(err, &se) || !se.Estimated || se.Size != r.PktSize {
		t.Errorf("CheckFileSize over the limit: %v", err)
	}
	if err := s.CheckFileSize(d, int64(len(body)), Options{MaxSize: r.PktSize}); err != nil {
		t.Errorf("CheckFileSize at the limit: %v", err)
	}
	var placed []string
	restore := safeio.SetFault(func(op safeio.Op, path string, _ int) error {
		if op == safeio.OpRename || op == safeio.OpLink {
			placed = append(placed, path)
		}
		return nil
	})
	_, err = s.File(d, strings.NewReader(body), "x", o)
	restore()
	if !errors.As(err, &se) || se.Estimated || se.Size != r.PktSize || !errors.Is(err, ErrTooBig) {
		t.Fatalf("File over -maxsize: %v", err)
	}
	if len(placed) != 0 {
		t.Errorf("a packet over -maxsize was placed: %v", placed)
	}
	if ents, _ := os.ReadDir(s.Spool.QueueDir(r.Hop, spool.TX)); len(ents) != 0 {
		t.Errorf("tx/ holds %d files", len(ents))
	}
	if ents, _ := os.ReadDir(s.Spool.TmpDir()); len(ents) != 0 {
		t.Errorf("tmp/ holds %d files", len(ents))
	}
	if _, err := s.File(d, strings.NewReader(body), "x", Options{MaxSize: r.PktSize}); err != nil {
		t.Errorf("File at the limit: %v", err)
	}
}
