package submit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/mail"
	"os"
	"os/user"
	"regexp"
	"strings"
	"time"
)

// Defaults of PrepareOptions.
const (
	DefaultMemoryLimit    = 256 << 10
	DefaultMaxHeaderBytes = 1 << 20
)

// PrepareOptions says where a message comes from and where its parts go.
// The zero value works: every field has a default.
type PrepareOptions struct {
	// Domain qualifies bare local names ("root" -> "root@Domain") in the
	// envelope sender and recipients, and makes the invoking user's
	// address. Default: Hostname.
	Domain string
	// Hostname goes into the Message-ID. Default: os.Hostname().
	Hostname string
	// User is the invoking user's login name: the envelope sender and the
	// added From when there is no -f. Default: the current user ($LOGNAME,
	// $USER, or the password database).
	User string
	// Now gives the time for an added Date. Default: time.Now.
	Now func() time.Time
	// Rand gives the random part of an added Message-ID. Default:
	// crypto/rand.
	Rand io.Reader
	// TmpDir holds the temporary file a large body is spooled to.
	// Default: os.TempDir().
	TmpDir string
	// MemoryLimit is how many body bytes are kept in memory before the
	// body goes to a temporary file. 0 means DefaultMemoryLimit; a
	// negative value always uses a file.
	MemoryLimit int
	// MaxHeaderBytes limits the header, which is held in memory. 0 means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
}

// Message is a prepared message: its envelope and its final bytes.
type Message struct {
	// From is the envelope sender, qualified; "" is the null sender.
	From string
	// To are the envelope recipients, qualified, without duplicates.
	To []string
	// Size is the length of the final message in bytes.
	Size int64
	// EightBit reports a byte over 127 anywhere in the message.
	EightBit bool
	// DotEnded reports that the input stopped at a line holding a single
	// "." (no -i/-oi): the rest of the input was not read.
	DotEnded bool

	header []byte
	body   *spill
}

// Reader returns a new reader of the final message bytes: the header as
// rewritten, then the body unchanged. Each call starts from the beginning.
func (m *Message) Reader() io.Reader {
	return io.MultiReader(bytes.NewReader(m.header), m.body.reader())
}

// Close releases the temporary file, if any.
func (m *Message) Close() error { return m.body.close() }

// Prepare reads a message from in as sendmail does for inv (ModeDeliver)
// and returns it ready to send:
//
//   - without inv.IgnoreDots a line holding a single "." ends the message;
//   - with inv.ExtractRecipients the recipients come from To, Cc and Bcc
//     (Resent-To, Resent-Cc, Resent-Bcc if any Resent- field is present),
//     minus the addresses in inv.Recipients (Exim's rule); otherwise they
//     are inv.Recipients;
//   - Bcc and Resent-Bcc fields are removed (with or without -t);
//   - Date, Message-ID and From are added at the end of the header when
//     missing; From is "FullName <sender>" from -F and -f, else the
//     invoking user at Domain;
//   - the envelope sender and recipients are qualified with Domain.
//
// Header fields are otherwise kept byte for byte (no refolding, no
// re-encoding), added fields use the first line's line ending, and the
// body is passed through unchanged. When the input has no empty line
// between header and body (its first line is not a header field), an
// empty line is put before the body.
func Prepare(in io.Reader, inv *Invocation, opts PrepareOptions) (*Message, error) {
	opts.defaults()
	src := newSource(in, !inv.IgnoreDots)
	h, err := readHeader(src, opts.MaxHeaderBytes)
	if err != nil {
		return nil, fmt.Errorf("reading the message header: %w", err)
	}
	m := &Message{DotEnded: src.dotEnded}
	if err := m.envelope(h, inv, &opts); err != nil {
		return nil, err
	}
	m.header = buildHeader(h, inv, m, &opts)
	m.EightBit = hasEightBit(m.header)

	m.body = &spill{limit: opts.MemoryLimit, dir: opts.TmpDir}
	fail := func(err error) (*Message, error) {
		m.body.close()
		return nil, err
	}
	if _, err := m.body.Write(h.first); err != nil {
		return fail(err)
	}
	src.lines = src.dots // without the dot rule, lines no longer matter
	for !src.dotEnded {
		c, err := src.chunk()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("reading the message: %w", err))
		}
		if _, err := m.body.Write(c); err != nil {
			return fail(err)
		}
	}
	if err := m.body.flush(); err != nil {
		return fail(err)
	}
	m.DotEnded = src.dotEnded
	m.EightBit = m.EightBit || m.body.eightBit
	m.Size = int64(len(m.header)) + m.body.n
	return m, nil
}

