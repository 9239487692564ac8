package smtpd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testnet"
)

// maildir reads node a's delivered messages.
func maildir(t *testing.T, net *testnet.Net) [][]byte {
	t.Helper()
	dir := filepath.Join(net.Nodes["a"].Dir, "Maildir", "new")
	ents, _ := os.ReadDir(dir)
	var out [][]byte
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// RFC 5321 4.5.1: RCPT TO:<postmaster> without a domain is accepted and
// goes to mail.postmaster. A message line that reads the same, in DATA
// or in a BDAT chunk, reaches the mailbox unchanged.
func TestPostmasterUnqualified(t *testing.T) {
	m, net := newMTAWith(t, map[string]any{"postmaster": "alice@a.example"})
	body := "Subject: pm\r\n\r\nRCPT TO:<postmaster>\r\nrcpt to:<Postmaster> x\r\n"
	chunk := "Subject: pm bdat\r\n\r\nRCPT TO:<postmaster>\r\n"
	replies := runSession(t, m, "EHLO client\r\nMAIL FROM:<root@a.example>\r\nRCPT TO:<postmaster>\r\n"+
		"RCPT TO:<PostMaster> NOTIFY=NEVER\r\nDATA\r\n"+body+".\r\n"+
		"MAIL FROM:<root@a.example>\r\nRCPT TO: <postmaster>\r\n"+fmt.Sprintf("BDAT %d LAST\r\n", len(chunk))+chunk+"QUIT\r\n")
	if strings.Contains(replies, "@_") || !strings.Contains(replies, "<PostMaster>") {
		t.Errorf("the internal name shows in a reply:\n%s", replies)
	}
	if strings.Contains(replies, "501") || strings.Contains(replies, "553") || strings.Contains(replies, "550") {
		t.Fatalf("postmaster refused:\n%s", replies)
	}
	got := maildir(t, net)
	if len(got) != 2 {
		t.Fatalf("%d messages delivered to the postmaster (alice), want 2 (one each, the recipient given twice counted once):\n%s", len(got), replies)
	}
	for _, b := range got {
		lf := bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
		switch {
		case bytes.Contains(lf, []byte("Subject: pm bdat\n")):
			if !bytes.Contains(lf, []byte("\nRCPT TO:<postmaster>\n")) {
				t.Errorf("BDAT chunk changed:\n%s", b)
			}
		case bytes.Contains(lf, []byte("Subject: pm\n")):
			if !bytes.Contains(lf, []byte("\nRCPT TO:<postmaster>\nrcpt to:<Postmaster> x\n")) {
				t.Errorf("DATA changed:\n%s", b)
			}
		default:
			t.Errorf("unexpected message:\n%s", b)
		}
	}
}

// Without mail.postmaster, postmaster is the local postmaster (a users
// entry here).
func TestPostmasterLocal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pm")
	m, _ := newMTAWith(t, map[string]any{"users": map[string]any{"postmaster": "maildir:" + dir}})
	replies := runSession(t, m, "HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\nQUIT\r\n")
	if !strings.Contains(replies, "250 2.0.0 OK") {
		t.Errorf("replies:\n%s", replies)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "new")); len(ents) != 1 {
		t.Errorf("%d messages for the local postmaster:\n%s", len(ents), replies)
	}
}

// A HELO name with a lone CR, a NUL, controls and parentheses does not
// reach the Received: line as such.
func TestHeloSanitized(t *testing.T) {
	m, net := newMTA(t)
	replies := runSession(t, m, "EHLO cl\rient\x00\x01(x)\xff\r\nMAIL FROM:<root@a.example>\r\nRCPT TO:<alice@a.example>\r\nDATA\r\nSubject: helo\r\n\r\nx\r\n.\r\nQUIT\r\n")
	got := maildir(t, net)
	if len(got) != 1 {
		t.Fatalf("%d messages:\n%s", len(got), replies)
	}
	head, _, _ := bytes.Cut(got[0], []byte("\n\n"))
	for _, c := range head {
		if c == '\r' || c == 0 || c < ' ' && c != '\n' && c != '\t' || c == 0x7f {
			t.Errorf("control byte %#x in the header:\n%q", c, head)
		}
	}
	if !bytes.Contains(head, []byte("Received: from cl?ient???x?? ")) {
		t.Errorf("Received line does not show the cleaned name:\n%q", head)
	}
}

