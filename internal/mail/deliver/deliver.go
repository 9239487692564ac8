// Package deliver hands a received message to its final place: a Maildir,
// an mbox file, a pipe command, or a smarthost over SMTP.
//
// Every backend is a Transport: it takes one message and a list of
// recipients and returns one Result per recipient, in the same order. A
// Result with a nil Err means the message is safe at its destination: on
// disk for good (the file and its directory entry fsynced) or accepted by
// the remote server (250 after DATA). Otherwise Err is an *Error that says
// whether trying again later could succeed (Temporary), with the SMTP reply
// code and RFC 3463 status the queue puts into a bounce (package dsn).
//
// A failed delivery leaves nothing behind: no file in a Maildir's tmp/ or
// new/, an mbox truncated back to its old size, a pipe command killed
// before it sees the end of a message that could not be read whole, an
// SMTP transaction aborted before the final dot.
//
// Messages are streamed, never held in memory: Message.Open is called once
// per attempt (once per recipient for the local backends).
//
// Cancelling the context stops a delivery in progress (the pipe command
// killed, the connection closed) and makes it temporary, nothing committed.
//
// Local deliveries (Maildir, Mbox, Pipe) add, like Exim's return_path_add
// and Postfix's local(8), two lines in front of the message:
//
//	Return-Path: <sender>
//	Delivered-To: recipient
//
// with the line ending of the message's first line; the message's own
// bytes follow unchanged. Set NoTraceHeaders to leave the message as it is.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"ferry/internal/mail/bsmtp"
)

// Message is one message to deliver.
type Message struct {
	// From is the envelope sender; "" is the null sender <> of bounces.
	From string
	// Open returns the message (header and body) as received. It is called
	// once per delivery attempt, so more than once per Deliver call for the
	// local backends; each call returns a fresh reader from the start.
	Open func() (io.ReadCloser, error)
	// Size is the exact number of bytes Open's reader yields, or 0 when
	// unknown. When set, a reader that yields a different number of bytes
	// fails the delivery (temporarily, ErrReadMessage) before anything is
	// committed, and SMTP announces it with SIZE.
	Size int64
	// ID is the queue id, for logs, MESSAGE_ID of pipes and Received lines.
	ID string
	// Key, when set, names this delivery for good: delivering the same
	// message again with the same Key (a retry after a crash) makes the
	// same Maildir file name, so that it can be found.
	Key string
	// Retry says that an earlier attempt with this Key may have
	// completed: Maildir looks for that copy (in new/ or cur/) and reports
	// it delivered instead of writing another; Mbox checks the copy its
	// Journal says an earlier attempt wrote. Pipe and SMTP cannot tell
	// (docs/mail.md says what a crash can do there).
	Retry bool
	// Time is when the first attempt began (the seconds of a keyed
	// Maildir name, the date of a keyed mbox From_ line); zero means now.
	Time time.Time
	// Journal, with Key, makes mbox deliveries happen once: where a copy
	// goes is recorded before its first byte is written, and a Retry
	// checks the bytes there.
	Journal Journal
}

// Journal keeps small records durably for keyed deliveries (the mail
// queue does).
type Journal interface {
	// Intent records rec under key, durably, before it returns.
	Intent(key string, rec []byte) error
	// Prior returns what Intent last recorded under key.
	Prior(key string) ([]byte, bool)
}

// Result is the outcome for one recipient.
type Result struct {
	Rcpt string
	// Err is nil when the message was delivered, else an *Error.
	Err error
	// Info says where a delivered message went (the Maildir file, the
	// remote's 250 reply) and carries notes worth logging; "" if none.
	Info string
}

// Transport delivers a message. Deliver returns one Result per recipient,
// in the order of rcpts. It is safe for concurrent use.
type Transport interface {
	Deliver(ctx context.Context, msg *Message, rcpts []string) []Result
}

