package bsmtp

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"ferry/internal/testnet/vectors"
)

// item is what one call to Next gave: a whole message, or an error (err is
// set for errors from Next and from reading the body).
type item struct {
	env  *Envelope
	body string
	err  error
}

// readBatch reads a whole batch, the way a careful caller does: it goes on
// after *Error and stops at io.EOF or another error.
func readBatch(t testing.TB, r *Reader) []item {
	t.Helper()
	var out []item
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("reader does not make progress")
		}
		env, body, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			out = append(out, item{err: err})
			var e *Error
			if !errors.As(err, &e) {
				return out
			}
			continue
		}
		b, err := io.ReadAll(body)
		out = append(out, item{env: env, body: string(b), err: err})
	}
}

func TestEximSample(t *testing.T) {
	for _, name := range []string{"gen/exim-bsmtp-sample.txt", "plain/bsmtp.txt"} {
		t.Run(name, func(t *testing.T) {
			sample := vectors.Read(t, name)
			items := readBatch(t, NewReader(strings.NewReader(string(sample))))
			if len(items) != 1 || items[0].err != nil {
				t.Fatalf("got %+v, want one message", items)
			}
			env := items[0].env
			want := &Envelope{From: "root@sat.example", To: []string{"alice@hub.example", "bob@hub.example"}, Line: 1}
			if !reflect.DeepEqual(env, want) {
				t.Errorf("envelope %+v, want %+v", env, want)
			}
			body := items[0].body
			if !strings.HasPrefix(body, "Received: from nncp by sat.example with local (Exim 4.96)\n\t(envelope-from <root@sat.example>)\n") {
				t.Errorf("body starts %q", body[:80])
			}
			if wantEnd := "\n\nBody line one.\n.a line starting with a dot\n.\nlast line\n"; !strings.HasSuffix(body, wantEnd) {
				t.Errorf("body ends %q, want suffix %q", body[len(body)-60:], wantEnd)
			}
		})
	}
}

func TestReaderAccepts(t *testing.T) {
	tests := []struct {
		name, in string
		env      *Envelope
		body     string
	}{
		{"crlf and helo", "EHLO sat.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nx\r\n..y\r\n.\r\nQUIT\r\n",
			&Envelope{From: "a@b.example", To: []string{"c@d.example"}, Helo: "sat.example", Line: 2}, "x\r\n.y\r\n"},
		{"lower case, space after colon, params", "mail from: <a@b.example> size=12 body=8bitmime SMTPUTF8 ret=hdrs envid=x+2By\nrcpt to:<c@d.example> notify=success,delay orcpt=rfc822;c@d.example\nrcpt to:<Postmaster>\ndata\nhi\n.\n",
			&Envelope{From: "a@b.example", To: []string{"c@d.example", "Postmaster"}, Line: 1,
				Params:     []Param{{"SIZE", "12"}, {"BODY", "8BITMIME"}, {"SMTPUTF8", ""}, {"RET", "HDRS"}, {"ENVID", "x+2By"}},
				RcptParams: [][]Param{{{"NOTIFY", "SUCCESS,DELAY"}, {"ORCPT", "rfc822;c@d.example"}}, nil}}, "hi\n"},
		{"null sender, source route, quoted local part, literal", "MAIL FROM:<>\nRCPT TO:<@relay.example:\"john doe\"@[192.0.2.1]>\nDATA\n.\n",
			&Envelope{To: []string{`"john doe"@[192.0.2.1]`}, Line: 1}, ""},
		{"rset and noop", "NOOP\nMAIL FROM:<x@y.example>\nRCPT TO:<z@y.example>\nRSET\nNOOP hello\nMAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA\nbody\n.\n",
			&Envelope{From: "a@b.example", To: []string{"c@d.example"}, Line: 6}, "body\n"},
		{"unstuffing and bare CR", "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA\n.x\n...\n\rz\r\r\n..\r\nbin\x00\xff\n.\n",
			&Envelope{From: "a@b.example", To: []string{"c@d.example"}, Line: 1}, "x\n..\n\rz\r\r\n.\r\nbin\x00\xff\n"},
		{"utf-8 addresses", "MAIL FROM:<jöran@bücher.example> SMTPUTF8\nRCPT TO:<δοκιμή@παράδειγμα.δοκιμή>\nDATA\n.\n",
			&Envelope{From: "jöran@bücher.example", To: []string{"δοκιμή@παράδειγμα.δοκιμή"}, Params: []Param{{"SMTPUTF8", ""}}, Line: 1}, ""},
		{"trailing garbage after QUIT", "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA\nm\n.\nQUIT\nthis is not read\nMAIL FROM:<e@f.example>\n",
			&Envelope{From: "a@b.example", To: []string{"c@d.example"}, Line: 1}, "m\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := readBatch(t, NewReader(strings.NewReader(tt.in)))
			if len(items) != 1 || items[0].err != nil {
				t.Fatalf("got %+v, want one message", items)
			}
			if !reflect.DeepEqual(items[0].env, tt.env) {
				t.Errorf("envelope\n got %+v\nwant %+v", items[0].env, tt.env)
			}
			if items[0].body != tt.body {
				t.Errorf("body %q, want %q", items[0].body, tt.body)
			}
		})
	}
}

