package mailtest

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"ferry/internal/testnet"
)

// bounceNet is sat (sends with ferry sendmail, root has a Maildir) and
// hub (its smarthost, routes sat.example back to sat), both tossed by
// ferry with the rsmtp handle.
func bounceNet(t *testing.T, hubMail map[string]any) (*world, *testnet.Node, *testnet.Node) {
	t.Helper()
	w := newWorld(t, "sat", "hub")
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(sat, map[string]any{"domain": "sat.example", "smarthost": "hub",
		"users": mailUsers(sat, "root")})
	hubMail["domain"] = "hub.example"
	hubMail["routes"] = map[string]any{"sat.example": "sat"}
	if _, ok := hubMail["users"]; !ok {
		hubMail["users"] = mailUsers(hub, "alice", "bob")
	}
	w.setMail(hub, hubMail)
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{w.ferry, "rsmtp"}
	sat.Cfg.Neigh["hub"].Exec["rsmtp"] = []string{w.ferry, "rsmtp"}
	w.write()
	return w, sat, hub
}

// sendmail submits m on nd with ferry's sendmail (recipients from the
// header, -oi).
func (w *world) sendmail(nd *testnet.Node, m message) result {
	w.t.Helper()
	r := w.tool("sendmail", []string{"NNCPCFG=" + nd.CfgPath}, m.bytes(), "-t", "-oi", "-f", m.From)
	if r.Code != 0 {
		w.t.Fatalf("sendmail %q on %s: %v", m.Subject, nd.Name, r)
	}
	return r
}

// roundTrip carries sat's packets to hub, tosses them there, carries
// what hub made back to sat and tosses it.
func (w *world) roundTrip(sat, hub *testnet.Node) {
	w.t.Helper()
	w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
	w.toss(hub, testnet.Ferry)
	w.carry(hub, testnet.Ferry, sat, testnet.Ferry)
	w.toss(sat, testnet.Ferry)
}

// dsnFor returns the delivery reports in box that are about the message
// with this Subject (their returned header names it).
func dsnFor(box []delivered, subject string) []delivered {
	var out []delivered
	for _, d := range box {
		if strings.Contains(strings.ToLower(d.field("Content-Type")), "multipart/report") &&
			bytes.Contains(d.body, []byte("Subject: "+subject+"\n")) {
			out = append(out, d)
		}
	}
	return out
}

// checkDSN checks a bounce: from the null sender, a delivery-status
// report saying that each of failed failed with a status matching
// status, and nothing about the others.
func checkDSN(t *testing.T, d delivered, failed []string, status string, others ...string) {
	t.Helper()
	if rp := d.field("Return-Path"); rp != "<>" {
		t.Errorf("DSN Return-Path %q, want <> (bounces go out with the null sender)", rp)
	}
	ct := strings.ToLower(d.field("Content-Type"))
	if !strings.Contains(ct, "report-type=delivery-status") {
		t.Errorf("DSN Content-Type %q, want multipart/report; report-type=delivery-status", ct)
	}
	body := string(d.body)
	for _, f := range failed {
		re := regexp.MustCompile(`(?i)Final-Recipient: rfc822;\s*` + regexp.QuoteMeta(f) + `\s*\nAction: failed\s*\nStatus: (\S+)`)
		m := re.FindStringSubmatch(body)
		if m == nil {
			t.Errorf("DSN has no \"Final-Recipient: rfc822; %s / Action: failed / Status:\" group:\n%s", f, clip(body, 3000))
			continue
		}
		if ok, _ := regexp.MatchString(status, m[1]); !ok {
			t.Errorf("DSN Status for %s is %s, want %s", f, m[1], status)
		}
	}
	for _, o := range others {
		if strings.Contains(body, "Final-Recipient: rfc822; "+o) || strings.Contains(body, "Final-Recipient: rfc822;"+o) {
			t.Errorf("DSN reports on %s, which was delivered", o)
		}
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// mailqState returns the STATE column of id's line in out, "" if none.
func mailqState(out, id string) string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == id {
			if f[1] == "partly" && len(f) > 2 {
				return "partly bounced"
			}
			return f[1]
		}
	}
	return ""
}

// mailqIDs lists the message ids of a mailq listing.
func mailqIDs(out string) []string {
	var ids []string
	for _, l := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(l); len(f) > 1 && !strings.HasPrefix(l, " ") {
			ids = append(ids, f[0])
		}
	}
	return ids
}

