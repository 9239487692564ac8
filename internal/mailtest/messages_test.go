package mailtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"ferry/internal/testnet"
)

// message is one test message: an envelope and a body that must arrive
// byte for byte.
type message struct {
	Subject string
	From    string   // envelope sender and From:
	To      []string // envelope recipients and To:
	Body    []byte
}

// bytes is the message as submitted: a small header, a blank line, the
// body.
func (m message) bytes() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\nTo: %s\nSubject: %s\n\n", m.From, strings.Join(m.To, ", "), m.Subject)
	b.Write(m.Body)
	return b.Bytes()
}

var (
	bigOnce sync.Once
	bigBody []byte
)

// big25 is a 25 MiB body of base64 lines (deterministic).
func big25() []byte {
	bigOnce.Do(func() {
		const size = 25 << 20
		r := rand.New(rand.NewChaCha8([32]byte{'f', 'e', 'r', 'r', 'y'}))
		raw := make([]byte, 57)
		line := make([]byte, 76)
		var b bytes.Buffer
		b.Grow(size)
		for b.Len()+77 <= size {
			for i := range raw {
				raw[i] = byte(r.Uint32())
			}
			base64.StdEncoding.Encode(line, raw)
			b.Write(line)
			b.WriteByte('\n')
		}
		for b.Len() < size-1 {
			b.WriteByte('x')
		}
		b.WriteByte('\n')
		bigBody = b.Bytes()
	})
	return bigBody
}

// The bodies every mail path is checked with.
var (
	bodyDots = []byte(".leading dot line\n..two dots\n.\nafter a lone dot\n. dot space\n...\n.\n")
	body8bit = []byte("Grüße aus dem Satelliten: 8-bit UTF-8, ça marche, Ελληνικά.\n" +
		"Latin-1 bytes: caf\xe9 na\xefve \xff\xfe\x80\n" +
		"NUL-free but 8-bit to the end: \xc3\xa9\xe2\x82\xac\n")
)

// casesOpts chooses which of the standard cases a test sends.
type casesOpts struct {
	prefix   string // Subject prefix, unique per test
	from     string // sender of the single messages
	domain   string // recipients' domain
	batch    int    // messages of the batch (to alice)
	big      bool   // the 25 MiB message
	batchRcp string // the batch's recipient local part (default alice)
}

// standardCases: a plain message, 8-bit, dots, multiple recipients, the
// 25 MiB message, and a batch of small ones.
func standardCases(o casesOpts) (singles, batch []message) {
	rc := func(lp string) string { return lp + "@" + o.domain }
	singles = []message{
		{Subject: o.prefix + " plain", From: o.from, To: []string{rc("alice")}, Body: []byte("Hello,\nthis is a plain message.\n")},
		{Subject: o.prefix + " 8bit", From: o.from, To: []string{rc("bob")}, Body: body8bit},
		{Subject: o.prefix + " dots", From: o.from, To: []string{rc("alice")}, Body: bodyDots},
		{Subject: o.prefix + " two rcpts", From: o.from, To: []string{rc("alice"), rc("bob")}, Body: []byte("One message, two recipients.\n.\n..\nend\n")},
	}
	if o.big {
		singles = append(singles, message{Subject: o.prefix + " 25MiB", From: o.from, To: []string{rc("carol")}, Body: big25()})
	}
	lp := o.batchRcp
	if lp == "" {
		lp = "alice"
	}
	for i := 0; i < o.batch; i++ {
		body := fmt.Sprintf("Batch message %d of %d.\n.\nline after a lone dot %d\n", i+1, o.batch, i)
		batch = append(batch, message{Subject: fmt.Sprintf("%s batch %03d", o.prefix, i), From: fmt.Sprintf("cron%d@%s", i%3, strings.SplitN(o.from, "@", 2)[1]),
			To: []string{rc(lp)}, Body: []byte(body)})
	}
	return singles, batch
}

// traceStyle says which header a receiver writes for the recipient.
type traceStyle struct {
	rcptField string // "Delivered-To" (ferry) or "Envelope-to" (Exim's envelope_to_add)
}

var (
	ferryTrace = traceStyle{rcptField: "Delivered-To"}
	eximTrace  = traceStyle{rcptField: "Envelope-to"}
)

// checkDelivered checks that every message arrived exactly once in each
// recipient's Maildir on nd, with its body byte-identical, the envelope
// sender in Return-Path and the recipient in the trace field.
func checkDelivered(t *testing.T, nd *testnet.Node, msgs []message, st traceStyle) {
	t.Helper()
	boxes := map[string][]delivered{}
	for _, m := range msgs {
		for _, rcpt := range m.To {
			lp := strings.SplitN(rcpt, "@", 2)[0]
			box, ok := boxes[lp]
			if !ok {
				box = readMaildir(t, mailbox(nd, lp))
				boxes[lp] = box
			}
			got := bySubject(box, m.Subject)
			if len(got) != 1 {
				t.Errorf("%q for %s: %d copies in %s, want 1", m.Subject, rcpt, len(got), mailbox(nd, lp))
				continue
			}
			d := got[0]
			if !bytes.Equal(d.body, m.Body) {
				t.Errorf("%q for %s: body differs (%d bytes, want %d): %s", m.Subject, rcpt, len(d.body), len(m.Body), firstDiff(d.body, m.Body))
			}
			if rp := d.field("Return-Path"); rp != "<"+m.From+">" {
				t.Errorf("%q for %s: Return-Path %q, want <%s>", m.Subject, rcpt, rp, m.From)
			}
			if n := d.count("Return-Path"); n != 1 {
				t.Errorf("%q for %s: %d Return-Path fields, want 1", m.Subject, rcpt, n)
			}
			if to := d.field(st.rcptField); to != rcpt {
				t.Errorf("%q for %s: %s %q, want %s", m.Subject, rcpt, st.rcptField, to, rcpt)
			}
		}
	}
}

// checkCount checks that the Maildirs on nd hold exactly n messages (no
// duplicates, nothing extra).
func checkCount(t *testing.T, nd *testnet.Node, n int, users ...string) {
	t.Helper()
	total := 0
	for _, u := range users {
		total += len(readMaildir(t, mailbox(nd, u)))
	}
	if total != n {
		t.Errorf("%s: %d messages in the Maildirs of %v, want %d", nd.Name, total, users, n)
	}
}

// deliveries counts the recipient copies msgs make.
func deliveries(msgs ...[]message) int {
	n := 0
	for _, l := range msgs {
		for _, m := range l {
			n += len(m.To)
		}
	}
	return n
}

func firstDiff(a, b []byte) string {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			lo := max(0, i-20)
			return fmt.Sprintf("first difference at byte %d: got %q, want %q", i, a[lo:min(len(a), i+20)], b[lo:min(len(b), i+20)])
		}
	}
	return fmt.Sprintf("one is a prefix of the other (got %q... at the end)", a[max(0, n-20):])
}

// mailUsers is a users table mapping each local part to a Maildir of nd.
func mailUsers(nd *testnet.Node, users ...string) map[string]any {
	m := map[string]any{}
	for _, u := range users {
		m[u] = "maildir:" + mailbox(nd, u)
	}
	return m
}
