package mta

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// forgetDone rewrites the key index as a kill just before the "done"
// marks would have left it: every intent stays, no key is done.
func forgetDone(t *testing.T, m *MTA) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(m.Queue.Dir, "keys", "*.log"))
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, " I ") {
				keep = append(keep, l)
			}
		}
		if err := os.WriteFile(p, []byte(strings.Join(keep, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInDoubtRetry: a batch received, then received again as if the
// first rsmtp had been killed after its deliveries and before marking
// them done. The Maildir copy is found again; the message sent on to far
// is sent again byte for byte, so far's rsmtp finds its key and delivers
// it once.
func TestInDoubtRetry(t *testing.T) {
	net, ms, evs := setup(t)
	hub := ms["hub"]
	batch := "MAIL FROM:<root@sat.example>\nRCPT TO:<alice@hub.example>\nRCPT TO:<x@far.example>\nDATA\nSubject: once\nMessage-ID: <once@sat.example>\n\nhello\n.\n"
	for round := range 2 {
		res, err := hub.ReceiveBSMTP(strings.NewReader(batch), hub.Cfg.Neigh["sat"], ReceiveOptions{})
		if err != nil || len(res.Accepted) != 1 {
			t.Fatalf("round %d: %+v %v", round, res, err)
		}
		forgetDone(t, hub)
	}
	if evs["hub"].count("received again") != 1 {
		t.Errorf("%d 'received again' events, want 1", evs["hub"].count("received again"))
	}
	if n := len(maildirFiles(t, filepath.Join(net.Nodes["hub"].Dir, "Maildir-alice"))); n != 1 {
		t.Errorf("alice has %d copies, want 1", n)
	}
	if hist, _ := hub.Queue.History(); len(hist) != 1 {
		t.Errorf("%d history entries, want 1 (mailq -all shows the message once)", len(hist))
	}
	if n := len(net.Nodes["hub"].TxPackets(t, net.Nodes["far"])); n != 2 {
		t.Fatalf("%d packets for far, want 2 (the retry sends again)", n)
	}
	res := carryMail(t, net, ms, "hub", "far")
	dups := 0
	for _, r := range res {
		dups += r.Duplicates
	}
	if len(res) != 2 || dups != 1 {
		t.Errorf("far: %d batches, %d duplicates; want 2 and 1", len(res), dups)
	}
	if n := len(maildirFiles(t, filepath.Join(net.Nodes["far"].Dir, "Maildir-x"))); n != 1 {
		t.Errorf("far's x has %d copies, want 1", n)
	}
}
