package mailtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
)

// startSmtpd runs "ferry smtpd -listen 127.0.0.1:0" on nd and returns
// the address it listens on (from its log record); the test stops it.
func (w *world) startSmtpd(nd *testnet.Node) string {
	w.t.Helper()
	before, _ := os.ReadFile(nd.Log)
	cmd := w.prep(nd.Cmd(w.t, testnet.Ferry, "smtpd", "-listen", "127.0.0.1:0", "-q", "0"))
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	w.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	re := regexp.MustCompile(`(?m)^Who: smtpd\n(?:[A-Za-z]+: .*\n)*?Addr: (127\.0\.0\.1:\d+)$`)
	for i := 0; i < 400; i++ {
		b, _ := os.ReadFile(nd.Log)
		if m := re.FindSubmatch(b[min(len(before), len(b)):]); m != nil {
			return string(m[1])
		}
		select {
		case err := <-exited:
			w.t.Fatalf("ferry smtpd exited: %v\n%s", err, errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	w.t.Fatalf("ferry smtpd logged no listening address\nstderr: %s\nlog:\n%s", errb.String(), tail(nd.Log, 20))
	return ""
}

// swaks sends m to addr.
func (w *world) swaks(addr string, m message, rcpts ...string) result {
	w.t.Helper()
	if len(rcpts) == 0 {
		rcpts = m.To
	}
	cmd := exec.Command(refbin.Path(w.t, "swaks"), "--server", addr, "--from", m.From,
		"--to", strings.Join(rcpts, ","), "--helo", "client.example", "--data", "-", "--suppress-data", "--timeout", "60")
	// swaks ends DATA with CRLF "." CRLF after the data it is given: a
	// final newline of ours would become an extra empty line.
	return w.exec(cmd, bytes.TrimSuffix(m.bytes(), []byte("\n")))
}

// smtpdNet: sat runs ferry smtpd; its mail goes to hub by domain route
// (no smarthost: other domains have no route); root@sat.example is local.
func smtpdNet(t *testing.T) (*world, *testnet.Node, *testnet.Node) {
	t.Helper()
	w := newWorld(t, "sat", "hub")
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(sat, map[string]any{"domain": "sat.example", "routes": map[string]any{"hub.example": "hub"},
		"users": mailUsers(sat, "root")})
	w.setMail(hub, map[string]any{"domain": "hub.example", "users": mailUsers(hub, "alice", "bob", "carol")})
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{w.ferry, "rsmtp"}
	w.write()
	return w, sat, hub
}

// TestSmtpdSwaks: swaks talks SMTP to ferry smtpd; accepted mail becomes
// packets for the hub (checked on arrival), a recipient with no route or
// no such local user gets 550 at RCPT, and when the spool cannot be
// written the answer is 4xx, never a 250 for mail that was not queued.
func TestSmtpdSwaks(t *testing.T) {
	t.Parallel()
	refbin.Path(t, "swaks")
	w, sat, hub := smtpdNet(t)
	addr := w.startSmtpd(sat)

	msgs := []message{
		{Subject: "smtpd plain", From: "root@sat.example", To: []string{"alice@hub.example"}, Body: []byte("over SMTP\n")},
		// swaks leaves a lone "." on the last line unstuffed: ours ends otherwise.
		{Subject: "smtpd dots", From: "root@sat.example", To: []string{"alice@hub.example", "bob@hub.example"}, Body: []byte(".leading dot line\n..two dots\n.\nafter a lone dot\n...\nend\n")},
		{Subject: "smtpd 8bit", From: "cron@sat.example", To: []string{"carol@hub.example"}, Body: body8bit},
	}
	for _, m := range msgs {
		if r := w.swaks(addr, m); r.Code != 0 || !strings.Contains(r.Stdout, "<-  250") {
			t.Fatalf("swaks %q: %v", m.Subject, r)
		}
	}
	if n := len(sat.TxPackets(t, hub)); n != len(msgs) {
		t.Errorf("%d packets queued for hub, want %d", n, len(msgs))
	}

	// No route: 550 at RCPT, nothing queued.
	for _, rcpt := range []string{"someone@nowhere.example", "nosuch@sat.example"} {
		r := w.swaks(addr, message{Subject: "smtpd refused", From: "root@sat.example", Body: []byte("x\n")}, rcpt)
		if r.Code == 0 || !regexp.MustCompile(`(?m)^<\*\* +550[ -]`).MatchString(r.Stdout) || !strings.Contains(r.Stdout, "RCPT TO:<"+rcpt+">") {
			t.Errorf("swaks to %s: want 550 at RCPT:\n%v", rcpt, r)
		}
	}
	if n := len(sat.TxPackets(t, hub)); n != len(msgs) {
		t.Errorf("%d packets queued for hub after the refusals, want %d", n, len(msgs))
	}

	w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
	w.toss(hub, testnet.Ferry)
	checkDelivered(t, hub, msgs, ferryTrace)
	checkCount(t, hub, deliveries(msgs), "alice", "bob", "carol")

	// An unwritable spool: 4xx, not 250, and nothing queued. The spool's
	// tmp/ (where smtpd stages the message and packets are built), then
	// the mail queue's journal of sent messages (appended after the
	// packet; it exists, the messages above are in it).
	if w.as.uid == 0 {
		refbin.Skip(t, "the run user is root, who can write anywhere: the unwritable-spool cases need an unprivileged user")
	}
	for _, path := range []string{filepath.Join(sat.Spool, "tmp"), filepath.Join(sat.Spool, "mail", "sent.log")} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if err := os.Chmod(path, 0o500); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(path, 0o700)
			m := message{Subject: "smtpd unwritable " + filepath.Base(path), From: "root@sat.example", To: []string{"alice@hub.example"}, Body: []byte("must not be lost\n")}
			r := w.swaks(addr, m)
			if regexp.MustCompile(`lines sent\n<-  250`).MatchString(r.Stdout) || r.Code == 0 {
				t.Errorf("%s unwritable: swaks got a 250 after DATA:\n%v", path, r)
			}
			if !regexp.MustCompile(`(?m)^<\*\* +4\d\d[ -]`).MatchString(r.Stdout) {
				t.Errorf("%s unwritable: want a 4xx answer:\n%v", path, r)
			}
			if n := len(sat.TxPackets(t, hub)); n != 0 {
				t.Errorf("%s unwritable: %d packets queued although the client was told to try again (its retry makes a duplicate)", path, n)
				for _, p := range sat.TxPackets(t, hub) {
					os.Remove(p)
				}
			}
		})
	}
}

