package smtpd

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// startServer serves on a free port of 127.0.0.1 until the test ends.
func startServer(t *testing.T, o Options) (*Server, string, string) {
	t.Helper()
	m, net0 := newMTA(t)
	o.Domain, o.TmpDir = "a.example", t.TempDir()
	srv := New(m, o)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return srv, l.Addr().String(), filepath.Join(net0.Nodes["a"].Dir, "Maildir")
}

// firstLine reads the server's first line, waiting at most 10 s.
func firstLine(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "error: " + err.Error()
	}
	return line
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConnectionFlood: 300 idle connections against a cap of 50: 50 are
// served, the others and every new client get "421 4.7.0 too many
// connections" and are closed; once the flood is closed, a real session
// delivers.
func TestConnectionFlood(t *testing.T) {
	const limit, flood = 50, 300
	srv, addr, maildir := startServer(t, Options{MaxConn: limit, GreetingTimeout: time.Minute, Timeout: time.Minute})
	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < flood; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	waitFor(t, "every flood connection to be accepted or refused", func() bool {
		st := srv.Stats()
		return st.Accepted+st.Refused == flood
	})
	if st := srv.Stats(); st.Open != limit || st.Refused != flood-limit {
		t.Fatalf("stats %+v, want %d open and %d refused", st, limit, flood-limit)
	}
	greeted, refused := 0, 0
	for _, c := range conns {
		switch l := firstLine(t, c); {
		case strings.HasPrefix(l, "220 "):
			greeted++
		case strings.HasPrefix(l, "421 4.7.0 too many connections"):
			refused++
		default:
			t.Errorf("flood connection got %q", l)
		}
	}
	if greeted != limit || refused != flood-limit {
		t.Errorf("%d greeted and %d refused, want %d and %d", greeted, refused, limit, flood-limit)
	}

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if l := firstLine(t, c); !strings.HasPrefix(l, "421 4.7.0 too many connections") {
		t.Errorf("a new client during the flood got %q, want 421 4.7.0", l)
	}
	c.Close()

	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitFor(t, "the flood's connections to close", func() bool { return srv.Stats().Open == 0 })
	sendOne(t, addr, "alice@a.example")
	if ents, _ := os.ReadDir(filepath.Join(maildir, "new")); len(ents) != 1 {
		t.Errorf("%d messages delivered after the flood, want 1", len(ents))
	}
}

// sendOne runs a whole session with go-smtp's client.
func sendOne(t *testing.T, addr, rcpt string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("root@a.example", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: after the flood\r\n\r\nhello\r\n")
	if err := w.Close(); err != nil {
		t.Fatalf("data: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// TestConnectionsPerIP: with max-conn-per-ip 3, the fourth connection from
// 127.0.0.1 is refused while one from 127.0.0.2 is served.
func TestConnectionsPerIP(t *testing.T) {
	srv, addr, _ := startServer(t, Options{MaxConn: 10, MaxConnPerIP: 3, GreetingTimeout: time.Minute})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dial := func(from string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		return c
	}
	for i := 0; i < 3; i++ {
		if l := firstLine(t, dial("127.0.0.1")); !strings.HasPrefix(l, "220 ") {
			t.Fatalf("connection %d: %q", i, l)
		}
	}
	if l := firstLine(t, dial("127.0.0.1")); !strings.HasPrefix(l, "421 4.7.0") {
		t.Errorf("fourth connection from 127.0.0.1: %q, want 421 4.7.0", l)
	}
	if l := firstLine(t, dial("127.0.0.2")); !strings.HasPrefix(l, "220 ") {
		t.Errorf("connection from 127.0.0.2: %q, want 220", l)
	}
	if st := srv.Stats(); st.Refused != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestIdleTimeouts: a client that never says HELO is dropped after the
// greeting timeout; one that says EHLO and then nothing, after the
// command timeout. Both get 421 and then EOF.
func TestIdleTimeouts(t *testing.T) {
	srv, addr, _ := startServer(t, Options{GreetingTimeout: time.Second, Timeout: time.Second})
	for _, hello := range []string{"", "EHLO client.example\r\n"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if hello != "" {
			io.WriteString(c, hello)
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		b, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%q: the server did not drop the idle client: %q", hello, b)
		}
		if !strings.Contains(string(b), "421 4.4.2") {
			t.Errorf("%q: got %q before EOF, want a 421 4.4.2", hello, b)
		}
		if hello != "" && !strings.Contains(string(b), "250") {
			t.Errorf("EHLO was not answered before the timeout: %q", b)
		}
	}
	waitFor(t, "the dropped connections to be released", func() bool { return srv.Stats().Open == 0 })
}

// A client that keeps sending NOOP is still dropped when its greeting
// time is up: the greeting timeout counts from the connection.
func TestGreetingTimeoutIsAbsolute(t *testing.T) {
	_, addr, _ := startServer(t, Options{GreetingTimeout: 300 * time.Millisecond, Timeout: time.Minute})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, err := io.WriteString(c, "NOOP\r\n"); err != nil {
			return // dropped
		}
		line, err := r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a NOOP-only client was never dropped")
			}
			return
		}
		if strings.HasPrefix(line, "421") {
			return
		}
	}
}

// TestErrorLog: what go-smtp reports about a connection (here one the
// client reset) reaches Options.ErrorLog instead of being dropped.
func TestErrorLog(t *testing.T) {
	logged := make(chan string, 10)
	_, addr, _ := startServer(t, Options{ErrorLog: func(msg string) { logged <- msg }})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if l := firstLine(t, c); !strings.HasPrefix(l, "220 ") {
		t.Fatalf("greeting %q", l)
	}
	c.(*net.TCPConn).SetLinger(0) // Close sends RST
	c.Close()
	select {
	case msg := <-logged:
		if !strings.Contains(msg, "reset") {
			t.Errorf("logged %q, want the reset connection", msg)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("nothing reached ErrorLog within 20 s of the reset")
	}
}
