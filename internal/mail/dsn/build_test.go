package dsn

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// counter is a Rand that yields 0, 1, 2, ...
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

const origMsg = "Received: from sat.example by hub.example; Tue, 5 Mar 2024 06:00:00 +0000\r\n" +
	"From: Alice <alice@sat.example>\r\nTo: bob@x.example, carol@y.example\r\n" +
	"Subject: lunch\r\nMessage-ID:\r\n <lunch-1@sat.example>\r\n\r\nShall we?\r\n--\r\nAlice\r\n"

func opener(s string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
}

var (
	t0 = time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)
	t1 = time.Date(2024, 3, 5, 6, 0, 0, 0, time.UTC)
)

func baseOptions() Options {
	return Options{
		ReportingMTA: "hub.example",
		Now:          t0,
		Rand:         &counter{},
		Sender:       "alice@sat.example",
		EnvID:        "QQ314159",
		Arrival:      t1,
		QueueID:      "1rQxYz-000042",
		Original:     opener(origMsg),
		Recipients: []Recipient{
			{Final: "bob@x.example", Original: "rfc822;bob@x.example", Action: Failed, Status: "5.1.1",
				Diagnostic: "smtp; 550 5.1.1 <bob@x.example>: Recipient address rejected: User unknown in virtual mailbox table",
				RemoteMTA:  "mx.x.example", LastAttempt: t0},
			{Final: "carol@y.example", Action: Delayed, Status: "4.4.1",
				Diagnostic: "x-unix; smtp: connecting to mx.y.example:25: connection refused", LastAttempt: t0,
				WillRetryUntil: t0.Add(4 * 24 * time.Hour)},
		},
	}
}

func TestBuildGolden(t *testing.T) {
	got, err := Build(baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "failed.eml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("DSN differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
}

// part is one MIME part read back with go-message.
type part struct {
	typ    string
	params map[string]string
	cte    string
	body   string
}

// parts reads a DSN back with go-message: its header and its parts.
func parts(t *testing.T, b []byte) (message.Header, []part) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	mr := e.MultipartReader()
	if mr == nil {
		t.Fatal("not multipart")
	}
	var out []part
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		typ, params, err := p.Header.ContentType()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, part{typ, params, p.Header.Get("Content-Transfer-Encoding"), string(body)})
	}
	return e.Header, out
}

