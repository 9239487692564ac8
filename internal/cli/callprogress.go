package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"ferry/internal/logrec"
	"ferry/internal/progress"
	"ferry/internal/sp"
)

// statusLine is stderr with one status line kept at its bottom: every
// write (a log line) first clears the status line, which is drawn again
// after it.
type statusLine struct {
	mu   sync.Mutex
	w    io.Writer
	line string // drawn now; "" when none
}

func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line != "" {
		io.WriteString(s.w, "\r\x1b[K")
	}
	n, err := s.w.Write(p)
	if s.line != "" && bytes.HasSuffix(p, []byte("\n")) {
		io.WriteString(s.w, s.line)
	}
	return n, err
}

func (s *statusLine) set(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if line == s.line {
		return
	}
	io.WriteString(s.w, "\r"+line+"\x1b[K")
	if line == "" {
		io.WriteString(s.w, "\r")
	}
	s.line = line
}

// statusLine puts x.Stderr behind a status line when bars may be drawn
// (a terminal, or -progress; the config's noprogress is known later and
// checked by startCallProgress); nil otherwise. Before setup: the
// logger writes through it.
func (x *ctx) statusLine() *statusLine {
	if !(x.IsTerminal || x.progress) || x.noProgress || x.quiet {
		return nil
	}
	st := &statusLine{w: x.Stderr}
	x.Stderr = st
	return st
}

// callProgress shows on a status line what the sessions are moving: the
// newest packet in each direction with its share, bytes and speed, and
// how many packets have finished each way.
type callProgress struct {
	st    *statusLine
	width int

	mu     sync.Mutex
	moving []*pktMeter
	done   map[string]int // "rx"/"tx" -> packets finished
	stop   chan struct{}
	wg     sync.WaitGroup
}

// pktMeter is one packet's progress.Meter.
type pktMeter struct {
	p     *callProgress
	t     *sp.Event
	start time.Time
	mu    sync.Mutex
	moved int64 // since start
}

func (m *pktMeter) Add(n int64) {
	m.mu.Lock()
	m.moved += n
	m.mu.Unlock()
}

func (m *pktMeter) Done() {
	m.p.mu.Lock()
	defer m.p.mu.Unlock()
	for i, o := range m.p.moving {
		if o == m {
			m.p.moving = append(m.p.moving[:i], m.p.moving[i+1:]...)
			break
		}
	}
	m.mu.Lock()
	whole := m.t.Offset+m.moved >= m.t.Size
	m.mu.Unlock()
	if whole {
		m.p.done[m.t.XX]++
	}
}

// startCallProgress wraps x.Stderr in a status line and returns the
// meters' maker for sp.Options.Progress, or nil when progress is off
// (-noprogress, -quiet, the config's noprogress, not a terminal). Call
// it before anything logs; stop ends the line.
func (x *ctx) startCallProgress(st *statusLine) (mk func(*sp.Event) progress.Meter, stop func()) {
	if st == nil || !x.showProgress() {
		return nil, func() {}
	}
	width := x.termWidth(st.w)
	if width <= 20 {
		width = 80 // not a terminal (-progress), or a tiny one
	}
	p := &callProgress{st: st, width: width, done: map[string]int{}, stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				st.set("")
				return
			case now := <-t.C:
				st.set(p.line(now))
			}
		}
	}()
	mk = func(t *sp.Event) progress.Meter {
		m := &pktMeter{p: p, t: t, start: time.Now()}
		p.mu.Lock()
		p.moving = append(p.moving, m)
		p.mu.Unlock()
		return m
	}
	return mk, func() { close(p.stop); p.wg.Wait() }
}

// line is the status line now: for each direction, the newest packet
// moving, then the counts.
func (p *callProgress) line(now time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for _, xx := range []string{"rx", "tx"} {
		var m *pktMeter
		for _, o := range p.moving {
			if o.t.XX == xx {
				m = o
			}
		}
		if m == nil {
			continue
		}
		m.mu.Lock()
		moved := m.moved
		m.mu.Unlock()
		at := m.t.Offset + moved
		s := fmt.Sprintf("%s %s %s %s/%s %d%%", xx, m.t.PeerName, short(m.t.Name), logrec.HumanSize(at),
			logrec.HumanSize(m.t.Size), percentOf(at, m.t.Size))
		if secs := now.Sub(m.start).Seconds(); secs >= 1 {
			s += " " + logrec.HumanSize(int64(float64(moved)/secs)) + "/s"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 && p.done["rx"]+p.done["tx"] == 0 {
		return ""
	}
	parts = append(parts, fmt.Sprintf("[%d received, %d sent]", p.done["rx"], p.done["tx"]))
	line := strings.Join(parts, " | ")
	if r := []rune(line); len(r) > p.width-1 {
		line = string(r[:p.width-1])
	}
	return line
}

func short(name string) string {
	if len(name) > 8 {
		return name[:8] + "…"
	}
	return name
}

func percentOf(n, of int64) int64 {
	if of <= 0 {
		return 100
	}
	return n * 100 / of
}
