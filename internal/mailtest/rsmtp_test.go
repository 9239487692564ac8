package mailtest

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/mail/bsmtp"
	"ferry/internal/testnet"
)

// bsmtpBatch is a BSMTP batch as Exim's pipe transport writes it (no
// HELO, no QUIT, LF line ends, dot-stuffed) carrying msgs.
func bsmtpBatch(t *testing.T, msgs []message) []byte {
	t.Helper()
	var b bytes.Buffer
	w := bsmtp.NewWriter(&b, bsmtp.WriterOptions{})
	for _, m := range msgs {
		if err := w.WriteMessage(&bsmtp.Envelope{From: m.From, To: m.To}, bytes.NewReader(m.bytes())); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hubNet is sat and hub; hub's rsmtp handle is ferry rsmtp (with -cfg,
// so that the real nncp-toss can run it too) and delivers to Maildirs.
func hubNet(t *testing.T, names ...string) (*world, *testnet.Node, *testnet.Node) {
	t.Helper()
	w := newWorld(t, append([]string{"sat", "hub"}, names...)...)
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(hub, map[string]any{"domain": "hub.example", "users": mailUsers(hub, "alice", "bob", "carol")})
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{w.ferry, "rsmtp", "-cfg", hub.CfgPath}
	w.write()
	return w, sat, hub
}

// TestMalformedBatch: a batch with a broken transaction in the middle and
// one cut off in its DATA. rsmtp (run by toss from a real exec packet)
// delivers the good messages, delivers nothing half-read, keeps the whole
// batch under SPOOL/mail/bad with a note of what was wrong, logs it and
// says so on stderr; toss considers the packet done.
func TestMalformedBatch(t *testing.T) {
	t.Parallel()
	w, sat, hub := hubNet(t)
	good1 := message{Subject: "bad-batch good 1", From: "root@sat.example", To: []string{"alice@hub.example"}, Body: []byte("first good\n")}
	good2 := message{Subject: "bad-batch good 2", From: "root@sat.example", To: []string{"bob@hub.example"}, Body: []byte("second good\n.\n")}
	good3 := message{Subject: "bad-batch good 3", From: "root@sat.example", To: []string{"carol@hub.example"}, Body: []byte("third good\n")}
	broken := "MAIL FROM:<root@sat.example>\nRCPT TO:<alice@hub.example bogus\nDATA\nSubject: bad-batch broken\n\nbroken\n.\n"
	batch1 := append(append(bsmtpBatch(t, []message{good1}), broken...), bsmtpBatch(t, []message{good2})...)
	// A batch whose last message never ends (no final dot).
	batch2 := append(bsmtpBatch(t, []message{good3}),
		"MAIL FROM:<root@sat.example>\nRCPT TO:<alice@hub.example>\nDATA\nSubject: bad-batch cut\n\nthis message is cut\n"...)

	w.do(sat, testnet.NNCP, batch1, "exec", "-noprogress", "-quiet", "hub", "rsmtp")
	w.do(sat, testnet.Ferry, batch2, "exec", "-noprogress", "-quiet", "hub", "rsmtp")
	w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
	w.toss(hub, testnet.Ferry)

	checkDelivered(t, hub, []message{good1, good2, good3}, ferryTrace)
	checkCount(t, hub, 3, "alice", "bob", "carol")
	if n := len(hub.RxPackets(t, sat)); n != 0 {
		t.Errorf("%d packets left in rx/: toss should consider a quarantined batch handled", n)
	}
	kept := badBatches(t, hub)
	for _, want := range [][]byte{batch1, batch2} {
		found := false
		for path, b := range kept {
			if bytes.Equal(b, want) {
				found = true
				note, err := os.ReadFile(path + ".err")
				if err != nil {
					t.Errorf("no note beside %s: %v", path, err)
				} else if !strings.Contains(string(note), "Error:") || !strings.Contains(string(note), "sat") {
					t.Errorf("note %s.err does not say what was wrong and from whom:\n%s", path, note)
				}
			}
		}
		if !found {
			t.Errorf("batch not kept byte for byte under %s (kept: %d files)", filepath.Join(hub.Spool, "mail", "bad"), len(kept))
		}
	}
	log, _ := os.ReadFile(hub.Log)
	if n := strings.Count(string(log), "Who: mail-quarantined"); n != 2 {
		t.Errorf("hub's log has %d mail-quarantined records, want 2:\n%s", n, tail(hub.Log, 40))
	}

	// Run by hand on a fresh malformed batch, rsmtp says so on stderr;
	// run again on the same batch (a re-toss after a crash), it delivers
	// nothing twice and still exits 0.
	good4 := message{Subject: "bad-batch good 4", From: "root@sat.example", To: []string{"bob@hub.example"}, Body: []byte("fourth\n")}
	batch3 := append([]byte("MAIL FROM:<root@sat.example>\nRCPT TO:<>\nDATA\nSubject: bad-batch no rcpt\n\nx\n.\n"), bsmtpBatch(t, []message{good4})...)
	for i := 0; i < 2; i++ {
		cmd := hub.Cmd(t, testnet.Ferry, "rsmtp")
		cmd.Env = append(cmd.Env, "NNCP_SENDER="+sat.Keys.ID.String(), "NNCP_SELF="+hub.Keys.ID.String())
		r := w.exec(cmd, batch3)
		if r.Code != 0 {
			t.Errorf("rsmtp run %d on a batch with a broken transaction: exit %d, want 0 (the batch is kept)\n%v", i+1, r.Code, r)
		}
		if !strings.Contains(r.Stderr, "malformed") || !strings.Contains(r.Stderr, filepath.Join(hub.Spool, "mail", "bad")) {
			t.Errorf("rsmtp run %d: stderr does not report the malformed batch and where it is kept:\n%s", i+1, r.Stderr)
		}
	}
	copies := 0
	for _, b := range badBatches(t, hub) {
		if bytes.Equal(b, batch3) {
			copies++
		}
	}
	if copies != 1 {
		t.Errorf("the batch received twice is kept %d times under SPOOL/mail/bad, want once", copies)
	}
	checkDelivered(t, hub, []message{good4}, ferryTrace)
	checkCount(t, hub, 4, "alice", "bob", "carol")
}

// badBatches reads SPOOL/mail/bad: batch path -> bytes (notes left out).
func badBatches(t *testing.T, nd *testnet.Node) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	dir := filepath.Join(nd.Spool, "mail", "bad")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Errorf("reading %s: %v", dir, err)
		return out
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".err") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = b
	}
	return out
}