// TestBounceUnknownLocalUser: mail for a user the hub does not have is
// accepted by rsmtp (a BSMTP batch cannot be refused), fails there, and a
// DSN travels back to the sender's node as a new packet; the sat tosses
// it into root's Maildir and mailq shows the message bounced.
func TestBounceUnknownLocalUser(t *testing.T) {
	t.Parallel()
	w, sat, hub := bounceNet(t, map[string]any{})
	only := message{Subject: "bounce nobody", From: "root@sat.example", To: []string{"nosuch@hub.example"}, Body: []byte("to nobody\n")}
	mixed := message{Subject: "bounce half", From: "root@sat.example", To: []string{"alice@hub.example", "nosuch2@hub.example"}, Body: []byte("half of it arrives\n")}
	w.sendmail(sat, only)
	w.sendmail(sat, mixed)
	q := w.do(sat, testnet.Ferry, nil, "mailq").Stdout
	ids := mailqIDs(q)
	if len(ids) != 2 {
		t.Fatalf("sat's mailq shows %d messages, want 2:\n%s", len(ids), q)
	}
	w.roundTrip(sat, hub)

	// alice got hers, once.
	checkDelivered(t, hub, []message{{Subject: mixed.Subject, From: mixed.From, To: []string{"alice@hub.example"}, Body: mixed.Body}}, ferryTrace)
	box := readMaildir(t, mailbox(sat, "root"))
	for _, c := range []struct {
		m         message
		failed    []string
		delivered []string
	}{{only, []string{"nosuch@hub.example"}, nil}, {mixed, []string{"nosuch2@hub.example"}, []string{"alice@hub.example"}}} {
		got := dsnFor(box, c.m.Subject)
		if len(got) != 1 {
			t.Errorf("%q: %d DSNs in sat's root Maildir, want 1 (%d messages there)\nhub log:\n%s", c.m.Subject, len(got), len(box), tail(hub.Log, 20))
			continue
		}
		// 5.1.1: bad destination mailbox address (RFC 3463).
		checkDSN(t, got[0], c.failed, `^5\.1\.1$`, c.delivered...)
		if to := got[0].field("Delivered-To"); to != "root@sat.example" {
			t.Errorf("DSN Delivered-To %q, want root@sat.example", to)
		}
	}
	all := w.do(sat, testnet.Ferry, nil, "mailq", "-all").Stdout
	for _, id := range ids {
		if st := mailqState(all, id); st != "bounced" && st != "partly bounced" {
			t.Errorf("sat's mailq -all shows %s as %q, want bounced:\n%s", id, st, all)
		}
	}
	// Nothing is left to do on either side.
	if n := len(hub.TxPackets(t, sat)) + len(sat.TxPackets(t, hub)); n != 0 {
		t.Errorf("%d packets still queued after the round trip", n)
	}
}

// TestBounceSMTP5xx: the hub relays to an SMTP server that refuses one
// recipient with 550; the other is delivered once, and a DSN naming the
// refused one (with the server's words) comes back to the sat.
func TestBounceSMTP5xx(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	srv.reject["reject@example.org"] = true
	w, sat, hub := bounceNet(t, map[string]any{"relay": map[string]any{"addr": srv.Addr, "tls": "none"}})
	m := message{Subject: "relay 550", From: "root@sat.example", To: []string{"ok@example.org", "reject@example.org"},
		Body: []byte("For the Internet.\n.\nA lone dot above, 8-bit: \xc3\xa9\n")}
	w.sendmail(sat, m)
	w.roundTrip(sat, hub)

	if n := srv.deliveries("ok@example.org"); n != 1 {
		t.Errorf("ok@example.org got %d copies, want 1", n)
	}
	if n := srv.deliveries("reject@example.org"); n != 0 {
		t.Errorf("reject@example.org got %d copies, want 0", n)
	}
	for _, got := range srv.messages() {
		if got.From != m.From {
			t.Errorf("relay MAIL FROM %q, want %q", got.From, m.From)
		}
		data := bytes.ReplaceAll(got.Data, []byte("\r\n"), []byte("\n"))
		if i := bytes.Index(data, []byte("\n\n")); i < 0 || !bytes.Equal(data[i+2:], m.Body) {
			t.Errorf("relayed body differs: %q", data)
		}
	}
	box := readMaildir(t, mailbox(sat, "root"))
	got := dsnFor(box, m.Subject)
	if len(got) != 1 {
		t.Fatalf("%d DSNs for %q in sat's root Maildir, want 1 (%d messages there)\nhub log:\n%s", len(got), m.Subject, len(box), tail(hub.Log, 20))
	}
	checkDSN(t, got[0], []string{"reject@example.org"}, `^5\.1\.1$`, "ok@example.org")
	body := string(got[0].body)
	if !strings.Contains(body, "Diagnostic-Code: smtp; 550") || !strings.Contains(body, "no mailbox here by that name") {
		t.Errorf("DSN lacks the server's answer (Diagnostic-Code: smtp; 550 ... no mailbox here by that name):\n%s", clip(body, 3000))
	}
	if !strings.Contains(body, "Remote-MTA: dns;") {
		t.Errorf("DSN lacks Remote-MTA:\n%s", clip(body, 3000))
	}
}

