package deliver

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/testnet/refbin"
)

var maildirName = regexp.MustCompile(`^\d+\.M\d+P\d+R[0-9a-f]{16}\.host\\057x\\072y,S=(\d+)$`)

// maildirFiles returns the names in dir/sub, failing on a missing dir.
func maildirFiles(t *testing.T, dir, sub string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestMaildirBytes(t *testing.T) {
	for name, body := range bodies {
		for _, from := range []string{"alice@sat.example", ""} {
			t.Run(name+"/"+from, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "Maildir")
				md := Maildir{Path: dir, Create: true, Hostname: "host/x:y"}
				res := one(t, md, bytesMessage(from, body), "bob@hub.example")
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				news := maildirFiles(t, dir, "new")
				if len(news) != 1 || len(maildirFiles(t, dir, "tmp")) != 0 || len(maildirFiles(t, dir, "cur")) != 0 {
					t.Fatalf("new %v, tmp %v", news, maildirFiles(t, dir, "tmp"))
				}
				m := maildirName.FindStringSubmatch(news[0])
				if m == nil {
					t.Fatalf("file name %q", news[0])
				}
				got, err := os.ReadFile(filepath.Join(dir, "new", news[0]))
				if err != nil {
					t.Fatal(err)
				}
				nl := "\n"
				if name == "crlf" {
					nl = "\r\n"
				}
				want := "Return-Path: <" + from + ">" + nl + "Delivered-To: bob@hub.example" + nl + body
				if string(got) != want {
					t.Errorf("got\n%q\nwant\n%q", got, want)
				}
				if m[1] != strconv.Itoa(len(got)) {
					t.Errorf("S=%s, file has %d bytes", m[1], len(got))
				}
				if !strings.HasSuffix(res.Info, news[0]) {
					t.Errorf("info %q", res.Info)
				}
			})
		}
	}
}

func TestMaildirNoTraceHeaders(t *testing.T) {
	dir := t.TempDir()
	md := Maildir{Path: dir, Create: true, NoTraceHeaders: true}
	body := bodies["8bit"]
	if res := one(t, md, bytesMessage("a@sat.example", body), "b@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	news := maildirFiles(t, dir, "new")
	got, _ := os.ReadFile(filepath.Join(dir, "new", news[0]))
	if string(got) != body {
		t.Errorf("got %q, want %q", got, body)
	}
}

func TestMaildirRecipients(t *testing.T) {
	dir := t.TempDir()
	res := Maildir{Path: dir, Create: true}.Deliver(context.Background(), bytesMessage("a@sat.example", "x\n"),
		[]string{"b@hub.example", "c@hub.example"})
	if len(res) != 2 || res[0].Err != nil || res[1].Err != nil || res[1].Rcpt != "c@hub.example" {
		t.Fatalf("results %+v", res)
	}
	seen := map[string]bool{}
	for _, n := range maildirFiles(t, dir, "new") {
		b, _ := os.ReadFile(filepath.Join(dir, "new", n))
		seen[string(b)] = true
	}
	if !seen["Return-Path: <a@sat.example>\nDelivered-To: b@hub.example\nx\n"] || !seen["Return-Path: <a@sat.example>\nDelivered-To: c@hub.example\nx\n"] {
		t.Errorf("files %v", seen)
	}
}

// TestMaildirFailures: whatever fails, nothing is left in tmp/ or new/.
func TestMaildirFailures(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(dir string)
		msg     *Message
		is      error
		enhaced string
	}{
		{"reader fails midway", nil, failingMessage("Subject: x\n\nfirst part\n"), ErrReadMessage, "4.3.0"},
		{"open fails", nil, &Message{Open: nil}, ErrReadMessage, "4.3.0"},
		{"short message", nil, &Message{Size: 100, Open: bytesMessage("", "only 20 bytes here\n").Open}, ErrReadMessage, "4.3.0"},
		{"new is not a directory", func(dir string) {
			os.Remove(filepath.Join(dir, "new"))
			os.WriteFile(filepath.Join(dir, "new"), nil, 0o600)
		}, bytesMessage("a@sat.example", "x\n"), nil, "4.3.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, d := range []string{"tmp", "new", "cur"} {
				os.Mkdir(filepath.Join(dir, d), 0o700)
			}
			if tt.setup != nil {
				tt.setup(dir)
			}
			res := one(t, Maildir{Path: dir}, tt.msg, "b@hub.example")
			e := wantErr(t, res.Err, true, 451, tt.enhaced)
			if tt.is != nil && !errors.Is(e, tt.is) {
				t.Errorf("%v does not wrap %v", e, tt.is)
			}
			if tmp := maildirFiles(t, dir, "tmp"); len(tmp) != 0 {
				t.Errorf("left in tmp: %v", tmp)
			}
			if fi, err := os.Stat(filepath.Join(dir, "new")); err == nil && fi.IsDir() {
				if n := maildirFiles(t, dir, "new"); len(n) != 0 {
					t.Errorf("left in new: %v", n)
				}
			}
		})
	}
}

func TestMaildirMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "none")
	res := one(t, Maildir{Path: dir}, bytesMessage("", "x\n"), "b@hub.example")
	wantErr(t, res.Err, true, 451, "4.3.0")
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("maildir created without Create: %v", err)
	}
}

// TestMaildirNotWritable: a Maildir this process may not write into is a
// temporary failure. Root writes anywhere, so as root the Maildir is on a
// file system mounted read-only.
func TestMaildirNotWritable(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
			refbin.Skip(t, "root writes anywhere, and a read-only tmpfs cannot be mounted here (%v: %s)", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", dir).Run() })
	}
	for _, d := range []string{"tmp", "new", "cur"} {
		os.Mkdir(filepath.Join(dir, d), 0o500)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
			t.Fatalf("remount read-only: %v: %s", err, out)
		}
	}
	res := one(t, Maildir{Path: dir}, bytesMessage("", "x\n"), "b@hub.example")
	wantErr(t, res.Err, true, 451, "4.3.0")
}

func TestMaildirCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	res := Maildir{Path: dir, Create: true}.Deliver(ctx, bytesMessage("", "x\n"), []string{"b@hub.example"})
	wantErr(t, res[0].Err, true, 451, "")
}

// TestMaildirLarge delivers 25 MiB with a few hundred KiB of memory.
func TestMaildirLarge(t *testing.T) {
	const size = 25 << 20
	dir := t.TempDir()
	md := Maildir{Path: dir, Create: true}
	var res Result
	alloc := allocated(func() { res = one(t, md, genMessage(size), "b@hub.example") })
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if alloc > 2<<20 {
		t.Errorf("allocated %d bytes for a %d-byte message", alloc, size)
	}
	news := maildirFiles(t, dir, "new")
	fi, err := os.Stat(filepath.Join(dir, "new", news[0]))
	if err != nil {
		t.Fatal(err)
	}
	head := int64(len("Return-Path: <big@sat.example>\nDelivered-To: b@hub.example\n"))
	if fi.Size() != size+head {
		t.Errorf("file has %d bytes, want %d", fi.Size(), size+head)
	}
}

// TestMaildirKeyed: a message with a Key gets a name derived from it; the
// same delivery again finds it, in new/ or, moved there by a reader, in
// cur/ with flags, and writes no second copy. Another recipient or key is
// another file.
func TestMaildirKeyed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Maildir")
	md := Maildir{Path: dir, Create: true, Hostname: "host"}
	msg := bytesMessage("alice@sat.example", "Subject: x\n\nhello\n")
	msg.Key, msg.Time = "K-ABC", time.Unix(1700000000, 0)
	if res := one(t, md, msg, "bob@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	news := maildirFiles(t, dir, "new")
	if len(news) != 1 || !strings.HasPrefix(news[0], "1700000000.K") || !strings.Contains(news[0], ".host,S=") {
		t.Fatalf("new/ %v", news)
	}
	// Again, without and with Retry: the same name is there already.
	for _, retry := range []bool{false, true} {
		msg.Retry = retry
		if res := one(t, md, msg, "bob@hub.example"); res.Err != nil {
			t.Fatal(res.Err)
		}
		if n := maildirFiles(t, dir, "new"); len(n) != 1 {
			t.Fatalf("retry %v: new/ %v", retry, n)
		}
	}
	// The reader moved it to cur/ and marked it seen.
	if err := os.Rename(filepath.Join(dir, "new", news[0]), filepath.Join(dir, "cur", news[0]+":2,S")); err != nil {
		t.Fatal(err)
	}
	msg.Retry, msg.Time = true, time.Unix(1700000999, 0)
	res := one(t, md, msg, "bob@hub.example")
	if res.Err != nil || !strings.Contains(res.Info, "delivered before") {
		t.Fatalf("%+v", res)
	}
	if n := maildirFiles(t, dir, "new"); len(n) != 0 {
		t.Fatalf("a second copy: new/ %v", n)
	}
	if res := one(t, md, msg, "carol@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	msg.Key = "K-DEF"
	if res := one(t, md, msg, "bob@hub.example"); res.Err != nil {
		t.Fatal(res.Err)
	}
	if n := maildirFiles(t, dir, "new"); len(n) != 2 || len(maildirFiles(t, dir, "tmp")) != 0 {
		t.Fatalf("new/ %v, tmp/ %v", n, maildirFiles(t, dir, "tmp"))
	}
}
