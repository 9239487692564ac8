// Package bsmtp reads and writes batched SMTP (BSMTP): the MAIL, RCPT and
// DATA transactions, without replies, that Exim's pipe transport writes with
// use_bsmtp and that `exim -bS` and ferry's rsmtp handle read.
//
// A batch is a sequence of lines ended by LF or CRLF:
//
//	[HELO|EHLO|LHLO domain]
//	MAIL FROM:<sender> [ESMTP parameters]
//	RCPT TO:<recipient> [ESMTP parameters]   (one or more)
//	DATA
//	message, dot-stuffed
//	.
//	... more transactions, RSET and NOOP anywhere between them ...
//	[QUIT]
//
// Exim 4.96 writes no HELO and no QUIT, and ends lines with LF. The message
// bytes are carried unchanged: line endings stay as they came, only the
// leading dot added by dot-stuffing is removed.
package bsmtp

import (
	"errors"
	"fmt"
	"strings"
)

// Line limits.
const (
	// MaxCommandLine is the longest command line the Reader accepts and the
	// Writer writes, line ending included (RFC 5321 section 4.5.3.1.6 text
	// line limit).
	MaxCommandLine = 1000
	// DefaultMaxBodyLine is the Reader's default limit on one message line.
	// Memory does not depend on it (bodies are streamed in chunks); it only
	// rejects input that is not mail.
	DefaultMaxBodyLine = 1 << 20
)

// Sentinel errors; a Reader wraps them in *Error, which adds the line number
// and the SMTP reply code.
var (
	// ErrSyntax: a line that is not a well-formed, allowed command, or a bad
	// address or ESMTP parameter.
	ErrSyntax = errors.New("syntax error")
	// ErrSequence: a command out of order (RCPT or DATA without MAIL, MAIL
	// inside a transaction, QUIT inside a transaction).
	ErrSequence = errors.New("bad sequence of commands")
	// ErrNoRecipients: DATA in a transaction that has no RCPT.
	ErrNoRecipients = errors.New("no recipients")
	// ErrLineTooLong: a command line over MaxCommandLine or a message line
	// over the Reader's body line limit.
	ErrLineTooLong = errors.New("line too long")
	// ErrTruncated: the input ended inside DATA (no final "." line) or
	// inside a transaction. The message is not complete and is never handed
	// out as such.
	ErrTruncated = errors.New("batch truncated")
)

// Error is a problem in a batch: where it is, what it is (Err, one of the
// sentinels above), and the SMTP reply an SMTP server would give for it.
type Error struct {
	Line         int    // 1-based line number of the offending line
	Code         int    // SMTP reply code, e.g. 501
	EnhancedCode [3]int // RFC 3463 status code, e.g. {5, 5, 4}
	Err          error  // one of the sentinels
	Msg          string // what was wrong, lowercase
}

func (e *Error) Error() string {
	return fmt.Sprintf("bsmtp: line %d: %v: %s", e.Line, e.Err, e.Msg)
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the same input could succeed later (4xx codes).
// Every problem in the batch itself is permanent: reading it again gives
// the same result.
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

func newError(line int, sentinel error, format string, args ...any) *Error {
	e := &Error{Line: line, Err: sentinel, Msg: fmt.Sprintf(format, args...)}
	switch sentinel {
	case ErrSyntax:
		e.Code, e.EnhancedCode = 501, [3]int{5, 5, 2}
	case ErrSequence:
		e.Code, e.EnhancedCode = 503, [3]int{5, 5, 1}
	case ErrNoRecipients:
		e.Code, e.EnhancedCode = 554, [3]int{5, 5, 1}
	case ErrLineTooLong:
		e.Code, e.EnhancedCode = 500, [3]int{5, 5, 2}
	case ErrTruncated:
		e.Code, e.EnhancedCode = 554, [3]int{5, 6, 0}
	default:
		e.Code, e.EnhancedCode = 554, [3]int{5, 0, 0}
	}
	return e
}

// Param is one ESMTP parameter of a MAIL or RCPT command. Key is upper
// case; Value is empty for keywords without a value (SMTPUTF8). Values of
// the enumerated parameters (BODY, RET, NOTIFY) are upper case; the others
// are kept as written.
type Param struct {
	Key, Value string
}

func (p Param) String() string {
	if p.Value == "" {
		return p.Key
	}
	return p.Key + "=" + p.Value
}

// Envelope is one transaction's envelope.
type Envelope struct {
	// From is the reverse path without angle brackets; "" is the null
	// sender (MAIL FROM:<>) of bounces.
	From string
	// To holds the recipients, in order, without angle brackets.
	To []string
	// Params are the MAIL command's ESMTP parameters, in order.
	Params []Param
	// RcptParams, when not nil, has one entry per recipient: that RCPT
	// command's ESMTP parameters (nil when it had none).
	RcptParams [][]Param
	// Helo is the argument of the last HELO, EHLO or LHLO before the
	// transaction; "" when there was none. The Writer ignores it (see
	// WriterOptions.Helo).
	Helo string
	// Line is the line number of the MAIL command (Reader only).
	Line int
}

// Param returns the value of the MAIL parameter key (any case) and whether
// it is present.
func (e *Envelope) Param(key string) (string, bool) {
	for _, p := range e.Params {
		if strings.EqualFold(p.Key, key) {
			return p.Value, true
		}
	}
	return "", false
}
