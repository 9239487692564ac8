package sp

import (
	"errors"
	"os"
	"testing"
	"time"

	"ferry/internal/wire"
)

// stingyConn accepts at most `per` bytes a write and then reports its
// deadline passed, as a socket on a slow link does; with per 0 it makes
// no progress at all.
type stingyConn struct {
	per       int
	got       []byte
	deadlines int
}

func (c *stingyConn) Read([]byte) (int, error) { return 0, errors.New("not read") }
func (c *stingyConn) Write(p []byte) (int, error) {
	n := min(c.per, len(p))
	c.got = append(c.got, p[:n]...)
	if n < len(p) {
		return n, os.ErrDeadlineExceeded
	}
	return n, nil
}
func (c *stingyConn) SetReadDeadline(time.Time) error { return nil }
func (c *stingyConn) SetWriteDeadline(time.Time) error {
	c.deadlines++
	return nil
}

// TestWriteDeadlineOnProgress: a write that times out after moving some
// bytes gets another deadline and goes on, a deadline per attempt; one
// that moves nothing before its deadline fails. No clock involved.
func TestWriteDeadlineOnProgress(t *testing.T) {
	msg := make([]byte, 10000)
	for i := range msg {
		msg[i] = byte(i)
	}
	want := wire.AppendSPEnvelope(nil, msg)
	c := &stingyConn{per: 1000}
	s := newSession(c, Options{})
	if err := s.writeEnvelope(msg); err != nil {
		t.Fatalf("slow but moving: %v", err)
	}
	if string(c.got) != string(want) {
		t.Fatalf("wrote %d bytes, want the %d of the envelope", len(c.got), len(want))
	}
	if attempts := (len(want) + 999) / 1000; c.deadlines != attempts {
		t.Fatalf("%d deadlines set, want one per attempt (%d)", c.deadlines, attempts)
	}
	stuck := &stingyConn{per: 0}
	if err := newSession(stuck, Options{}).writeEnvelope(msg); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("no progress: %v, want the deadline", err)
	}
}
