package mailtest

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"ferry/internal/mail/bsmtp"
	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
)

// TestEximSatelliteToFerryHub: a satellite Exim routes everything to the
// smarthost through its pipe transport into "nncp-exec -noprogress -quiet
// hub rsmtp" (nncp-exec being ferry, as after "ferry install-links"),
// the packets travel by xfer, and the hub's ferry toss runs ferry rsmtp,
// which delivers into Maildirs. Each message must arrive once, its body
// byte-identical, with the envelope sender and recipient.
func TestEximSatelliteToFerryHub(t *testing.T) {
	t.Parallel()
	refbin.Path(t, "exim4")
	w := newWorld(t, "sat", "hub")
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(hub, map[string]any{
		"domain": "hub.example",
		"users":  mailUsers(hub, "alice", "bob", "carol", "postmaster"),
	})
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{w.ferry, "rsmtp"}
	w.write()
	conf := w.eximConf("satellite.conf", sat, map[string]string{
		"/usr/local/nncp/bin/": w.bin + "/",
		// Exim gives the pipe only the environment it names.
		"environment = NNCPCFG=/etc/nncp.hjson": "environment = NNCPCFG=" + sat.CfgPath + " : " + raceEnv(),
	})

	singles, batch := standardCases(casesOpts{prefix: "exim-sat", from: "root@sat.example",
		domain: "hub.example", batch: 100, big: true})
	for _, m := range singles {
		// -oi: a lone dot is a line of the message (pitfall: without it
		// Exim ends the message there).
		if r := w.exim(conf, m.bytes(), "-odi", "-oi", "-f", m.From, "-t"); r.Code != 0 {
			t.Fatalf("exim -t %q: %v", m.Subject, r)
		}
	}
	// The batch: queued at once (-odq), then one queue run delivers them.
	for _, m := range batch {
		if r := w.exim(conf, m.bytes(), "-odq", "-oi", "-f", m.From, "-t"); r.Code != 0 {
			t.Fatalf("exim -odq -t %q: %v", m.Subject, r)
		}
	}
	if r := w.exim(conf, nil, "-qff"); r.Code != 0 {
		t.Fatalf("exim -qff: %v", r)
	}
	if r := w.exim(conf, nil, "-bpc"); r.Stdout != "0\n" {
		t.Fatalf("Exim's queue is not empty after the queue run (%q): the pipe transport failed?\n%v", r.Stdout, r)
	}
	// One packet per message: batch_max batches recipients of one
	// message only.
	if n, want := len(sat.TxPackets(t, hub)), len(singles)+len(batch); n != want {
		t.Fatalf("%d packets queued for hub, want %d", n, want)
	}
	w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
	w.toss(hub, testnet.Ferry)

	checkDelivered(t, hub, singles, ferryTrace)
	checkDelivered(t, hub, batch, ferryTrace)
	checkCount(t, hub, deliveries(singles, batch), "alice", "bob", "carol")
	if n := len(hub.RxPackets(t, sat)); n != 0 {
		t.Errorf("%d packets left in hub's rx/ after toss", n)
	}
	// The mail queue holds nothing once every message is delivered.
	r := w.do(hub, testnet.Ferry, nil, "mailq")
	if r.Stdout != "Mail queue is empty\n" {
		t.Errorf("hub's mailq after delivery:\n%s", r.Stdout)
	}
}

// TestFerrySendmailToEximHub: the other way round. ferry's sendmail on
// the satellite queues packets for the hub; the hub runs the real NNCP
// (nncp-xfer -rx, nncp-toss), whose exec handle rsmtp is "exim4 -C CONF
// -bS", and Exim delivers into Maildirs.
func TestFerrySendmailToEximHub(t *testing.T) {
	t.Parallel()
	exim := refbin.Path(t, "exim4")
	refbin.NNCP(t, "toss")
	w := newWorld(t, "sat", "hub")
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(sat, map[string]any{"domain": "sat.example", "smarthost": "hub"})
	hubConf := w.eximConf("hub.conf", hub, map[string]string{"/var/mail/nncp": filepath.Join(hub.Dir, "mail")})
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{exim, "-C", hubConf, "-bS"}
	w.write()

	singles, batch := standardCases(casesOpts{prefix: "sendmail-exim", from: "root@sat.example",
		domain: "hub.example", batch: 100, big: true})
	cfgEnv := []string{"NNCPCFG=" + sat.CfgPath}
	for i, m := range singles {
		var r result
		if i%2 == 0 {
			// as cron calls it: sendmail -t -oi, config from $NNCPCFG
			r = w.tool("sendmail", cfgEnv, m.bytes(), "-t", "-oi", "-f", m.From)
		} else {
			// recipients as arguments, config from -C
			r = w.tool("sendmail", nil, m.bytes(), append([]string{"-C", sat.CfgPath, "-oi", "-f", m.From, "--"}, m.To...)...)
		}
		if r.Code != 0 {
			t.Fatalf("sendmail %q: %v", m.Subject, r)
		}
	}
	// The batch: one sendmail -bS with 100 transactions.
	var bs bytes.Buffer
	bw := bsmtp.NewWriter(&bs, bsmtp.WriterOptions{})
	for _, m := range batch {
		if err := bw.WriteMessage(&bsmtp.Envelope{From: m.From, To: m.To}, bytes.NewReader(m.bytes())); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	if r := w.tool("sendmail", cfgEnv, bs.Bytes(), "-bS"); r.Code != 0 {
		t.Fatalf("sendmail -bS: %v", r)
	}
	if n := len(sat.TxPackets(t, hub)); n == 0 {
		t.Fatal("nothing queued for hub")
	}
	w.carry(sat, testnet.Ferry, hub, testnet.NNCP)
	r := w.toss(hub, testnet.NNCP)
	want := deliveries(singles, batch)
	users := []string{"alice", "bob", "carol"}
	dirs := []string{mailbox(hub, "alice"), mailbox(hub, "bob"), mailbox(hub, "carol")}
	waitMail(t, want, dirs...)
	checkDelivered(t, hub, singles, eximTrace)
	checkDelivered(t, hub, batch, eximTrace)
	checkCount(t, hub, want, users...)
	if t.Failed() {
		t.Logf("nncp-toss: %v\nhub log:\n%s", r, tail(hub.Log, 30))
		t.Logf("%s", fmt.Sprint(w.exim(hubConf, nil, "-bp").Stdout))
	}
}