// Sentinel errors, wrapped in *Error.
var (
	// ErrReadMessage: Message.Open or its reader failed, or the reader
	// yielded a different number of bytes than Message.Size. Temporary: the
	// queue's copy is the problem, not the destination.
	ErrReadMessage = errors.New("reading the message")
	// ErrAddress: an envelope address that cannot be written safely into
	// a header or an SMTP command (bsmtp.CheckAddress refuses it).
	ErrAddress = errors.New("bad address")
	// ErrLocked: an mbox stayed locked by someone else for
	// Mbox.LockTimeout.
	ErrLocked = errors.New("mailbox locked")
	// ErrTimeout: a pipe command ran past Pipe.Timeout, or an SMTP server
	// did not answer within SMTP.Timeout.
	ErrTimeout = errors.New("timed out")
	// ErrNoSTARTTLS: TLS is required and the server does not offer
	// STARTTLS.
	ErrNoSTARTTLS = errors.New("server does not offer STARTTLS")
	// ErrAuth: authentication was not possible (no usable mechanism, no
	// TLS) or the server refused it.
	ErrAuth = errors.New("authentication failed")
)

// Diagnostic types of Error.Diagnostic (RFC 3464 section 2.3.6).
const (
	DiagSMTP = "smtp"   // the error is a server's SMTP reply
	DiagUnix = "x-unix" // anything else: local files, commands, connections
)

// Error is a failed delivery to one recipient.
//
// Code and Enhanced always agree on the class: 4xx and "4.x.x" when trying
// again later could succeed (Temporary), 5xx and "5.x.x" when it cannot.
// When ferry softens a server's permanent answer (a refused AUTH), Reply
// still holds the server's own words.
type Error struct {
	Code     int    // SMTP reply code: the server's, or one ferry chose (451, 550, 554 ...)
	Enhanced string // RFC 3463 status code, "5.1.1"
	// Text says what went wrong, lowercase, one line (the server's words are
	// in Reply).
	Text string
	// RemoteMTA is the server the transaction was with ("mx.example"), ""
	// for local deliveries. A bounce names it in Remote-MTA.
	RemoteMTA string
	// Reply is the server's reply, "550 5.1.1 no such user", lines joined
	// by spaces; "" when the error is not a server's answer.
	Reply string
	// Err is the cause, for errors.Is and errors.As: one of the sentinels
	// above, a *smtp.SMTPError, an *os.PathError ...; may be nil.
	Err error
}

func (e *Error) Error() string {
	if e.Reply != "" {
		return "deliver: " + e.Text + ": " + e.Reply
	}
	return fmt.Sprintf("deliver: %s (%d %s)", e.Text, e.Code, e.Enhanced)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether delivering again later could succeed.
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// Diagnostic returns the error as an RFC 3464 Diagnostic-Code value:
// "smtp; 550 5.1.1 no such user" for a server's reply, "x-unix; text"
// otherwise.
func (e *Error) Diagnostic() string {
	if e.Reply != "" {
		return DiagSMTP + "; " + e.Reply
	}
	return DiagUnix + "; " + e.Text
}

// newError makes an *Error with a ferry-chosen code; text is lowercase.
func newError(code int, enhanced string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Enhanced: enhanced, Text: oneLine(fmt.Sprintf(format, args...)), Err: cause}
}

// oneLine replaces line breaks and other control characters with spaces
// and collapses the runs, so that the text fits a log line or a DSN field.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 32 || r == 127 }) {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if r < 32 || r == 127 {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// results returns one Result per recipient, all with err (which may be
// nil).
func results(rcpts []string, err *Error) []Result {
	out := make([]Result, len(rcpts))
	for i, r := range rcpts {
		out[i].Rcpt = r
		if err != nil {
			out[i].Err = err
		}
	}
	return out
}

// each runs one local delivery per recipient.
func each(rcpts []string, one func(rcpt string) (info string, err *Error)) []Result {
	out := make([]Result, len(rcpts))
	for i, r := range rcpts {
		out[i].Rcpt = r
		info, err := one(r)
		if err != nil {
			out[i].Err = err
		} else {
			out[i].Info = info
		}
	}
	return out
}