func (o *PrepareOptions) defaults() {
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
		if o.Hostname == "" {
			o.Hostname = "localhost"
		}
	}
	if o.Domain == "" {
		o.Domain = o.Hostname
	}
	if o.User == "" {
		o.User = currentUser()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.TmpDir == "" {
		o.TmpDir = os.TempDir()
	}
	if o.MemoryLimit == 0 {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
}

func currentUser() string {
	for _, env := range []string{"LOGNAME", "USER"} {
		if u := os.Getenv(env); u != "" {
			return u
		}
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "nobody"
}

// envelope sets m.From and m.To.
func (m *Message) envelope(h *header, inv *Invocation, o *PrepareOptions) error {
	var err error
	switch {
	case inv.NullSender:
	case inv.From != "":
		if m.From, err = qualify(inv.From, o.Domain); err != nil {
			return fmt.Errorf("sender: %w", err)
		}
	default:
		if m.From, err = qualify(o.User, o.Domain); err != nil {
			return fmt.Errorf("sender (the invoking user): %w", err)
		}
	}

	given, err := qualifyAll(inv.Recipients, o.Domain)
	if err != nil {
		return err
	}
	to := given
	if inv.ExtractRecipients {
		names := []string{"To", "Cc", "Bcc"}
		if h.hasResent() {
			names = []string{"Resent-To", "Resent-Cc", "Resent-Bcc"}
		}
		var found []string
		for _, f := range h.fields {
			for _, n := range names {
				if strings.EqualFold(f.name, n) {
					list, err := parseAddressList(f.value())
					if err != nil {
						return fmt.Errorf("-t: %s field: %w", f.name, err)
					}
					found = append(found, list...)
				}
			}
		}
		if found, err = qualifyAll(found, o.Domain); err != nil {
			return fmt.Errorf("-t: %w", err)
		}
		to = nil
		for _, a := range found {
			if !containsFold(given, a) {
				to = append(to, a)
			}
		}
	}
	for _, a := range to {
		if !containsFold(m.To, a) {
			m.To = append(m.To, a)
		}
	}
	if len(m.To) == 0 {
		if inv.ExtractRecipients && len(given) > 0 {
			return fmt.Errorf("%w: -t found no address in To, Cc or Bcc that is not also an argument (arguments are the addresses not to send to)", ErrNoRecipients)
		}
		if inv.ExtractRecipients {
			return fmt.Errorf("%w: -t found no address in To, Cc or Bcc", ErrNoRecipients)
		}
		return fmt.Errorf("%w: give addresses as arguments, or -t", ErrNoRecipients)
	}
	return nil
}

func qualifyAll(list []string, domain string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, a := range list {
		q, err := qualify(a, domain)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

func containsFold(list []string, a string) bool {
	for _, b := range list {
		if strings.EqualFold(a, b) {
			return true
		}
	}
	return false
}

func (h *header) hasResent() bool {
	for _, f := range h.fields {
		if len(f.name) > 7 && strings.EqualFold(f.name[:7], "Resent-") {
			return true
		}
	}
	return false
}

// buildHeader returns the final header: the fields kept, the added ones,
// and the empty line before the body.
func buildHeader(h *header, inv *Invocation, m *Message, o *PrepareOptions) []byte {
	var b bytes.Buffer
	for _, f := range h.fields {
		if strings.EqualFold(f.name, "Bcc") || strings.EqualFold(f.name, "Resent-Bcc") {
			continue
		}
		if inv.ExtractRecipients && strings.EqualFold(f.name, "From") {
			b.Write(qualifyFrom(f.raw, o.Domain))
			continue
		}
		b.Write(f.raw)
	}
	now := o.Now()
	if !h.has("Date") {
		b.WriteString("Date: " + now.Format(time.RFC1123Z) + h.eol)
	}
	if !h.has("Message-ID") {
		var r [8]byte
		io.ReadFull(o.Rand, r[:])
		b.WriteString("Message-ID: <" + now.UTC().Format("20060102150405") + "." + hex.EncodeToString(r[:]) + "@" + o.Hostname + ">" + h.eol)
	}
	if !h.has("From") {
		addr := m.From
		if addr == "" {
			addr, _ = qualify(o.User, o.Domain)
		}
		from := addr
		if inv.FullName != "" {
			from = (&mail.Address{Name: inv.FullName, Address: unquoteLocal(addr)}).String()
		}
		b.WriteString("From: " + from + h.eol)
	}
	if h.sep != nil {
		b.Write(h.sep)
	} else {
		b.WriteString(h.eol)
	}
	return b.Bytes()
}

// A From field whose address is a bare local name, alone ("From: root
// (Cron Daemon)") or in angle brackets ("From: Cron <root>").
var (
	bareFromRe  = regexp.MustCompile(`^([^:]*:[ \t]*)([A-Za-z0-9!#$%&'*+/=?^_{|}~.-]+)([ \t]*(?:\([^()]*\))?[ \t]*\r?\n)$`)
	angleFromRe = regexp.MustCompile(`<([A-Za-z0-9!#$%&'*+/=?^_{|}~.-]+)>`)
)

// qualifyFrom qualifies a bare local name in a From field with domain, as
// the envelope sender is (-t: cron writes "From: root (Cron Daemon)"). A
// field with an address that has a domain is kept byte for byte.
func qualifyFrom(raw []byte, domain string) []byte {
	if bytes.IndexByte(raw, '@') >= 0 || domain == "" {
		return raw
	}
	if m := bareFromRe.FindSubmatchIndex(raw); m != nil {
		out := append([]byte{}, raw[:m[5]]...)
		out = append(out, '@')
		out = append(out, domain...)
		return append(out, raw[m[5]:]...)
	}
	return angleFromRe.ReplaceAll(raw, []byte("<${1}@"+domain+">"))
}

func hasEightBit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}
