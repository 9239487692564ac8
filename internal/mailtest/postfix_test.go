package mailtest

import (
	"bytes"
	"testing"

	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
)

// Postfix cannot be installed beside Exim, so these tests run exactly
// the commands Postfix's pipe(8) would run with the master.cf lines of
// docs/postfix.md, with the message as pipe(8) hands it over:
//
//	nncp unix - n n - - pipe
//	  flags=Rqhu user=nncp argv=/usr/local/nncp/bin/nncp-exec -quiet $nexthop sendmail $recipient
//	  (R: a Return-Path: <sender> line first; F: a "From sender date" line first)
//
//	ferry unix - n n - - pipe
//	  flags=qhu user=nncp argv=/usr/local/nncp/bin/nncp-exec -quiet $nexthop rmail -f $sender -- $recipient
//
// nncp-exec is ferry (the symlink install-links makes); the hub is the
// real NNCP, whose exec handles are ferry's rmail (handle "sendmail", as
// the NNCP manual names it, and "rmail") and ferry's sendmail -bS
// (handle "rsmtp", as the NNCP manual's Exim section has it).

// postfixNet: sat sends with ferry's nncp-exec; hub runs nncp-xfer and
// nncp-toss and delivers through ferry into Maildirs.
func postfixNet(t *testing.T) (*world, *testnet.Node, *testnet.Node) {
	t.Helper()
	refbin.NNCP(t, "toss")
	w := newWorld(t, "sat", "hub")
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(hub, map[string]any{"domain": "hub.example", "users": mailUsers(hub, "alice", "bob")})
	// nncp-toss does not set NNCPCFG for handles: ferry gets -C.
	hub.Cfg.Neigh["sat"].Exec["sendmail"] = []string{w.bin + "/rmail", "-C", hub.CfgPath}
	hub.Cfg.Neigh["sat"].Exec["rmail"] = []string{w.bin + "/rmail", "-C", hub.CfgPath}
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{w.bin + "/sendmail", "-C", hub.CfgPath, "-bS"}
	w.write()
	return w, sat, hub
}

// pipeExec runs what pipe(8) runs: nncp-exec -quiet hub ARGS... with
// the message on stdin, as the nncp user, no shell.
func (w *world) pipeExec(sat *testnet.Node, stdin []byte, args ...string) {
	w.t.Helper()
	r := w.tool("nncp-exec", []string{"NNCPCFG=" + sat.CfgPath}, stdin, append([]string{"-quiet", "hub"}, args...)...)
	if r.Code != 0 {
		w.t.Fatalf("nncp-exec %v: %v", args, r)
	}
}

// TestPostfixSendmailHandle: the NNCP manual's Postfix recipe, handle
// "sendmail" mapped to ferry rmail: the envelope sender comes with the
// message (Return-Path: from flags=R, or a "From " line from flags=F),
// the recipients as arguments.
func TestPostfixSendmailHandle(t *testing.T) {
	t.Parallel()
	w, sat, hub := postfixNet(t)
	withR := message{Subject: "postfix R", From: "root@sat.example", To: []string{"alice@hub.example", "bob@hub.example"}, Body: bodyDots}
	withF := message{Subject: "postfix F", From: "cron@sat.example", To: []string{"alice@hub.example"}, Body: body8bit}
	w.pipeExec(sat, append([]byte("Return-Path: <"+withR.From+">\n"), withR.bytes()...), append([]string{"sendmail"}, withR.To...)...)
	w.pipeExec(sat, append([]byte("From "+withF.From+"  Tue Nov 24 10:00:00 2026\n"), withF.bytes()...), append([]string{"sendmail"}, withF.To...)...)
	w.carry(sat, testnet.Ferry, hub, testnet.NNCP)
	w.toss(hub, testnet.NNCP)
	checkDelivered(t, hub, []message{withR, withF}, ferryTrace)
	checkCount(t, hub, 3, "alice", "bob")
	for _, d := range readMaildir(t, mailbox(hub, "alice")) {
		if bytes.Contains([]byte(d.header), []byte("\nFrom ")) || bytes.HasPrefix([]byte(d.header), []byte("From ")) {
			t.Errorf("%q: the pipe's \"From \" line stayed in the header:\n%s", d.field("Subject"), d.header)
		}
	}
	if t.Failed() {
		t.Logf("hub log:\n%s", tail(hub.Log, 30))
	}
}

// TestPostfixRmailHandle: the ferry recipe for Postfix: pipe(8) passes
// the sender with -f (empty for a bounce: the null sender).
func TestPostfixRmailHandle(t *testing.T) {
	t.Parallel()
	w, sat, hub := postfixNet(t)
	msgs := []message{
		{Subject: "postfix rmail", From: "root@sat.example", To: []string{"alice@hub.example", "bob@hub.example"}, Body: bodyDots},
		{Subject: "postfix rmail 8bit", From: "cron@sat.example", To: []string{"bob@hub.example"}, Body: body8bit},
		{Subject: "postfix rmail big", From: "root@sat.example", To: []string{"alice@hub.example"}, Body: bytes.Repeat([]byte("0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"), 40000)},
	}
	for _, m := range msgs {
		w.pipeExec(sat, m.bytes(), append([]string{"rmail", "-f", m.From, "--"}, m.To...)...)
	}
	bounce := message{Subject: "postfix rmail null sender", From: "", To: []string{"alice@hub.example"}, Body: []byte("a bounce relayed\n")}
	w.pipeExec(sat, bounce.bytes(), "rmail", "-f", "", "--", "alice@hub.example")
	w.carry(sat, testnet.Ferry, hub, testnet.NNCP)
	w.toss(hub, testnet.NNCP)
	checkDelivered(t, hub, msgs, ferryTrace)
	got := bySubject(readMaildir(t, mailbox(hub, "alice")), bounce.Subject)
	if len(got) != 1 {
		t.Errorf("null-sender message: %d copies, want 1", len(got))
	} else if rp := got[0].field("Return-Path"); rp != "<>" {
		t.Errorf("null-sender message: Return-Path %q, want <>", rp)
	}
	checkCount(t, hub, deliveries(msgs)+1, "alice", "bob")
}

// TestSendmailBSHandle: the NNCP manual's receiving side, exec handle
// rsmtp = sendmail -bS, with ferry as sendmail: an Exim-style BSMTP batch
// sent by the real nncp-exec is delivered.
func TestSendmailBSHandle(t *testing.T) {
	t.Parallel()
	w, sat, hub := postfixNet(t)
	msgs := []message{
		{Subject: "bS 1", From: "root@sat.example", To: []string{"alice@hub.example", "bob@hub.example"}, Body: bodyDots},
		{Subject: "bS 2", From: "cron@sat.example", To: []string{"bob@hub.example"}, Body: body8bit},
	}
	w.do(sat, testnet.NNCP, bsmtpBatch(t, msgs), "exec", "-noprogress", "-quiet", "hub", "rsmtp")
	w.carry(sat, testnet.NNCP, hub, testnet.NNCP)
	w.toss(hub, testnet.NNCP)
	checkDelivered(t, hub, msgs, ferryTrace)
	checkCount(t, hub, deliveries(msgs), "alice", "bob")
}
