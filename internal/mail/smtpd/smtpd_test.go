package smtpd

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/config"
	"ferry/internal/mail/mta"
	"ferry/internal/spool"
	"ferry/internal/testnet"
)

// newMTA makes a node "a" whose mail goes to neighbour "b" (smarthost)
// and whose local user alice has a Maildir.
func newMTA(t testing.TB) (*mta.MTA, *testnet.Net) {
	t.Helper()
	return newMTAWith(t, nil)
}

// newMTAWith is newMTA with more keys in the mail section.
func newMTAWith(t testing.TB, extra map[string]any) (*mta.MTA, *testnet.Net) {
	t.Helper()
	net := testnet.New(t, "a", "b")
	a := net.Nodes["a"]
	raw := map[string]any{"domain": "a.example", "smarthost": "b",
		"users": map[string]any{"alice": "maildir:" + filepath.Join(a.Dir, "Maildir")}}
	for k, v := range extra {
		raw[k] = v
	}
	a.Cfg.Mail = &config.Mail{Raw: raw}
	net.Write(t)
	cfg, err := config.Load(a.CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(cfg.Spool, spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := mta.New(cfg, sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, net
}

// session runs one SMTP session over a pipe with the client's bytes and
// returns the server's replies.
func runSession(t testing.TB, m *mta.MTA, client string) string {
	t.Helper()
	toServer, fromClient := io.Pipe()
	toClient, fromServer := io.Pipe()
	srv := New(m, Options{Domain: "a.example", TmpDir: os.TempDir(), MaxMessageBytes: 1 << 20})
	done := make(chan error, 1)
	go func() {
		done <- srv.ServeConn(&pipeConn{r: toServer, w: fromServer})
		fromServer.Close()
	}()
	var out strings.Builder
	readDone := make(chan struct{})
	go func() {
		io.Copy(&out, toClient)
		close(readDone)
	}()
	go func() {
		io.WriteString(fromClient, client)
		fromClient.Close() // the end of the client's input
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("server did not end the session")
	}
	<-readDone
	return out.String()
}

// pipeConn is one side of a connection made of two pipes, so that the
// client can stop writing and still read the replies.
type pipeConn struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (c *pipeConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *pipeConn) Write(p []byte) (int, error) { return c.w.Write(p) }
func (c *pipeConn) Close() error {
	c.r.Close()
	return c.w.Close()
}
func (c *pipeConn) LocalAddr() net.Addr                { return stdioAddr{} }
func (c *pipeConn) RemoteAddr() net.Addr               { return stdioAddr{} }
func (c *pipeConn) SetDeadline(t time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { return nil }

func TestSessionQueuesAndRefuses(t *testing.T) {
	m, net := newMTA(t)
	replies := runSession(t, m, "EHLO client\r\n"+
		"MAIL FROM:<root@a.example>\r\nRCPT TO:<x@far.example>\r\nRCPT TO:<alice@a.example>\r\nRCPT TO:<nobody@a.example>\r\nDATA\r\n"+
		"Subject: hi\r\n\r\nbody\r\n..dot\r\n.\r\nQUIT\r\n")
	for _, want := range []string{"220 ", "250", "550 5.1.1", "354", "250 2.0.0", "221"} {
		if !strings.Contains(replies, want) {
			t.Errorf("no %q in replies:\n%s", want, replies)
		}
	}
	// x@far.example went to b as a packet; alice got her copy.
	if n := len(net.Nodes["a"].TxPackets(t, net.Nodes["b"])); n != 1 {
		t.Errorf("%d packets for the smarthost, want 1", n)
	}
	ents, _ := os.ReadDir(filepath.Join(net.Nodes["a"].Dir, "Maildir", "new"))
	if len(ents) != 1 {
		t.Fatalf("%d messages for alice", len(ents))
	}
	b, _ := os.ReadFile(filepath.Join(net.Nodes["a"].Dir, "Maildir", "new", ents[0].Name()))
	if !strings.Contains(string(b), "body\r\n.dot\r\n") && !strings.Contains(string(b), "body\n.dot\n") {
		t.Errorf("alice got %q", b)
	}
}

// A message that cannot be queued is never answered 250.
func TestSessionNoFalseSuccess(t *testing.T) {
	m, net := newMTA(t)
	tmp := filepath.Join(net.Nodes["a"].Spool, "tmp")
	if os.Getuid() == 0 {
		// root writes anywhere: take the directory away instead.
		os.RemoveAll(tmp)
		os.WriteFile(tmp, nil, 0o600)
	} else {
		os.Chmod(tmp, 0o500)
		defer os.Chmod(tmp, 0o700)
	}
	replies := runSession(t, m, "HELO c\r\nMAIL FROM:<root@a.example>\r\nRCPT TO:<x@far.example>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n")
	sc := bufio.NewScanner(strings.NewReader(replies))
	var last string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "354") {
			sc.Scan()
			last = sc.Text()
		}
	}
	if !strings.HasPrefix(last, "451") {
		t.Fatalf("reply after DATA: %q\n%s", last, replies)
	}
}

// FuzzSession: whatever a client sends, the listener answers, ends the
// session, and never panics.
func FuzzSession(f *testing.F) {
	f.Add("EHLO x\r\nMAIL FROM:<a@a.example>\r\nRCPT TO:<b@far.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n")
	f.Add("HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\n.\r\n")
	f.Add("MAIL FROM:<a@a.example> SIZE=99999999999\r\nRCPT TO:<x@y>\r\nBDAT 5 LAST\r\nhello")
	f.Add("EHLO x\r\nMAIL FROM:<a@a.example> BODY=8BITMIME RET=FULL ENVID=x+2B\r\nRCPT TO:<b@far.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@far.example\r\nDATA\r\n\xff\xfe\r\n.\r\n")
	f.Add("\x00\r\n\r\nAUTH PLAIN AAAA\r\nSTARTTLS\r\nVRFY root\r\nRSET\r\nNOOP\r\n")
	m, _ := newMTA(f)
	f.Fuzz(func(t *testing.T, client string) {
		runSession(t, m, client)
	})
}

func TestCRLFToLF(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb\r\n": "a\nb\n", "a\rb": "a\rb", "\r\n\r\n": "\n\n", "x\r": "x\r", "": "", "a\n": "a\n", "\r\r\n": "\r\n",
	} {
		b, err := io.ReadAll(newCRLFToLF(strings.NewReader(in)))
		if err != nil || string(b) != want {
			t.Errorf("%q: %q %v, want %q", in, b, err, want)
		}
	}
}