// checkEnvelope refuses addresses that could break a header line, a From_
// line or a command: the sender (unless null) and the recipient must pass
// bsmtp.CheckAddress.
func checkEnvelope(from string, rcpts ...string) *Error {
	if from != "" {
		if err := bsmtp.CheckAddress(from); err != nil {
			return newError(553, "5.1.7", fmt.Errorf("%w: %w", ErrAddress, err), "bad sender address %q", from)
		}
	}
	for _, r := range rcpts {
		if err := bsmtp.CheckAddress(r); err != nil {
			return newError(553, "5.1.3", fmt.Errorf("%w: %w", ErrAddress, err), "bad recipient address %q", r)
		}
	}
	return nil
}

// splitAddress returns the local part and domain of addr.
func splitAddress(addr string) (local, domain string) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr, ""
	}
	return addr[:at], addr[at+1:]
}

// traceHeaders returns the lines local deliveries add in front of the
// message: Return-Path, then Delivered-To per recipient (or, for more
// than one recipient, one Envelope-to line as Exim writes it), each ended
// by nl.
func traceHeaders(from string, rcpts []string, nl string) string {
	var b strings.Builder
	b.WriteString("Return-Path: <" + from + ">" + nl)
	if len(rcpts) == 1 {
		b.WriteString("Delivered-To: " + rcpts[0] + nl)
	} else if len(rcpts) > 1 {
		b.WriteString("Envelope-to: " + strings.Join(rcpts, ", ") + nl)
	}
	return b.String()
}

// readError wraps a failure of the message's reader.
func readError(err error) *Error {
	return newError(451, "4.3.0", fmt.Errorf("%w: %w", ErrReadMessage, err), "reading the message: %v", err)
}

// sizeError is the error for a reader that yielded n bytes, not want.
func sizeError(n, want int64) *Error {
	return newError(451, "4.3.0", ErrReadMessage, "the message has %d bytes, %d expected", n, want)
}

// source is the message's reader with byte counting, error capture (to
// tell the source's failures from the destination's) and cancellation.
type source struct {
	ctx    context.Context
	r      io.Reader
	n      int64
	err    error // the reader's error, not io.EOF
	high   bool  // a byte >= 0x80 was seen
	scan8  bool  // look for 8-bit bytes
	closer io.Closer
}

func openSource(ctx context.Context, msg *Message) (*source, *Error) {
	if err := ctx.Err(); err != nil {
		return nil, newError(451, "4.3.0", err, "delivery canceled: %v", err)
	}
	if msg.Open == nil {
		return nil, readError(errors.New("no message opener"))
	}
	rc, err := msg.Open()
	if err != nil {
		return nil, readError(err)
	}
	return &source{ctx: ctx, r: rc, closer: rc}, nil
}

func (s *source) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.scan8 && !s.high {
		for _, c := range p[:n] {
			if c >= 0x80 {
				s.high = true
				break
			}
		}
	}
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

func (s *source) Close() error { return s.closer.Close() }

// failed returns the error for a reader that failed (or a canceled
// context), nil if the reader has not failed.
func (s *source) failed() *Error {
	if s.err == nil {
		return nil
	}
	if s.ctx.Err() != nil {
		return newError(451, "4.3.0", s.err, "delivery canceled: %v", s.err)
	}
	return readError(s.err)
}

// short returns the error for a reader read to its end that yielded a
// different number of bytes than want (when want is set).
func (s *source) short(want int64) *Error {
	if want > 0 && s.n != want {
		return sizeError(s.n, want)
	}
	return nil
}

// lineEnding returns "\r\n" when the first line of the message in head
// ends with CRLF, else "\n".
func lineEnding(head []byte) string {
	for i, c := range head {
		if c == '\n' {
			if i > 0 && head[i-1] == '\r' {
				return "\r\n"
			}
			return "\n"
		}
	}
	return "\n"
}

// itoa is strconv.Itoa, shorter.
func itoa(n int) string { return strconv.Itoa(n) }
