package deliver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// session is one connection to the server.
type session struct {
	ctx                  context.Context
	host                 string
	timeout, dataTimeout time.Duration
	dc                   *deadlineConn
	c                    *smtp.Client
	tls                  bool
	stop                 func() bool // ends the cancellation watch
	dialFunc             func(ctx context.Context, network, addr string) (net.Conn, error)
}

// dial connects to addr; cancelling the context closes the connection.
func (sess *session) dial(addr string) (net.Conn, *Error) {
	dial := sess.dialFunc
	if dial == nil {
		dial = (&net.Dialer{Timeout: sess.timeout}).DialContext
	}
	raw, err := dial(sess.ctx, "tcp", addr)
	if err != nil {
		e := newError(451, "4.4.1", err, "smtp: connecting to %s: %v", addr, err)
		e.RemoteMTA = sess.host
		if sess.ctx.Err() != nil {
			e.Text = fmt.Sprintf("smtp: connecting to %s: canceled", addr)
		}
		return nil, e
	}
	sess.dc = &deadlineConn{Conn: raw}
	sess.dc.setTimeout(sess.timeout)
	sess.stop = context.AfterFunc(sess.ctx, func() { raw.Close() })
	return sess.dc, nil
}

func (sess *session) close() {
	if sess.c != nil {
		sess.c.Close()
	}
	if sess.dc != nil {
		sess.dc.Close()
	}
	if sess.stop != nil {
		sess.stop()
	}
}

// handshake runs the TLS client handshake on conn.
func (sess *session) handshake(conn net.Conn, cfg *tls.Config) (net.Conn, *Error) {
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(sess.ctx); err != nil {
		e := newError(451, "4.7.0", err, "smtp %s: TLS handshake: %v", sess.host, err)
		e.RemoteMTA = sess.host
		return nil, e
	}
	sess.tls = true
	return tc, nil
}

// startTLS reads the greeting, sends EHLO and, when the server offers it,
// STARTTLS and the handshake. go-smtp's client cannot say EHLO with our
// name before STARTTLS, so this part is done here, and the client gets the
// connection after it with a stand-in greeting (it sends its own EHLO, as
// RFC 3207 requires after TLS). Bytes the server sent after its 220 reply
// to STARTTLS are dropped with the plaintext reader (no command injection,
// CVE-2011-0411).
func (sess *session) startTLS(conn net.Conn, helo string, cfg *tls.Config, required bool) (net.Conn, *Error) {
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, sess.connFail("connection greeting", protoErr(err))
	}
	offered := false
	_, msg, err := cmd(tp, 250, "EHLO "+helo)
	if err == nil {
		for _, line := range strings.Split(msg, "\n")[1:] {
			if f := strings.Fields(line); len(f) > 0 && strings.EqualFold(f[0], "STARTTLS") {
				offered = true
			}
		}
	} else if !isCode(err, 500, 502) { // EHLO not known: HELO follows, without TLS
		return nil, sess.connFail("EHLO", err)
	}
	if !offered {
		if required {
			e := newError(451, "4.7.10", ErrNoSTARTTLS, "smtp %s does not offer STARTTLS, which is required", sess.host)
			e.RemoteMTA = sess.host
			return nil, e
		}
		return &prefixConn{Conn: conn, prefix: greeting}, nil
	}
	if _, _, err := cmd(tp, 220, "STARTTLS"); err != nil {
		if !required && isCode(err, 454, 502) { // not now: go on in plaintext
			return &prefixConn{Conn: conn, prefix: greeting}, nil
		}
		return nil, sess.connFail("STARTTLS", err)
	}
	tc, e := sess.handshake(conn, cfg)
	if e != nil {
		return nil, e
	}
	return &prefixConn{Conn: tc, prefix: greeting}, nil
}

// greeting stands in for the server's greeting, which startTLS consumed.
const greeting = "220 continuing\r\n"

