package mta

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/config"
	"ferry/internal/mail/bsmtp"
	"ferry/internal/mail/queue"
	"ferry/internal/spool"
	"ferry/internal/testnet"
)

type events struct{ evs []*Event }

func (e *events) Mail(ev *Event) { e.evs = append(e.evs, ev) }

func (e *events) count(what string) int {
	n := 0
	for _, ev := range e.evs {
		if ev.What == what {
			n++
		}
	}
	return n
}

// setup makes sat, hub and far; hub delivers hub.example locally and
// routes far.example to far; sat sends everything to hub.
func setup(t testing.TB) (*testnet.Net, map[string]*MTA, map[string]*events) {
	t.Helper()
	net := testnet.New(t, "sat", "hub", "far")
	md := func(nd *testnet.Node) string { return filepath.Join(nd.Dir, "Maildir-%u") }
	net.Nodes["sat"].Cfg.Mail = &config.Mail{Raw: map[string]any{"domain": "sat.example", "smarthost": "hub"}}
	net.Nodes["hub"].Cfg.Mail = &config.Mail{Raw: map[string]any{
		"domain": "hub.example",
		"users":  map[string]any{"alice": "maildir:" + md(net.Nodes["hub"]), "bob": "maildir:" + md(net.Nodes["hub"])},
		"routes": map[string]any{"far.example": "far", ".far.example": "far", "sat.example": "sat"},
	}}
	net.Nodes["far"].Cfg.Mail = &config.Mail{Raw: map[string]any{
		"domain": "far.example", "smarthost": "hub",
		"users": map[string]any{"*": "maildir:" + md(net.Nodes["far"])},
	}}
	net.Write(t)
	ms, evs := map[string]*MTA{}, map[string]*events{}
	for name, nd := range net.Nodes {
		cfg, err := config.Load(nd.CfgPath)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := spool.Open(cfg.Spool, spool.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		evs[name] = &events{}
		m, err := New(cfg, sp, evs[name])
		if err != nil {
			t.Fatal(err)
		}
		ms[name] = m
	}
	return net, ms, evs
}

func message(from string, to []string, body string) *Message {
	data := []byte(fmt.Sprintf("From: %s\nTo: %s\nSubject: test\nMessage-ID: <x@y>\n\n%s", from, strings.Join(to, ", "), body))
	return &Message{Env: &bsmtp.Envelope{From: from, To: to}, Size: int64(len(data)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

func TestRoute(t *testing.T) {
	_, ms, _ := setup(t)
	hub := ms["hub"]
	for rcpt, want := range map[string]string{
		"alice@hub.example":     "maildir:",
		"Alice+tag@HUB.example": "maildir:",
		`"alice"@hub.example`:   "maildir:",
		`"x@y"@hub.example`:     "none",
		"bob":                   "maildir:",
		"carol@hub.example":     "none",
		"x@far.example":         "nncp:far",
		"x@deep.far.example":    "nncp:far",
		"x@notfar.example":      "none",
	} {
		if got := hub.Route(rcpt).Via(); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %s, want %s", rcpt, got, want)
		}
	}
	if r := ms["sat"].Route("anyone@anywhere.example"); r.Kind != RouteNode || r.Node.Name != "hub" {
		t.Errorf("sat routes to %s", r.Via())
	}
	if r := hub.Route("../etc@hub.example"); r.Kind != RouteNone && strings.Contains(r.Target, "..") {
		t.Errorf("unsafe local part reached a path: %s", r.Target)
	}
}

// carry moves every packet from a's tx for b into b's rx, then b runs the
// exec handle for each mail packet itself (in-process rsmtp).
func carryMail(t *testing.T, net *testnet.Net, ms map[string]*MTA, from, to string) []*Received {
	t.Helper()
	a, b := net.Nodes[from], net.Nodes[to]
	a.Must(t, testnet.Ferry, nil, "xfer", "-quiet", "-mkdir", "-tx", "-node", to, net.Dir)
	// Toss with a handle that saves bodies, then feed them to ReceiveBSMTP.
	b.Cfg.Neigh[from].Exec["rsmtp"] = []string{"/bin/sh", "-c", `cat > "` + b.ExecDir + `/batch-$$-$RANDOM"`}
	net.Write(t)
	b.Must(t, testnet.Ferry, nil, "xfer", "-quiet", "-rx", net.Dir)
	b.Must(t, testnet.Ferry, nil, "toss", "-quiet")
	var out []*Received
	ents, _ := os.ReadDir(b.ExecDir)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "batch-") {
			continue
		}
		p := filepath.Join(b.ExecDir, e.Name())
		f, _ := os.Open(p)
		res, err := ms[to].ReceiveBSMTP(f, ms[to].Cfg.Neigh[from], ReceiveOptions{})
		f.Close()
		os.Remove(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Accepted {
			if err := ms[to].DeliverIDs(e.ID); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, res)
	}
	return out
}

func maildirFiles(t *testing.T, dir string) [][]byte {
	ents, _ := os.ReadDir(filepath.Join(dir, "new"))
	var out [][]byte
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		out = append(out, b)
	}
	return out
}

func TestSatToHubToFar(t *testing.T) {
	net, ms, evs := setup(t)
	sub, err := ms["sat"].Submit(message("root@sat.example", []string{"alice@hub.example", "x@far.example"}, "hello\n.dot\n"), SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sub.Packets) != 1 || sub.Queued != nil || sub.Packets[0].Node != "hub" {
		t.Fatalf("%+v", sub)
	}
	carryMail(t, net, ms, "sat", "hub")
	got := maildirFiles(t, filepath.Join(net.Nodes["hub"].Dir, "Maildir-alice"))
	if len(got) != 1 || !bytes.HasSuffix(got[0], []byte("\n\nhello\n.dot\n")) || !bytes.Contains(got[0], []byte("Return-Path: <root@sat.example>")) {
		t.Fatalf("alice got %q", got)
	}
	if evs["hub"].count("delivered") != 2 {
		t.Errorf("hub events: %d delivered", evs["hub"].count("delivered"))
	}
	carryMail(t, net, ms, "hub", "far")
	got = maildirFiles(t, filepath.Join(net.Nodes["far"].Dir, "Maildir-x"))
	if len(got) != 1 || !bytes.HasSuffix(got[0], []byte("\n\nhello\n.dot\n")) {
		t.Fatalf("far got %q", got)
	}
	if n := bytes.Count(got[0], []byte("Received: from")); n != 2 {
		t.Errorf("%d Received headers, want 2 (hub and far)", n)
	}
}

func TestBatchTwiceDeliversOnce(t *testing.T) {
	_, ms, _ := setup(t)
	hub := ms["hub"]
	var batch bytes.Buffer
	w := bsmtp.NewWriter(&batch, bsmtp.WriterOptions{})
	for i := 0; i < 3; i++ {
		m := message("root@sat.example", []string{"alice@hub.example"}, fmt.Sprintf("message %d\n", i))
		rc, _ := m.Open()
		w.WriteMessage(m.Env, rc)
	}
	w.Close()
	for round := 0; round < 2; round++ {
		res, err := hub.ReceiveBSMTP(bytes.NewReader(batch.Bytes()), hub.Cfg.Neigh["sat"], ReceiveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 && len(res.Accepted) != 3 || round == 1 && (len(res.Accepted) != 0 || res.Duplicates != 3) {
			t.Fatalf("round %d: %d accepted, %d duplicates", round, len(res.Accepted), res.Duplicates)
		}
		for _, e := range res.Accepted {
			hub.DeliverIDs(e.ID)
		}
	}
	if n := len(maildirFiles(t, filepath.Join(filepath.Dir(hub.Cfg.Spool), "Maildir-alice"))); n != 3 {
		t.Fatalf("%d messages delivered, want 3", n)
	}
}

func TestMalformedBatchKeepsGoodOnesAndTheBatch(t *testing.T) {
	_, ms, evs := setup(t)
	hub := ms["hub"]
	batch := "MAIL FROM:<root@sat.example>\nRCPT TO:<alice@hub.example>\nDATA\nSubject: one\n\nfirst\n.\n" +
		"MAIL FROM:<root@sat.example>\nRCPT TO:<alice@hub.example>\nBOGUS\nDATA\nSubject: two\n\nsecond\n.\n" +
		"MAIL FROM:<root@sat.example>\nRCPT TO:<bob@hub.example>\nDATA\nSubject: three\n\nthird\n.\n" +
		"MAIL FROM:<root@sat.example>\nRCPT TO:<bob@hub.example>\nDATA\nSubject: cut\n\nno end"
	res, err := hub.ReceiveBSMTP(strings.NewReader(batch), hub.Cfg.Neigh["sat"], ReceiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Accepted) != 2 || res.Quarantined == "" || len(res.BadErrs) < 2 {
		t.Fatalf("accepted %d, quarantined %q, errors %v", len(res.Accepted), res.Quarantined, res.BadErrs)
	}
	kept, err := os.ReadFile(res.Quarantined)
	if err != nil || string(kept) != batch {
		t.Fatal("the malformed batch was not kept whole")
	}
	note, _ := os.ReadFile(res.Quarantined + ".err")
	if !bytes.Contains(note, []byte("Error:")) {
		t.Errorf("note: %s", note)
	}
	if evs["hub"].count("quarantined") != 1 {
		t.Error("no quarantine event")
	}
}

func TestUnknownUserAndNoRoute(t *testing.T) {
	_, ms, _ := setup(t)
	_, err := ms["hub"].Submit(message("a@hub.example", []string{"nobody@hub.example"}, "x\n"), SubmitOptions{})
	if !IsPermanent(err) || !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}
	_, err = ms["hub"].Submit(message("a@hub.example", []string{"x@elsewhere.example"}, "x\n"), SubmitOptions{})
	if !IsPermanent(err) || !errors.Is(err, ErrNoRoute) {
		t.Fatalf("no route: %v", err)
	}
	// Nothing was queued by the refused submissions.
	if l, _ := ms["hub"].Queue.List(); len(l) != 0 {
		t.Fatalf("%d entries queued", len(l))
	}
}

func TestLoopRefused(t *testing.T) {
	_, ms, _ := setup(t)
	hub := ms["hub"]
	// Mail from far for far.example would go straight back to far.
	res, err := hub.ReceiveBSMTP(strings.NewReader("MAIL FROM:<a@far.example>\nRCPT TO:<b@far.example>\nDATA\n\nx\n.\n"), hub.Cfg.Neigh["far"], ReceiveOptions{})
	if err != nil || len(res.Accepted) != 1 {
		t.Fatal(err)
	}
	hub.DeliverIDs(res.Accepted[0].ID)
	hist, _ := hub.Queue.History()
	if len(hist) != 1 || hist[0].Rcpts[0].State != queue.Failed || !strings.Contains(hist[0].Rcpts[0].Err, "loop") {
		t.Fatalf("%+v", hist)
	}
}

func TestLimits(t *testing.T) {
	net, ms, _ := setup(t)
	net.Nodes["sat"].Cfg.Mail.Raw["limits"] = map[string]any{"hub": map[string]any{"maxsize": float64(1000), "maxqueue": float64(2500)}}
	net.Write(t)
	cfg, _ := config.Load(net.Nodes["sat"].CfgPath)
	sat := ms["sat"]
	sat.Cfg, sat.Mail = cfg, cfg.Mail
	sat.Sender.Cfg = cfg
	_, err := sat.Submit(message("root@sat.example", []string{"a@x.example"}, strings.Repeat("x", 2000)), SubmitOptions{})
	if !IsPermanent(err) || !errors.Is(err, ErrTooBig) {
		t.Fatalf("too big: %v", err)
	}
	for i := 0; ; i++ {
		_, err := sat.Submit(message("root@sat.example", []string{"a@x.example"}, strings.Repeat("y", 500)), SubmitOptions{})
		if err != nil {
			if IsPermanent(err) || !errors.Is(err, ErrQueueFull) || i == 0 {
				t.Fatalf("after %d: %v", i, err)
			}
			break
		}
		if i > 10 {
			t.Fatal("queue limit never reached")
		}
	}
}

func TestRetryBackoff(t *testing.T) {
	_, ms, _ := setup(t)
	m := ms["hub"]
	m.Mail.RetryInterval = time.Minute
	for n, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 20: 4 * time.Hour} {
		if got := m.backoff(n); got != want {
			t.Errorf("attempt %d: %v, want %v", n, got, want)
		}
	}
}

