package smtpd

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tooMany is the answer to a connection over the caps.
const tooMany = "421 4.7.0 too many connections, try again later\r\n"

// limitListener hands go-smtp at most max connections at once (perIP from
// one address); the others are answered tooMany and closed at once, so
// that a flood of idle connections costs no file descriptors beyond the
// caps and the server keeps serving once it ends.
type limitListener struct {
	net.Listener
	max, perIP int
	greeting   time.Duration
	idle       time.Duration

	mu       sync.Mutex
	open     int
	byIP     map[string]int
	refused  atomic.Int64
	accepted atomic.Int64
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := hostOf(c.RemoteAddr())
		l.mu.Lock()
		over := l.max > 0 && l.open >= l.max || l.perIP > 0 && l.byIP[ip] >= l.perIP
		if !over {
			l.open++
			l.byIP[ip]++
		}
		l.mu.Unlock()
		if over {
			l.refused.Add(1)
			go refuse(c)
			continue
		}
		l.accepted.Add(1)
		return newCmdFilter(newTimedConn(c, l.greeting, l.idle, func() { l.release(ip) })), nil
	}
}

func (l *limitListener) release(ip string) {
	l.mu.Lock()
	l.open--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
	l.mu.Unlock()
}

// refuse answers a connection over the caps and closes it; a client that
// does not read its answer within a second loses it.
func refuse(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write([]byte(tooMany))
	c.Close()
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// timedConn enforces ferry's timeouts whatever deadlines go-smtp sets:
// until the client's HELO or EHLO (greeted), every read must end by
// connection time + greeting; after it, a read may wait at most idle for
// the next byte (between commands, and within a message: a slow but moving
// transfer is not cut).
type timedConn struct {
	net.Conn
	greetBy time.Time
	idle    time.Duration
	greeted atomic.Bool
	once    sync.Once
	onClose func()
}

func newTimedConn(c net.Conn, greeting, idle time.Duration, onClose func()) *timedConn {
	t := &timedConn{Conn: c, idle: idle, onClose: onClose}
	if greeting > 0 {
		t.greetBy = time.Now().Add(greeting)
	}
	return t
}

// markGreeted ends the greeting period (the session started).
func (c *timedConn) markGreeted() { c.greeted.Store(true) }

func (c *timedConn) Read(p []byte) (int, error) {
	var dl time.Time
	switch {
	case !c.greeted.Load() && !c.greetBy.IsZero():
		dl = c.greetBy
	case c.idle > 0:
		dl = time.Now().Add(c.idle)
	}
	if err := c.Conn.SetReadDeadline(dl); err != nil && !errors.Is(err, net.ErrClosed) {
		return 0, err
	}
	return c.Conn.Read(p)
}

// SetReadDeadline is ignored: Read sets the deadline itself.
func (c *timedConn) SetReadDeadline(time.Time) error { return nil }

// SetDeadline sets only the write deadline, for the same reason.
func (c *timedConn) SetDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(t) }

func (c *timedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
	return err
}