func TestBuildStructure(t *testing.T) {
	b, err := Build(baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	h, ps := parts(t, b)
	typ, params, _ := h.ContentType()
	if typ != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Errorf("content type %s %v", typ, params)
	}
	for k, want := range map[string]string{
		"From":                "Mail Delivery System <MAILER-DAEMON@hub.example>",
		"To":                  "alice@sat.example",
		"Subject":             "Mail delivery failed: returning message to sender",
		"Auto-Submitted":      "auto-replied",
		"Date":                "Tue, 05 Mar 2024 07:08:09 +0000",
		"Message-Id":          "<000102030405060708090a0b0c0d0e0f@hub.example>",
		"X-Failed-Recipients": "bob@x.example",
		"References":          "<lunch-1@sat.example>",
		"Mime-Version":        "1.0",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if len(ps) != 3 || ps[0].typ != "text/plain" || ps[1].typ != "message/delivery-status" || ps[2].typ != "text/rfc822-headers" {
		t.Fatalf("parts %+v", ps)
	}
	for _, s := range []string{"bob@x.example\n    host mx.x.example said: 550 5.1.1", "could not be delivered", "carol@y.example\n    smtp: connecting", "will be retried until Sat, 09 Mar 2024"} {
		if !strings.Contains(ps[0].body, s) {
			t.Errorf("text lacks %q:\n%s", s, ps[0].body)
		}
	}
	wantHeader := strings.ReplaceAll(origMsg[:strings.Index(origMsg, "\r\n\r\n")+2], "\r\n", "\n")
	if ps[2].body != wantHeader {
		t.Errorf("returned header %q, want %q", ps[2].body, wantHeader)
	}
}

func TestBuildEightBit(t *testing.T) {
	o := baseOptions()
	orig := "Subject: caf\xc3\xa9\nFrom: Jos\xc3\xa9 <jose@sat.example>\n\nna\xefve\n"
	o.Original, o.Ret = opener(orig), "FULL"
	o.Recipients[0].Final = "jos\u00e9@x.example"
	b, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	h, ps := parts(t, b)
	if h.Get("Content-Transfer-Encoding") != "8bit" {
		t.Error("8-bit DSN not marked 8bit")
	}
	_, params, _ := h.ContentType()
	if params["report-type"] != "global-delivery-status" || ps[1].typ != "message/global-delivery-status" {
		t.Errorf("report type %v, part %s", params, ps[1].typ)
	}
	if !strings.Contains(ps[1].body, "Final-Recipient: utf-8;jos\u00e9@x.example") {
		t.Errorf("status part:\n%s", ps[1].body)
	}
	if ps[2].typ != "message/rfc822" || ps[2].cte != "8bit" || ps[2].body != orig {
		t.Errorf("returned %+v", ps[2])
	}
	if ps[0].params["charset"] != "utf-8" || ps[0].cte != "8bit" {
		t.Errorf("text part %v %s", ps[0].params, ps[0].cte)
	}
}

func TestBuildReturn(t *testing.T) {
	big := "Subject: big\nMessage-ID: <big@sat.example>\n\n" + strings.Repeat("x", 200<<10) + "\n"
	tests := []struct {
		name, ret, orig string
		maxFull         int64
		maxHeader       int
		typ, body, text string
	}{
		{"full", "FULL", origMsg, 0, 0, "message/rfc822", strings.ReplaceAll(origMsg, "\r\n", "\n"), "Your message follows."},
		{"full, lower case", "full", "S: x\n\nb", 0, 0, "message/rfc822", "S: x\n\nb", "Your message follows."},
		{"too big", "FULL", big, 0, 0, "text/rfc822-headers", "Subject: big\nMessage-ID: <big@sat.example>\n", "too large to return whole"},
		{"never full", "FULL", origMsg, -1, 0, "text/rfc822-headers", "", "The header of your message follows."},
		{"header cut", "", "A: 1\nB: 2\nC: 3\n\nbody\n", 0, 10, "text/rfc822-headers", "A: 1\nB: 2\n", "cut short"},
		{"header only, no newline", "HDRS", "A: 1\nB: 2", 0, 0, "text/rfc822-headers", "A: 1\nB: 2\n", "The header of your message follows."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOptions()
			o.Ret, o.Original, o.MaxFull, o.MaxHeader = tt.ret, opener(tt.orig), tt.maxFull, tt.maxHeader
			b, err := Build(o)
			if err != nil {
				t.Fatal(err)
			}
			_, ps := parts(t, b)
			if ps[2].typ != tt.typ || (tt.body != "" && ps[2].body != tt.body) || !strings.Contains(ps[0].body, tt.text) {
				t.Errorf("part 3 %s %.80q, text:\n%s", ps[2].typ, ps[2].body, ps[0].body)
			}
		})
	}
	o := baseOptions()
	o.Original = nil
	b, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, ps := parts(t, b); len(ps) != 2 {
		t.Errorf("%d parts without an original", len(ps))
	}
}

// TestBuildBoundaryCollision: an original that holds the first boundary
// drawn gets another.
func TestBuildBoundaryCollision(t *testing.T) {
	o := baseOptions()
	orig := "X-Trap: --=_ferry_101112131415161718191a1b\n\nbody\n"
	o.Original = opener(orig)
	b, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	h, ps := parts(t, b)
	if _, params, _ := h.ContentType(); params["boundary"] != "=_ferry_1c1d1e1f2021222324252627" {
		t.Errorf("boundary %q", params["boundary"])
	}
	if len(ps) != 3 || ps[2].body != "X-Trap: --=_ferry_101112131415161718191a1b\n" {
		t.Errorf("parts %+v", ps)
	}
}

func TestBuildSubjects(t *testing.T) {
	o := baseOptions()
	o.Recipients = o.Recipients[1:]
	b, _ := Build(o)
	h, _ := parts(t, b)
	if h.Get("Subject") != "Mail delivery delayed: message not yet delivered" || h.Get("X-Failed-Recipients") != "" {
		t.Errorf("delayed: subject %q, failed %q", h.Get("Subject"), h.Get("X-Failed-Recipients"))
	}
	o.Recipients = []Recipient{{Final: "b@x.example", Action: Delivered, Status: "2.0.0"}}
	b, _ = Build(o)
	if h, _ := parts(t, b); h.Get("Subject") != "Mail delivery report: message delivered" {
		t.Errorf("delivered: subject %q", h.Get("Subject"))
	}
}

