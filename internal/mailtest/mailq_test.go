package mailtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testnet"
)

// TestMailqStates follows messages sent from sat through mailq's states:
// queued (the packet waits in tx/), carried (xfer took it), tossed (the
// hub, running the real nncp-ack and nncp-toss, acknowledged it and the
// ACK came back), bounced (a DSN came back). mailq -rm cancels a message
// still queued (its packet goes) and refuses one already carried.
func TestMailqStates(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "sat", "hub")
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(sat, map[string]any{"domain": "sat.example", "smarthost": "hub", "users": mailUsers(sat, "root")})
	w.setMail(hub, map[string]any{"domain": "hub.example", "users": mailUsers(hub, "alice"),
		"routes": map[string]any{"sat.example": "sat"}})
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{w.ferry, "rsmtp", "-cfg", hub.CfgPath}
	sat.Cfg.Neigh["hub"].Exec["rsmtp"] = []string{w.ferry, "rsmtp"}
	w.write()

	ok := message{Subject: "mailq ok", From: "root@sat.example", To: []string{"alice@hub.example"}, Body: []byte("arrives\n")}
	gone := message{Subject: "mailq cancel", From: "root@sat.example", To: []string{"alice@hub.example"}, Body: []byte("cancelled\n")}
	bad := message{Subject: "mailq bounce", From: "root@sat.example", To: []string{"nosuch@hub.example"}, Body: []byte("bounces\n")}
	ids := map[string]string{}
	for i, m := range []message{ok, gone, bad} {
		before := mailqIDs(w.do(sat, testnet.Ferry, nil, "mailq").Stdout)
		// hub has no addrs or calls: sendmail says so with the first
		// message only.
		r := w.sendmail(sat, m)
		if noted := strings.Contains(r.Stderr, "no addrs or calls"); noted != (i == 0) {
			t.Errorf("message %d: note about addrs or calls shown: %v, want %v\n%s", i, noted, i == 0, r.Stderr)
		}
		after := mailqIDs(w.do(sat, testnet.Ferry, nil, "mailq").Stdout)
		if len(after) != len(before)+1 {
			t.Fatalf("mailq lists %d messages after sending %q, want %d", len(after), m.Subject, len(before)+1)
		}
		for _, id := range after {
			if !contains(before, id) {
				ids[m.Subject] = id
			}
		}
	}
	state := func(all bool, m message) string {
		t.Helper()
		args := []string{}
		if all {
			args = append(args, "-all")
		}
		return mailqState(w.do(sat, testnet.Ferry, nil, "mailq", args...).Stdout, ids[m.Subject])
	}
	for _, m := range []message{ok, gone, bad} {
		if st := state(false, m); st != "queued" {
			t.Errorf("%q: state %q after sendmail, want queued", m.Subject, st)
		}
	}
	if n := len(sat.TxPackets(t, hub)); n != 3 {
		t.Fatalf("%d packets for hub, want 3", n)
	}

	// With -v the note comes every time.
	verbose := w.tool("sendmail", []string{"NNCPCFG=" + sat.CfgPath}, ok.bytes(), "-v", "-t", "-oi", "-f", ok.From)
	if !strings.Contains(verbose.Stderr, "no addrs or calls") {
		t.Errorf("sendmail -v: no note about addrs or calls:\n%v", verbose)
	}
	after := mailqIDs(w.do(sat, testnet.Ferry, nil, "mailq").Stdout)
	for _, id := range after {
		if !contains([]string{ids[ok.Subject], ids[gone.Subject], ids[bad.Subject]}, id) {
			w.do(sat, testnet.Ferry, nil, "mailq", "-rm", id)
		}
	}

	// Cancel a queued message: its packet goes.
	r := w.do(sat, testnet.Ferry, nil, "mailq", "-rm", ids[gone.Subject])
	if !strings.Contains(r.Stdout, "cancelled") {
		t.Errorf("mailq -rm: %v", r)
	}
	if n := len(sat.TxPackets(t, hub)); n != 2 {
		t.Errorf("%d packets for hub after mailq -rm, want 2", n)
	}
	if st := state(false, gone); st != "" {
		t.Errorf("cancelled message still listed as %q by mailq", st)
	}
	if st := state(true, gone); st != "cancelled" {
		t.Errorf("mailq -all shows the cancelled message as %q, want cancelled", st)
	}

	// Cancelled twice, or never here: each says what it is.
	for id, want := range map[string]string{ids[gone.Subject]: "message was already cancelled", "0000000000-NOSUCH": "no message with this id on this node"} {
		if r := w.run(sat, testnet.Ferry, nil, "mailq", "-rm", id); r.Code == 0 || !strings.Contains(r.Stderr, id+": "+want) {
			t.Errorf("mailq -rm %s: want %q:\n%v", id, want, r)
		}
	}

	w.carry(sat, testnet.Ferry, hub, testnet.NNCP)
	for _, m := range []message{ok, bad} {
		if st := state(false, m); st != "carried" {
			t.Errorf("%q: state %q after xfer, want carried", m.Subject, st)
		}
	}
	// Too late to cancel.
	r = w.run(sat, testnet.Ferry, nil, "mailq", "-rm", ids[ok.Subject])
	if r.Code == 0 || !strings.Contains(r.Stderr, "message has left this node: it can no longer be cancelled (carried)") {
		t.Errorf("mailq -rm of a carried message: want a refusal saying it left:\n%v", r)
	}
	if st := state(false, ok); st != "carried" {
		t.Errorf("%q: state %q after a refused -rm, want carried", ok.Subject, st)
	}

	// The hub acknowledges what it received, then tosses it.
	w.do(hub, testnet.NNCP, nil, "ack", "-quiet", "-all")
	w.toss(hub, testnet.NNCP)
	w.carry(hub, testnet.NNCP, sat, testnet.Ferry)
	w.toss(sat, testnet.Ferry)
	checkDelivered(t, hub, []message{ok}, ferryTrace)
	checkCount(t, hub, 1, "alice")
	if st := state(false, ok); st != "tossed" {
		t.Errorf("%q: state %q after the hub's ACK came back, want tossed\n%s", ok.Subject, st, w.do(sat, testnet.Ferry, nil, "mailq", "-all").Stdout)
	}
	if st := state(false, bad); st != "bounced" {
		t.Errorf("%q: state %q after the DSN came back, want bounced (shown without -all)\n%s", bad.Subject, st, w.do(sat, testnet.Ferry, nil, "mailq", "-all").Stdout)
	}

	// Rows fit the terminal; the per-id view has everything.
	cmd := sat.Cmd(t, testnet.Ferry, "mailq", "-all")
	cmd.Env = append(os.Environ(), "COLUMNS=80")
	r = w.exec(cmd, nil)
	if r.Code != 0 {
		t.Fatalf("mailq -all: %v", r)
	}
	wide := r.Stdout
	for _, l := range strings.Split(strings.TrimSuffix(wide, "\n"), "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("mailq -all with COLUMNS=80: a line of %d columns:\n%s", n, wide)
		}
	}
	if st := mailqState(wide, ids[bad.Subject]); st != "bounced" {
		t.Errorf("the fitted mailq -all lost the state of %s:\n%s", ids[bad.Subject], wide)
	}
	one := w.do(sat, testnet.Ferry, nil, "mailq", ids[bad.Subject]).Stdout
	for _, want := range []string{"State:    bounced", "To:       nosuch@hub.example", "Subject:  mailq bounce", "Reason:   "} {
		if !strings.Contains(one, want) {
			t.Errorf("mailq %s lacks %q:\n%s", ids[bad.Subject], want, one)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestMailLimits: mail.limits {hub: {maxsize}} makes sendmail refuse a
// message too big for the link with exit 65 (EX_DATAERR) and a message
// saying why; nothing is queued. A message under the limit goes.
func TestMailLimits(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "sat", "hub")
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(sat, map[string]any{"domain": "sat.example", "smarthost": "hub",
		"limits": map[string]any{"hub": map[string]any{"maxsize": "4 KiB"}}})
	w.write()
	big := message{Subject: "too big", From: "root@sat.example", To: []string{"alice@hub.example"}, Body: []byte(strings.Repeat("0123456789abcdef\n", 400))}
	r := w.tool("sendmail", []string{"NNCPCFG=" + sat.CfgPath}, big.bytes(), "-t", "-oi")
	if r.Code != 65 {
		t.Errorf("sendmail of a message over maxsize: exit %d, want 65\n%v", r.Code, r)
	}
	low := strings.ToLower(r.Stderr)
	if !strings.Contains(low, "larger") && !strings.Contains(low, "too big") && !strings.Contains(low, "size") {
		t.Errorf("sendmail's message does not say the message is too big:\n%s", r.Stderr)
	}
	if !strings.Contains(r.Stderr, "hub") {
		t.Errorf("sendmail's message does not name the node whose limit it is:\n%s", r.Stderr)
	}
	if n := len(sat.TxPackets(t, hub)); n != 0 {
		t.Errorf("%d packets queued for a refused message", n)
	}
	if b, err := os.ReadFile(filepath.Join(sat.Spool, "mail", "sent.log")); len(b) != 0 || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SPOOL/mail/sent.log after a refused message (%v):\n%s", err, b)
	}
	if q := w.do(sat, testnet.Ferry, nil, "mailq", "-all").Stdout; q != "Mail queue is empty\n" {
		t.Errorf("mailq after a refused message:\n%s", q)
	}
	small := message{Subject: "fits", From: "root@sat.example", To: []string{"alice@hub.example"}, Body: []byte("small\n")}
	w.sendmail(sat, small)
	if n := len(sat.TxPackets(t, hub)); n != 1 {
		t.Errorf("%d packets for a message under the limit, want 1", n)
	}
}