// TestEximToSmtpd: an Exim satellite whose smarthost is ferry smtpd over
// SMTP on 127.0.0.1 (manualroute + smtp transport) instead of a pipe.
func TestEximToSmtpd(t *testing.T) {
	t.Parallel()
	refbin.Path(t, "exim4")
	w, sat, hub := smtpdNet(t)
	addr := w.startSmtpd(sat)
	port := addr[strings.LastIndex(addr, ":")+1:]
	conf := w.eximConf("smarthost-smtp.conf", sat, map[string]string{"port = 2525": "port = " + port})
	msgs := []message{
		{Subject: "exim-smtpd dots", From: "root@sat.example", To: []string{"alice@hub.example", "bob@hub.example"}, Body: bodyDots},
		{Subject: "exim-smtpd 8bit", From: "cron@sat.example", To: []string{"carol@hub.example"}, Body: body8bit},
	}
	for _, m := range msgs {
		if r := w.exim(conf, m.bytes(), "-odi", "-oi", "-f", m.From, "-t"); r.Code != 0 {
			t.Fatalf("exim -t %q: %v", m.Subject, r)
		}
	}
	if r := w.exim(conf, nil, "-bpc"); r.Stdout != "0\n" {
		t.Fatalf("Exim still holds %s messages: the SMTP delivery to ferry smtpd failed\n%v\nsat log:\n%s", strings.TrimSpace(r.Stdout), w.exim(conf, nil, "-bp"), tail(sat.Log, 20))
	}
	if n := len(sat.TxPackets(t, hub)); n != len(msgs) {
		t.Errorf("%d packets for hub, want %d", n, len(msgs))
	}
	w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
	w.toss(hub, testnet.Ferry)
	checkDelivered(t, hub, msgs, ferryTrace)
	checkCount(t, hub, deliveries(msgs), "alice", "bob", "carol")
	if t.Failed() {
		for _, d := range readMaildir(t, mailbox(hub, "carol")) {
			b, _ := os.ReadFile(d.path)
			t.Logf("%s:\n%s", d.path, clip(string(b), 2000))
		}
	}
}
