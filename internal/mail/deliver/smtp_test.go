package deliver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

const smtpBody = "Subject: test\n\nFrom the start\n.\n..two dots\ncaf\xc3\xa9\nno final newline"

// crlf is what the server receives for an LF message.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\n", "\r\n")
	if !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return s
}

func TestSMTPDelivered(t *testing.T) {
	be := &backend{}
	srv, addr := serve(t, be, nil, false, nil)
	rcpts := []string{"bob@x.example", "carol@y.example"}
	res := SMTP{Addr: addr, TLS: TLSNone, Helo: "hub.example"}.Deliver(context.Background(), bytesMessage("alice@sat.example", smtpBody), rcpts)
	for i, r := range res {
		if r.Rcpt != rcpts[i] || r.Err != nil || !strings.Contains(r.Info, "said: 250 ") {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	shutdown(t, srv)
	got := be.received()
	if len(got) != 1 {
		t.Fatalf("server got %d messages", len(got))
	}
	m := got[0]
	if m.from != "alice@sat.example" || !reflect.DeepEqual(m.to, rcpts) || m.data != crlf(smtpBody) {
		t.Errorf("server got %+v", m)
	}
	if m.opts.Size != int64(len(smtpBody)) || m.opts.Body != smtp.Body8BitMIME {
		t.Errorf("MAIL options %+v", m.opts)
	}
}

func TestSMTPRecipientRejected(t *testing.T) {
	be := &backend{rejectRcpt: map[string]*smtp.SMTPError{
		"nobody@x.example": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"},
		"later@x.example":  {Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"},
		"bare@x.example":   {Code: 553, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "Nope"},
	}}
	srv, addr := serve(t, be, nil, false, nil)
	rcpts := []string{"nobody@x.example", "bob@x.example", "later@x.example", "bare@x.example"}
	res := SMTP{Addr: addr, TLS: TLSNone}.Deliver(context.Background(), bytesMessage("alice@sat.example", smtpBody), rcpts)
	e := wantErr(t, res[0].Err, false, 550, "5.1.1")
	if e.Diagnostic() != "smtp; 550 5.1.1 No such user" || e.RemoteMTA != "127.0.0.1" {
		t.Errorf("diagnostic %q, remote %q", e.Diagnostic(), e.RemoteMTA)
	}
	if res[1].Err != nil {
		t.Fatal(res[1].Err)
	}
	wantErr(t, res[2].Err, true, 452, "4.2.2")
	// go-smtp's server adds X.0.0 itself when the backend gives none.
	wantErr(t, res[3].Err, false, 553, "5.0.0")
	shutdown(t, srv)
	if got := be.received(); len(got) != 1 || !reflect.DeepEqual(got[0].to, []string{"bob@x.example"}) {
		t.Errorf("server got %+v", got)
	}
}

func TestSMTPDataRejected(t *testing.T) {
	for _, tt := range []struct {
		err       *smtp.SMTPError
		temporary bool
	}{
		{&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try later"}, true},
		{&smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Spam"}, false},
	} {
		be := &backend{dataErr: tt.err}
		_, addr := serve(t, be, nil, false, nil)
		res := SMTP{Addr: addr, TLS: TLSNone}.Deliver(context.Background(), bytesMessage("", smtpBody), []string{"a@x.example", "b@x.example"})
		for _, r := range res {
			e := wantErr(t, r.Err, tt.temporary, tt.err.Code, "")
			if !strings.Contains(e.Reply, tt.err.Message) || !strings.Contains(e.Text, "end of data") {
				t.Errorf("error %v", e)
			}
		}
	}
}

func TestSMTPConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	res := SMTP{Addr: addr}.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"a@x.example", "b@x.example"})
	for _, r := range res {
		e := wantErr(t, r.Err, true, 451, "4.4.1")
		if !strings.Contains(e.Text, "connection refused") || e.Reply != "" {
			t.Errorf("error %v", e)
		}
	}
}

func TestSMTPStartTLSRequiredNotOffered(t *testing.T) {
	be := &backend{}
	srv, addr := serve(t, be, nil, false, nil)
	res := SMTP{Addr: addr, TLS: TLSStartTLS}.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"a@x.example"})
	e := wantErr(t, res[0].Err, true, 451, "4.7.10")
	if !errors.Is(e, ErrNoSTARTTLS) || !strings.Contains(e.Error(), "does not offer STARTTLS") {
		t.Errorf("error %v", e)
	}
	shutdown(t, srv)
	if len(be.received()) != 0 {
		t.Error("message sent without TLS")
	}
}