// cmd sends a command and reads its reply.
func cmd(tp *textproto.Conn, expect int, line string) (int, string, error) {
	id, err := tp.Cmd("%s", line)
	if err != nil {
		return 0, "", err
	}
	tp.StartResponse(id)
	defer tp.EndResponse(id)
	code, msg, err := tp.ReadResponse(expect)
	return code, msg, protoErr(err)
}

// protoErr turns a textproto reply error into an *smtp.SMTPError.
func protoErr(err error) error {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return err
	}
	e := &smtp.SMTPError{Code: te.Code, Message: te.Msg}
	if code, rest, ok := strings.Cut(te.Msg, " "); ok {
		var a, b, c int
		if n, _ := fmt.Sscanf(code, "%d.%d.%d", &a, &b, &c); n == 3 {
			e.EnhancedCode, e.Message = smtp.EnhancedCode{a, b, c}, rest
		}
	}
	return e
}

func isCode(err error, codes ...int) bool {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code == c {
			return true
		}
	}
	return false
}

// fail converts an error at stage (a command, "end of data") into an
// *Error: a server's 4xx or 5xx reply keeps its class, anything else is
// temporary.
func (sess *session) fail(stage string, err error) *Error {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return sess.lost(stage, err)
	}
	class := se.Code / 100
	enh := se.EnhancedCode
	reply := fmt.Sprintf("%d %s", se.Code, oneLine(se.Message))
	if enh[0] > 0 {
		reply = fmt.Sprintf("%d %d.%d.%d %s", se.Code, enh[0], enh[1], enh[2], oneLine(se.Message))
	} else {
		enh = smtp.EnhancedCode{class, 0, 0}
	}
	e := &Error{Code: se.Code, RemoteMTA: sess.host, Reply: reply, Err: se,
		Text: oneLine("error from " + sess.host + " after " + stage)}
	if class != 4 && class != 5 {
		e.Code, enh = 451, smtp.EnhancedCode{4, 5, 0}
		e.Text = oneLine("unexpected reply from " + sess.host + " after " + stage)
	}
	enh[0] = e.Code / 100
	e.Enhanced = fmt.Sprintf("%d.%d.%d", enh[0], enh[1], enh[2])
	return e
}

// connFail is fail for the stages before MAIL, where every failure is
// about the server and temporary: a 5xx becomes 451 (454 for AUTH) and
// 4.x.x, the server's reply stays in Reply.
func (sess *session) connFail(stage string, err error) *Error {
	e := sess.fail(stage, err)
	if stage == "AUTH" {
		return soften(e, 454)
	}
	return soften(e, 451)
}

// soften makes a permanent error temporary with code, keeping the
// detail of the status and the server's Reply.
func soften(e *Error, code int) *Error {
	if !e.Temporary() {
		e.Code = code
		e.Enhanced = "4" + e.Enhanced[1:]
	}
	return e
}

// lost is the error for a connection that failed at stage.
func (sess *session) lost(stage string, err error) *Error {
	e := newError(451, "4.4.2", err, "smtp %s: connection lost at %s: %v", sess.host, stage, err)
	e.RemoteMTA = sess.host
	var ne net.Error
	switch {
	case sess.ctx.Err() != nil:
		e.Text, e.Err = oneLine(fmt.Sprintf("smtp %s: canceled at %s", sess.host, stage)), sess.ctx.Err()
	case errors.As(err, &ne) && ne.Timeout():
		e.Text = oneLine(fmt.Sprintf("smtp %s: no answer at %s", sess.host, stage))
		e.Err = fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return e
}

// deadlineConn sets a deadline before every read and write, so that a
// server that stops answering (even in the middle of DATA, where go-smtp
// sets none) is a timeout, not a hang.
type deadlineConn struct {
	net.Conn
	timeout atomic.Int64
}

func (c *deadlineConn) setTimeout(d time.Duration) { c.timeout.Store(int64(d)) }

func (c *deadlineConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(time.Duration(c.timeout.Load())))
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(time.Duration(c.timeout.Load())))
	return c.Conn.Write(p)
}

// prefixConn returns prefix before what the connection reads.
type prefixConn struct {
	net.Conn
	prefix string
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.prefix != "" {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
