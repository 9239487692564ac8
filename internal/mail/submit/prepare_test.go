package submit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"ferry/internal/mail/bsmtp"
)

var testNow = time.Date(2026, 11, 24, 20, 32, 19, 0, time.FixedZone("", 3600))

func testOpts(tmpDir string) PrepareOptions {
	return PrepareOptions{
		Domain:   "sat.example",
		Hostname: "sat.example",
		User:     "nncp",
		Now:      func() time.Time { return testNow },
		Rand:     bytes.NewReader(bytes.Repeat([]byte{0xab}, 64)),
		TmpDir:   tmpDir,
	}
}

const (
	addedDate  = "Date: Tue, 24 Nov 2026 20:32:19 +0100\n"
	addedMsgID = "Message-ID: <20261124193219.abababababababab@sat.example>\n"
)

// prepare runs ParseArgs and Prepare and returns the message and its bytes.
func prepare(t *testing.T, args, in string, opts PrepareOptions) (*Message, string) {
	t.Helper()
	inv, err := ParseArgs(splitArgs(args))
	if err != nil {
		t.Fatal(err)
	}
	// The same input arriving one byte at a time (a slow pipe) must give
	// the same message.
	slow := opts
	slow.Rand = bytes.NewReader(bytes.Repeat([]byte{0xab}, 64))
	ms, err := Prepare(iotest.OneByteReader(strings.NewReader(in)), inv, slow)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	m, err := Prepare(strings.NewReader(in), inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	b, err := io.ReadAll(m.Reader())
	if err != nil {
		t.Fatal(err)
	}
	if bs, _ := io.ReadAll(ms.Reader()); !bytes.Equal(b, bs) || ms.DotEnded != m.DotEnded {
		t.Errorf("one byte at a time gives %q, all at once %q", bs, b)
	}
	if int64(len(b)) != m.Size {
		t.Errorf("Size %d, message has %d bytes", m.Size, len(b))
	}
	return m, string(b)
}

func TestPrepare(t *testing.T) {
	tests := []struct {
		name, args, in string
		from           string
		to             []string
		out            string
	}{
		{"cron -t with bare names", "-FCronDaemon -i -odi -oem -oi -t -f root",
			"From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@sat> run-parts\n\nout\n",
			"root@sat.example", []string{"root@sat.example"},
			"From: root@sat.example (Cron Daemon)\nTo: root\nSubject: Cron <root@sat> run-parts\n" + addedDate + addedMsgID + "\nout\n"},
		{"-t qualifies a bare From in angle brackets", "-i -t",
			"From: Cron Daemon <root>\nTo: ops@hub.example\n\nout\n",
			"nncp@sat.example", []string{"ops@hub.example"},
			"From: Cron Daemon <root@sat.example>\nTo: ops@hub.example\n" + addedDate + addedMsgID + "\nout\n"},
		{"without -t a bare From stays", "-i ops@hub.example",
			"From: root\n\nout\n",
			"nncp@sat.example", []string{"ops@hub.example"},
			"From: root\n" + addedDate + addedMsgID + "\nout\n"},
		{"cron without From header", "-FCronDaemon -i -B8BITMIME -oem root",
			"To: root\nSubject: x\n\nbody\n",
			"nncp@sat.example", []string{"root@sat.example"},
			"To: root\nSubject: x\n" + addedDate + addedMsgID + "From: \"CronDaemon\" <nncp@sat.example>\n\nbody\n"},
		{"mailx with -f", "-i -f me@x.example -- alice@hub.example bob",
			"Subject: hi\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nmessage-id: <a@b>\nFROM: Me <me@x.example>\n\n.\n..\n",
			"me@x.example", []string{"alice@hub.example", "bob@sat.example"},
			"Subject: hi\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nmessage-id: <a@b>\nFROM: Me <me@x.example>\n\n.\n..\n"},
		{"-t: To, Cc, Bcc, groups, comments, arguments removed", "-t -i carol@hub.example",
			"To: Alice <alice@hub.example>, \"Bob B.\" <bob@hub.example>\nCc: friends: carol@hub.example, (dave) dave@hub.example;,\n  erin\nBcc: secret@hub.example\nbcc:\nSubject: s\n\nb\n",
			"nncp@sat.example", []string{"alice@hub.example", "bob@hub.example", "dave@hub.example", "erin@sat.example", "secret@hub.example"},
			"To: Alice <alice@hub.example>, \"Bob B.\" <bob@hub.example>\nCc: friends: carol@hub.example, (dave) dave@hub.example;,\n  erin\nSubject: s\n" + addedDate + addedMsgID + "From: nncp@sat.example\n\nb\n"},
		{"-t with Resent fields", "-t -i",
			"Resent-From: a@x.example\nResent-To: new@hub.example\nResent-Bcc: hidden@hub.example\nTo: old@hub.example\nFrom: a@x.example\nDate: d\nMessage-ID: <m@x>\n\nb\n",
			"nncp@sat.example", []string{"new@hub.example", "hidden@hub.example"},
			"Resent-From: a@x.example\nResent-To: new@hub.example\nTo: old@hub.example\nFrom: a@x.example\nDate: d\nMessage-ID: <m@x>\n\nb\n"},
		{"-t duplicates", "-t -i", "To: a@hub.example, A@HUB.example\nCc: a@hub.example\nFrom: x@y\nDate: d\nMessage-ID: <m@x>\n\n",
			"nncp@sat.example", []string{"a@hub.example"}, "To: a@hub.example, A@HUB.example\nCc: a@hub.example\nFrom: x@y\nDate: d\nMessage-ID: <m@x>\n\n"},
		{"Bcc removed without -t", "-i bob", "Bcc: x@y.example\nFrom: a@b\nDate: d\nMessage-ID: <m@x>\n\nb",
			"nncp@sat.example", []string{"bob@sat.example"}, "From: a@b\nDate: d\nMessage-ID: <m@x>\n\nb"},
		{"crlf header", "-i bob", "Subject: crlf\r\n\r\nline\r\n",
			"nncp@sat.example", []string{"bob@sat.example"},
			"Subject: crlf\r\n" + strings.ReplaceAll(addedDate+addedMsgID, "\n", "\r\n") + "From: nncp@sat.example\r\n\r\nline\r\n"},
		{"no header", "-i bob", "just a body line\nand another\n",
			"nncp@sat.example", []string{"bob@sat.example"},
			addedDate + addedMsgID + "From: nncp@sat.example\n\njust a body line\nand another\n"},
		{"header ended by a non-field line", "-i bob", "Subject: s\nnot a field\n\nmore\n",
			"nncp@sat.example", []string{"bob@sat.example"},
			"Subject: s\n" + addedDate + addedMsgID + "From: nncp@sat.example\n\nnot a field\n\nmore\n"},
		{"non-field last line without line ending", "-i bob", "Subject: s\nunterminated body",
			"nncp@sat.example", []string{"bob@sat.example"},
			"Subject: s\n" + addedDate + addedMsgID + "From: nncp@sat.example\n\nunterminated body"},
		{"lone dot rule, body without line ending", "bob", "Subject: s\n\nbody\nlast",
			"nncp@sat.example", []string{"bob@sat.example"},
			"Subject: s\n" + addedDate + addedMsgID + "From: nncp@sat.example\n\nbody\nlast"},
		{"unix From line dropped", "-i bob", "From root@sat Tue Nov 24 20:32:19 2026\nSubject: s\n\nb\n",
			"nncp@sat.example", []string{"bob@sat.example"},
			"Subject: s\n" + addedDate + addedMsgID + "From: nncp@sat.example\n\nb\n"},
		{"From with a blank before the colon is a field", "-i bob", "From : a@b.example\nDate: d\nMessage-ID: <m@x>\n\nb\n",
			"nncp@sat.example", []string{"bob@sat.example"},
			"From : a@b.example\nDate: d\nMessage-ID: <m@x>\n\nb\n"},
		{"header without ending at EOF", "-i bob", "Subject: s",
			"nncp@sat.example", []string{"bob@sat.example"},
			"Subject: s\n" + addedDate + addedMsgID + "From: nncp@sat.example\n\n"},
		{"empty input", "-i bob", "",
			"nncp@sat.example", []string{"bob@sat.example"},
			addedDate + addedMsgID + "From: nncp@sat.example\n\n"},
		{"null sender", "-i -f <> bob", "Subject: bounce\n\n",
			"", []string{"bob@sat.example"},
			"Subject: bounce\n" + addedDate + addedMsgID + "From: nncp@sat.example\n\n"},
		{"8-bit untouched", "-i -F Jörg bob", "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= und Grüße\n\nGrüße \xff\xfe\x00\r\n\n",
			"nncp@sat.example", []string{"bob@sat.example"},
			"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= und Grüße\n" + addedDate + addedMsgID + "From: =?utf-8?q?J=C3=B6rg?= <nncp@sat.example>\n\nGrüße \xff\xfe\x00\r\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, out := prepare(t, tt.args, tt.in, testOpts(t.TempDir()))
			if m.From != tt.from || !reflect.DeepEqual(m.To, tt.to) {
				t.Errorf("envelope %q -> %q, want %q -> %q", m.From, m.To, tt.from, tt.to)
			}
			if out != tt.out {
				t.Errorf("message\n got %q\nwant %q", out, tt.out)
			}
		})
	}
}