func TestHeaderSafe(t *testing.T) {
	for in, want := range map[string]string{
		"mail.example": "mail.example", "[127.0.0.1]": "[127.0.0.1]", "": "unknown",
		"a\rb": "a?b", "a\nReceived: x": "a?Received:?x", "\x00(\\)": "????",
	} {
		if got := headerSafe(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if got := headerSafe(strings.Repeat("a", 300)); len(got) != 255 {
		t.Errorf("long name kept %d bytes", len(got))
	}
}

// FuzzCmdFilter: whatever the client sends, the filter hands on exactly
// as many bytes, changed only where an unqualified postmaster was
// rewritten, and never panics.
func FuzzCmdFilter(f *testing.F) {
	f.Add("RCPT TO:<postmaster>\r\nDATA\r\nRCPT TO:<postmaster>\r\n.\r\n")
	f.Add("BDAT 22 LAST\r\nRCPT TO:<postmaster>\r\nRCPT TO:<PostMaster> X\r\n")
	f.Add("rcpt to:   <postmaster>\nBDAT 0\r\nBDAT x\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		toServer, fromClient := io.Pipe()
		_, fromServer := io.Pipe()
		fc := newCmdFilter(&pipeConn{r: toServer, w: fromServer})
		go func() {
			io.WriteString(fromClient, in)
			fromClient.Close()
		}()
		out, _ := io.ReadAll(fc)
		if len(out) != len(in) {
			t.Fatalf("%d bytes in, %d out", len(in), len(out))
		}
		if string(out) == in {
			return
		}
		if !strings.Contains(string(out), "@_") {
			t.Fatalf("changed without a rewrite:\n%q\n%q", in, out)
		}
	})
}

// mail.max-rcpt caps the recipients of a transaction (452 4.5.3 beyond
// it); a recipient given twice (domain in another case) counts once and
// gets one copy.
func TestRecipientsCappedAndDeduplicated(t *testing.T) {
	m, net := newMTA(t)
	toServer, fromClient := io.Pipe()
	toClient, fromServer := io.Pipe()
	srv := New(m, Options{Domain: "a.example", TmpDir: t.TempDir(), MaxRcpt: 3})
	done := make(chan error, 1)
	go func() {
		done <- srv.ServeConn(&pipeConn{r: toServer, w: fromServer})
		fromServer.Close()
	}()
	var out bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		io.Copy(&out, toClient)
		close(readDone)
	}()
	io.WriteString(fromClient, "EHLO c\r\nMAIL FROM:<root@a.example>\r\n"+
		"RCPT TO:<alice@a.example>\r\nRCPT TO:<alice@A.EXAMPLE>\r\nRCPT TO:<x@far.example>\r\nRCPT TO:<y@far.example>\r\n"+
		"RCPT TO:<z@far.example>\r\nDATA\r\nSubject: many\r\n\r\nx\r\n.\r\nQUIT\r\n")
	fromClient.Close()
	<-done
	<-readDone
	replies := out.String()
	if n := strings.Count(replies, "452 4.5.3 too many recipients"); n != 1 {
		t.Errorf("%d replies 452 4.5.3, want 1 (the fourth distinct recipient):\n%s", n, replies)
	}
	if !strings.Contains(replies, "250 2.0.0 OK") {
		t.Errorf("the message was not taken:\n%s", replies)
	}
	if got := maildir(t, net); len(got) != 1 {
		t.Errorf("alice got %d copies, want 1", len(got))
	}
	if n := len(net.Nodes["a"].TxPackets(t, net.Nodes["b"])); n != 1 {
		t.Errorf("%d packets for the smarthost, want 1", n)
	}
}
