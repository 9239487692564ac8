package dsn

import (
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message"
)

// Report is what ParseDSN learns from a DSN.
type Report struct {
	// ReportingMTA is the Reporting-MTA's name, without "dns;".
	ReportingMTA string
	// EnvID is the Original-Envelope-Id; QueueID the X-Ferry-Queue-ID.
	EnvID, QueueID string
	// Arrival is the Arrival-Date; zero when absent or unreadable.
	Arrival time.Time
	// Recipients, in order. Final is the address without its type;
	// Original is "type;address"; RemoteMTA is without "dns;";
	// Diagnostic is the Diagnostic-Code as written, unfolded.
	Recipients []Recipient
	// MessageID is the original's Message-ID, from the third part; "" when
	// there is none.
	MessageID string
}

// Limits of ParseDSN: the whole input, the header of the DSN and of its
// parts, and the delivery-status and returned-header parts it reads.
const (
	maxParse       = 32 << 20
	maxParseHeader = 64 << 10
	maxStatusPart  = 1 << 20
)

// ParseDSN reads a DSN: a multipart/report with report-type
// delivery-status (or global-delivery-status). It reads at most 32 MiB.
// Unknown fields are ignored; an input that is not a DSN gives ErrNotDSN.
func ParseDSN(r io.Reader) (*Report, error) {
	e, err := message.ReadWithOptions(io.LimitReader(r, maxParse), &message.ReadOptions{MaxHeaderBytes: maxParseHeader})
	if err != nil && !lenient(err) {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	typ, params, _ := e.Header.ContentType()
	rt := strings.ToLower(params["report-type"])
	if typ != "multipart/report" || (rt != "delivery-status" && rt != "global-delivery-status") {
		return nil, fmt.Errorf("%w: content type %q, report type %q", ErrNotDSN, typ, rt)
	}
	mr := e.MultipartReader()
	if mr == nil {
		return nil, ErrNotDSN
	}
	defer mr.Close()
	var rep *Report
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil && (p == nil || !lenient(err)) {
			if rep != nil {
				break // a broken tail after the report: keep what we have
			}
			return nil, fmt.Errorf("dsn: %w", err)
		}
		ptyp, _, _ := p.Header.ContentType()
		switch ptyp {
		case "message/delivery-status", "message/global-delivery-status":
			if rep != nil {
				continue
			}
			body, err := io.ReadAll(io.LimitReader(p.Body, maxStatusPart))
			if err != nil {
				return nil, fmt.Errorf("dsn: reading the delivery-status part: %w", err)
			}
			rep = parseStatus(body)
		case "text/rfc822-headers", "message/rfc822", "message/global", "message/global-headers":
			if rep == nil {
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(p.Body, maxParseHeader))
			rep.MessageID = headerValue(body, "Message-ID")
		}
	}
	if rep == nil {
		return nil, fmt.Errorf("%w: no delivery-status part", ErrNotDSN)
	}
	return rep, nil
}

// lenient reports whether err still leaves a readable entity.
func lenient(err error) bool {
	return message.IsUnknownCharset(err) || message.IsUnknownEncoding(err)
}

// parseStatus reads the delivery-status fields: the per-message group,
// then one group per recipient.
func parseStatus(body []byte) *Report {
	rep := &Report{}
	for i, g := range fieldGroups(string(body)) {
		if i == 0 {
			for _, f := range g {
				switch f.name {
				case "reporting-mta":
					rep.ReportingMTA = untype(f.value)
				case "original-envelope-id":
					rep.EnvID = f.value
				case "x-ferry-queue-id":
					rep.QueueID = f.value
				case "arrival-date":
					rep.Arrival = date(f.value)
				}
			}
			continue
		}
		var r Recipient
		for _, f := range g {
			switch f.name {
			case "original-recipient":
				r.Original = normOriginal(f.value)
			case "final-recipient":
				r.Final = untype(f.value)
			case "action":
				r.Action = Action(strings.ToLower(f.value))
			case "status":
				r.Status, _, _ = strings.Cut(f.value, " ") // "5.1.1 (comment)"
			case "remote-mta":
				r.RemoteMTA = untype(f.value)
			case "diagnostic-code":
				r.Diagnostic = f.value
			case "last-attempt-date":
				r.LastAttempt = date(f.value)
			case "will-retry-until":
				r.WillRetryUntil = date(f.value)
			}
		}
		if r.Final != "" || r.Action != "" {
			rep.Recipients = append(rep.Recipients, r)
		}
	}
	return rep
}

type statusField struct{ name, value string }

// fieldGroups splits the part into groups of fields separated by empty
// lines, unfolding continuation lines. Lines that are not fields are
// skipped.
func fieldGroups(s string) [][]statusField {
	var groups [][]statusField
	var cur []statusField
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				groups = append(groups, cur)
				cur = nil
			}
		case line[0] == ' ' || line[0] == '\t':
			if len(cur) > 0 {
				last := &cur[len(cur)-1]
				last.value = strings.TrimSpace(last.value + line)
			}
		default:
			name, value, ok := strings.Cut(line, ":")
			if ok {
				cur = append(cur, statusField{strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)})
			}
		}
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

// untype removes the "type;" in front of an address or host name.
func untype(v string) string {
	if _, rest, ok := strings.Cut(v, ";"); ok {
		return strings.TrimSpace(rest)
	}
	return v
}

// date parses an RFC 5322 date; zero when it cannot.
func date(v string) time.Time {
	t, err := mail.ParseDate(v)
	if err != nil {
		return time.Time{}
	}
	return t
}