// TestDotRule is pitfall 6: without -i/-oi a lone "." ends the message,
// as Exim does; with it the dot is text. Other dot lines are never
// touched (no unstuffing in local submission).
func TestDotRule(t *testing.T) {
	body := ".leading dot line\n..two dots\n.\nafter a lone dot\n"
	in := "Subject: dots\nFrom: a@b\nDate: d\nMessage-ID: <m@x>\n\n" + body
	hdr := "Subject: dots\nFrom: a@b\nDate: d\nMessage-ID: <m@x>\n\n"
	tests := []struct {
		args, in, out string
		dotEnded      bool
	}{
		{"bob", in, hdr + ".leading dot line\n..two dots\n", true},
		{"-i bob", in, hdr + body, false},
		{"-oi bob", in, hdr + body, false},
		{"bob", strings.ReplaceAll(in, "\n", "\r\n"), strings.ReplaceAll(hdr+".leading dot line\n..two dots\n", "\n", "\r\n"), true},
		{"bob", hdr + "a\n.", hdr + "a\n", true},
		{"bob", hdr + "a\n.x\n. \n", hdr + "a\n.x\n. \n", false},
		{"bob", "Subject: s\n.\nTo: x\n", "Subject: s\n" + addedDate + addedMsgID + "From: nncp@sat.example\n\n", true},
		{"bob", ".\n", addedDate + addedMsgID + "From: nncp@sat.example\n\n", true},
	}
	for i, tt := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			m, out := prepare(t, tt.args, tt.in, testOpts(t.TempDir()))
			if out != tt.out || m.DotEnded != tt.dotEnded {
				t.Errorf("got %q (dot ended %v)\nwant %q (%v)", out, m.DotEnded, tt.out, tt.dotEnded)
			}
		})
	}
}

