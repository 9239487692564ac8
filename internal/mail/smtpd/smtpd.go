// Package smtpd owns ferry's SMTP listener: MTAs and programs that can
// relay over SMTP but have no pipe transport hand it mail, and it queues
// each message the way ferry sendmail does. It answers 250 only once the
// message is safely queued; otherwise 4xx (try again) or 5xx (never).
package smtpd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"ferry/internal/mail/bsmtp"
	"ferry/internal/mail/mta"
)

// Options configure a server.
type Options struct {
	// Domain is announced in the greeting.
	Domain string
	// MaxMessageBytes refuses bigger messages (552); 0: 100 MiB.
	MaxMessageBytes int64
	// TmpDir holds message bodies while they are checked and queued.
	TmpDir string
	// Now is the clock of Received headers.
	Now func() time.Time

	// MaxConn is the most connections Serve handles at once; beyond it a
	// client is answered "421 4.7.0 too many connections" and closed.
	// 0: 100. MaxConnPerIP is the most from one client address (0: no
	// limit but MaxConn).
	MaxConn, MaxConnPerIP int
	// GreetingTimeout is how long a client has from connecting to its
	// HELO/EHLO (0: 30 s); Timeout how long it may then stay silent
	// (between commands, or within a message; 0: 5 min).
	GreetingTimeout, Timeout time.Duration
	// MaxRcpt is the most recipients of one transaction (0: 100); beyond
	// it: 452 4.5.3.
	MaxRcpt int
	// ErrorLog is handed what the SMTP library reports that no client
	// sees: a connection that ended in an I/O error, a failed accept, a
	// panic in a session. nil: such reports are dropped.
	ErrorLog func(msg string)
}

// Server is an SMTP listener in front of an MTA.
type Server struct {
	s   *smtp.Server
	m   *mta.MTA
	mu  sync.Mutex // the MTA's queue is not built for concurrent submits
	opt Options
	ll  atomic.Pointer[limitListener]
}

// Stats are a server's connection counts since Serve started.
type Stats struct {
	Accepted, Refused int64 // handed to a session; answered 421 for the caps
	Open              int   // open now
}

// Stats returns the connection counts.
func (srv *Server) Stats() Stats {
	ll := srv.ll.Load()
	if ll == nil {
		return Stats{}
	}
	ll.mu.Lock()
	open := ll.open
	ll.mu.Unlock()
	return Stats{Accepted: ll.accepted.Load(), Refused: ll.refused.Load(), Open: open}
}

