package sp_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"ferry/internal/sp"
	"ferry/internal/wire"
)

// slowLink joins two pipe ends through a link that moves at most piece
// bytes per tick in each direction, as a radio modem would.
func slowLink(t *testing.T, piece int, tick time.Duration) (a, b net.Conn) {
	a, la := net.Pipe()
	lb, b := net.Pipe()
	move := func(dst, src net.Conn) {
		defer dst.Close()
		buf := make([]byte, piece)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				time.Sleep(tick) // the link's rate: piece bytes per tick
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go move(lb, la)
	go move(la, lb)
	t.Cleanup(func() { a.Close(); b.Close(); la.Close(); lb.Close() })
	return a, b
}

// TestSlowLink: over a link of 16 KiB/s, one 64 KiB message takes four
// seconds. With sp-deadline 2 s, sp-ping 1.5 s (silence after 3 s) and
// no padding, the handshake fits its deadline, and reads and writes that
// take longer than their deadline and the silence go on because bytes
// keep moving (a piece every 32 ms: a stall of the machine up to 2 s is
// tolerated): files in both directions arrive whole.
func TestSlowLink(t *testing.T) {
	defer sp.SetPeerPing(1500 * time.Millisecond)()
	a, b := newSide(t), newSide(t)
	slow := func(p sp.Peer) sp.Peer {
		p.Deadline, p.PingInterval, p.PadTo = 2*time.Second, 1500*time.Millisecond, -1
		return p
	}
	nb, _ := fakePkt(t, a, b.keys.ID, 1, 70<<10, 1)
	na, _ := fakePkt(t, b, a.keys.ID, 1, 70<<10, 2)
	ca, cb := slowLink(t, 512, 32*time.Millisecond)
	done := make(chan struct{})
	var rb *sp.Result
	var errB error
	go func() {
		defer close(done)
		defer cb.Close()
		rb, errB = sp.Respond(context.Background(), cb, func(pub [32]byte) (sp.Peer, bool) {
			return slow(a.peer()), pub == *a.keys.NoisePub
		}, b.opts(t))
	}()
	ra, err := sp.Initiate(context.Background(), ca, slow(b.peer()), a.opts(t))
	ca.Close()
	<-done
	if err != nil || errB != nil {
		t.Fatalf("initiate: %v; respond: %v", err, errB)
	}
	if ra.Err != nil || rb.Err != nil {
		la, _ := os.ReadFile(a.log)
		lb, _ := os.ReadFile(b.log)
		t.Fatalf("a: %v; b: %v\n%s\n----\n%s", ra.Err, rb.Err, la, lb)
	}
	if got := rxNames(t, b, a.keys.ID); !equal(got, []string{nb}) {
		t.Fatalf("b received %v, want %s", got, nb)
	}
	if got := rxNames(t, a, b.keys.ID); !equal(got, []string{na}) {
		t.Fatalf("a received %v, want %s", got, na)
	}
}

// TestFirstPayloadPadding: the first payload (two INFOs here) is padded
// as NNCP 8.8.2 pads it by default, to PadTo when set, and not at all
// when PadTo is below zero; INFOs too stay within PadTo.
func TestFirstPayloadPadding(t *testing.T) {
	// Noise IK's first message: ephemeral key (32), encrypted static key
	// (32+16), then the payload and its tag (16).
	const overhead = 32 + 48 + 16
	infos := 2 * wire.SPInfoSize
	for _, c := range []struct {
		padTo, want int
	}{
		{0, infos + (wire.MaxSPPayload-infos)/8*4},
		{1000, 1000},
		{1001, 1000}, // HALTs are whole: 4 bytes each
		{-1, 0},      // the INFOs follow the handshake
		{10, 8},      // no room for an INFO: HALTs only
		{100, 100},   // one INFO, and HALTs
		{100000, wire.MaxSPPayload},
	} {
		a, b := newSide(t), newSide(t)
		fakePkt(t, a, b.keys.ID, 1, 1000, 1)
		fakePkt(t, a, b.keys.ID, 2, 2000, 2)
		ca, cb := net.Pipe()
		peer := b.peer()
		peer.PadTo = c.padTo
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); sp.Initiate(ctx, ca, peer, a.opts(t)) }()
		var head [12]byte
		if _, err := io.ReadFull(cb, head[:]); err != nil {
			t.Fatal(err)
		}
		got := int(binary.BigEndian.Uint32(head[8:])) - overhead
		cancel()
		cb.Close()
		ca.Close()
		<-done
		if got != c.want {
			t.Errorf("PadTo %d: first payload of %d bytes, want %d", c.padTo, got, c.want)
		}
	}
}
