package cli

import (
	"bytes"
	"testing"
	"time"

	"ferry/internal/sp"
)

// TestStatusLine: a log line written while a status line is shown
// clears it first and draws it again after; set("") clears it.
func TestStatusLine(t *testing.T) {
	var b bytes.Buffer
	st := &statusLine{w: &b}
	st.Write([]byte("plain\n"))
	st.set("rx 10%")
	st.Write([]byte("a log line\n"))
	st.set("rx 20%")
	st.set("")
	want := "plain\n" + "\rrx 10%\x1b[K" + "\r\x1b[Ka log line\nrx 10%" + "\rrx 20%\x1b[K" + "\r\x1b[K\r"
	if got := b.String(); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// TestCallProgressLine: the newest packet each way, its share, and the
// counts; a packet done whole counts, one cut short does not; the line
// fits the width.
func TestCallProgressLine(t *testing.T) {
	p := &callProgress{width: 200, done: map[string]int{}}
	mk := func(tr *sp.Event) *pktMeter {
		m := &pktMeter{p: p, t: tr, start: time.Now()}
		p.moving = append(p.moving, m)
		return m
	}
	rx := mk(&sp.Event{PeerName: "hub", XX: "rx", Name: "ABCDEFGHIJKL", Size: 4 << 20, Offset: 1 << 20})
	rx.Add(1 << 20)
	tx := mk(&sp.Event{PeerName: "hub", XX: "tx", Name: "ZYXWVUTS", Size: 100})
	tx.Add(100)
	tx.Done()
	cut := mk(&sp.Event{PeerName: "hub", XX: "tx", Name: "CUTSHORT", Size: 1000})
	cut.Add(10)
	got := p.line(time.Now())
	want := "rx hub ABCDEFGH… 2.0 MiB/4.0 MiB 50% | tx hub CUTSHORT 10 B/1000 B 1% | [0 received, 1 sent]"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	cut.Done()
	rx.Done() // not whole: not counted
	if got := p.line(time.Now()); got != "[0 received, 1 sent]" {
		t.Fatalf("after: %q", got)
	}
	p.width = 20
	if got := p.line(time.Now()); len([]rune(got)) != 19 {
		t.Fatalf("not cut to the width: %q", got)
	}
}
