package mailtest

import (
	"bytes"
	"net"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
)

// freeAddr is a free TCP address on 127.0.0.1.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// daemon starts impl's daemon for nd on addr as the run user and returns
// once it accepts connections; the test stops it.
func (w *world) daemon(nd *testnet.Node, impl testnet.Impl, addr string, args ...string) {
	t := w.t
	t.Helper()
	cmd := w.prep(nd.Cmd(t, impl, "daemon", append([]string{"-bind", addr, "-quiet"}, args...)...))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s: %s daemon exited: %s", nd.Name, impl, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s daemon does not listen on %s", nd.Name, impl, addr)
		}
		time.Sleep(20 * time.Millisecond) // polling for the listener, with a deadline
	}
}

// TestSeedFlowOnline is the seed's setup with ferry in every NNCP role and
// the packets moved online: the satellite's Exim hands each message to its
// pipe transport, "nncp-exec -noprogress -quiet far rsmtp" (ferry's
// symlink), which onion-wraps it for far via hub; the satellite calls the
// hub's ferry daemon with ferry call; the hub's toss relays the transit
// packet, unopened, into far's queue; the hub calls far's ferry daemon,
// which tosses what it received (-autotoss) into its rsmtp handle, the real
// "exim4 -bS", and Exim delivers into Maildirs. Every message arrives once
// with its body byte-identical, and nothing stays queued anywhere.
func TestSeedFlowOnline(t *testing.T) {
	t.Parallel()
	exim := refbin.Path(t, "exim4")
	w := newWorld(t, "sat", "hub", "far")
	sat, hub, far := w.node("sat"), w.node("hub"), w.node("far")
	w.net.Via(t, "sat", "far", "hub")
	farConf := w.eximConf("hub.conf", far, map[string]string{"/var/mail/nncp": filepath.Join(far.Dir, "mail")})
	far.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{exim, "-C", farConf, "-bS"}
	hubAddr, farAddr := freeAddr(t), freeAddr(t)
	sat.Cfg.Neigh["hub"].Addrs = map[string]string{"main": hubAddr}
	hub.Cfg.Neigh["far"].Addrs = map[string]string{"main": farAddr}
	w.write()
	satConf := w.eximConf("satellite.conf", sat, map[string]string{
		"/usr/local/nncp/bin/":                  w.bin + "/",
		"-quiet hub rsmtp":                      "-quiet far rsmtp",
		"environment = NNCPCFG=/etc/nncp.hjson": "environment = NNCPCFG=" + sat.CfgPath + " : " + raceEnv(),
	})

	singles, batch := standardCases(casesOpts{prefix: "seed-online", from: "root@sat.example",
		domain: "hub.example", batch: 30, big: true})
	for _, m := range singles {
		if r := w.exim(satConf, m.bytes(), "-odi", "-oi", "-f", m.From, "-t"); r.Code != 0 {
			t.Fatalf("exim -t %q: %v", m.Subject, r)
		}
	}
	for _, m := range batch {
		if r := w.exim(satConf, m.bytes(), "-odq", "-oi", "-f", m.From, "-t"); r.Code != 0 {
			t.Fatalf("exim -odq -t %q: %v", m.Subject, r)
		}
	}
	if r := w.exim(satConf, nil, "-qff"); r.Code != 0 {
		t.Fatalf("exim -qff: %v", r)
	}
	if r := w.exim(satConf, nil, "-bpc"); r.Stdout != "0\n" {
		t.Fatalf("the satellite's Exim queue is not empty (%q): the pipe transport failed?\n%v", r.Stdout, r)
	}
	want := len(singles) + len(batch)
	if n := len(sat.TxPackets(t, hub)); n != want {
		t.Fatalf("%d packets queued for hub, want %d (one per message, onion-wrapped for far)", n, want)
	}

	w.daemon(hub, testnet.Ferry, hubAddr)
	w.daemon(far, testnet.Ferry, farAddr, "-autotoss")

	// The satellite's call: its whole queue goes to the hub.
	w.do(sat, testnet.Ferry, nil, "call", "-noprogress", "-onlinedeadline", "1", "hub")
	if n := len(sat.TxPackets(t, hub)); n != 0 {
		t.Fatalf("%d packets still queued on sat after its call", n)
	}
	if n := len(hub.RxPackets(t, sat)); n != want {
		t.Fatalf("hub received %d packets, want %d", n, want)
	}
	// The hub relays them, unopened, and calls far.
	w.toss(hub, testnet.Ferry)
	if n := len(hub.TxPackets(t, far)); n != want {
		t.Fatalf("hub queued %d packets for far, want %d", n, want)
	}
	w.do(hub, testnet.Ferry, nil, "call", "-noprogress", "-onlinedeadline", "1", "far")
	if n := len(hub.TxPackets(t, far)); n != 0 {
		t.Fatalf("%d packets still queued on hub for far after its call", n)
	}

	users := []string{"alice", "bob", "carol"}
	dirs := []string{mailbox(far, "alice"), mailbox(far, "bob"), mailbox(far, "carol")}
	n := deliveries(singles, batch)
	waitMail(t, n, dirs...)
	checkDelivered(t, far, singles, eximTrace)
	checkDelivered(t, far, batch, eximTrace)
	checkCount(t, far, n, users...)
	// far's autotoss leaves nothing behind once Exim has taken it.
	deadline := time.Now().Add(30 * time.Second)
	for len(far.RxPackets(t, sat)) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // the daemon's toss runs after the session
	}
	if left := len(far.RxPackets(t, sat)); left != 0 {
		t.Errorf("%d packets left in far's rx/ after its autotoss\n%s", left, tail(far.Log, 30))
	}
	if t.Failed() {
		t.Logf("far's Exim queue:\n%s", w.exim(farConf, nil, "-bp").Stdout)
	}
}
