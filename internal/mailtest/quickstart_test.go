package mailtest

import (
	"strings"
	"testing"

	"ferry/internal/testnet"
)

// TestCronMail follows docs/quickstart.md: an airgapped sat whose
// sendmail is ferry, called the way Debian's cron calls it
// (sendmail -FCronDaemon -i -B8BITMIME -oem RCPT, LOGNAME set, the
// header cron writes), its packets carried on a "stick" to the hub, which
// delivers to ops's Maildir.
func TestCronMail(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "sat", "hub")
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(hub, map[string]any{"domain": "hub.example", "users": mailUsers(hub, "ops"),
		"routes": map[string]any{"sat.example": "sat"}})
	w.setMail(sat, map[string]any{"domain": "sat.example", "smarthost": "hub", "users": mailUsers(sat, "root")})
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{w.ferry, "rsmtp"}
	sat.Cfg.Neigh["hub"].Exec["rsmtp"] = []string{w.ferry, "rsmtp"}
	w.write()

	body := "/etc/cron.daily/backup:\nrsync: connection unexpectedly closed (0 bytes received so far) [Receiver]\n.\nGrüße, Ihr Cron\n"
	msg := "From: root (Cron Daemon)\nTo: ops@hub.example\nSubject: Cron <root@sat> /etc/cron.daily/backup\n" +
		"MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n" +
		"X-Cron-Env: <SHELL=/bin/sh>\nX-Cron-Env: <HOME=/root>\nX-Cron-Env: <LOGNAME=root>\n\n" + body
	r := w.tool("sendmail", []string{"NNCPCFG=" + sat.CfgPath, "LOGNAME=root", "USER=root"}, []byte(msg),
		"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "ops@hub.example")
	if r.Code != 0 {
		t.Fatalf("sendmail as cron calls it: %v", r)
	}
	if q := w.do(sat, testnet.Ferry, nil, "mailq").Stdout; !strings.Contains(q, " queued ") {
		t.Errorf("sat's mailq after cron's mail:\n%s", q)
	}
	w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
	if q := w.do(sat, testnet.Ferry, nil, "mailq").Stdout; !strings.Contains(q, " carried ") {
		t.Errorf("sat's mailq after xfer:\n%s", q)
	}
	w.toss(hub, testnet.Ferry)
	want := message{Subject: "Cron <root@sat> /etc/cron.daily/backup", From: "root@sat.example", To: []string{"ops@hub.example"}, Body: []byte(body)}
	checkDelivered(t, hub, []message{want}, ferryTrace)
	for _, d := range readMaildir(t, mailbox(hub, "ops")) {
		if f := d.field("From"); f != "root (Cron Daemon)" {
			t.Errorf("From: %q, want cron's own %q", f, "root (Cron Daemon)")
		}
		if n := d.count("X-Cron-Env"); n != 3 {
			t.Errorf("%d X-Cron-Env fields, want 3", n)
		}
	}
}