func TestSMTPStartTLSAuth(t *testing.T) {
	cfg, pool := selfSigned(t)
	be := &backend{user: "hub", pass: "secret"}
	srv, addr := serve(t, be, cfg, false, nil)
	s := SMTP{Addr: addr, TLS: TLSStartTLS, TLSConfig: &tls.Config{RootCAs: pool}, Username: "hub", Password: "secret"}
	res := s.Deliver(context.Background(), bytesMessage("alice@sat.example", smtpBody), []string{"bob@x.example"})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	shutdown(t, srv)
	got := be.received()
	if len(got) != 1 || !got[0].tls || got[0].user != "hub" || got[0].data != crlf(smtpBody) {
		t.Errorf("server got %+v", got)
	}
}

func TestSMTPCertificateRefused(t *testing.T) {
	cfg, _ := selfSigned(t)
	be := &backend{}
	_, addr := serve(t, be, cfg, false, nil)
	res := SMTP{Addr: addr, TLS: TLSStartTLS}.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"a@x.example"})
	e := wantErr(t, res[0].Err, true, 451, "4.7.0")
	if !strings.Contains(e.Text, "TLS handshake") {
		t.Errorf("error %v", e)
	}
}

// TestSMTPAuthRefused: a 535 is deferred, not bounced (see SMTP's doc).
func TestSMTPAuthRefused(t *testing.T) {
	cfg, pool := selfSigned(t)
	be := &backend{user: "hub", pass: "secret"}
	_, addr := serve(t, be, cfg, false, nil)
	s := SMTP{Addr: addr, TLS: TLSStartTLS, TLSConfig: &tls.Config{RootCAs: pool}, Username: "hub", Password: "wrong"}
	res := s.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"a@x.example", "b@x.example"})
	for _, r := range res {
		e := wantErr(t, r.Err, true, 454, "4.7.8")
		if !errors.Is(e, ErrAuth) || e.Diagnostic() != "smtp; 535 5.7.8 Authentication failed" {
			t.Errorf("error %v, diagnostic %q", e, e.Diagnostic())
		}
	}
}

// TestSMTPAuthRequired: a 530 to MAIL (no credentials configured) is
// deferred like a refused AUTH.
func TestSMTPAuthRequired(t *testing.T) {
	be := &backend{user: "hub", pass: "secret"}
	_, addr := serve(t, be, nil, false, func(s *smtp.Server) { s.AllowInsecureAuth = true })
	res := SMTP{Addr: addr, TLS: TLSNone}.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"a@x.example"})
	if e := wantErr(t, res[0].Err, true, 451, "4.7.0"); e.Reply != "530 5.7.0 Authentication required" {
		t.Errorf("error %v", e)
	}
}

func TestSMTPAuthNeedsTLS(t *testing.T) {
	be := &backend{user: "hub", pass: "secret"}
	srv, addr := serve(t, be, nil, false, func(s *smtp.Server) { s.AllowInsecureAuth = true })
	s := SMTP{Addr: addr, TLS: TLSOpportunistic, Username: "hub", Password: "secret"}
	res := s.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"a@x.example"})
	if e := wantErr(t, res[0].Err, true, 451, "4.7.11"); !errors.Is(e, ErrAuth) {
		t.Errorf("error %v", e)
	}
	s.AuthWithoutTLS = true
	if res := s.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"a@x.example"}); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	shutdown(t, srv)
	if got := be.received(); len(got) != 1 || got[0].user != "hub" || got[0].tls {
		t.Errorf("server got %+v", got)
	}
}

func TestSMTPOpportunistic(t *testing.T) {
	cfg, _ := selfSigned(t)
	for _, withTLS := range []bool{true, false} {
		be := &backend{}
		var srvCfg *tls.Config
		if withTLS {
			srvCfg = cfg
		}
		srv, addr := serve(t, be, srvCfg, false, nil)
		res := SMTP{Addr: addr}.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"a@x.example"})
		if res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
		shutdown(t, srv)
		if got := be.received(); len(got) != 1 || got[0].tls != withTLS {
			t.Errorf("server offering TLS %v got %+v", withTLS, got)
		}
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	cfg, pool := selfSigned(t)
	be := &backend{}
	srv, addr := serve(t, be, cfg, true, nil)
	s := SMTP{Addr: addr, TLS: TLSImplicit, TLSConfig: &tls.Config{RootCAs: pool}}
	if res := s.Deliver(context.Background(), bytesMessage("", smtpBody), []string{"a@x.example"}); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	shutdown(t, srv)
	if got := be.received(); len(got) != 1 || got[0].data != crlf(smtpBody) {
		t.Errorf("server got %+v", got)
	}
}

