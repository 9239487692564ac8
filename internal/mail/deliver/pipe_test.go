package deliver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sh returns a Pipe running script with /bin/sh, OUT set to a file in a
// temp dir.
func sh(t *testing.T, script string) (Pipe, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	return Pipe{Argv: []string{"/bin/sh", "-c", script}, Env: []string{"OUT=" + out}}, out
}

func TestPipeDelivered(t *testing.T) {
	p, out := sh(t, `cat > "$OUT"; env | sort > "$OUT.env"`)
	for name, body := range bodies {
		res := one(t, p, bytesMessage("alice@sat.example", body), "bob@hub.example")
		if res.Err != nil {
			t.Fatalf("%s: %v", name, res.Err)
		}
		nl := "\n"
		if name == "crlf" {
			nl = "\r\n"
		}
		got, _ := os.ReadFile(out)
		if want := "Return-Path: <alice@sat.example>" + nl + "Delivered-To: bob@hub.example" + nl + body; string(got) != want {
			t.Errorf("%s: command read %q, want %q", name, got, want)
		}
	}
	env, _ := os.ReadFile(out + ".env")
	for _, v := range []string{"SENDER=alice@sat.example", "RECIPIENT=bob@hub.example", "LOCAL_PART=bob",
		"DOMAIN=hub.example", "MESSAGE_ID=1test", "SHELL=/bin/sh", "PATH=/usr/local/bin:/usr/bin:/bin", "PWD=/"} {
		if !strings.Contains(string(env), v+"\n") {
			t.Errorf("environment lacks %s:\n%s", v, env)
		}
	}
	if strings.Contains(string(env), "HOME=") {
		t.Errorf("environment inherited from ferry:\n%s", env)
	}
}

func TestPipeExitCodes(t *testing.T) {
	tests := []struct {
		script    string
		temporary bool
		code      int
		enhanced  string
		text      string
	}{
		{`cat >/dev/null; echo "mailbox busy" >&2; exit 75`, true, 451, "4.3.0", "exit status 75 (temporary failure): mailbox busy"},
		{`cat >/dev/null; exit 73`, true, 451, "4.3.0", "exit status 73"},
		{`cat >/dev/null; echo "no such user" >&2; exit 1`, false, 554, "5.3.0", "exit status 1: no such user"},
		{`exit 67`, false, 554, "5.3.0", "exit status 67"},
		{`kill -TERM $$`, true, 451, "4.3.0", "killed by signal"},
	}
	for _, tt := range tests {
		p, _ := sh(t, tt.script)
		res := one(t, p, bytesMessage("a@sat.example", "Subject: x\n\nbody\n"), "b@hub.example")
		e := wantErr(t, res.Err, tt.temporary, tt.code, tt.enhanced)
		if !strings.Contains(e.Text, tt.text) {
			t.Errorf("%s: text %q lacks %q", tt.script, e.Text, tt.text)
		}
		if !strings.HasPrefix(e.Diagnostic(), "x-unix; pipe /bin/sh -c") {
			t.Errorf("diagnostic %q", e.Diagnostic())
		}
	}
}

func TestPipeTempErrors(t *testing.T) {
	p, _ := sh(t, `exit 75`)
	p.TempErrors = []int{}
	wantErr(t, one(t, p, bytesMessage("", "x\n"), "b@hub.example").Err, false, 554, "5.3.0")
	p, _ = sh(t, `exit 1`)
	p.TempErrors = []int{1}
	wantErr(t, one(t, p, bytesMessage("", "x\n"), "b@hub.example").Err, true, 451, "4.3.0")
}

func TestPipeTimeout(t *testing.T) {
	p, out := sh(t, `sleep 60; touch "$OUT"`)
	p.Timeout = 100 * time.Millisecond
	res := one(t, p, bytesMessage("", "x\n"), "b@hub.example")
	if e := wantErr(t, res.Err, true, 451, "4.3.0"); !errors.Is(e, ErrTimeout) {
		t.Errorf("%v does not wrap ErrTimeout", e)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the command went on after the timeout")
	}
}

// TestPipeUnreadInput: a command that exits 0 without reading delivers.
func TestPipeUnreadInput(t *testing.T) {
	res := one(t, Pipe{Argv: []string{"true"}}, genMessage(4<<20), "b@hub.example")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
}

// TestPipeReaderFails: the command is killed before it sees the end of
// its input, so it never takes the half message for a whole one.
func TestPipeReaderFails(t *testing.T) {
	p, out := sh(t, `cat > "$OUT"; touch "$OUT.done"`)
	res := one(t, p, failingMessage("Subject: x\n\n"+strings.Repeat("line\n", 100000)), "b@hub.example")
	if e := wantErr(t, res.Err, true, 451, "4.3.0"); !errors.Is(e, ErrReadMessage) {
		t.Errorf("%v does not wrap ErrReadMessage", e)
	}
	if _, err := os.Stat(out + ".done"); err == nil {
		t.Error("the command saw the end of a broken message")
	}
}

func TestPipeBatch(t *testing.T) {
	p, out := sh(t, `cat > "$OUT"; echo "[$RECIPIENT]" >> "$OUT"`)
	p.Batch = true
	res := p.Deliver(context.Background(), bytesMessage("a@sat.example", "x\n"), []string{"b@hub.example", "c@hub.example"})
	if len(res) != 2 || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("results %+v", res)
	}
	got, _ := os.ReadFile(out)
	if want := "Return-Path: <a@sat.example>\nEnvelope-to: b@hub.example, c@hub.example\nx\n[]\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	p.Argv = []string{"/bin/sh", "-c", "exit 1"}
	res = p.Deliver(context.Background(), bytesMessage("a@sat.example", "x\n"), []string{"b@hub.example", "c@hub.example"})
	wantErr(t, res[0].Err, false, 554, "")
	wantErr(t, res[1].Err, false, 554, "")
}

func TestPipeCannotRun(t *testing.T) {
	res := one(t, Pipe{Argv: []string{"/nonexistent/command"}}, bytesMessage("", "x\n"), "b@hub.example")
	wantErr(t, res.Err, true, 451, "4.3.0")
	res = one(t, Pipe{}, bytesMessage("", "x\n"), "b@hub.example")
	wantErr(t, res.Err, true, 451, "4.3.5")
}

func TestPipeOutputCapped(t *testing.T) {
	p, _ := sh(t, `i=0; while [ $i -lt 2000 ]; do echo "error line $i" >&2; i=$((i+1)); done; exit 1`)
	p.MaxOutput = 100
	e := wantErr(t, one(t, p, bytesMessage("", "x\n"), "b@hub.example").Err, false, 554, "")
	_, output, _ := strings.Cut(e.Text, "exit status 1: ")
	if len(output) > 104 || !strings.HasSuffix(output, " ...") || !strings.HasPrefix(output, "error line 0 error line 1") {
		t.Errorf("text %q", e.Text)
	}
}

func TestPipeLarge(t *testing.T) {
	const size = 25 << 20
	p, out := sh(t, `wc -c > "$OUT"`)
	var res Result
	alloc := allocated(func() { res = one(t, p, genMessage(size), "b@hub.example") })
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if alloc > 2<<20 {
		t.Errorf("allocated %d bytes for a %d-byte message", alloc, size)
	}
	got, _ := os.ReadFile(out)
	head := len("Return-Path: <big@sat.example>\nDelivered-To: b@hub.example\n")
	if strings.TrimSpace(string(got)) != itoa(size+head) {
		t.Errorf("command read %s bytes", got)
	}
}
