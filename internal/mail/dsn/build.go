package dsn

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
)

// dateFormat is RFC 5322's date-time.
const dateFormat = "Mon, 02 Jan 2006 15:04:05 -0700"

// original is the third part.
type original struct {
	contentType string // "" when there is no third part
	body        []byte // LF line endings
	size        int64  // bytes of the whole original when known, for the text
	full        bool
	cut         bool // header cut at MaxHeader
}

// Build returns the DSN described by opts.
func Build(opts Options) ([]byte, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	orig, err := opts.original()
	if err != nil {
		return nil, err
	}
	var id [16]byte
	if _, err := io.ReadFull(rnd, id[:]); err != nil {
		return nil, fmt.Errorf("dsn: random: %w", err)
	}
	text := opts.text(orig)
	status, global := opts.status()
	boundary := ""
	for boundary == "" || bytes.Contains(orig.body, []byte("--"+boundary)) || strings.Contains(text, "--"+boundary) {
		var b [12]byte
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return nil, fmt.Errorf("dsn: random: %w", err)
		}
		boundary = "=_ferry_" + hex.EncodeToString(b[:])
	}

	from := opts.From
	if from == "" {
		from = "MAILER-DAEMON@" + opts.ReportingMTA
	}
	eightBit := !isASCII(text) || global || !isASCII(orig.body)
	var w bytes.Buffer
	field := func(name, value string) { w.WriteString(fold(name + ": " + value)) }
	field("From", "Mail Delivery System <"+from+">")
	field("To", opts.Sender)
	field("Subject", opts.subject())
	field("Date", now.Format(dateFormat))
	field("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+opts.ReportingMTA+">")
	field("Auto-Submitted", "auto-replied")
	if failed := opts.addresses(Failed); failed != "" {
		field("X-Failed-Recipients", failed)
	}
	if mid := headerValue(orig.body, "Message-ID"); mid != "" {
		field("References", clean(mid))
	}
	field("MIME-Version", "1.0")
	reportType := "delivery-status"
	if global {
		reportType = "global-delivery-status"
	}
	field("Content-Type", "multipart/report; report-type="+reportType+"; boundary=\""+boundary+"\"")
	if eightBit {
		field("Content-Transfer-Encoding", "8bit")
	}
	w.WriteString("\nThis is a MIME-formatted message. If you see this text, your mail\nsoftware does not support MIME-formatted messages.\n")

	w.WriteString("\n--" + boundary + "\n")
	if isASCII(text) {
		w.WriteString("Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n")
	} else {
		w.WriteString("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
	}
	w.WriteString(text)

	w.WriteString("\n--" + boundary + "\n")
	w.WriteString("Content-Type: message/" + reportType + "\n")
	if global {
		w.WriteString("Content-Transfer-Encoding: 8bit\n")
	}
	w.WriteString("\n" + status)

	if orig.contentType != "" {
		w.WriteString("\n--" + boundary + "\n")
		w.WriteString("Content-Type: " + orig.contentType + "\n")
		if !isASCII(orig.body) {
			w.WriteString("Content-Transfer-Encoding: 8bit\n")
		}
		w.WriteString("\n")
		w.Write(orig.body)
	}
	w.WriteString("\n--" + boundary + "--\n")
	return w.Bytes(), nil
}

// subject is the DSN's Subject: failure wins over delay over success.
func (o *Options) subject() string {
	switch {
	case o.has(Failed):
		return "Mail delivery failed: returning message to sender"
	case o.has(Delayed):
		return "Mail delivery delayed: message not yet delivered"
	}
	return "Mail delivery report: message delivered"
}

func (o *Options) has(a Action) bool {
	for _, r := range o.Recipients {
		if r.Action == a {
			return true
		}
	}
	return false
}

// addresses lists the final recipients with action a.
func (o *Options) addresses(a Action) string {
	var list []string
	for _, r := range o.Recipients {
		if r.Action == a {
			list = append(list, r.Final)
		}
	}
	return strings.Join(list, ", ")
}

// text is the human-readable first part.
func (o *Options) text(orig original) string {
	var b strings.Builder
	b.WriteString("This message was created automatically by mail delivery software on\n" + o.ReportingMTA + ".\n")
	if o.QueueID != "" {
		b.WriteString("Queue id of your message: " + clean(o.QueueID) + "\n")
	}
	groups := []struct {
		actions []Action
		intro   string
	}{
		{[]Action{Failed}, "A message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:"},
		{[]Action{Delayed}, "A message that you sent has not yet been delivered to one or more of its\nrecipients. Delivery attempts continue; you need not send it again, and\nyou will be told if they fail for good. The following address(es) are\ndelayed:"},
		{[]Action{Delivered, Relayed, Expanded}, "Your message was delivered to (or relayed on towards) the following\naddress(es):"},
	}
	for _, g := range groups {
		var list []Recipient
		for _, r := range o.Recipients {
			for _, a := range g.actions {
				if r.Action == a {
					list = append(list, r)
				}
			}
		}
		if len(list) == 0 {
			continue
		}
		b.WriteString("\n" + g.intro + "\n")
		for _, r := range list {
			b.WriteString("\n  " + r.Final + "\n")
			if why := reason(r); why != "" {
				b.WriteString("    " + why + "\n")
			}
			if !r.WillRetryUntil.IsZero() {
				b.WriteString("    will be retried until " + r.WillRetryUntil.Format(dateFormat) + "\n")
			}
		}
	}
	switch {
	case orig.contentType == "":
	case orig.full:
		b.WriteString("\nYour message follows.\n")
	case orig.size > 0:
		fmt.Fprintf(&b, "\nThe message (%d bytes) is too large to return whole; its header follows.\n", orig.size)
	default:
		b.WriteString("\nThe header of your message follows.\n")
	}
	if orig.cut {
		b.WriteString("(The header was cut short.)\n")
	}
	return b.String()
}

// reason explains a recipient's outcome in a line.
func reason(r Recipient) string {
	diag := clean(r.Diagnostic)
	if typ, rest, ok := strings.Cut(diag, ";"); ok && !strings.ContainsAny(typ, " ") {
		diag = strings.TrimSpace(rest)
		if strings.EqualFold(typ, "smtp") && r.RemoteMTA != "" {
			return "host " + clean(r.RemoteMTA) + " said: " + diag
		}
	}
	return diag
}

// status is the delivery-status part's body, and whether it needs
// message/global-delivery-status.
func (o *Options) status() (string, bool) {
	var b strings.Builder
	global := false
	field := func(name, value string) {
		if !isASCII(value) {
			global = true
		}
		b.WriteString(fold(name + ": " + value))
	}
	addr := func(a string) string {
		if isASCII(a) {
			return "rfc822;" + a
		}
		return "utf-8;" + a
	}
	field("Reporting-MTA", "dns; "+o.ReportingMTA)
	if o.QueueID != "" {
		field("X-Ferry-Queue-ID", clean(o.QueueID))
	}
	if o.EnvID != "" {
		field("Original-Envelope-Id", clean(o.EnvID))
	}
	if !o.Arrival.IsZero() {
		field("Arrival-Date", o.Arrival.Format(dateFormat))
	}
	for _, r := range o.Recipients {
		b.WriteString("\n")
		if r.Original != "" {
			field("Original-Recipient", normOriginal(r.Original))
		}
		field("Final-Recipient", addr(r.Final))
		field("Action", string(r.Action))
		field("Status", r.Status)
		if r.RemoteMTA != "" {
			field("Remote-MTA", "dns; "+clean(r.RemoteMTA))
		}
		if r.Diagnostic != "" {
			field("Diagnostic-Code", clean(r.Diagnostic))
		}
		if !r.LastAttempt.IsZero() {
			field("Last-Attempt-Date", r.LastAttempt.Format(dateFormat))
		}
		if !r.WillRetryUntil.IsZero() {
			field("Will-Retry-Until", r.WillRetryUntil.Format(dateFormat))
		}
	}
	return b.String(), global
}

// normOriginal writes an Original-Recipient value as "type;address",
// rfc822 when no type is given.
func normOriginal(s string) string {
	s = clean(s)
	typ, addr, ok := strings.Cut(s, ";")
	if !ok {
		return "rfc822;" + s
	}
	return strings.TrimSpace(typ) + ";" + strings.TrimSpace(addr)
}

// fold writes a header field, folded before spaces so that lines stay
// under 78 characters where the value allows it, ended by LF.
func fold(line string) string {
	if len(line) <= 78 {
		return line + "\n"
	}
	var b strings.Builder
	for len(line) > 78 {
		cut := strings.LastIndexByte(line[:78], ' ')
		if cut <= 0 || strings.TrimSpace(line[:cut]) == "" || strings.HasSuffix(strings.TrimRight(line[:cut], " "), ":") {
			// No place to fold before 78: take the next space.
			next := strings.IndexByte(line[78:], ' ')
			if next < 0 {
				break
			}
			cut = 78 + next
		}
		b.WriteString(line[:cut] + "\n")
		line = line[cut:]
	}
	b.WriteString(line + "\n")
	return b.String()
}

// original reads the third part.
func (o *Options) original() (original, error) {
	if o.Original == nil {
		return original{}, nil
	}
	maxFull, maxHeader := o.MaxFull, o.MaxHeader
	if maxFull == 0 {
		maxFull = 100 << 10
	}
	if maxHeader <= 0 {
		maxHeader = 64 << 10
	}
	if strings.EqualFold(o.Ret, "FULL") && maxFull > 0 {
		rc, err := o.Original()
		if err != nil {
			return original{}, fmt.Errorf("dsn: opening the original: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(rc, maxFull+1))
		if err == nil && int64(len(body)) > maxFull {
			// Too big: count the rest for the text, then return the header.
			var n int64
			n, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return original{}, fmt.Errorf("dsn: reading the original: %w", err)
			}
			h, err := o.header(maxHeader)
			h.size = int64(len(body)) + n
			return h, err
		}
		rc.Close()
		if err != nil {
			return original{}, fmt.Errorf("dsn: reading the original: %w", err)
		}
		return original{contentType: "message/rfc822", body: toLF(body), full: true}, nil
	}
	return o.header(maxHeader)
}

// header reads the original's header, up to max bytes.
func (o *Options) header(max int) (original, error) {
	rc, err := o.Original()
	if err != nil {
		return original{}, fmt.Errorf("dsn: opening the original: %w", err)
	}
	defer rc.Close()
	br := bufio.NewReader(io.LimitReader(rc, int64(max)+1))
	var h []byte
	cut := false
	for {
		line, err := br.ReadBytes('\n')
		if len(h)+len(line) > max {
			cut = true // drop the line that crosses the limit
			break
		}
		if err == nil && (string(line) == "\n" || string(line) == "\r\n") {
			break
		}
		h = append(h, line...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return original{}, fmt.Errorf("dsn: reading the original: %w", err)
		}
	}
	h = toLF(h)
	if len(h) > 0 && h[len(h)-1] != '\n' {
		h = append(h, '\n')
	}
	return original{contentType: "text/rfc822-headers", body: h, cut: cut}, nil
}

// toLF turns CRLF into LF.
func toLF(b []byte) []byte {
	if !bytes.Contains(b, []byte("\r\n")) {
		return b
	}
	return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
}

func isASCII[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// headerValue returns the value of the first field name in the header
// at the start of h (up to the first empty line), unfolded; "" when
// absent.
func headerValue(h []byte, name string) string {
	if end := bytes.Index(h, []byte("\n\n")); end >= 0 {
		h = h[:end+1]
	}
	if end := bytes.Index(h, []byte("\n\r\n")); end >= 0 {
		h = h[:end+1]
	}
	lines := strings.Split(string(h), "\n")
	for i, line := range lines {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			continue
		}
		v = strings.TrimRight(v, "\r")
		for _, more := range lines[i+1:] {
			if !strings.HasPrefix(more, " ") && !strings.HasPrefix(more, "\t") {
				break
			}
			v += strings.TrimRight(more, "\r")
		}
		return strings.TrimSpace(v)
	}
	return ""
}