// TestSMTPReaderFails: the connection is dropped before the final dot.
func TestSMTPReaderFails(t *testing.T) {
	be := &backend{}
	srv, addr := serve(t, be, nil, false, nil)
	res := SMTP{Addr: addr, TLS: TLSNone}.Deliver(context.Background(), failingMessage("Subject: x\n\n"+strings.Repeat("line\n", 50000)), []string{"a@x.example"})
	if e := wantErr(t, res[0].Err, true, 451, "4.3.0"); !errors.Is(e, ErrReadMessage) {
		t.Errorf("error %v", e)
	}
	shutdown(t, srv)
	if len(be.received()) != 0 {
		t.Error("the server accepted a truncated message")
	}
}

func TestSMTPTooBig(t *testing.T) {
	be := &backend{}
	_, addr := serve(t, be, nil, false, func(s *smtp.Server) { s.MaxMessageBytes = 10 })
	res := SMTP{Addr: addr, TLS: TLSNone}.Deliver(context.Background(), bytesMessage("", smtpBody), []string{"a@x.example"})
	wantErr(t, res[0].Err, false, 552, "5.3.4")
}

func TestSMTPUTF8(t *testing.T) {
	be := &backend{}
	_, addr := serve(t, be, nil, false, nil) // no SMTPUTF8
	res := SMTP{Addr: addr, TLS: TLSNone}.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"jos\u00e9@x.example", "a@x.example"})
	wantErr(t, res[0].Err, false, 553, "5.6.7")
	if res[1].Err != nil {
		t.Fatal(res[1].Err)
	}
	be2 := &backend{}
	_, addr = serve(t, be2, nil, false, func(s *smtp.Server) { s.EnableSMTPUTF8 = true })
	res = SMTP{Addr: addr, TLS: TLSNone}.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"jos\u00e9@x.example"})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
}

// TestSMTPNo8BitMIME: a server without 8BITMIME gets the 8-bit message as
// it is, without BODY=, and the result notes it.
func TestSMTPNo8BitMIME(t *testing.T) {
	var mail, data string
	addr, done := scripted(t, func(tp *textproto.Conn) error {
		tp.PrintfLine("220 old.test ESMTP")
		if _, err := expect(tp, "EHLO "); err != nil {
			return err
		}
		tp.PrintfLine("250-old.test\r\n250 SIZE 1000000")
		var err error
		if mail, err = expect(tp, "MAIL FROM:"); err != nil {
			return err
		}
		tp.PrintfLine("250 ok")
		if _, err := expect(tp, "RCPT TO:"); err != nil {
			return err
		}
		tp.PrintfLine("250 ok")
		if _, err := expect(tp, "DATA"); err != nil {
			return err
		}
		tp.PrintfLine("354 go")
		b, err := tp.ReadDotBytes()
		if err != nil {
			return err
		}
		data = string(b)
		tp.PrintfLine("250 queued as 42")
		expect(tp, "QUIT")
		tp.PrintfLine("221 bye")
		return nil
	})
	res := SMTP{Addr: addr, TLS: TLSNone}.Deliver(context.Background(), bytesMessage("a@sat.example", smtpBody), []string{"b@x.example"})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if !strings.Contains(res[0].Info, "250 queued as 42") || !strings.Contains(res[0].Info, "without 8BITMIME") {
		t.Errorf("info %q", res[0].Info)
	}
	if strings.Contains(mail, "BODY=") || !strings.Contains(mail, "SIZE=") {
		t.Errorf("MAIL line %q", mail)
	}
	// ReadDotBytes turns CRLF into LF.
	if want := smtpBody + "\n"; data != want {
		t.Errorf("data %q, want %q", data, want)
	}
}