func TestPrepareErrors(t *testing.T) {
	tests := []struct {
		name, args, in string
		opts           func(*PrepareOptions)
		want           error
		code           int
	}{
		{"-t without addresses", "-t", "Subject: s\n\n", nil, ErrNoRecipients, ExitDataErr},
		{"-t all removed", "-t a@hub.example", "To: a@hub.example\n\n", nil, ErrNoRecipients, ExitDataErr},
		{"-t bad To", "-t", "To: <unclosed@x\n\n", nil, ErrBadAddress, ExitDataErr},
		{"-t bad domain", "-t", "To: a@-.ex ample\n\n", nil, ErrBadAddress, ExitDataErr},
		{"header too large", "bob", "X: " + strings.Repeat("y", 2000) + "\n\n", func(o *PrepareOptions) { o.MaxHeaderBytes = 1000 }, ErrHeaderTooLarge, ExitDataErr},
		{"temp dir missing", "bob", "Subject: s\n\nbody\n", func(o *PrepareOptions) { o.TmpDir += "/missing"; o.MemoryLimit = -1 }, os.ErrNotExist, ExitTempFail},
		{"bad user", "bob", "\n", func(o *PrepareOptions) { o.User = "a b" }, ErrBadAddress, ExitDataErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := ParseArgs(splitArgs(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			opts := testOpts(t.TempDir())
			if tt.opts != nil {
				tt.opts(&opts)
			}
			_, err = Prepare(strings.NewReader(tt.in), inv, opts)
			if !errors.Is(err, tt.want) || ExitCode(err) != tt.code {
				t.Fatalf("got %v (exit %d), want %v (exit %d)", err, ExitCode(err), tt.want, tt.code)
			}
			if Temporary(err) != (tt.code == ExitTempFail) {
				t.Errorf("Temporary(%v) = %v", err, Temporary(err))
			}
			t.Log(err)
		})
	}
}

func TestEnvelope(t *testing.T) {
	m, _ := prepare(t, "-i -N success,failure -R hdrs -V a+b=c -- bob jöran@bücher.example", "Subject: x\n\nGrüße\n", testOpts(t.TempDir()))
	inv, _ := ParseArgs(splitArgs("-i -N success,failure -R hdrs -V a+b=c -- bob jöran@bücher.example"))
	env := m.Envelope(inv)
	want := &bsmtp.Envelope{From: "nncp@sat.example", To: []string{"bob@sat.example", "jöran@bücher.example"},
		Params: []bsmtp.Param{{Key: "SIZE", Value: strconv.FormatInt(m.Size, 10)}, {Key: "BODY", Value: "8BITMIME"}, {Key: "SMTPUTF8"},
			{Key: "RET", Value: "HDRS"}, {Key: "ENVID", Value: "a+2Bb+3Dc"}},
		RcptParams: [][]bsmtp.Param{{{Key: "NOTIFY", Value: "SUCCESS,FAILURE"}}, {{Key: "NOTIFY", Value: "SUCCESS,FAILURE"}}}}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("got  %+v\nwant %+v", env, want)
	}
	var out bytes.Buffer
	w := bsmtp.NewWriter(&out, bsmtp.WriterOptions{})
	if err := w.WriteMessage(env, m.Reader()); err != nil {
		t.Fatalf("bsmtp writer refuses the envelope: %v", err)
	}
}