// TestMailqACKByAutotoss: the ACK for a mail packet, fetched by ferry
// call -autotoss, moves the message to "tossed" in mailq, as a plain
// ferry toss does (the autotoss used to skip the mail system's ACK hook).
func TestMailqACKByAutotoss(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "sat", "hub")
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(sat, map[string]any{"domain": "sat.example", "smarthost": "hub", "users": mailUsers(sat, "root")})
	w.setMail(hub, map[string]any{"domain": "hub.example", "users": mailUsers(hub, "alice")})
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{w.ferry, "rsmtp", "-cfg", hub.CfgPath}
	w.write()
	m := message{Subject: "acked online", From: "root@sat.example", To: []string{"alice@hub.example"}, Body: []byte("hello\n")}
	w.sendmail(sat, m)
	ids := mailqIDs(w.do(sat, testnet.Ferry, nil, "mailq").Stdout)
	if len(ids) != 1 {
		t.Fatalf("mailq ids %v", ids)
	}
	w.carry(sat, testnet.Ferry, hub, testnet.NNCP)
	w.do(hub, testnet.NNCP, nil, "ack", "-quiet", "-all")
	addr := freeAddr(t)
	w.daemon(hub, testnet.NNCP, addr)
	w.do(sat, testnet.Ferry, nil, "call", "-noprogress", "-quiet", "-autotoss", "-onlinedeadline", "1", "hub", addr)
	if st := mailqState(w.do(sat, testnet.Ferry, nil, "mailq").Stdout, ids[0]); st != "tossed" {
		t.Fatalf("state %q after the ACK came by call -autotoss, want tossed\n%s", st, w.do(sat, testnet.Ferry, nil, "mailq", "-all").Stdout)
	}
}
