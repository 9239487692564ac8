package mta

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func batchTo(rcpts []string) string {
	var b strings.Builder
	b.WriteString("MAIL FROM:<root@sat.example>\n")
	for _, r := range rcpts {
		b.WriteString("RCPT TO:<" + r + ">\n")
	}
	b.WriteString("DATA\nSubject: many\nMessage-ID: <many@sat.example>\n\nhello\n.\n")
	return b.String()
}

// TestRcptDeduplicated: 10,000 RCPT TO lines for one user (the domain in
// any case) make one copy, as sendmail does (issue 6: 10,000 copies). A
// local part that differs in case is another recipient (RFC 5321 leaves
// it to the receiving host).
func TestRcptDeduplicated(t *testing.T) {
	net, ms, evs := setup(t)
	hub := ms["hub"]
	var rcpts []string
	for i := range 10000 {
		rcpts = append(rcpts, []string{"alice@hub.example", "alice@HUB.Example"}[i%2])
	}
	rcpts = append(rcpts, "Alice@hub.example")
	res, err := hub.ReceiveBSMTP(strings.NewReader(batchTo(rcpts)), hub.Cfg.Neigh["sat"], ReceiveOptions{})
	if err != nil || len(res.Accepted) != 1 {
		t.Fatal(res, err)
	}
	if got := rcptAddrs(res.Accepted[0]); len(got) != 2 || got[0] != "alice@hub.example" || got[1] != "Alice@hub.example" {
		t.Errorf("recipients %q", got)
	}
	if n := len(maildirFiles(t, filepath.Join(net.Nodes["hub"].Dir, "Maildir-alice"))); n != 2 {
		t.Errorf("%d copies in alice's Maildir, want 2", n)
	}
	if evs["hub"].count("bounced") != 0 {
		t.Error("a bounce for duplicates")
	}
}

// TestRcptCapped: a transaction with more than mail.max-rcpt distinct
// recipients delivers to the first max-rcpt and bounces the rest, in one
// DSN saying 5.5.3 (too many recipients).
func TestRcptCapped(t *testing.T) {
	net, ms, evs := setup(t)
	hub := ms["hub"]
	if hub.maxRcpt() != 100 {
		t.Fatalf("default max-rcpt %d, want 100", hub.maxRcpt())
	}
	hub.Mail.MaxRcpt = 30
	var rcpts []string
	for i := range 45 {
		rcpts = append(rcpts, fmt.Sprintf("alice+%d@hub.example", i))
	}
	res, err := hub.ReceiveBSMTP(strings.NewReader(batchTo(rcpts)), hub.Cfg.Neigh["sat"], ReceiveOptions{})
	if err != nil || len(res.Accepted) != 1 {
		t.Fatal(res, err)
	}
	if n := len(maildirFiles(t, filepath.Join(net.Nodes["hub"].Dir, "Maildir-alice"))); n != 30 {
		t.Errorf("%d copies in alice's Maildir, want 30", n)
	}
	if evs["hub"].count("bounced") != 1 {
		t.Fatalf("%d bounces, want 1", evs["hub"].count("bounced"))
	}
	hist, _ := hub.Queue.History()
	if len(hist) != 1 {
		t.Fatalf("%d history entries", len(hist))
	}
	failed := 0
	for _, r := range hist[0].Rcpts {
		if r.State == "failed" {
			failed++
			if r.Enhanced != "5.5.3" || !r.Bounced {
				t.Errorf("%+v", r)
			}
		}
	}
	if failed != 15 {
		t.Errorf("%d failed, want 15", failed)
	}
	if n := len(net.Nodes["hub"].TxPackets(t, net.Nodes["sat"])); n != 1 {
		t.Errorf("%d packets back to sat, want the one bounce", n)
	}
}
