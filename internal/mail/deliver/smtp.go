package deliver

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode says how SMTP protects the connection.
type TLSMode int

const (
	// TLSOpportunistic (the zero value, Exim's and Postfix's "may"):
	// STARTTLS when the server offers it, plaintext when it does not or
	// when it refuses the STARTTLS command. Without a TLSConfig the
	// certificate is not verified (encryption against passive listeners
	// only); with one, it is, and a failed handshake is a temporary error.
	TLSOpportunistic TLSMode = iota
	// TLSNone: plaintext, STARTTLS is never tried.
	TLSNone
	// TLSStartTLS: STARTTLS is required and the certificate verified; a
	// server that does not offer it gets a temporary error (ErrNoSTARTTLS)
	// and nothing is sent.
	TLSStartTLS
	// TLSImplicit: TLS from the first byte (port 465, "smtps").
	TLSImplicit
)

// SMTP relays messages to one server (a smarthost) in one transaction per
// message: MAIL FROM (with SIZE when the server advertises it), one RCPT
// per recipient, DATA.
//
// Outcomes:
//
//   - a RCPT reply decides for that recipient: 5xx permanent, 4xx
//     temporary; the others go on;
//   - the DATA replies (354, then the one after the final dot) decide for
//     every recipient the server accepted; a recipient is delivered only
//     on 250 after the final dot;
//   - a 5xx reply to MAIL is permanent for all, except 530 (authentication
//     required: the relay's configuration, see AUTH below); 421 anywhere, a lost
//     connection, a timeout, and any failure before MAIL (connecting, the
//     greeting, EHLO, TLS, AUTH) are temporary for all that are not decided
//     yet: they are about the server, not the message;
//   - a message that cannot be read whole aborts the connection before the
//     final dot, so the server never accepts a truncated message.
//
// AUTH: with Username set, AUTH PLAIN (or LOGIN when PLAIN is not
// offered) is done after TLS; over plaintext only with AuthWithoutTLS.
// A refused AUTH (535 5.7.8) is made temporary, 454 4.7.8, with the
// server's words in Reply, like Postfix's smtp_sasl_auth_soft_bounce: bad
// credentials are the relay's configuration, not the message's fault, and
// mail waits in the queue until an administrator fixes them instead of
// bouncing. Missing TLS or a missing mechanism is temporary too (ErrAuth).
// TLSOpportunistic without a TLSConfig does not verify the certificate, so
// a smarthost that gets a password should use TLSStartTLS or TLSImplicit.
//
// 8BITMIME: go-smtp's client adds BODY=8BITMIME to MAIL whenever the
// server advertises 8BITMIME, whatever the message holds (RFC 6152 allows
// it). A message with 8-bit bytes is sent as it is to a server that lacks
// 8BITMIME too (no MIME down-conversion; almost every server takes it);
// Result.Info notes it. Addresses with UTF-8 need SMTPUTF8: without it a
// UTF-8 recipient fails for good (553 5.6.7), a UTF-8 sender fails all.
type SMTP struct {
	// Addr is the server, "host:port".
	Addr string
	// TLS mode; the zero value is TLSOpportunistic.
	TLS TLSMode
	// TLSConfig for the handshake; nil means the system roots. Its
	// ServerName defaults to Addr's host.
	TLSConfig *tls.Config
	// Username and Password for AUTH; no AUTH when Username is "".
	Username, Password string
	// AuthWithoutTLS allows AUTH over a connection without TLS.
	AuthWithoutTLS bool
	// Helo is the name in EHLO; "" means os.Hostname().
	Helo string
	// Timeout limits connecting and every read and write; 0 means 5
	// minutes (RFC 5321 section 4.5.3.2).
	Timeout time.Duration
	// DataTimeout limits the wait for the reply to the final dot; 0 means
	// 10 minutes (RFC 5321 section 4.5.3.2.6).
	DataTimeout time.Duration
	// Dial, if set, makes the connection instead of a net.Dialer limited
	// by Timeout; Timeout still limits every read and write on it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Deliver sends msg to all rcpts in one transaction.
func (s SMTP) Deliver(ctx context.Context, msg *Message, rcpts []string) []Result {
	out := results(rcpts, nil)
	if len(rcpts) == 0 {
		return out
	}
	if err := checkEnvelope(msg.From); err != nil {
		return results(rcpts, err)
	}
	var pending []int
	for i, r := range rcpts {
		if err := checkEnvelope("", r); err != nil {
			out[i].Err = err
		} else {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return out
	}
	set := func(idx []int, err *Error) {
		if err == nil {
			return // no typed nil in Result.Err
		}
		for _, i := range idx {
			out[i].Err = err
		}
	}

	sess, err := s.connect(ctx)
	if err != nil {
		set(pending, err)
		return out
	}
	defer sess.close()

	// MAIL.
	opts, pending := sess.mailOptions(msg, rcpts, pending, out)
	if len(pending) == 0 {
		return out
	}
	if err := sess.c.Mail(msg.From, opts); err != nil {
		e := sess.fail("MAIL FROM:<"+msg.From+">", err)
		if e.Code == 530 { // authentication required: the relay's configuration
			e = soften(e, 451)
		}
		set(pending, e)
		return out
	}

	// RCPT.
	var accepted []int
	for k, i := range pending {
		err := sess.c.Rcpt(rcpts[i], nil)
		if err == nil {
			accepted = append(accepted, i)
			continue
		}
		e := sess.fail("RCPT TO:<"+rcpts[i]+">", err)
		if e.Code == 421 || e.Reply == "" {
			set(accepted, e) // the connection is gone
			set(pending[k:], e)
			return out
		}
		out[i].Err = e
	}
	if len(accepted) == 0 {
		sess.c.Quit()
		return out
	}

	// DATA.
	info, e := sess.data(ctx, msg)
	set(accepted, e)
	if e == nil {
		for _, i := range accepted {
			out[i].Info = info
		}
	}
	return out
}

// mailOptions returns the MAIL parameters and the recipients that can be
// sent, after checking the size limit and SMTPUTF8; it sets the errors of
// the others in out.
func (sess *session) mailOptions(msg *Message, rcpts []string, pending []int, out []Result) (*smtp.MailOptions, []int) {
	c := sess.c
	opts := &smtp.MailOptions{Size: msg.Size}
	if max, ok := c.MaxMessageSize(); ok && max > 0 && msg.Size > int64(max) {
		e := newError(552, "5.3.4", nil, "the message has %d bytes, %s takes at most %d", msg.Size, sess.host, max)
		e.RemoteMTA = sess.host
		for _, i := range pending {
			out[i].Err = e
		}
		return nil, nil
	}
	utf8, _ := c.Extension("SMTPUTF8")
	if !isASCII(msg.From) && !utf8 {
		e := newError(553, "5.6.7", nil, "%s does not support SMTPUTF8, needed for sender %s", sess.host, msg.From)
		e.RemoteMTA = sess.host
		for _, i := range pending {
			out[i].Err = e
		}
		return nil, nil
	}
	var ok []int
	for _, i := range pending {
		if isASCII(rcpts[i]) {
			ok = append(ok, i)
			continue
		}
		if !utf8 {
			out[i].Err = &Error{Code: 553, Enhanced: "5.6.7", RemoteMTA: sess.host,
				Text: fmt.Sprintf("%s does not support SMTPUTF8, needed for recipient %s", sess.host, rcpts[i])}
			continue
		}
		opts.UTF8 = true
		ok = append(ok, i)
	}
	if !isASCII(msg.From) {
		opts.UTF8 = true
	}
	return opts, ok
}

// data sends the message and returns the server's 250 reply.
func (sess *session) data(ctx context.Context, msg *Message) (string, *Error) {
	src, serr := openSource(ctx, msg)
	if serr != nil {
		return "", serr
	}
	defer src.Close()
	src.scan8 = true
	wc, err := sess.c.Data()
	if err != nil {
		return "", sess.fail("DATA", err)
	}
	_, err = io.Copy(wc, src)
	bad := src.failed()
	if bad == nil && err == nil {
		bad = src.short(msg.Size)
	}
	if bad != nil {
		// No final dot: the server must not take what it got for the
		// message.
		sess.c.Close()
		return "", bad
	}
	if err != nil {
		return "", sess.fail("sending the message", err)
	}
	sess.dc.setTimeout(sess.dataTimeout)
	resp, err := wc.CloseWithResponse()
	sess.dc.setTimeout(sess.timeout)
	if err != nil {
		return "", sess.fail("end of data", err)
	}
	info := "smtp " + sess.host + " said: 250 " + oneLine(resp.StatusText)
	if src.high {
		if ok, _ := sess.c.Extension("8BITMIME"); !ok {
			info += "; note: 8-bit message sent to a server without 8BITMIME"
		}
	}
	sess.c.Quit()
	return info, nil
}

// connect dials, greets, sets up TLS and authenticates.
func (s SMTP) connect(ctx context.Context) (*session, *Error) {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return nil, newError(451, "4.3.5", err, "smtp: bad address %q: %v", s.Addr, err)
	}
	sess := &session{ctx: ctx, host: host, timeout: s.Timeout, dataTimeout: s.DataTimeout, dialFunc: s.Dial}
	if sess.timeout <= 0 {
		sess.timeout = 5 * time.Minute
	}
	if sess.dataTimeout <= 0 {
		sess.dataTimeout = 10 * time.Minute
	}
	helo := s.Helo
	if helo == "" {
		helo, _ = os.Hostname()
		if helo == "" {
			helo = "localhost"
		}
	}
	conn, e := sess.dial(s.Addr)
	if e != nil {
		return nil, e
	}
	ok := false
	defer func() {
		if !ok {
			sess.close()
		}
	}()
	switch s.TLS {
	case TLSImplicit:
		if conn, e = sess.handshake(conn, s.tlsConfig(host)); e != nil {
			return nil, e
		}
	case TLSStartTLS, TLSOpportunistic:
		if conn, e = sess.startTLS(conn, helo, s.tlsConfig(host), s.TLS == TLSStartTLS); e != nil {
			return nil, e
		}
	}
	sess.c = smtp.NewClient(conn)
	sess.c.CommandTimeout, sess.c.SubmissionTimeout = sess.timeout, sess.dataTimeout
	if err := sess.c.Hello(helo); err != nil {
		return nil, sess.connFail("EHLO", err)
	}
	if s.Username != "" {
		if e := sess.auth(s.Username, s.Password, s.AuthWithoutTLS); e != nil {
			return nil, e
		}
	}
	ok = true
	return sess, nil
}

// tlsConfig returns the configuration for the handshake with host.
func (s SMTP) tlsConfig(host string) *tls.Config {
	var cfg *tls.Config
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{InsecureSkipVerify: s.TLS == TLSOpportunistic}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}

// auth authenticates with PLAIN or LOGIN.
func (sess *session) auth(user, pass string, withoutTLS bool) *Error {
	fail := func(format string, args ...any) *Error {
		e := newError(451, "4.7.0", ErrAuth, format, args...)
		e.RemoteMTA = sess.host
		return e
	}
	if !sess.tls && !withoutTLS {
		e := fail("smtp %s: no TLS, and AUTH without TLS is not allowed", sess.host)
		e.Enhanced = "4.7.11"
		return e
	}
	var a sasl.Client
	switch {
	case sess.c.SupportsAuth(sasl.Plain):
		a = sasl.NewPlainClient("", user, pass)
	case sess.c.SupportsAuth(sasl.Login):
		a = sasl.NewLoginClient(user, pass)
	default:
		return fail("smtp %s offers neither AUTH PLAIN nor AUTH LOGIN", sess.host)
	}
	err := sess.c.Auth(a)
	if err == nil {
		return nil
	}
	e := sess.connFail("AUTH", err)
	e.Err = fmt.Errorf("%w: %w", ErrAuth, err)
	return e
}