const okTx = "MAIL FROM:<ok@b.example>\nRCPT TO:<ok@d.example>\nDATA\nok\n.\n"

// TestReaderErrors feeds malformed batches. want lists, per call to Next,
// the sentinel and line of the error, or nil for a whole message (always
// okTx's).
func TestReaderErrors(t *testing.T) {
	type res struct {
		err  error
		line int
	}
	ok := res{}
	tests := []struct {
		name, in string
		want     []res
	}{
		{"rcpt without mail", "RCPT TO:<a@b.example>\nDATA\nMAIL FROM:<x@y.example>\n.\n" + okTx, []res{{ErrSequence, 1}, ok}},
		{"data without mail", "DATA\nRCPT TO:<x@y.example>\n.\n" + okTx, []res{{ErrSequence, 1}, ok}},
		{"data without rcpt", "MAIL FROM:<a@b.example>\nDATA\nMAIL FROM:<evil@x.example>\nRCPT TO:<v@x.example>\nDATA\nz\n.\n" + okTx, []res{{ErrNoRecipients, 2}, ok}},
		{"bad rcpt skips its message", "MAIL FROM:<a@b.example>\nRCPT TO:<a b@c.example>\nRCPT TO:<x@y.example>\nDATA\nQUIT\n.\n" + okTx, []res{{ErrSyntax, 2}, ok}},
		{"mail inside transaction", "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\n" + okTx, []res{{ErrSequence, 3}, ok}},
		{"helo inside transaction", "MAIL FROM:<a@b.example>\nHELO x.example\n" + okTx, []res{{ErrSequence, 2}, ok}},
		{"quit inside transaction", "MAIL FROM:<a@b.example>\nQUIT\n" + okTx, []res{{ErrSequence, 2}}},
		{"truncated data", okTx + "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA\nhalf a mess", []res{ok, {ErrTruncated, 9}}},
		{"truncated after dot", okTx + "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA\nline\n.", []res{ok, {ErrTruncated, 10}}},
		{"truncated after dot cr", okTx + "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA\n.\r", []res{ok, {ErrTruncated, 9}}},
		{"truncated before data", okTx + "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\n", []res{ok, {ErrTruncated, 7}}},
		{"long command", "MAIL FROM:<a@b.example> ENVID=" + strings.Repeat("x", 1000) + "\nRCPT TO:<c@d.example>\nDATA\n.\n" + okTx, []res{{ErrLineTooLong, 1}, ok}},
		{"long command beyond buffer", "NOOP " + strings.Repeat("x", 100000) + "\n" + okTx, []res{{ErrLineTooLong, 1}, ok}},
		{"no brackets", "MAIL FROM:a@b.example\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"no domain", "MAIL FROM:<root>\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"null recipient", "MAIL FROM:<>\nRCPT TO:<>\n" + okTx, []res{{ErrSyntax, 2}, ok}},
		{"bad size", "MAIL FROM:<a@b.example> SIZE=12k\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"bad body", "MAIL FROM:<a@b.example> BODY=9BIT\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"unknown param", "MAIL FROM:<a@b.example> XFOO=1\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"duplicate param", "MAIL FROM:<a@b.example> SIZE=1 size=2\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"notify never and success", "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example> NOTIFY=NEVER,SUCCESS\n" + okTx, []res{{ErrSyntax, 2}, ok}},
		{"bad orcpt", "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example> ORCPT=c@d\n" + okTx, []res{{ErrSyntax, 2}, ok}},
		{"smtputf8 value", "MAIL FROM:<a@b.example> SMTPUTF8=yes\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"garbage after path", "MAIL FROM:<a@b.example>x\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"vrfy", "VRFY root\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"bdat", "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nBDAT 3 LAST\nabc\n" + okTx, []res{{ErrSyntax, 3}, ok}},
		{"unknown command", "XYZZY\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"empty line", "\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"helo without domain", "HELO\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"data with argument", "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA now\nx\n.\n" + okTx, []res{{ErrSyntax, 3}, ok}},
		{"control character", "MAIL FROM:<a@b.example>\x00\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"skipping stops at rset", "MAIL FROM:<a@b.example> BAD\nRCPT TO:<c@d.example>\nRSET\n" + okTx, []res{{ErrSyntax, 1}, ok}},
		{"skipped data truncated", "DATA\nfoo\n", []res{{ErrSequence, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := readBatch(t, NewReader(strings.NewReader(tt.in)))
			var got []res
			for _, it := range items {
				if it.err == nil {
					if it.env.From != "ok@b.example" || it.body != "ok\n" {
						t.Errorf("unexpected message %+v %q", it.env, it.body)
					}
					got = append(got, ok)
					continue
				}
				var e *Error
				if !errors.As(it.err, &e) {
					t.Fatalf("error %v is not *Error", it.err)
				}
				got = append(got, res{e.Err, e.Line})
				if e.Temporary() || e.Code < 500 || !strings.Contains(e.Error(), "line ") {
					t.Errorf("error %v: code %d temporary %v", e, e.Code, e.Temporary())
				}
				t.Logf("%v", e)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTruncatedBodyUnread(t *testing.T) {
	r := NewReader(strings.NewReader("MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA\nhalf"))
	if _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Next(); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Next after an unread truncated body: %v, want ErrTruncated", err)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("then %v, want io.EOF", err)
	}
}

func TestBodyLineLimit(t *testing.T) {
	// The long line ends in ".\n": the part left after the limit must not
	// be taken for the end of the message.
	long := strings.Repeat("y", 150)
	in := "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA\nshort\n" + long + ".\n.x\n.\n" + okTx
	for _, read := range []bool{true, false} {
		r := NewReaderOptions(strings.NewReader(in), ReaderOptions{MaxBodyLine: 100})
		_, body, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if read {
			if _, err := io.ReadAll(iotest.OneByteReader(body)); !errors.Is(err, ErrLineTooLong) {
				t.Fatalf("body: %v, want ErrLineTooLong", err)
			}
		}
		env, body, err := r.Next()
		if !read {
			if !errors.Is(err, ErrLineTooLong) {
				t.Fatalf("Next: %v, want ErrLineTooLong", err)
			}
			env, body, err = r.Next()
		}
		if err != nil {
			t.Fatalf("next message: %v", err)
		}
		b, _ := io.ReadAll(body)
		if env.From != "ok@b.example" || string(b) != "ok\n" {
			t.Fatalf("next message %+v %q", env, b)
		}
	}
}

func TestStaleBody(t *testing.T) {
	r := NewReader(strings.NewReader(okTx + okTx))
	_, body, _ := r.Next()
	if _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := body.Read(make([]byte, 10)); !errors.Is(err, errStale) {
		t.Fatalf("old body read: %v", err)
	}
}

type failingReader struct{ data string }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, errors.New("disk on fire")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestSourceErrorSticky(t *testing.T) {
	r := NewReader(&failingReader{data: "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>\nDATA\nab"})
	_, body, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(body); err == nil || err.Error() != "disk on fire" {
		t.Fatalf("body: %v", err)
	}
	for range 2 {
		if _, _, err := r.Next(); err == nil || err.Error() != "disk on fire" {
			t.Fatalf("Next: %v", err)
		}
	}
}