func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options)
		want   error
	}{
		{"null sender", func(o *Options) { o.Sender = "" }, ErrNullSender},
		{"bad sender", func(o *Options) { o.Sender = "a@b\nBcc: x@y" }, ErrInvalid},
		{"no reporting MTA", func(o *Options) { o.ReportingMTA = "" }, ErrInvalid},
		{"bad reporting MTA", func(o *Options) { o.ReportingMTA = "hub example" }, ErrInvalid},
		{"no recipients", func(o *Options) { o.Recipients = nil }, ErrInvalid},
		{"bad action", func(o *Options) { o.Recipients[0].Action = "bounced" }, ErrInvalid},
		{"bad status", func(o *Options) { o.Recipients[0].Status = "550" }, ErrInvalid},
		{"bad final", func(o *Options) { o.Recipients[0].Final = "a@b\r\nX: y" }, ErrInvalid},
		{"bad ret", func(o *Options) { o.Ret = "ALL" }, ErrInvalid},
	}
	for _, tt := range tests {
		o := baseOptions()
		tt.change(&o)
		if _, err := Build(o); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	o := baseOptions()
	o.Original = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
	if _, err := Build(o); err == nil {
		t.Error("no error for an original that cannot be opened")
	}
}

// TestBuildSanitizes: line breaks in diagnostics do not make new fields.
func TestBuildSanitizes(t *testing.T) {
	o := baseOptions()
	o.Recipients[0].Diagnostic = "smtp; 550 first\r\nAction: delivered\r\n"
	o.EnvID = "id\nX-Evil: 1"
	b, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ParseDSN(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Recipients[0]; r.Action != Failed || r.Diagnostic != "smtp; 550 first Action: delivered" || rep.EnvID != "id X-Evil: 1" {
		t.Errorf("report %+v", rep)
	}
}

func TestDecodeXtext(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "abc", "a+2Bb+3Dc": "a+b=c", "rfc822;b+40x": "rfc822;b@x"} {
		if got, err := DecodeXtext(in); err != nil || got != want {
			t.Errorf("DecodeXtext(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"a+2", "a+zz", "a b", "a=b", "\xc3\xa9"} {
		if _, err := DecodeXtext(in); err == nil {
			t.Errorf("DecodeXtext(%q) accepted", in)
		}
	}
}

func TestFold(t *testing.T) {
	long := "Diagnostic-Code: smtp; " + strings.Repeat("word ", 40)
	got := fold(long)
	for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if len(line) > 78 {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
	}
	if strings.ReplaceAll(got, "\n", "") != long {
		t.Errorf("unfolding %q does not give the field back", got)
	}
	nospace := "X: " + strings.Repeat("y", 100)
	if fold(nospace) != nospace+"\n" {
		t.Errorf("folded a value without spaces: %q", fold(nospace))
	}
}

// TestBuildQuotedLocalPart: recipients and senders with a quoted local
// part (RFC 5321 Quoted-string: spaces, "@", ",") bounce, and the report
// parses back to the same addresses. Issue 6: they failed with "invalid
// dsn options" while mailq said bounced.
func TestBuildQuotedLocalPart(t *testing.T) {
	for _, addr := range []string{`"a b"@example.com`, `"x@y"@example.com`, `"c,d"@example.com`, `"e\"f"@example.com`} {
		t.Run(addr, func(t *testing.T) {
			o := baseOptions()
			o.Recipients[0].Final = addr
			o.Recipients[0].Original = ""
			o.Sender = addr
			b, err := Build(o)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := ParseDSN(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Recipients[0].Final; got != addr {
				t.Errorf("Final-Recipient parsed back as %q, want %q\n%s", got, addr, b)
			}
			if !bytes.Contains(b, []byte("\nTo: "+addr+"\n")) {
				t.Errorf("no To: %s in\n%s", addr, b)
			}
		})
	}
}
