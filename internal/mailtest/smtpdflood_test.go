package mailtest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"ferry/internal/testnet/refbin"
)

// TestSmtpdFloodSwaks: the real ferry smtpd with mail.smtpd.max-conn 20
// and a short greeting timeout in its config. 200 idle connections: 20
// are greeted, the rest and a new client get 421 4.7.0; once the flood is
// closed, swaks delivers; an idle client is dropped by the greeting
// timeout. mail.postmaster takes RCPT TO:<postmaster>.
func TestSmtpdFloodSwaks(t *testing.T) {
	t.Parallel()
	refbin.Path(t, "swaks")
	w, sat, _ := smtpdNet(t)
	sat.Cfg.Mail.Raw["postmaster"] = "root@sat.example"
	sat.Cfg.Mail.Raw["smtpd"] = map[string]any{"max-conn": float64(20), "greeting-timeout": "5s", "timeout": "1m"}
	w.write()
	addr := w.startSmtpd(sat)

	line := func(c net.Conn) string {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		l, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return "error: " + err.Error()
		}
		return l
	}
	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	for i := 0; i < 200; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		flood = append(flood, c)
	}
	greeted, refused := 0, 0
	for _, c := range flood {
		switch l := line(c); {
		case strings.HasPrefix(l, "220 "):
			greeted++
		case strings.HasPrefix(l, "421 4.7.0 too many connections"):
			refused++
		}
	}
	if greeted != 20 || refused != 180 {
		t.Errorf("flood: %d greeted, %d refused; want 20 and 180", greeted, refused)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if l := line(c); !strings.HasPrefix(l, "421 4.7.0") {
		t.Errorf("new client during the flood: %q", l)
	}
	c.Close()
	for _, c := range flood {
		c.Close()
	}
	flood = nil

	// The server notices the closed connections on its own; swaks retries
	// until it is served (each try is refused at once while it is full).
	m := message{Subject: "after the flood", From: "root@sat.example", To: []string{"postmaster"}, Body: []byte("x\n")}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := w.swaks(addr, m)
		if r.Code == 0 && strings.Contains(r.Stdout, "<-  250") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session after the flood: %v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := bySubject(readMaildir(t, mailbox(sat, "root")), m.Subject); len(got) != 1 {
		t.Errorf("postmaster (root) got %d copies", len(got))
	}

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	r := bufio.NewReader(idle)
	idle.SetReadDeadline(time.Now().Add(30 * time.Second))
	var got []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("idle client not dropped; got %q", got)
			}
			break
		}
		got = append(got, l)
	}
	if len(got) != 2 || !strings.HasPrefix(got[1], "421 4.4.2") {
		t.Errorf("idle client got %q, want the greeting and a 421 4.4.2", got)
	}
}
