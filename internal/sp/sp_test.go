package sp_test

import (
	"bytes"
	"context"
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
		OnlineDeadline: 300 * time.Millisecond}
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
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o666); err != nil {
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
