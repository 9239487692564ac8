package sp_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"ferry/internal/logrec"
	"ferry/internal/mth"
	"ferry/internal/node"
	"ferry/internal/sp"
	"ferry/internal/spool"
	"ferry/internal/wire"
)

type side struct {
	keys  *node.Private
	spool *spool.Spool
	log   string
}

func newSide(t *testing.T) *side {
	t.Helper()
	k, err := node.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := spool.Open(filepath.Join(dir, "spool"), spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return &side{keys: k, spool: s, log: filepath.Join(dir, "log")}
}

func (s *side) peer() sp.Peer {
	return sp.Peer{ID: s.keys.ID, Name: "n-" + s.keys.ID.String()[:4], NoisePub: *s.keys.NoisePub}
}

func (s *side) opts(t *testing.T) sp.Options {
	l, err := logrec.New(s.log, nil, logrec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sp.Options{Self: s.keys, Store: spool.Online{S: s.spool}, Log: l, Nice: 255,
		OnlineDeadline: time.Second}
}

// fakePkt queues size bytes that look like a packet (a valid encrypted
// header, then random bytes) in from's tx/ for to; the name is the MTH.
func fakePkt(t *testing.T, from *side, to node.ID, nice uint8, size int, seed uint64) (string, []byte) {
	t.Helper()
	h := wire.EncHeader{Nice: nice, Sender: from.keys.ID, Recipient: to}
	b := make([]byte, max(size, wire.EncHeaderSize))
	hb := h.Marshal()
	copy(b, hb[:])
	r := rand.New(rand.NewPCG(seed, 1))
	for i := wire.EncHeaderSize; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
	hs := mth.New()
	hs.Write(b)
	name := node.B32.EncodeToString(hs.Sum(nil))
	dir := from.spool.QueueDir(to, spool.TX)
	os.MkdirAll(dir, 0o777)
	// Written aside and renamed into tx/, as every writer of the spool
	// does: a session's rescan must not see it half written.
	tmp := filepath.Join(dir, ".tmp-"+name)
	if err := os.WriteFile(tmp, b, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	return name, b
}

func pair(t *testing.T, a, b *side, ao, bo sp.Options) (ra, rb *sp.Result) {
	t.Helper()
	ca, cb := net.Pipe()
	done := make(chan struct{})
	var errB error
	go func() {
		defer close(done)
		defer cb.Close()
		rb, errB = sp.Respond(context.Background(), cb, func(pub [32]byte) (sp.Peer, bool) {
			if pub == *a.keys.NoisePub {
				return a.peer(), true
			}
			return sp.Peer{}, false
		}, bo)
	}()
	ra, err := sp.Initiate(context.Background(), ca, b.peer(), ao)
	ca.Close()
	<-done
	if err != nil {
		t.Fatalf("initiate: %v", err)
	}
	if errB != nil {
		t.Fatalf("respond: %v", errB)
	}
	return ra, rb
}

func rxNames(t *testing.T, s *side, from node.ID) []string {
	ents, _ := os.ReadDir(s.spool.QueueDir(from, spool.RX))
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func TestBothWays(t *testing.T) {
	a, b := newSide(t), newSide(t)
	want := map[string][]byte{}
	var wantA, wantB []string
	for i := range 20 {
		n, d := fakePkt(t, a, b.keys.ID, uint8(i*10), 200+i*1000, uint64(i))
		want[n] = d
		wantB = append(wantB, n)
	}
	n, d := fakePkt(t, a, b.keys.ID, 100, 3<<20+17, 99)
	want[n], wantB = d, append(wantB, n)
	n, d = fakePkt(t, b, a.keys.ID, 1, 1000, 5)
	want[n], wantA = d, append(wantA, n)
	ra, rb := pair(t, a, b, a.opts(t), b.opts(t))
	sort.Strings(wantA)
	sort.Strings(wantB)
	if got := rxNames(t, b, a.keys.ID); !equal(got, wantB) {
		t.Fatalf("b received %v\nwant %v", got, wantB)
	}
	if got := rxNames(t, a, b.keys.ID); !equal(got, wantA) {
		t.Fatalf("a received %v", got)
	}
	for _, n := range wantB {
		got, _ := os.ReadFile(b.spool.PktPath(a.keys.ID, spool.RX, n))
		if !bytes.Equal(got, want[n]) {
			t.Fatalf("%s differs", n)
		}
	}
	if left, _ := os.ReadDir(a.spool.QueueDir(b.keys.ID, spool.TX)); countPkts(left) != 0 {
		t.Fatalf("a still has %d packets for b", countPkts(left))
	}
	if len(ra.Sent) != 21 || len(rb.Received) != 21 || len(ra.Received) != 1 || ra.Err != nil || rb.Err != nil {
		t.Fatalf("a: %+v\nb: %+v", ra, rb)
	}
}

func countPkts(es []os.DirEntry) int {
	n := 0
	for _, e := range es {
		if e.Type().IsRegular() && spool.ValidName(e.Name()) {
			n++
		}
	}
	return n
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBadChecksumRefetched: a packet whose bytes do not hash to its name
// is fetched, found bad, fetched once more, and never kept; the sender
// keeps it (no DONE).
func TestBadChecksumRefetched(t *testing.T) {
	a, b := newSide(t), newSide(t)
	name, data := fakePkt(t, a, b.keys.ID, 10, 200000, 1)
	p := a.spool.PktPath(b.keys.ID, spool.TX, name)
	data[len(data)-1] ^= 1
	if err := os.WriteFile(p, data, 0o666); err != nil {
		t.Fatal(err)
	}
	good, _ := fakePkt(t, a, b.keys.ID, 20, 1000, 2)
	ra, rb := pair(t, a, b, a.opts(t), b.opts(t))
	if got := rxNames(t, b, a.keys.ID); !equal(got, []string{good}) {
		t.Fatalf("b has %v, want only %s", got, good)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal("sender dropped the packet the receiver refused")
	}
	if len(rb.Received) != 1 || len(ra.Sent) != 1 {
		t.Fatalf("a sent %v, b received %v", ra.Sent, rb.Received)
	}
	// Two attempts: the first and the refetch, each ending in a checksum
	// failure logged by b.
	logb, _ := os.ReadFile(b.log)
	if n := bytes.Count(logb, []byte("Who: sp-file-bad-checksum")); n != 2 {
		t.Fatalf("%d checksum failures logged, want 2\n%s", n, logb)
	}
}

// TestQueuedDuringCall: a packet queued while the session runs is offered
// at the next rescan and arrives in the same session.
func TestQueuedDuringCall(t *testing.T) {
	a, b := newSide(t), newSide(t)
	ao, bo := a.opts(t), b.opts(t)
	ao.OnlineDeadline, bo.OnlineDeadline = time.Minute, time.Minute
	arrived := make(chan string, 1)
	bo.OnEvent = func(e sp.Event) {
		if e.XX == "rx" {
			arrived <- e.Name
		}
	}
	ca, cb := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *sp.Result, 1)
	go func() {
		r, _ := sp.Respond(ctx, cb, func(pub [32]byte) (sp.Peer, bool) { return a.peer(), pub == *a.keys.NoisePub }, bo)
		done <- r
	}()
	initDone := make(chan struct{})
	go func() { sp.Initiate(ctx, ca, b.peer(), ao); close(initDone) }()
	defer func() { cancel(); <-initDone }()
	name, _ := fakePkt(t, a, b.keys.ID, 1, 5000, 3)
	select {
	case got := <-arrived:
		if got != name {
			t.Fatalf("arrived %s, want %s", got, name)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("packet queued during the call never arrived")
	}
	cancel()
	if r := <-done; r == nil || len(r.Received) != 1 {
		t.Fatalf("%+v", r)
	}
}

// TestResponderRefusesUnknown: a caller whose key the responder does not
// know gets no session.
func TestResponderRefusesUnknown(t *testing.T) {
	a, b := newSide(t), newSide(t)
	ca, cb := net.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := sp.Respond(context.Background(), cb, func([32]byte) (sp.Peer, bool) { return sp.Peer{}, false }, b.opts(t))
		cb.Close()
		errc <- err
	}()
	if _, err := sp.Initiate(context.Background(), ca, b.peer(), a.opts(t)); err == nil {
		t.Fatal("initiator got a session")
	}
	if err := <-errc; !errors.Is(err, sp.ErrUnknownPeer) {
		t.Fatalf("responder: %v", err)
	}
}

// TestHandshakeDeadline: a caller that never speaks is dropped at the
// handshake deadline.
func TestHandshakeDeadline(t *testing.T) {
	b := newSide(t)
	o := b.opts(t)
	o.Deadline = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		_, err = sp.Respond(context.Background(), c, func([32]byte) (sp.Peer, bool) { return sp.Peer{}, false }, o)
		errc <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case err := <-errc:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("responder: %v, want a timeout", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("silent caller never dropped")
	}
}

// FuzzRespond feeds garbage to a responder: it must fail cleanly, never
// panic or hang.
func FuzzRespond(f *testing.F) {
	f.Add(wire.AppendSPEnvelope(nil, make([]byte, 96)))
	f.Add([]byte("NNCPS\x00\x00\x01\x00\x00\x00\x10garbagegarbage!!"))
	f.Add([]byte{})
	k, err := node.Generate()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rw := &fuzzConn{r: bytes.NewReader(b)}
		_, err := sp.Respond(context.Background(), rw, func([32]byte) (sp.Peer, bool) { return sp.Peer{}, false },
			sp.Options{Self: k, Nice: 255, Deadline: time.Second})
		if err == nil {
			t.Fatal("garbage established a session")
		}
	})
}

type fuzzConn struct {
	r *bytes.Reader
	w bytes.Buffer
}

func (c *fuzzConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *fuzzConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// TestPeerLocked: a session does not start while the peer's queues are
// locked (another session, an xfer).
func TestPeerLocked(t *testing.T) {
	a, b := newSide(t), newSide(t)
	unlock, err := a.spool.Lock(b.keys.ID, "tx")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ca, cb := net.Pipe()
	defer cb.Close()
	if _, err := sp.Initiate(context.Background(), ca, b.peer(), a.opts(t)); !errors.Is(err, spool.ErrLocked) {
		t.Fatalf("initiate with tx.lock held: %v", err)
	}
}

// TestManySmall: 1500 packets, more than a process's usual 1024
// descriptors, all offered and requested at once, all arrive.
func TestManySmall(t *testing.T) {
	a, b := newSide(t), newSide(t)
	var want []string
	for i := range 1500 {
		n, _ := fakePkt(t, a, b.keys.ID, uint8(i%200), 180+i%50, uint64(i))
		want = append(want, n)
	}
	sort.Strings(want)
	// The answering side takes a while over 1360 INFOs in the handshake
	// (a log record each): an idle deadline shorter than that would end
	// the call before its FREQs come.
	ao, bo := a.opts(t), b.opts(t)
	ao.OnlineDeadline, bo.OnlineDeadline = 2*time.Second, 2*time.Second
	ra, _ := pair(t, a, b, ao, bo)
	if got := rxNames(t, b, a.keys.ID); !equal(got, want) || len(ra.Sent) != 1500 || ra.Err != nil {
		lb, _ := os.ReadFile(b.log)
		la, _ := os.ReadFile(a.log)
		t.Fatalf("%d of 1500 arrived, %d acknowledged, err %v\n%s\n%s", len(got), len(ra.Sent), ra.Err, tailS(la), tailS(lb))
	}
}

func tailS(b []byte) string {
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return string(b)
}