// A message for an unknown user at the hub comes back to the satellite
// as a DSN over NNCP, and the satellite's mailq says it bounced.
func TestBounceBackToOrigin(t *testing.T) {
	net, ms, evs := setup(t)
	sat := ms["sat"]
	sub, err := sat.Submit(message("root@sat.example", []string{"nobody@hub.example", "alice@hub.example"}, "hi\n"), SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	carryMail(t, net, ms, "sat", "hub")
	if evs["hub"].count("bounced") != 1 || evs["hub"].count("delivered") != 1 {
		t.Fatalf("hub: %d bounced, %d delivered", evs["hub"].count("bounced"), evs["hub"].count("delivered"))
	}
	res := carryMail(t, net, ms, "hub", "sat")
	if len(res) != 1 || len(res[0].Accepted) != 1 || res[0].Accepted[0].From != "" {
		t.Fatalf("the bounce did not come back: %+v", res)
	}
	items, _ := sat.List(true)
	var state, reason string
	for _, it := range items {
		if it.ID == sub.Packets[0].ID {
			state, reason = it.State, it.Reason
		}
	}
	if state != "bounced" || !strings.Contains(reason, "nobody@hub.example") || !strings.Contains(reason, "5.1.") {
		t.Fatalf("mailq on sat: %q (%s)", state, reason)
	}
}

// A bounce that cannot be delivered goes to the postmaster once; if the
// postmaster cannot be reached either, it stops there.
func TestDoubleBounce(t *testing.T) {
	net, ms, evs := setup(t)
	net.Nodes["hub"].Cfg.Mail.Raw["postmaster"] = "alice@hub.example"
	net.Write(t)
	cfg, _ := config.Load(net.Nodes["hub"].CfgPath)
	hub := ms["hub"]
	hub.Cfg, hub.Mail, hub.Sender.Cfg = cfg, cfg.Mail, cfg
	// A bounce (null sender) for an unknown user, arriving from far.
	res, err := hub.ReceiveBSMTP(strings.NewReader("MAIL FROM:<>\nRCPT TO:<nobody@hub.example>\nDATA\nSubject: a bounce\n\nx\n.\n"), hub.Cfg.Neigh["far"], ReceiveOptions{})
	if err != nil || len(res.Accepted) != 1 {
		t.Fatal(res, err)
	}
	hub.DeliverIDs(res.Accepted[0].ID)
	got := maildirFiles(t, filepath.Join(filepath.Dir(hub.Cfg.Spool), "Maildir-alice"))
	if len(got) != 1 || !bytes.Contains(got[0], []byte("nobody@hub.example")) {
		t.Fatalf("postmaster got %d messages", len(got))
	}
	// Now the postmaster is unknown too: no loop.
	hub.Mail.Postmaster = "ghost@hub.example"
	res, _ = hub.ReceiveBSMTP(strings.NewReader("MAIL FROM:<>\nRCPT TO:<nobody2@hub.example>\nDATA\nSubject: b\n\nx\n.\n"), hub.Cfg.Neigh["far"], ReceiveOptions{})
	hub.DeliverIDs(res.Accepted[0].ID)
	if evs["hub"].count("bounced") != 1 {
		t.Errorf("%d bounced events, want 1 (the unroutable postmaster gets nothing)", evs["hub"].count("bounced"))
	}
	if l, _ := hub.Queue.List(); len(l) != 0 {
		t.Errorf("%d entries left queued", len(l))
	}
}