// TestBatchTossedTwice: a 100-message batch in one exec packet, tossed;
// the same packet put back into rx/ and tossed again (by ferry, then by
// the real nncp-toss); rsmtp run twice more by hand on the same batch
// with the same NNCP_SENDER. Every message is delivered exactly once.
func TestBatchTossedTwice(t *testing.T) {
	t.Parallel()
	w, sat, hub := hubNet(t)
	_, msgs := standardCases(casesOpts{prefix: "twice", from: "root@sat.example", domain: "hub.example", batch: 100})
	msgs = append(msgs, message{Subject: "twice for two", From: "root@sat.example", To: []string{"bob@hub.example", "carol@hub.example"}, Body: []byte("two rcpts\n")})
	batch := bsmtpBatch(t, msgs)
	w.do(sat, testnet.NNCP, batch, "exec", "-noprogress", "-quiet", "hub", "rsmtp")
	w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
	rx := hub.RxPackets(t, sat)
	if len(rx) != 1 {
		t.Fatalf("%d packets in hub's rx/, want 1", len(rx))
	}
	pkt, err := os.ReadFile(rx[0])
	if err != nil {
		t.Fatal(err)
	}
	w.toss(hub, testnet.Ferry)
	want := deliveries(msgs)
	checkCount(t, hub, want, "alice", "bob", "carol")

	for _, impl := range []testnet.Impl{testnet.Ferry, testnet.NNCP} {
		w.writeFile(rx[0], pkt)
		w.toss(hub, impl)
		if n := len(hub.RxPackets(t, sat)); n != 0 {
			t.Errorf("%s toss left the packet tossed again in rx/", impl)
		}
		checkCount(t, hub, want, "alice", "bob", "carol")
	}
	for i := 0; i < 2; i++ {
		cmd := hub.Cmd(t, testnet.Ferry, "rsmtp")
		cmd.Env = append(cmd.Env, "NNCP_SENDER="+sat.Keys.ID.String())
		if r := w.exec(cmd, batch); r.Code != 0 {
			t.Errorf("rsmtp again: %v", r)
		}
	}
	checkCount(t, hub, want, "alice", "bob", "carol")
	checkDelivered(t, hub, msgs, ferryTrace)
	log, _ := os.ReadFile(hub.Log)
	if n := strings.Count(string(log), "Who: mail-duplicate"); n < len(msgs) {
		t.Errorf("hub's log has %d mail-duplicate records, want at least %d", n, len(msgs))
	}
}

