// Package dsn builds and reads delivery status notifications (bounces):
// RFC 3464 reports in an RFC 6522 multipart/report message.
//
// Build writes, with LF line endings:
//
//	From: Mail Delivery System <MAILER-DAEMON@reporting.mta>
//	To: the original envelope sender
//	Subject: Mail delivery failed: returning message to sender
//	Auto-Submitted: auto-replied
//	Content-Type: multipart/report; report-type=delivery-status; ...
//
//	part 1  text/plain: which recipients failed (or are delayed) and why
//	part 2  message/delivery-status: Reporting-MTA, Original-Envelope-Id,
//	        Arrival-Date, then per recipient Original-Recipient,
//	        Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code,
//	        Last-Attempt-Date, Will-Retry-Until
//	part 3  text/rfc822-headers: the original's header (default), or
//	        message/rfc822: the whole original, when RET=FULL and it is at
//	        most Options.MaxFull bytes
//
// The DSN must be sent with the null sender (MAIL FROM:<>), and no DSN is
// ever built for a message with the null sender (ErrNullSender): bounces
// are never bounced.
//
// 8-bit data is carried, not encoded: an original with 8-bit bytes makes
// its part (and the message) Content-Transfer-Encoding 8bit; UTF-8
// addresses make part 2 message/global-delivery-status (RFC 6533) with
// "utf-8;" address types. The original's CRLF line endings become LF.
//
// ParseDSN reads such a report back, for mailq and tests.
package dsn

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"ferry/internal/mail/bsmtp"
)

// Sentinel errors.
var (
	// ErrNullSender: the original has the null sender; it gets no DSN.
	ErrNullSender = errors.New("no delivery status notification for the null sender")
	// ErrInvalid: Options that cannot make a DSN (wrapped with the reason).
	ErrInvalid = errors.New("invalid dsn options")
	// ErrNotDSN: ParseDSN's input is not a multipart/report with a
	// delivery-status part.
	ErrNotDSN = errors.New("not a delivery status notification")
)

// Action is what happened to a recipient (RFC 3464 section 2.3.3).
type Action string

const (
	Failed    Action = "failed"
	Delayed   Action = "delayed"
	Delivered Action = "delivered"
	Relayed   Action = "relayed"
	Expanded  Action = "expanded"
)

// Recipient is one recipient's entry in a DSN.
type Recipient struct {
	// Final is the address the delivery was attempted to
	// (Final-Recipient: rfc822; Final).
	Final string
	// Original is the ORCPT parameter with its xtext decoded, "rfc822;addr"
	// (Original-Recipient); "" when there was none.
	Original string
	Action   Action
	// Status is the RFC 3463 code, "5.1.1".
	Status string
	// Diagnostic is the Diagnostic-Code value, "smtp; 550 5.1.1 ..." (what
	// deliver.Error.Diagnostic returns); "" for none.
	Diagnostic string
	// RemoteMTA is the host name of the server that answered
	// (Remote-MTA: dns; RemoteMTA); "" for local deliveries.
	RemoteMTA string
	// LastAttempt is the time of the last attempt; zero for none.
	LastAttempt time.Time
	// WillRetryUntil is when a delayed delivery will be given up; zero for
	// none.
	WillRetryUntil time.Time
}

// Options describe the DSN to build.
type Options struct {
	// ReportingMTA is this host's domain name: Reporting-MTA, the From
	// address and the Message-ID's domain. Required.
	ReportingMTA string
	// From is the DSN's From address; "" means MAILER-DAEMON@ReportingMTA.
	// It is shown as "Mail Delivery System".
	From string
	// Now is the DSN's Date; zero means time.Now().
	Now time.Time
	// Rand gives the boundary and Message-ID; nil means crypto/rand.
	Rand io.Reader

	// Sender is the original's envelope sender, the DSN's recipient; ""
	// (the null sender) makes Build fail with ErrNullSender.
	Sender string
	// EnvID is the ENVID parameter with its xtext decoded
	// (DecodeXtext); "" for none.
	EnvID string
	// Ret is the RET parameter, "FULL" or "HDRS"; "" means HDRS.
	Ret string
	// Arrival is when the original was received; zero leaves out
	// Arrival-Date.
	Arrival time.Time
	// QueueID is the original's queue id, for the text and an
	// X-Ferry-Queue-ID field; optional.
	QueueID string
	// Recipients to report on; at least one.
	Recipients []Recipient

	// Original opens the original message; nil leaves out the third part.
	Original func() (io.ReadCloser, error)
	// MaxFull is the largest original returned whole with RET=FULL; 0
	// means 100 KiB (Exim's bounce_return_size_limit), negative means
	// never.
	MaxFull int64
	// MaxHeader is the most header bytes returned; 0 means 64 KiB. A
	// longer header is cut at a line boundary.
	MaxHeader int
}

// DecodeXtext decodes RFC 3461 xtext (ENVID, ORCPT values): "+XX" is the
// byte with hex value XX.
func DecodeXtext(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", fmt.Errorf("bad xtext %q: '+' without two hex digits", s)
			}
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case c < 33 || c > 126 || c == '=':
			return "", fmt.Errorf("bad xtext %q: character %q", s, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// check validates the options.
func (o *Options) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if o.Sender == "" {
		return ErrNullSender
	}
	if err := bsmtp.CheckAddress(o.Sender); err != nil {
		return bad("sender: %v", err)
	}
	if o.ReportingMTA == "" || strings.HasPrefix(o.ReportingMTA, "[") {
		return bad("no reporting MTA domain")
	}
	if err := bsmtp.CheckAddress("postmaster@" + o.ReportingMTA); err != nil {
		return bad("reporting MTA %q is not a domain", o.ReportingMTA)
	}
	if o.From != "" {
		if err := bsmtp.CheckAddress(o.From); err != nil {
			return bad("from: %v", err)
		}
	}
	if r := strings.ToUpper(o.Ret); r != "" && r != "FULL" && r != "HDRS" {
		return bad("RET %q is neither FULL nor HDRS", o.Ret)
	}
	if len(o.Recipients) == 0 {
		return bad("no recipients")
	}
	for _, r := range o.Recipients {
		switch r.Action {
		case Failed, Delayed, Delivered, Relayed, Expanded:
		default:
			return bad("recipient %q: unknown action %q", r.Final, r.Action)
		}
		if !validFinal(r.Final) {
			return bad("bad final recipient %q", r.Final)
		}
		if !validStatus(r.Status) {
			return bad("recipient %s: bad status %q", r.Final, r.Status)
		}
	}
	return nil
}

// validFinal accepts a final recipient: an RFC 5321 mailbox (a quoted
// local part may hold spaces, commas and "@"), or, for what is not one
// (an address a neighbour sent us that we could not route), any single
// word of printable characters.
func validFinal(s string) bool {
	if s == "" || hasControl(s) {
		return false
	}
	return bsmtp.CheckAddress(s) == nil || !strings.ContainsAny(s, " ,\"")
}

// validStatus accepts an RFC 3463 status code: class 2, 4 or 5, subject
// and detail of one to three digits.
func validStatus(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || strings.IndexByte("245", parts[0][0]) < 0 {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 32 || r == 127 })
}

// clean makes s one line: control characters become spaces, runs of
// white space one space.
func clean(s string) string {
	if !hasControl(s) && !strings.Contains(s, "  ") {
		return strings.TrimSpace(s)
	}
	s = strings.Map(func(r rune) rune {
		if r < 32 || r == 127 {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
