package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"ferry/internal/mail/mta"
	"ferry/internal/mail/smtpd"
)

func init() {
	register("smtpd", &command{summary: "SMTP listener (127.0.0.1:2525 by default) that queues mail like sendmail", run: runSmtpd})
}

func runSmtpd(x *ctx, args []string) error {
	fs := x.flags("[-listen ADDR]")
	listen := fs.String("listen", "", "Address to listen on (default: mail.listen, or 127.0.0.1:2525)")
	queueEvery := fs.Duration("q", 15*time.Minute, "Run the mail queue this often (0: never)")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	m, err := x.mailSetup("")
	if err != nil {
		return err
	}
	addr := *listen
	if addr == "" {
		addr = m.Mail.Listen
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	lim := m.Mail.SMTPD
	srv := smtpd.New(m, smtpd.Options{Domain: m.Domain(), TmpDir: x.spool.TmpDir(), MaxRcpt: m.Mail.MaxRcpt,
		MaxConn: lim.MaxConn, MaxConnPerIP: lim.MaxConnPerIP, GreetingTimeout: lim.GreetingTimeout, Timeout: lim.Timeout,
		ErrorLog: x.smtpdErrorLog})
	x.log.info("smtpd", []kv{{"Addr", l.Addr().String()}}, "SMTP listener on "+l.Addr().String())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Close()
	}()
	// Say once a minute how many clients the caps turned away.
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		var seen int64
		for range t.C {
			st := srv.Stats()
			if n := st.Refused - seen; n > 0 {
				x.log.info("smtpd-refused", []kv{{"Count", itoa(n)}, {"Open", itoa(int64(st.Open))}},
					fmt.Sprintf("SMTP: %d connections refused in the last minute (too many; %d open, mail.smtpd.max-conn %d)", n, st.Open, lim.MaxConn))
			}
			seen = st.Refused
		}
	}()
	if *queueEvery > 0 {
		go func() {
			t := time.NewTicker(*queueEvery)
			defer t.Stop()
			for range t.C {
				m.RunQueue()
			}
		}()
	}
	return srv.Serve(l)
}

// smtpdErrorLog logs what the SMTP library reports (a connection ended
// by an I/O error, a panic in a session).
func (x *ctx) smtpdErrorLog(msg string) {
	x.log.fail("smtpd-error", nil, errors.New(msg), "SMTP: "+msg)
}

// smtpStdio runs one SMTP session on stdin and stdout (sendmail -bs).
func (x *ctx) smtpStdio(m *mta.MTA) error {
	srv := smtpd.New(m, smtpd.Options{Domain: m.Domain(), TmpDir: x.spool.TmpDir(), MaxRcpt: m.Mail.MaxRcpt,
		ErrorLog: x.smtpdErrorLog})
	return srv.ServeConn(&stdioConn{r: x.Stdin, w: x.Stdout})
}

// stdioConn is a net.Conn over stdin and stdout.
type stdioConn struct {
	r io.Reader
	w io.Writer
}

func (c *stdioConn) Read(p []byte) (int, error)         { return c.r.Read(p) }
func (c *stdioConn) Write(p []byte) (int, error)        { return c.w.Write(p) }
func (c *stdioConn) Close() error                       { return nil }
func (c *stdioConn) LocalAddr() net.Addr                { return stdioAddr{} }
func (c *stdioConn) RemoteAddr() net.Addr               { return stdioAddr{} }
func (c *stdioConn) SetDeadline(t time.Time) error      { return nil }
func (c *stdioConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *stdioConn) SetWriteDeadline(t time.Time) error { return nil }

type stdioAddr struct{}

func (stdioAddr) Network() string { return "stdio" }
func (stdioAddr) String() string  { return "stdio" }
