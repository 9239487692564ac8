package mta

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/mail/queue"
	"ferry/internal/testnet"
)

// breakTx makes the hub's tx queue for node unusable (a file where the
// directory should be) and returns the repair.
func breakTx(t *testing.T, m *MTA, nd *testnet.Node) func() {
	t.Helper()
	dir := filepath.Join(m.Spool.Dir, nd.Keys.ID.String())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
	}
}

// clock is an MTA clock the test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// receiveForNobody has the hub receive, from sat, a message for an
// unknown user: it fails for good and owes a bounce to sat.
func receiveForNobody(t *testing.T, hub *MTA, rcpt string) *queue.Entry {
	t.Helper()
	batch := "MAIL FROM:<root@sat.example>\nRCPT TO:<" + rcpt + ">\nDATA\nSubject: lost\nMessage-ID: <lost@sat.example>\n\nhello\n.\n"
	res, err := hub.ReceiveBSMTP(strings.NewReader(batch), hub.Cfg.Neigh["sat"], ReceiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Accepted) != 1 {
		t.Fatalf("%d accepted", len(res.Accepted))
	}
	return res.Accepted[0]
}

// TestBounceRetried: a bounce that cannot be queued (the hub's spool for
// sat is broken) keeps the message in the queue, mailq says "bounce
// deferred", not "bounced"; once the spool is repaired the next queue
// run after the backoff (the MTA's clock, driven by the test) sends it
// and finishes the entry. Issue 6: the entry was finished anyway and the
// bounce never sent.
func TestBounceRetried(t *testing.T) {
	net, ms, evs := setup(t)
	hub := ms["hub"]
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	hub.Now = c.now
	repair := breakTx(t, hub, net.Nodes["sat"])
	e := receiveForNobody(t, hub, "nobody@hub.example")
	q, err := hub.Queue.Get(e.ID)
	if err != nil {
		t.Fatalf("the entry owing a bounce is not queued: %v", err)
	}
	if q.State() != "bounce deferred" || !q.Rcpts[0].OwesBounce() || q.Rcpts[0].BounceErr == "" {
		t.Fatalf("state %q, rcpt %+v", q.State(), q.Rcpts[0])
	}
	items, _ := hub.List(false)
	if len(items) != 1 || items[0].State != "bounce deferred" {
		t.Fatalf("mailq: %+v", items)
	}
	// Not due yet: nothing happens.
	if err := hub.RunQueue(); err != nil {
		t.Fatal(err)
	}
	if evs["hub"].count("bounced") != 0 {
		t.Fatal("bounced before the spool was repaired")
	}
	repair()
	if err := hub.RunQueue(); err != nil {
		t.Fatal(err)
	}
	if evs["hub"].count("bounced") != 0 {
		t.Fatal("retried before its time")
	}
	c.t = q.NextTry
	if err := hub.RunQueue(); err != nil {
		t.Fatal(err)
	}
	if evs["hub"].count("bounced") != 1 {
		t.Fatalf("%d bounced events after the repair, want 1", evs["hub"].count("bounced"))
	}
	if _, err := hub.Queue.Get(e.ID); err == nil {
		t.Fatal("the entry stays queued after its bounce was sent")
	}
	if n := len(net.Nodes["hub"].TxPackets(t, net.Nodes["sat"])); n != 1 {
		t.Fatalf("%d packets for sat, want the bounce", n)
	}
	hist, _ := hub.Queue.History()
	if len(hist) != 1 || hist[0].State() != "bounced" {
		t.Fatalf("history: %+v", hist)
	}
}

// TestBounceGivenUp: a bounce that can never be sent is retried with the
// backoff and given up after mail.give-up, counted from the failure; the
// entry is then finished, and mailq does not call it bounced.
func TestBounceGivenUp(t *testing.T) {
	net, ms, evs := setup(t)
	hub := ms["hub"]
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &clock{t: start}
	hub.Now = c.now
	breakTx(t, hub, net.Nodes["sat"])
	e := receiveForNobody(t, hub, "nobody@hub.example")
	tries := 0
	for {
		q, err := hub.Queue.Get(e.ID)
		if err != nil {
			break
		}
		if tries++; tries > 100 {
			t.Fatal("never given up")
		}
		c.t = q.NextTry
		if err := hub.RunQueue(); err != nil {
			t.Fatal(err)
		}
	}
	if c.t.Sub(start) <= hub.Mail.GiveUp {
		t.Errorf("given up after %v, before mail.give-up (%v)", c.t.Sub(start), hub.Mail.GiveUp)
	}
	if tries < 3 {
		t.Errorf("given up after %d tries", tries)
	}
	hist, _ := hub.Queue.History()
	if len(hist) != 1 || !hist[0].Rcpts[0].BounceGaveUp || hist[0].Rcpts[0].Bounced {
		t.Fatalf("history: %+v", hist[0].Rcpts[0])
	}
	if evs["hub"].count("bounced") != 0 || evs["hub"].count("failed") < 2 {
		t.Errorf("%d bounced, %d failed events", evs["hub"].count("bounced"), evs["hub"].count("failed"))
	}
}

// TestBounceQuotedLocalPart: an unknown recipient with a quoted local
// part bounces (issue 6: "invalid dsn options" while mailq said
// bounced), and the DSN names it as it was written.
func TestBounceQuotedLocalPart(t *testing.T) {
	for _, rcpt := range []string{`"a b"@hub.example`, `"x@y"@hub.example`} {
		t.Run(rcpt, func(t *testing.T) {
			net, ms, evs := setup(t)
			hub := ms["hub"]
			e := receiveForNobody(t, hub, rcpt)
			if evs["hub"].count("bounced") != 1 || evs["hub"].count("deferred") != 0 {
				t.Fatalf("%d bounced, %d deferred events", evs["hub"].count("bounced"), evs["hub"].count("deferred"))
			}
			if _, err := hub.Queue.Get(e.ID); err == nil {
				t.Error("still queued")
			}
			res := carryMail(t, net, ms, "hub", "sat")
			if len(res) != 1 || len(res[0].Accepted) != 1 {
				t.Fatalf("the bounce did not reach sat: %+v", res)
			}
			hist, _ := hub.Queue.History()
			if len(hist) != 1 || hist[0].Rcpts[0].Enhanced != "5.1.1" || !hist[0].Rcpts[0].Bounced {
				t.Errorf("history: %+v", hist[0].Rcpts[0])
			}
		})
	}
}