// TestRetryAfter451: the relay answers 451 at the end of DATA the first
// time for one message, and 451 at RCPT for one recipient of another
// (whose other recipient it accepts). The messages stay deferred, a later
// queue run (ferry mailq -q, after the 1 s retry interval) delivers them,
// and nothing is delivered twice: not the recipient accepted on the first
// attempt, not the retried ones on further queue runs.
func TestRetryAfter451(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	srv.tempData["later@example.org"] = 1
	srv.tempRcpt["busy@example.org"] = 1
	w, sat, hub := bounceNet(t, map[string]any{
		"relay": map[string]any{"addr": srv.Addr, "tls": "none"},
		"retry": map[string]any{"interval": "1s"},
	})
	now := message{Subject: "relay now", From: "root@sat.example", To: []string{"now@example.org"}, Body: []byte("first time\n")}
	later := message{Subject: "relay later", From: "root@sat.example", To: []string{"later@example.org"}, Body: []byte("second time lucky\n")}
	half := message{Subject: "relay half", From: "root@sat.example", To: []string{"first@example.org", "busy@example.org"}, Body: []byte("one now, one later\n")}
	w.sendmail(sat, now)
	w.sendmail(sat, later)
	w.sendmail(sat, half)
	w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
	w.toss(hub, testnet.Ferry)

	if n := srv.deliveries("now@example.org"); n != 1 {
		t.Errorf("now@example.org: %d copies after the toss, want 1", n)
	}
	if n := srv.deliveries("later@example.org") + srv.deliveries("busy@example.org"); n != 0 {
		t.Fatalf("%d copies for later@ and busy@ after a 451, want 0", n)
	}
	if n := srv.deliveries("first@example.org"); n != 1 {
		t.Errorf("first@example.org: %d copies after the toss, want 1", n)
	}
	q := w.do(hub, testnet.Ferry, nil, "mailq").Stdout
	if !strings.Contains(q, "deferred") || !strings.Contains(q, "later@example.org") {
		t.Errorf("hub's mailq does not show the deferred message:\n%s", q)
	}
	// A queue run before the retry time is not due yet; after it, it is.
	time.Sleep(1500 * time.Millisecond)
	w.do(hub, testnet.Ferry, nil, "mailq", "-q")
	if n := srv.deliveries("later@example.org"); n != 1 {
		t.Errorf("later@example.org: %d copies after the retry, want 1\nhub mailq:\n%s\nlog:\n%s", n,
			w.do(hub, testnet.Ferry, nil, "mailq", "-all").Stdout, tail(hub.Log, 20))
	}
	// More queue runs and a second toss deliver nothing again.
	time.Sleep(1500 * time.Millisecond)
	w.do(hub, testnet.Ferry, nil, "mailq", "-q")
	w.toss(hub, testnet.Ferry)
	time.Sleep(1500 * time.Millisecond)
	w.do(hub, testnet.Ferry, nil, "mailq", "-q")
	if n := srv.deliveries("later@example.org"); n != 1 {
		t.Errorf("later@example.org: %d copies after more queue runs, want 1", n)
	}
	for rcpt, want := range map[string]int{"now@example.org": 1, "first@example.org": 1, "busy@example.org": 1} {
		if n := srv.deliveries(rcpt); n != want {
			t.Errorf("%s: %d copies after the queue runs, want %d", rcpt, n, want)
		}
	}
	if q := w.do(hub, testnet.Ferry, nil, "mailq").Stdout; q != "Mail queue is empty\n" {
		t.Errorf("hub's mailq after delivery:\n%s", q)
	}
	// No DSN for a temporary failure that then succeeded.
	w.carry(hub, testnet.Ferry, sat, testnet.Ferry)
	w.toss(sat, testnet.Ferry)
	for _, d := range readMaildir(t, mailbox(sat, "root")) {
		if strings.Contains(d.field("Content-Type"), "report") && strings.Contains(string(d.body), "Action: failed") {
			t.Errorf("a failure DSN came back for a message that was delivered on retry:\n%s", clip(string(d.body), 2000))
		}
	}
}
