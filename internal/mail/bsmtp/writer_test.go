package bsmtp

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"ferry/internal/testnet/vectors"
)

// TestWriterEximBytes writes the Exim sample's transaction and gets Exim's
// bytes exactly.
func TestWriterEximBytes(t *testing.T) {
	sample := vectors.Read(t, "gen/exim-bsmtp-sample.txt")
	items := readBatch(t, NewReader(bytes.NewReader(sample)))
	var out bytes.Buffer
	w := NewWriter(&out, WriterOptions{})
	if err := w.WriteMessage(items[0].env, strings.NewReader(items[0].body)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), sample) {
		t.Errorf("writer output differs from Exim's:\n%s", out.Bytes())
	}
}

func TestWriterBytes(t *testing.T) {
	env := &Envelope{From: "", To: []string{"a@b.example", "postmaster"},
		Params:     []Param{{"BODY", "8BITMIME"}, {"SIZE", "9"}},
		RcptParams: [][]Param{{{"NOTIFY", "NEVER"}}, nil}}
	tests := []struct {
		name string
		opts WriterOptions
		body string
		want string
	}{
		{"lf", WriterOptions{}, ".\n..x\nend", "MAIL FROM:<> BODY=8BITMIME SIZE=9\nRCPT TO:<a@b.example> NOTIFY=NEVER\nRCPT TO:<postmaster>\nDATA\n..\n...x\nend\n.\n"},
		{"crlf helo quit", WriterOptions{Helo: "sat.example", CRLF: true, Quit: true}, "a\r\n.\r\n", "HELO sat.example\r\nMAIL FROM:<> BODY=8BITMIME SIZE=9\r\nRCPT TO:<a@b.example> NOTIFY=NEVER\r\nRCPT TO:<postmaster>\r\nDATA\r\na\r\n..\r\n.\r\nQUIT\r\n"},
		{"empty body", WriterOptions{}, "", "MAIL FROM:<> BODY=8BITMIME SIZE=9\nRCPT TO:<a@b.example> NOTIFY=NEVER\nRCPT TO:<postmaster>\nDATA\n.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := NewWriter(&out, tt.opts)
			if err := w.WriteMessage(env, strings.NewReader(tt.body)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", out.String(), tt.want)
			}
		})
	}
}

func TestWriterRefuses(t *testing.T) {
	tests := []struct {
		name string
		env  Envelope
		want error
	}{
		{"no recipient", Envelope{From: "a@b.example"}, ErrNoRecipients},
		{"bad sender", Envelope{From: "a>b@c.example", To: []string{"x@y.example"}}, ErrSyntax},
		{"newline in recipient", Envelope{To: []string{"x@y.example>\nRCPT TO:<z@y.example"}}, ErrSyntax},
		{"unqualified", Envelope{To: []string{"root"}}, ErrSyntax},
		{"bad param", Envelope{To: []string{"x@y.example"}, Params: []Param{{"BODY", "x"}}}, ErrSyntax},
		{"param count", Envelope{To: []string{"x@y.example"}, RcptParams: [][]Param{}}, ErrSyntax},
		{"long line", Envelope{To: []string{"x@y.example"}, Params: []Param{{"ENVID", "e"}, {"AUTH", strings.Repeat("a", 1000)}}}, ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := NewWriter(&out, WriterOptions{})
			if err := w.WriteMessage(&tt.env, strings.NewReader("x\n")); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err := w.Close(); err != nil || out.Len() != 0 {
				t.Fatalf("close %v, output %q", err, out.String())
			}
		})
	}
}

func TestWriterBodyError(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, WriterOptions{})
	env := &Envelope{From: "a@b.example", To: []string{"c@d.example"}}
	body := io.MultiReader(strings.NewReader("first line\n"), &failingReader{})
	if err := w.WriteMessage(env, body); err == nil {
		t.Fatal("no error from a failing body")
	}
	if err := w.WriteMessage(env, strings.NewReader("x")); err == nil {
		t.Fatal("writer still writes after a failed message")
	}
	w.Close()
	items := readBatch(t, NewReader(&out))
	for _, it := range items {
		if it.err == nil {
			t.Fatalf("a message was handed out from a failed write: %+v", it)
		}
	}
}

