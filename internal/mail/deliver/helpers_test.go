package deliver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// bodies are the messages the byte-exact tests deliver.
var bodies = map[string]string{
	"plain":       "Subject: hi\n\nhello\n",
	"8bit":        "Subject: caf\xc3\xa9\n\nna\xefve \xff\x00 bytes\n",
	"from lines":  "Subject: f\n\nFrom here\n>From there\n>>From everywhere\nFrom\nFromage\n From x\n",
	"dots":        "Subject: d\n\n.\n..\n.leading\n",
	"no newline":  "Subject: n\n\nlast line without newline",
	"crlf":        "Subject: c\r\n\r\nFrom crlf\r\n.\r\n",
	"empty":       "",
	"header only": "Subject: h\n",
}

// bytesMessage returns a Message whose Open reads b.
func bytesMessage(from, b string) *Message {
	return &Message{From: from, Size: int64(len(b)), ID: "1test", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(b)), nil
	}}
}

// failingMessage yields prefix, then fails.
func failingMessage(prefix string) *Message {
	return &Message{From: "a@sat.example", ID: "1fail", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(strings.NewReader(prefix), errReader{})), nil
	}}
}

var errBroken = errors.New("broken spool file")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

// genReader yields n bytes of mail-like lines, some starting with "From ",
// without allocating.
type genReader struct {
	n, off int64
}

const genLine = "From the generator, a line of text that is long enough to matter.\n"

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && g.off < g.n {
		c := copy(p[k:], genLine[g.off%int64(len(genLine)):])
		if rem := g.n - g.off; int64(c) > rem {
			c = int(rem)
		}
		k += c
		g.off += int64(c)
	}
	return k, nil
}

func genMessage(n int64) *Message {
	return &Message{From: "big@sat.example", Size: n, ID: "1big", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(&genReader{n: n}), nil
	}}
}

// allocated runs f and returns the bytes it allocated on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// one delivers to a single recipient and returns its Result.
func one(t *testing.T, tr Transport, msg *Message, rcpt string) Result {
	t.Helper()
	res := tr.Deliver(context.Background(), msg, []string{rcpt})
	if len(res) != 1 || res[0].Rcpt != rcpt {
		t.Fatalf("results %+v", res)
	}
	return res[0]
}

// wantErr checks that err is an *Error of the given class and code.
func wantErr(t *testing.T, err error, temporary bool, code int, enhanced string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	if e.Temporary() != temporary || (code != 0 && e.Code != code) || (enhanced != "" && e.Enhanced != enhanced) {
		t.Fatalf("error %q: temporary %v code %d %s, want %v %d %s", e, e.Temporary(), e.Code, e.Enhanced, temporary, code, enhanced)
	}
	if e.Enhanced[0] != byte('0'+e.Code/100) {
		t.Fatalf("error %q: code %d and status %s disagree", e, e.Code, e.Enhanced)
	}
	return e
}

func TestErrorDiagnostic(t *testing.T) {
	remote := &Error{Code: 550, Enhanced: "5.1.1", Text: "error from mx.example after RCPT TO:<b@x.example>",
		Reply: "550 5.1.1 no such user", RemoteMTA: "mx.example"}
	if got := remote.Diagnostic(); got != "smtp; 550 5.1.1 no such user" {
		t.Errorf("remote diagnostic %q", got)
	}
	if got := remote.Error(); got != "deliver: error from mx.example after RCPT TO:<b@x.example>: 550 5.1.1 no such user" {
		t.Errorf("remote error %q", got)
	}
	local := newError(554, "5.3.0", nil, "pipe x: exit status 1: oops\nsecond line")
	if got := local.Diagnostic(); got != "x-unix; pipe x: exit status 1: oops second line" {
		t.Errorf("local diagnostic %q", got)
	}
	if got := local.Error(); got != "deliver: pipe x: exit status 1: oops second line (554 5.3.0)" {
		t.Errorf("local error %q", got)
	}
	if local.Temporary() || !newError(451, "4.3.0", nil, "x").Temporary() {
		t.Error("Temporary does not follow the code")
	}
}

func TestBadAddresses(t *testing.T) {
	dir := t.TempDir()
	for _, tr := range []Transport{
		Maildir{Path: dir + "/md", Create: true},
		Mbox{Path: dir + "/mbox"},
		Pipe{Argv: []string{"true"}},
		SMTP{Addr: "127.0.0.1:1"},
	} {
		res := tr.Deliver(context.Background(), bytesMessage("a@sat.example", "x\n"), []string{"b@x.example>\nRCPT TO:<c@x.example"})
		e := wantErr(t, res[0].Err, false, 553, "5.1.3")
		if !errors.Is(e, ErrAddress) {
			t.Errorf("%T: %v does not wrap ErrAddress", tr, e)
		}
		res = tr.Deliver(context.Background(), bytesMessage("a\r\nb@sat.example", "x\n"), []string{"b@x.example"})
		wantErr(t, res[0].Err, false, 553, "5.1.7")
	}
}

func TestLineEnding(t *testing.T) {
	for in, want := range map[string]string{"": "\n", "a": "\n", "a\nb\r\n": "\n", "a\r\n": "\r\n", "\r\n": "\r\n"} {
		if got := lineEnding([]byte(in)); got != want {
			t.Errorf("lineEnding(%q) = %q", in, got)
		}
	}
}

func TestGenReader(t *testing.T) {
	b, _ := io.ReadAll(&genReader{n: 1000})
	if len(b) != 1000 || !bytes.HasPrefix(b, []byte(genLine+genLine)) {
		t.Fatalf("genReader gave %d bytes: %q", len(b), b[:100])
	}
}
