package sp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"ferry/internal/logrec"
)

// CallOptions describe one call to a neighbour.
type CallOptions struct {
	// Options are the session's settings; Addr is filled in per attempt.
	Options
	Peer Peer
	// Addrs are tried in turn until one answers: "host:port", or
	// "|command" run with sh -c, talking over its stdin and stdout.
	Addrs []string
	// Conn, when set, is used instead of dialing (UCSPI: fds 6 and 7).
	Conn io.ReadWriter
}

// Call calls the peer: each address in turn until a session is
// established, then runs it to its end. The error is non-nil when no
// session could be established; a session that ended badly is still a
// Result (with Err set).
func Call(ctx context.Context, o CallOptions) (*Result, error) {
	if o.Conn != nil {
		return Initiate(ctx, o.Conn, o.Peer, o.Options)
	}
	if len(o.Addrs) == 0 {
		return nil, fmt.Errorf("%s: no address to call", o.Peer.Name)
	}
	var errs []error
	for _, addr := range o.Addrs {
		conn, err := Dial(ctx, addr, o.deadline(&o.Peer))
		if err != nil {
			o.logCallErr(addr, err)
			errs = append(errs, err)
			continue
		}
		so := o.Options
		so.Addr = addr
		res, err := Initiate(ctx, conn, o.Peer, so)
		conn.Close()
		if err != nil {
			o.logCallErr(addr, err)
			errs = append(errs, err)
			continue
		}
		return res, nil
	}
	return nil, errors.Join(errs...)
}

func (o *CallOptions) logCallErr(addr string, err error) {
	if o.Log != nil {
		o.Log.Error(logrec.Rec{Who: "call-started", Fields: []logrec.Field{fld("Node", o.Peer.ID.String()), fld("Addr", addr)},
			Msg: fmt.Sprintf("Connection to %s (%s)", o.Peer.Name, addr)}, err)
	}
}

// Dial connects to addr: TCP for "host:port", a child process for
// "|command".
func Dial(ctx context.Context, addr string, timeout time.Duration) (io.ReadWriteCloser, error) {
	if cmd, ok := strings.CutPrefix(addr, "|"); ok {
		return dialCommand(cmd)
	}
	d := net.Dialer{Timeout: timeout}
	return d.DialContext(ctx, "tcp", addr)
}

// cmdConn talks to a child's stdin and stdout.
type cmdConn struct {
	cmd  *exec.Cmd
	w    io.WriteCloser
	r    io.ReadCloser
	once sync.Once
}

func dialCommand(command string) (io.ReadWriteCloser, error) {
	cmd := exec.Command("/bin/sh", "-c", command)
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %q: %w", command, err)
	}
	return &cmdConn{cmd: cmd, w: w, r: r}, nil
}

func (c *cmdConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *cmdConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// Close closes the child's stdin and waits for it; a child still running
// after a grace period is killed.
func (c *cmdConn) Close() error {
	c.once.Do(func() {
		c.w.Close()
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		t := time.NewTimer(2 * time.Second)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			c.cmd.Process.Kill()
			<-done
		}
	})
	return nil
}

// Server answers calls.
type Server struct {
	// Options are each session's settings.
	Options
	// Peers identifies callers by noise key.
	Peers PeerFunc
	// MaxConn limits simultaneous connections (0: 128, NNCP's default);
	// connections beyond it are closed at once.
	MaxConn int
	// OnSession, when set, runs after each established session (autotoss).
	OnSession func(*Result)

	mu    sync.Mutex
	conns int
}

// Serve accepts connections on ln until ctx ends, one goroutine each.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	max := s.MaxConn
	if max <= 0 {
		max = 128
	}
	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.conns >= max {
			s.mu.Unlock()
			s.logf("daemon", []logrec.Field{fld("Addr", c.RemoteAddr().String())}, errors.New("too many connections"),
				fmt.Sprintf("Connection from %s refused: %d already", c.RemoteAddr(), max))
			c.Close()
			continue
		}
		s.conns++
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { s.mu.Lock(); s.conns--; s.mu.Unlock() }()
			defer c.Close()
			s.ServeConn(ctx, c, c.RemoteAddr().String())
		}()
	}
}

// ServeConn runs one session as the responder over rw (a connection, or
// stdin/stdout under UCSPI). remote names the caller in the log.
func (s *Server) ServeConn(ctx context.Context, rw io.ReadWriter, remote string) (*Result, error) {
	o := s.Options
	o.Addr, o.Remote = "", remote
	res, err := Respond(ctx, rw, s.Peers, o)
	if err != nil {
		// Respond logged why; NNCP then notes the nameless connection.
		if s.Log != nil {
			s.Log.Info(logrec.Rec{Who: "call-started", Fields: []logrec.Field{fld("Node", "unknown")},
				Msg: "Connected to unknown"})
		}
		return nil, err
	}
	if s.OnSession != nil {
		s.OnSession(res)
	}
	return res, nil
}

func (s *Server) logf(who string, f []logrec.Field, err error, msg string) {
	if s.Log != nil {
		s.Log.Error(logrec.Rec{Who: who, Fields: f, Msg: msg}, err)
	}
}
