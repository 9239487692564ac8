package mailtest

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// smtpServer is a tiny SMTP server on 127.0.0.1 standing for the
// Internet beyond the hub's relay: it records what it accepts, refuses
// some recipients for good and answers 451 to others a number of times.
type smtpServer struct {
	Addr string

	mu       sync.Mutex
	accepted []smtpMsg
	reject   map[string]bool // RCPT answered 550 5.1.1
	tempData map[string]int  // a transaction with this RCPT gets 451 at the end of DATA, this many times
	tempRcpt map[string]int  // this RCPT gets 451 (the others of the transaction go on), this many times
	tries    map[string]int
}

// smtpMsg is one accepted transaction.
type smtpMsg struct {
	From string
	To   []string
	Data []byte
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{Addr: l.Addr().String(), reject: map[string]bool{}, tempData: map[string]int{}, tempRcpt: map[string]int{}, tries: map[string]int{}}
	srv := smtp.NewServer(s)
	srv.Domain = "mx.example"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 64 << 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return s
}

func (s *smtpServer) messages() []smtpMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMsg(nil), s.accepted...)
}

// deliveries counts the accepted copies for rcpt.
func (s *smtpServer) deliveries(rcpt string) int {
	n := 0
	for _, m := range s.messages() {
		for _, r := range m.To {
			if strings.EqualFold(r, rcpt) {
				n++
			}
		}
	}
	return n
}

func (s *smtpServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSess{s: s}, nil }

type smtpSess struct {
	s   *smtpServer
	cur smtpMsg
}

func (x *smtpSess) Mail(from string, _ *smtp.MailOptions) error {
	x.cur = smtpMsg{From: from}
	return nil
}

func (x *smtpSess) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.reject[strings.ToLower(to)] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no mailbox here by that name"}
	}
	if k := "rcpt " + strings.ToLower(to); x.s.tries[k] < x.s.tempRcpt[strings.ToLower(to)] {
		x.s.tries[k]++
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy, try again later"}
	}
	x.cur.To = append(x.cur.To, to)
	return nil
}

func (x *smtpSess) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	for _, to := range x.cur.To {
		k := strings.ToLower(to)
		if x.s.tries[k] < x.s.tempData[k] {
			x.s.tries[k]++
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
	}
	x.cur.Data = b
	x.s.accepted = append(x.s.accepted, x.cur)
	return nil
}

func (x *smtpSess) Reset()        { x.cur = smtpMsg{} }
func (x *smtpSess) Logout() error { return nil }