// bigBody yields n bytes of 8-bit lines, with lone dots when dots is set,
// without holding them.
type bigBody struct {
	left int64
	dots bool
	i    int
}

var (
	bigLines      = []string{"8-bit line \xc3\xa9\xff with text to make it longer than a few bytes\n", ".\n", "..\r\n", "From the body\n"}
	bigLinesNoDot = []string{"8-bit line \xc3\xa9\xff with text to make it longer than a few bytes\n", ". \n", "..\r\n", "From the body\n"}
)

func (b *bigBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	lines := bigLinesNoDot
	if b.dots {
		lines = bigLines
	}
	n := 0
	for n < len(p) && b.left > 0 {
		l := lines[b.i%len(lines)]
		if len(p)-n < len(l) {
			break
		}
		if int64(len(l)) > b.left {
			l = strings.Repeat("x", int(b.left)-1) + "\n"
		}
		n += copy(p[n:], l)
		b.left -= int64(len(l))
		b.i++
	}
	return n, nil
}

func TestLargeMessageStreams(t *testing.T) {
	t.Run("-i", func(t *testing.T) { testLargeMessage(t, true) })
	t.Run("dot rule", func(t *testing.T) { testLargeMessage(t, false) })
}

func testLargeMessage(t *testing.T, ignoreDots bool) {
	const size = 25 << 20
	hdr := "From: a@b.example\nTo: c@d.example\nDate: d\nMessage-ID: <m@x>\n\n"
	want := sha256.New()
	io.WriteString(want, hdr)
	io.Copy(want, &bigBody{left: size, dots: ignoreDots})

	args := []string{"-t"}
	if ignoreDots {
		args = append(args, "-i")
	}
	inv, err := ParseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	opts := testOpts(t.TempDir())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := Prepare(io.MultiReader(strings.NewReader(hdr), &bigBody{left: size, dots: ignoreDots}), inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got := sha256.New()
	n, err := io.Copy(got, m.Reader())
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n != m.Size || n != int64(len(hdr))+size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("message of %d bytes (Size %d) differs from the input", n, m.Size)
	}
	if !m.EightBit || m.body.f == nil {
		t.Errorf("EightBit %v, spooled to a file %v", m.EightBit, m.body.f != nil)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("preparing %d MiB allocated %d KiB", size>>20, alloc>>10)
	} else {
		t.Logf("preparing %d MiB allocated %d KiB", size>>20, alloc>>10)
	}
	if entries, _ := os.ReadDir(opts.TmpDir); len(entries) != 0 {
		t.Errorf("temporary files left with a name: %v", entries)
	}
}
