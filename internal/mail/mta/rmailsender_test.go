package mta

import (
	"path/filepath"
	"strings"
	"testing"
)

// An rmail sender taken from the message (Return-Path or a "From " line)
// that delivery could never use (a lone CR, a NUL, no domain) refuses the
// message when it arrives: nothing is queued that would fail and then
// fail to bounce. A good one is delivered.
func TestRmailSenderFromMessageChecked(t *testing.T) {
	net, ms, evs := setup(t)
	sat := ms["hub"].Cfg.Neigh["sat"]
	for _, head := range []string{
		"Return-Path: <ro\rot@sat.example>\n",
		"From ro\rot@sat.example Tue Nov 24 10:00:00 2026\n",
		"Return-Path: <root@sat.example\x00>\n",
	} {
		_, err := ms["hub"].ReceiveRmail(strings.NewReader(head+"Subject: s\n\nx\n"), "", false, []string{"alice@hub.example"}, sat, ReceiveOptions{})
		if !IsPermanent(err) {
			t.Errorf("%q: %v, want a permanent refusal", head, err)
		}
	}
	if n := evs["hub"].count("received"); n != 0 {
		t.Errorf("%d messages received", n)
	}
	if _, err := ms["hub"].ReceiveRmail(strings.NewReader("Return-Path: <root@sat.example>\nSubject: s\n\nx\n"), "", false, []string{"alice@hub.example"}, sat, ReceiveOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := len(maildirFiles(t, filepath.Join(net.Nodes["hub"].Dir, "Maildir-alice"))); n != 1 {
		t.Errorf("%d delivered, want 1", n)
	}
}