// TestSMTPAuthLogin: LOGIN when the server offers no PLAIN.
func TestSMTPAuthLogin(t *testing.T) {
	var authLine, passLine string
	addr, done := scripted(t, func(tp *textproto.Conn) error {
		tp.PrintfLine("220 login.test ESMTP")
		expect(tp, "EHLO ")
		tp.PrintfLine("250-login.test\r\n250 AUTH LOGIN CRAM-MD5")
		var err error
		if authLine, err = expect(tp, "AUTH LOGIN "); err != nil {
			return err
		}
		tp.PrintfLine("334 UGFzc3dvcmQ6") // "Password:"
		if passLine, err = tp.ReadLine(); err != nil {
			return err
		}
		tp.PrintfLine("235 2.7.0 ok")
		expect(tp, "MAIL FROM:<>")
		tp.PrintfLine("250 ok")
		expect(tp, "RCPT TO:<a@x.example>")
		tp.PrintfLine("250 ok")
		expect(tp, "DATA")
		tp.PrintfLine("354 go")
		tp.ReadDotBytes()
		tp.PrintfLine("250 ok")
		expect(tp, "QUIT")
		tp.PrintfLine("221 bye")
		return nil
	})
	s := SMTP{Addr: addr, TLS: TLSNone, Username: "hub", Password: "secret", AuthWithoutTLS: true}
	res := s.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"a@x.example"})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if authLine != "AUTH LOGIN aHVi" || passLine != "c2VjcmV0" {
		t.Errorf("AUTH %q, password %q", authLine, passLine)
	}
}

// TestSMTP421: a 421 to RCPT ends the transaction for everyone.
func TestSMTP421(t *testing.T) {
	addr, done := scripted(t, func(tp *textproto.Conn) error {
		tp.PrintfLine("220 busy.test ESMTP")
		expect(tp, "EHLO ")
		tp.PrintfLine("250 busy.test")
		expect(tp, "MAIL FROM:")
		tp.PrintfLine("250 ok")
		expect(tp, "RCPT TO:")
		tp.PrintfLine("250 ok")
		expect(tp, "RCPT TO:")
		tp.PrintfLine("421 4.3.2 shutting down")
		return nil
	})
	res := SMTP{Addr: addr, TLS: TLSNone}.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"a@x.example", "b@x.example", "c@x.example"})
	<-done
	for _, r := range res {
		wantErr(t, r.Err, true, 421, "4.3.2")
	}
}

// TestSMTPSilentServer: a server that never answers is a timeout. The
// connection is made by the test (no timeout on connecting, however slow
// the machine), so the client's 100 ms can only run out waiting for a
// greeting that never comes; the server sees the client give up: it
// closes the connection without having sent a line.
func TestSMTPSilentServer(t *testing.T) {
	silent := func(tp *textproto.Conn) error {
		line, err := tp.ReadLine() // until the client gives up
		if err == nil {
			return fmt.Errorf("the client sent %q before any greeting", line)
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("want the client to close the connection, got %w", err)
		}
		return nil
	}
	for _, mode := range []TLSMode{TLSNone, TLSOpportunistic} {
		addr, done := scripted(t, silent)
		connected := make(chan struct{})
		dial := func(ctx context.Context, network, a string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, a)
			close(connected)
			return c, err
		}
		res := SMTP{Addr: addr, TLS: mode, Timeout: 100 * time.Millisecond, Dial: dial}.Deliver(context.Background(), bytesMessage("", "x\n"), []string{"a@x.example"})
		select {
		case <-connected:
		default:
			t.Fatalf("%v: Deliver returned without dialling", mode)
		}
		if e := wantErr(t, res[0].Err, true, 451, "4.4.2"); !errors.Is(e, ErrTimeout) {
			t.Errorf("%v: error %v, want a timeout", mode, e)
		}
		if err := <-done; err != nil {
			t.Errorf("%v: server: %v", mode, err)
		}
	}
}

func TestSMTPCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := scripted(t, func(tp *textproto.Conn) error {
		cancel() // the client is waiting for the greeting
		_, err := tp.ReadLine()
		return err
	})
	res := SMTP{Addr: addr, TLS: TLSNone}.Deliver(ctx, bytesMessage("", "x\n"), []string{"a@x.example"})
	<-done
	e := wantErr(t, res[0].Err, true, 451, "")
	if !errors.Is(e, context.Canceled) {
		t.Errorf("error %v", e)
	}
}