// New returns a server that submits into m.
func New(m *mta.MTA, o Options) *Server {
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = 100 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxConn <= 0 {
		o.MaxConn = 100
	}
	if o.GreetingTimeout <= 0 {
		o.GreetingTimeout = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.MaxRcpt <= 0 {
		o.MaxRcpt = 100
	}
	srv := &Server{m: m, opt: o}
	s := smtp.NewServer(srv)
	s.Domain = o.Domain
	s.MaxMessageBytes = o.MaxMessageBytes
	// Recipients are counted (and duplicates dropped) by the session;
	// read timeouts are timedConn's.
	s.MaxRecipients = 0
	s.ReadTimeout = 0
	s.WriteTimeout = time.Minute
	s.EnableSMTPUTF8 = true
	s.EnableDSN = true
	s.ErrorLog = errorLog(o.ErrorLog)
	srv.s = s
	return srv
}

// errorLog is Options.ErrorLog as go-smtp's Logger.
type errorLog func(msg string)

func (f errorLog) Printf(format string, a ...any) {
	if f != nil {
		f(strings.TrimSuffix(fmt.Sprintf(format, a...), "\n"))
	}
}

func (f errorLog) Println(a ...any) {
	if f != nil {
		f(strings.TrimSuffix(fmt.Sprintln(a...), "\n"))
	}
}

// Serve accepts connections on l until Close, within the caps and
// timeouts of Options.
func (srv *Server) Serve(l net.Listener) error {
	ll := &limitListener{Listener: l, max: srv.opt.MaxConn, perIP: srv.opt.MaxConnPerIP,
		greeting: srv.opt.GreetingTimeout, idle: srv.opt.Timeout, byIP: map[string]int{}}
	srv.ll.Store(ll)
	err := srv.s.Serve(ll)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server and its connections.
func (srv *Server) Close() error { return srv.s.Close() }

// ServeConn runs one SMTP session on an existing connection (sendmail -bs
// on stdin and stdout) and returns when it ends.
func (srv *Server) ServeConn(c net.Conn) error {
	l := &oneConn{c: newCmdFilter(c), done: make(chan struct{})}
	go func() {
		<-l.done
		srv.s.Close()
	}()
	err := srv.s.Serve(l)
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// NewSession implements smtp.Backend.
func (srv *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	remote := "local"
	if a := c.Conn().RemoteAddr(); a != nil {
		remote = a.String()
	}
	if g, ok := c.Conn().(interface{ markGreeted() }); ok {
		g.markGreeted()
	}
	return &session{srv: srv, helo: headerSafe(c.Hostname()), remote: headerSafe(remote)}, nil
}

type session struct {
	srv    *Server
	helo   string
	remote string
	env    *bsmtp.Envelope
}

func (s *session) Reset()        { s.env = nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, o *smtp.MailOptions) error {
	if from != "" {
		if err := bsmtp.CheckAddress(from); err != nil {
			return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "bad sender address"}
		}
	}
	env := &bsmtp.Envelope{From: from}
	if o != nil {
		if o.Size > s.srv.opt.MaxMessageBytes {
			return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "message too big"}
		}
		if o.Body != "" {
			env.Params = append(env.Params, bsmtp.Param{Key: "BODY", Value: string(o.Body)})
		}
		if o.Return != "" {
			env.Params = append(env.Params, bsmtp.Param{Key: "RET", Value: string(o.Return)})
		}
		if o.EnvelopeID != "" {
			env.Params = append(env.Params, bsmtp.Param{Key: "ENVID", Value: xtext(o.EnvelopeID)})
		}
		if o.UTF8 {
			env.Params = append(env.Params, bsmtp.Param{Key: "SMTPUTF8"})
		}
	}
	s.env = env
	return nil
}

func (s *session) Rcpt(to string, o *smtp.RcptOptions) error {
	if s.env == nil {
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "MAIL first"}
	}
	if isPostmaster(to) {
		// RFC 5321 4.5.1: "postmaster" without a domain must be accepted.
		to = "postmaster"
		if pm := s.srv.m.Mail.Postmaster; pm != "" {
			to = pm
		}
	}
	to = s.srv.m.Qualify(to)
	if err := bsmtp.CheckAddress(to); err != nil {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "bad recipient address"}
	}
	// Refuse now what can never be delivered, rather than bounce later.
	if r := s.srv.m.Route(to); r.Kind == mta.RouteNone {
		code, enh := 550, smtp.EnhancedCode{5, 1, 2}
		if errors.Is(r.Err, mta.ErrUnknownUser) {
			enh = smtp.EnhancedCode{5, 1, 1}
		}
		return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: r.Err.Error()}
	}
	for _, have := range s.env.To {
		if sameMailbox(have, to) {
			return nil // given twice: delivered once
		}
	}
	if len(s.env.To) >= s.srv.opt.MaxRcpt {
		return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "too many recipients"}
	}
	var ps []bsmtp.Param
	if o != nil {
		if len(o.Notify) > 0 {
			n := make([]string, len(o.Notify))
			for i, v := range o.Notify {
				n[i] = string(v)
			}
			ps = append(ps, bsmtp.Param{Key: "NOTIFY", Value: strings.Join(n, ",")})
		}
		if o.OriginalRecipient != "" {
			ps = append(ps, bsmtp.Param{Key: "ORCPT", Value: string(o.OriginalRecipientType) + ";" + xtext(o.OriginalRecipient)})
		}
	}
	s.env.To = append(s.env.To, to)
	s.env.RcptParams = append(s.env.RcptParams, ps)
	return nil
}

