package mailtest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testnet"
)

// TestHandleArgumentInjection: a neighbour's exec packets append hostile
// arguments to hub's handles (ferry rsmtp, rmail and sendmail, each with
// its config on the handle line): another log file, another spool,
// another config (a copy of hub's own, keys and all, pointing everything
// at a directory of the attacker's choosing), "--", -bs, -odq, a
// recipient -oQ/DIR. With ferry toss (rsmtp in-process, rmail and
// sendmail as commands) and with the real nncp-toss (every handle a
// command), each such packet is refused and kept in rx/, nothing is
// delivered from it, and nothing is written under the attacker's
// directory; the same handles with plain arguments deliver.
func TestHandleArgumentInjection(t *testing.T) {
	for _, tosser := range []testnet.Impl{testnet.Ferry, testnet.NNCP} {
		t.Run(string(tosser), func(t *testing.T) {
			t.Parallel()
			handleInjection(t, tosser)
		})
	}
}

func handleInjection(t *testing.T, tosser testnet.Impl) {
	w := newWorld(t, "sat", "hub")
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(hub, map[string]any{"domain": "hub.example", "users": mailUsers(hub, "alice")})
	ex := hub.Cfg.Neigh["sat"].Exec
	ex["rsmtp"] = []string{w.ferry, "rsmtp", "-cfg", hub.CfgPath}
	ex["rmail"] = []string{filepath.Join(w.bin, "rmail"), "-C", hub.CfgPath}
	ex["sendmail"] = []string{filepath.Join(w.bin, "sendmail"), "-C", hub.CfgPath}
	w.write()

	evil := filepath.Join(w.net.Dir, "evil")
	mkdir(t, evil)
	cfgText, err := os.ReadFile(hub.CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(evil, "other.hjson")
	w.writeFile(other, []byte(strings.ReplaceAll(string(cfgText), hub.Dir, filepath.Join(evil, "hub"))))
	w.own(evil)

	type call struct {
		handle string
		args   []string
	}
	rcpt := "alice@hub.example"
	attacks := []call{
		{"rsmtp", []string{"-log", filepath.Join(evil, "log")}},
		{"rsmtp", []string{"-spool", filepath.Join(evil, "spool")}},
		{"rsmtp", []string{"-cfg", other}},
		{"rsmtp", []string{"-cfg=" + other}},
		{"rsmtp", []string{"--"}},
		{"rsmtp", []string{"-odq"}},
		{"rsmtp", []string{rcpt}},
		{"rmail", []string{"-C", other, rcpt}},
		{"rmail", []string{"-C" + other, rcpt}},
		{"rmail", []string{"-bs"}},
		{"rmail", []string{"-odq", rcpt}},
		{"rmail", []string{"--", rcpt}},
		{"rmail", []string{"-oQ" + evil}},
		{"rmail", []string{rcpt, "-oQ" + evil}},
		{"rmail", []string{"-f", "root@sat.example", "--", "-oQ" + evil}},
		{"rmail", []string{"-f", "root@sat.example", rcpt}},
		{"sendmail", []string{"-C", other, rcpt}},
		{"sendmail", []string{"-bS"}},
		{"sendmail", []string{"-t"}},
		{"sendmail", []string{"-spool", filepath.Join(evil, "spool"), rcpt}},
	}
	controls := []call{
		{"rsmtp", nil},
		{"rmail", []string{"-f", "root@sat.example", "--", rcpt}},
		{"sendmail", []string{rcpt}},
	}
	send := func(i int, c call, kind string) string {
		subject := strings.TrimSpace(fmt.Sprintf("%s %d %s %s", kind, i, c.handle, strings.Join(c.args, " ")))
		m := message{Subject: subject, From: "root@sat.example", To: []string{rcpt}, Body: []byte("body\n")}
		body := m.bytes()
		if c.handle == "rsmtp" || (len(c.args) > 0 && c.args[0] == "-bS") {
			body = bsmtpBatch(t, []message{m})
		} else {
			body = append([]byte("Return-Path: <root@sat.example>\n"), body...)
		}
		w.do(sat, testnet.Ferry, body, "exec", append([]string{"-noprogress", "-quiet", "hub", c.handle}, c.args...)...)
		return subject
	}
	for i, c := range attacks {
		send(i, c, "attack")
	}
	var good []string
	for i, c := range controls {
		good = append(good, send(i, c, "control"))
	}
	w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
	for round := 0; round < 2; round++ {
		r := w.run(hub, tosser, nil, "toss", "-noprogress")
		if r.Code == 0 && tosser == testnet.Ferry {
			t.Errorf("toss round %d exits 0 although handles refused packets", round)
		}
	}

	box := readMaildir(t, mailbox(hub, "alice"))
	for _, s := range good {
		if n := len(bySubject(box, s)); n != 1 {
			t.Errorf("control %q delivered %d times, want 1", s, n)
		}
	}
	for _, d := range box {
		if strings.HasPrefix(d.field("Subject"), "attack") {
			t.Errorf("delivered: %q", d.field("Subject"))
		}
	}
	if n := len(hub.RxPackets(t, sat)); n != len(attacks) {
		t.Errorf("%d packets kept in hub's rx/, want the %d refused ones", n, len(attacks))
	}
	filepath.WalkDir(evil, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != evil && p != other {
			t.Errorf("written under the attacker's directory: %s", p)
		}
		return nil
	})
	log, _ := os.ReadFile(hub.Log)
	if !strings.Contains(string(log), "refused argument from the packet") {
		t.Errorf("hub's log does not say why the packets were refused:\n%s", tail(hub.Log, 30))
	}
	if t.Failed() {
		t.Logf("hub log:\n%s", tail(hub.Log, 60))
	}
}