// TestRoutingOnward: sat's mail for far.example goes to its smarthost
// hub; hub's mail.routes sends it on to far as a new packet, onion-routed
// through mid (hub's neigh.far.via), which relays it (with the real
// nncp-toss) without being able to read it; far delivers to Maildir.
func TestRoutingOnward(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "sat", "hub", "mid", "far")
	sat, hub, mid, far := w.node("sat"), w.node("hub"), w.node("mid"), w.node("far")
	w.setMail(sat, map[string]any{"domain": "sat.example", "smarthost": "hub"})
	w.setMail(hub, map[string]any{"domain": "hub.example", "users": mailUsers(hub, "alice"),
		"routes": map[string]any{"far.example": "far", ".far.example": "far"}})
	w.setMail(far, map[string]any{"domain": "far.example", "local-domains": []any{"lab.far.example"},
		"users": mailUsers(far, "carol", "dave")})
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{w.ferry, "rsmtp"}
	far.Cfg.Neigh["hub"].Exec["rsmtp"] = []string{w.ferry, "rsmtp"}
	w.write()
	w.net.Via(t, "hub", "far", "mid")
	w.write()

	marker := "secret-marker-7f3a9c"
	msgs := []message{
		{Subject: "onward 1", From: "root@sat.example", To: []string{"carol@far.example"}, Body: []byte("for far, " + marker + "\n.\n")},
		{Subject: "onward 2", From: "root@sat.example", To: []string{"dave@lab.far.example", "alice@hub.example"}, Body: []byte("for a subdomain and the hub, " + marker + "\n")},
		{Subject: "onward 3", From: "root@sat.example", To: []string{"carol@far.example"}, Body: body8bit},
	}
	for _, m := range msgs {
		w.sendmail(sat, m)
	}
	w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
	w.toss(hub, testnet.Ferry)
	if n := len(hub.TxPackets(t, mid)); n == 0 {
		t.Fatalf("hub queued nothing for mid (the via hop to far)\nhub log:\n%s", tail(hub.Log, 30))
	}
	if n := len(hub.TxPackets(t, far)); n != 0 {
		t.Errorf("hub queued %d packets straight for far, which is reached via mid", n)
	}
	w.carry(hub, testnet.Ferry, mid, testnet.NNCP)
	w.toss(mid, testnet.NNCP)
	// mid holds the packet for far now; nothing under mid's directory
	// shows the message.
	if n := len(mid.TxPackets(t, far)); n == 0 {
		t.Fatalf("mid did not relay anything for far")
	}
	filepath.WalkDir(mid.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(marker)) || bytes.Contains(b, []byte("onward 1")) {
			t.Errorf("the relay mid can read the mail: %s holds it", p)
		}
		return nil
	})
	w.carry(mid, testnet.NNCP, far, testnet.Ferry)
	w.toss(far, testnet.Ferry)

	forFar := []message{msgs[0], {Subject: msgs[1].Subject, From: msgs[1].From, To: []string{"dave@lab.far.example"}, Body: msgs[1].Body}, msgs[2]}
	checkDelivered(t, far, forFar, ferryTrace)
	checkCount(t, far, 3, "carol", "dave")
	checkDelivered(t, hub, []message{{Subject: msgs[1].Subject, From: msgs[1].From, To: []string{"alice@hub.example"}, Body: msgs[1].Body}}, ferryTrace)
	for _, d := range readMaildir(t, mailbox(far, "carol")) {
		if n := d.count("Received"); n < 2 {
			t.Errorf("%s: %d Received fields, want one by hub and one by far", d.field("Subject"), n)
		}
	}
	all := w.do(hub, testnet.Ferry, nil, "mailq", "-all").Stdout
	if !strings.Contains(all, "nncp:far") {
		t.Errorf("hub's mailq -all does not show the mail sent on to far:\n%s", all)
	}
	if t.Failed() {
		t.Logf("far log:\n%s", tail(far.Log, 30))
	}
}