func (s *session) Data(r io.Reader) error {
	if s.env == nil || len(s.env.To) == 0 {
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "RCPT first"}
	}
	f, err := os.CreateTemp(s.srv.opt.TmpDir, "smtpd-*")
	if err != nil {
		return tempErr(err)
	}
	os.Remove(f.Name())
	defer f.Close()
	rcvd := fmt.Sprintf("Received: from %s (%s)\n\tby %s (ferry) with SMTP;\n\t%s\n",
		s.helo, s.remote, s.srv.m.Domain(), s.srv.opt.Now().Format(time.RFC1123Z))
	// Stored with LF line ends, as everything else ferry queues and
	// Maildir expects; SMTP's CRLF is the wire's, not the message's.
	n, err := io.Copy(f, io.MultiReader(strings.NewReader(rcvd), newCRLFToLF(r)))
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se
		}
		return tempErr(err)
	}
	msg := &mta.Message{Env: s.env, Size: n, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(f, 0, n)), nil
	}}
	s.srv.mu.Lock()
	_, err = s.srv.m.Submit(msg, mta.SubmitOptions{})
	s.srv.mu.Unlock()
	if err != nil {
		if mta.IsPermanent(err) {
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 0, 0}, Message: err.Error()}
		}
		return tempErr(err)
	}
	return nil
}

// isPostmaster reports whether a RCPT address is the unqualified
// postmaster (as cmdFilter hands it on).
func isPostmaster(to string) bool {
	local, domain, ok := strings.Cut(to, "@")
	return ok && domain == postmasterDomain && strings.EqualFold(local, "postmaster")
}

// headerSafe makes a client's word (its HELO name) fit for a header
// comment: at most 255 bytes, and printable ASCII without parentheses,
// backslashes or spaces; anything else (CR, LF, NUL, controls, 8-bit)
// becomes '?'. "" becomes "unknown".
func headerSafe(s string) string {
	if len(s) > 255 {
		s = s[:255]
	}
	if s == "" {
		return "unknown"
	}
	b := []byte(s)
	for i, c := range b {
		if c <= ' ' || c >= 0x7f || c == '(' || c == ')' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}

// sameMailbox compares two addresses, the domain without regard to case
// (the local part is the receiving system's: case is kept).
func sameMailbox(a, b string) bool {
	split := func(s string) (string, string) {
		if i := strings.LastIndexByte(s, '@'); i >= 0 {
			return s[:i], s[i+1:]
		}
		return s, ""
	}
	la, da := split(a)
	lb, db := split(b)
	return la == lb && strings.EqualFold(da, db)
}

func tempErr(err error) error {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "not queued, try again later: " + err.Error()}
}

// xtext encodes s as RFC 3461 xtext.
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// oneConn is a listener that yields one connection, then reports closed
// once that connection is done.
type oneConn struct {
	c    net.Conn
	once sync.Once
	done chan struct{}
	used bool
	mu   sync.Mutex
}

func (l *oneConn) Accept() (net.Conn, error) {
	l.mu.Lock()
	if !l.used {
		l.used = true
		l.mu.Unlock()
		return &notifyConn{Conn: l.c, l: l}, nil
	}
	l.mu.Unlock()
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConn) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConn) Addr() net.Addr { return stdioAddr{} }

type notifyConn struct {
	net.Conn
	l *oneConn
}

func (c *notifyConn) Close() error {
	err := c.Conn.Close()
	c.l.Close()
	return err
}

type stdioAddr struct{}

func (stdioAddr) Network() string { return "stdio" }
func (stdioAddr) String() string  { return "stdio" }

// crlfToLF turns CRLF line ends into LF (a lone CR is kept).
type crlfToLF struct{ r *bufio.Reader }

func newCRLFToLF(r io.Reader) *crlfToLF { return &crlfToLF{r: bufio.NewReaderSize(r, 64<<10)} }

func (c *crlfToLF) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		b, err := c.r.ReadByte()
		if err != nil {
			return n, err
		}
		if b == '\r' {
			if next, err := c.r.Peek(1); err == nil && next[0] == '\n' {
				continue
			}
		}
		p[n] = b
		n++
	}
	return n, nil
}