// roundTrip writes the messages as one batch, reads it back and checks
// envelopes and bodies.
func roundTrip(t *testing.T, opts WriterOptions, envs []*Envelope, bodies []string) {
	t.Helper()
	var out bytes.Buffer
	w := NewWriter(&out, opts)
	for i, env := range envs {
		if err := w.WriteMessage(env, strings.NewReader(bodies[i])); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	items := readBatch(t, NewReader(bytes.NewReader(out.Bytes())))
	slow := readBatch(t, NewReader(iotest.OneByteReader(&out)))
	if !reflect.DeepEqual(slow, items) {
		t.Fatalf("reading one byte at a time gives %+v, all at once %+v", slow, items)
	}
	if len(items) != len(envs) {
		t.Fatalf("read %d messages, wrote %d", len(items), len(envs))
	}
	for i, it := range items {
		if it.err != nil {
			t.Fatalf("message %d: %v", i, it.err)
		}
		got := *it.env
		got.Line, got.Helo = 0, ""
		if !reflect.DeepEqual(&got, envs[i]) {
			t.Errorf("message %d envelope %+v, want %+v", i, got, envs[i])
		}
		want := bodies[i]
		if want != "" && !strings.HasSuffix(want, "\n") {
			want += opts2eol(opts)
		}
		if it.body != want {
			t.Errorf("message %d body %q, want %q", i, it.body, want)
		}
	}
}

func opts2eol(o WriterOptions) string {
	if o.CRLF {
		return "\r\n"
	}
	return "\n"
}

var roundTripBodies = []string{
	"",
	"\n",
	".",
	".\n",
	"..\n",
	".\r\n",
	"a\n.\nb\n",
	"..x\n...\n.y",
	"Subject: crlf\r\n\r\nline\r\n.\r\n..\r\n",
	"Subject: 8bit\n\nGrüße, ça va? \xff\xfe\x00\x80 end\n",
	"no newline at end",
	"lone\rcr\r",
	"mixed\r\nendings\n.\r\n.\n",
	strings.Repeat("long line ", 5000) + "\n",
}

func TestRoundTrip(t *testing.T) {
	for _, opts := range []WriterOptions{{}, {CRLF: true}, {Helo: "sat.example", Quit: true}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			var envs []*Envelope
			for i := range roundTripBodies {
				envs = append(envs, &Envelope{From: fmt.Sprintf("s%d@sat.example", i), To: []string{"r@hub.example"}})
			}
			envs[0].From = ""
			envs[1].Params = []Param{{"BODY", "8BITMIME"}, {"SMTPUTF8", ""}}
			envs[2].To = append(envs[2].To, "x@y.example")
			envs[2].RcptParams = [][]Param{nil, {{"ORCPT", "rfc822;x@y.example"}}}
			roundTrip(t, opts, envs, roundTripBodies)
		})
	}
}

func TestHundredMessages(t *testing.T) {
	var envs []*Envelope
	var bodies []string
	for i := range 100 {
		envs = append(envs, &Envelope{From: fmt.Sprintf("u%d@sat.example", i), To: []string{"a@hub.example", fmt.Sprintf("b%d@hub.example", i)}})
		bodies = append(bodies, fmt.Sprintf("Subject: %d\n\n%s\n.\n", i, strings.Repeat(".dot\n", i)))
	}
	roundTrip(t, WriterOptions{}, envs, bodies)
}

// lineGen produces size bytes of mail-like lines (some starting with dots,
// some 8-bit, some CRLF) without holding them or allocating.
type lineGen struct {
	left int64
	n    int
	arr  [512]byte
	buf  []byte
}

func (g *lineGen) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if len(g.buf) == 0 {
		g.n++
		b := g.arr[:0]
		switch g.n % 4 {
		case 0:
			b = append(b, ".line starts with a dot "...)
			b = strconv.AppendInt(b, int64(g.n), 10)
			b = append(b, '\n')
		case 1:
			b = append(b, ".\n"...)
		case 2:
			b = append(b, "8-bit \xc3\xa9\xff line "...)
			b = strconv.AppendInt(b, int64(g.n), 10)
			for range g.n % 200 {
				b = append(b, 'x')
			}
			b = append(b, "\r\n"...)
		default:
			b = append(b, ".."...)
			b = strconv.AppendInt(b, int64(g.n), 10)
			b = append(b, '\n')
		}
		g.buf = b
	}
	n := copy(p, g.buf)
	if int64(n) > g.left {
		n = int(g.left)
	}
	g.buf = g.buf[n:]
	g.left -= int64(n)
	if g.left == 0 && n > 0 && p[n-1] != '\n' {
		p[n-1] = '\n'
	}
	return n, nil
}

// TestLargeMessageStreams pushes a 25 MiB message through Writer and Reader
// over a pipe and checks that memory stays flat.
func TestLargeMessageStreams(t *testing.T) {
	const size = 25 << 20
	want := sha256.New()
	io.Copy(want, &lineGen{left: size})

	pr, pw := io.Pipe()
	go func() {
		w := NewWriter(pw, WriterOptions{})
		err := w.WriteMessage(&Envelope{From: "a@sat.example", To: []string{"b@hub.example"}}, &lineGen{left: size})
		if err == nil {
			err = w.Close()
		}
		pw.CloseWithError(err)
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := NewReader(pr)
	_, body, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, body)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the message: %v", err)
	}
	runtime.ReadMemStats(&after)
	if n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("read %d bytes, want %d; hashes differ: %v", n, size, !bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
	// Writer and Reader buffers are 64 KiB each; everything else is small.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("streaming %d MiB allocated %d KiB", size>>20, alloc>>10)
	} else {
		t.Logf("streaming %d MiB allocated %d KiB", size>>20, alloc>>10)
	}
}
