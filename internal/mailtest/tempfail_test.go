package mailtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
)

// TestEximDefersOnTempFail is issue 6, defect 10, end to end: the
// satellite's Exim pipes a message into "nncp-exec hub rsmtp" (ferry)
// while the spool's tmp/ is not writable by the user Exim runs the pipe
// as (an earlier command run as root made it). ferry exits 75
// (EX_TEMPFAIL), so Exim defers the message and keeps it, generating no
// bounce; once the spool is fixed, a queue run delivers it, once.
func TestEximDefersOnTempFail(t *testing.T) {
	t.Parallel()
	refbin.Path(t, "exim4")
	w := newWorld(t, "sat", "hub")
	sat, hub := w.node("sat"), w.node("hub")
	w.setMail(hub, map[string]any{
		"domain": "hub.example",
		"users":  mailUsers(hub, "alice", "postmaster"),
	})
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{w.ferry, "rsmtp"}
	w.write()
	conf := w.eximConf("satellite.conf", sat, map[string]string{
		"/usr/local/nncp/bin/":                  w.bin + "/",
		"environment = NNCPCFG=/etc/nncp.hjson": "environment = NNCPCFG=" + sat.CfgPath + " : " + raceEnv(),
	})

	// Break the spool for the run user: tmp/ root's (when the test is
	// root, as a root run of an older ferry left it), else read-only.
	tmp := filepath.Join(sat.Spool, "tmp")
	os.RemoveAll(tmp)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if !w.as.switched {
		os.Chmod(tmp, 0o555)
		defer os.Chmod(tmp, 0o755)
	}

	msg := "From: root@sat.example\nTo: alice@hub.example\nSubject: disk 91% full\n\nsee df -h\n"
	r := w.exim(conf, []byte(msg), "-odi", "-oi", "-f", "root@sat.example", "-t")
	if r.Code != 0 {
		t.Fatalf("exim -t: %v", r)
	}
	// Exim logs on stderr (a -C run has no mainlog): "==" is a deferral,
	// "**" a permanent failure.
	if !strings.Contains(r.Stderr, "== alice@hub.example") || strings.Contains(r.Stderr, "** alice@hub.example") {
		t.Fatalf("Exim did not defer the message:\n%v", r)
	}
	if !strings.Contains(r.Stderr, "returned 75") {
		t.Errorf("Exim's log does not show the pipe's status 75:\n%s", r.Stderr)
	}
	q := w.exim(conf, nil, "-bp")
	if strings.Count(q.Stdout, "<root@sat.example>") != 1 || strings.Contains(q.Stdout, "<>") {
		t.Fatalf("Exim's queue should hold the message, and no bounce:\n%v", q)
	}
	if n := len(sat.TxPackets(t, hub)); n != 0 {
		t.Fatalf("%d packets queued while the spool was broken", n)
	}

	// The admin fixes the spool; the next queue run delivers.
	if w.as.switched {
		w.own(tmp)
	} else {
		os.Chmod(tmp, 0o755)
	}
	r = w.exim(conf, nil, "-qff")
	if r.Code != 0 {
		t.Fatalf("exim -qff: %v", r)
	}
	if q := w.exim(conf, nil, "-bpc"); q.Stdout != "0\n" {
		t.Fatalf("Exim's queue after the queue run: %q\n%v\nqueue run: %v", q.Stdout, w.exim(conf, nil, "-bp"), r)
	}
	if n := len(sat.TxPackets(t, hub)); n != 1 {
		t.Fatalf("%d packets queued for hub after the queue run, want 1", n)
	}
	w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
	w.toss(hub, testnet.Ferry)
	if got := bySubject(readMaildir(t, mailbox(hub, "alice")), "disk 91% full"); len(got) != 1 {
		t.Fatalf("alice got the message %d times, want once", len(got))
	}
}
