package bsmtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// ReaderOptions tunes a Reader. The zero value is the default.
type ReaderOptions struct {
	// MaxBodyLine limits one line of a message, line ending included:
	// 0 means DefaultMaxBodyLine, a negative value no limit. Bodies are
	// streamed, so memory does not grow with this limit.
	MaxBodyLine int
}

type skipState int

const (
	skipNone     skipState = iota
	skipCommands           // after an error: ignore lines up to MAIL, RSET, HELO/EHLO/LHLO, QUIT
	skipData               // ignore a message up to its "." line
)

// Reader reads the transactions of a batch one after the other, streaming
// each message.
//
// Errors and the state they leave. Next returns io.EOF at the end of the
// batch: after QUIT, or when the input ends between transactions. Other
// errors are either *Error, describing the batch, or the source's own read
// errors, which are returned again by every later call. After an *Error the
// caller may go on calling Next:
//
//   - a bad or misplaced command abandons the transaction it is in (nothing
//     of it is handed out); the Reader then skips every line up to the next
//     MAIL, RSET, HELO, EHLO, LHLO or QUIT, and skips a DATA it meets on the
//     way together with its message, so message text is never read as
//     commands;
//   - MAIL, HELO, EHLO or LHLO inside a transaction report the abandoned
//     transaction (ErrSequence) and are then processed normally;
//   - DATA without MAIL or without RCPT is reported and its message skipped;
//   - a message line over MaxBodyLine is reported by the body (or by Next
//     when the body was not read that far) and the rest of that message is
//     skipped;
//   - input ending inside DATA or inside a transaction is ErrTruncated;
//     Next then returns io.EOF.
//
// After QUIT the Reader reads nothing more: whatever follows QUIT in the
// source (trailing garbage included) is ignored, although the Reader's
// buffer may already have consumed some of it from the source.
type Reader struct {
	br          *bufio.Reader
	maxBodyLine int
	line        int // number of the last line read
	helo        string
	skip        skipState
	pending     *cmdLine // a command to process again (see Next)
	body        *body
	done        bool  // QUIT seen or input over: Next returns io.EOF
	err         error // sticky source error
}

type cmdLine struct {
	text string
	num  int
}

// NewReader returns a Reader with default options.
func NewReader(r io.Reader) *Reader { return NewReaderOptions(r, ReaderOptions{}) }

// NewReaderOptions returns a Reader with the given options.
func NewReaderOptions(r io.Reader, opts ReaderOptions) *Reader {
	limit := opts.MaxBodyLine
	if limit == 0 {
		limit = DefaultMaxBodyLine
	}
	return &Reader{br: bufio.NewReaderSize(r, 64<<10), maxBodyLine: limit}
}

// Next reads up to the next DATA command and returns that transaction's
// envelope and its message. The body streams the message, dot-unstuffed,
// with its line endings as they came; it is valid until the next call to
// Next, which first skips what the caller left unread. The body returns
// io.EOF only after the final "." line, which must have its line ending (a
// "." cut from ".\n" could be the first byte of a longer line): when the
// input ends before it, the body returns an *Error wrapping ErrTruncated
// instead, and a caller that stops at that error never takes a cut message
// for a whole one.
func (r *Reader) Next() (*Envelope, io.Reader, error) {
	if b := r.body; b != nil {
		err := b.drain()
		r.body = nil
		if err != nil {
			return nil, nil, err
		}
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	if err := r.skipLines(); err != nil {
		return nil, nil, err
	}
	var env *Envelope
	for {
		if r.done {
			return nil, nil, io.EOF
		}
		c, err := r.readCommand()
		if err != nil {
			if err == io.EOF {
				r.done = true
				if env != nil {
					return nil, nil, newError(r.line, ErrTruncated, "input ended inside the transaction begun at line %d, before DATA", env.Line)
				}
			}
			return nil, nil, err
		}
		verb, arg := splitVerb(c.text)
		switch verb {
		case "HELO", "EHLO", "LHLO":
			if env != nil {
				r.pending = &c
				return nil, nil, newError(c.num, ErrSequence, "%s inside the transaction begun at line %d; transaction abandoned", verb, env.Line)
			}
			if arg == "" || strings.ContainsAny(arg, " \t") {
				return nil, nil, r.fail(c.num, ErrSyntax, "%s needs one domain argument", verb)
			}
			r.helo = arg
		case "MAIL":
			if env != nil {
				r.pending = &c
				return nil, nil, newError(c.num, ErrSequence, "MAIL inside the transaction begun at line %d; transaction abandoned", env.Line)
			}
			from, params, err := parseMailArg(arg, "FROM:", false)
			if err != nil {
				return nil, nil, r.fail(c.num, ErrSyntax, "MAIL: %v", err)
			}
			env = &Envelope{From: from, Params: params, Helo: r.helo, Line: c.num}
		case "RCPT":
			if env == nil {
				return nil, nil, r.fail(c.num, ErrSequence, "RCPT without MAIL")
			}
			to, params, err := parseMailArg(arg, "TO:", true)
			if err != nil {
				return nil, nil, r.fail(c.num, ErrSyntax, "RCPT: %v", err)
			}
			if params != nil && env.RcptParams == nil {
				env.RcptParams = make([][]Param, len(env.To), len(env.To)+1)
			}
			env.To = append(env.To, to)
			if env.RcptParams != nil {
				env.RcptParams = append(env.RcptParams, params)
			}
		case "DATA":
			switch {
			case len(c.text) > 4:
				return nil, nil, r.fail(c.num, ErrSyntax, "DATA takes no argument")
			case env == nil:
				r.skip = skipData
				return nil, nil, newError(c.num, ErrSequence, "DATA without MAIL; message skipped")
			case len(env.To) == 0:
				r.skip = skipData
				return nil, nil, newError(c.num, ErrNoRecipients, "DATA without RCPT in the transaction begun at line %d; message skipped", env.Line)
			}
			r.body = &body{r: r, atStart: true}
			return env, r.body, nil
		case "RSET":
			if len(c.text) > 4 {
				return nil, nil, r.fail(c.num, ErrSyntax, "RSET takes no argument")
			}
			env = nil
		case "NOOP":
		case "QUIT":
			if len(c.text) > 4 {
				return nil, nil, r.fail(c.num, ErrSyntax, "QUIT takes no argument")
			}
			r.done = true
			if env != nil {
				return nil, nil, newError(c.num, ErrSequence, "QUIT inside the transaction begun at line %d", env.Line)
			}
		case "":
			return nil, nil, r.fail(c.num, ErrSyntax, "empty command line")
		case "VRFY", "EXPN", "HELP", "ETRN", "TURN", "ATRN", "STARTTLS", "AUTH", "BDAT", "SEND", "SOML", "SAML":
			return nil, nil, r.fail(c.num, ErrSyntax, "command %s is not allowed in a batch", verb)
		default:
			return nil, nil, r.fail(c.num, ErrSyntax, "unknown command %q", shorten(c.text))
		}
	}
}

// fail reports an error in a command and makes the Reader skip to the next
// transaction.
func (r *Reader) fail(line int, sentinel error, format string, args ...any) *Error {
	r.skip = skipCommands
	return newError(line, sentinel, format, args...)
}

// readCommand returns the next command line, without its line ending and
// trailing blanks.
func (r *Reader) readCommand() (cmdLine, error) {
	if c := r.pending; c != nil {
		r.pending = nil
		return *c, nil
	}
	s, err := r.br.ReadSlice('\n')
	if len(s) == 0 && err == io.EOF {
		return cmdLine{}, io.EOF
	}
	r.line++
	if err == bufio.ErrBufferFull || len(s) > MaxCommandLine {
		if err := r.discardLine(err); err != nil && err != io.EOF {
			return cmdLine{}, err
		}
		r.skip = skipCommands
		return cmdLine{}, newError(r.line, ErrLineTooLong, "command line longer than %d octets", MaxCommandLine)
	}
	if err != nil && err != io.EOF {
		r.err = err
		return cmdLine{}, err
	}
	s = bytes.TrimSuffix(s, []byte("\n"))
	s = bytes.TrimSuffix(s, []byte("\r"))
	s = bytes.TrimRight(s, " \t")
	for _, c := range s {
		if c < 32 && c != '\t' || c == 127 {
			r.skip = skipCommands
			return cmdLine{}, newError(r.line, ErrSyntax, "control character %q in command line", c)
		}
	}
	return cmdLine{text: string(s), num: r.line}, nil
}

// discardLine reads up to the end of the current line, given the error of
// the ReadSlice that returned its start.
func (r *Reader) discardLine(err error) error {
	for err == bufio.ErrBufferFull {
		_, err = r.br.ReadSlice('\n')
	}
	if err != nil && err != io.EOF {
		r.err = err
	}
	return err
}

// skipLines does the skipping an earlier error asked for.
func (r *Reader) skipLines() error {
	for r.skip != skipNone && !r.done {
		if r.skip == skipData {
			s, err := r.br.ReadSlice('\n')
			if len(s) == 0 && err == io.EOF {
				r.done = true
				break
			}
			r.line++
			dot := string(s) == ".\n" || string(s) == ".\r\n"
			if err := r.discardLine(err); err != nil && err != io.EOF {
				return err
			}
			if dot {
				r.skip = skipNone
			}
			continue
		}
		c, err := r.readCommand()
		switch err.(type) {
		case nil:
		case *Error:
			continue
		default:
			if err == io.EOF {
				r.done = true
				return nil
			}
			return err
		}
		switch verb, _ := splitVerb(c.text); verb {
		case "MAIL", "RSET", "HELO", "EHLO", "LHLO", "QUIT":
			r.pending = &c
			r.skip = skipNone
		case "DATA":
			r.skip = skipData
		}
	}
	return nil
}

// body streams one message.
type body struct {
	r        *Reader
	atStart  bool // at the start of a line
	lineLen  int
	done     bool  // the "." line was read
	err      error // sticky error
	reported bool  // err was returned by Read
}

var errStale = errors.New("bsmtp: message body read after Reader.Next")

func (b *body) Read(p []byte) (int, error) {
	if b.r.body != b {
		return 0, errStale
	}
	if b.done {
		return 0, io.EOF
	}
	if b.err != nil {
		b.reported = true
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := b.read(p)
	if err != nil && err != io.EOF {
		b.err = err
		b.reported = true
	}
	return n, err
}

func (b *body) read(p []byte) (int, error) {
	r := b.r
	if b.atStart {
		r.line++
		head, err := r.br.Peek(3)
		if err != nil && err != io.EOF {
			r.err = err
			return 0, err
		}
		if len(head) == 0 {
			r.done = true
			return 0, newError(r.line, ErrTruncated, "input ended inside DATA: no final \".\" line")
		}
		if head[0] == '.' {
			end := 0
			switch rest := string(head[1:]); {
			case strings.HasPrefix(rest, "\n"):
				end = 2
			case rest == "\r\n":
				end = 3
			}
			if end > 0 {
				r.br.Discard(end)
				b.done = true
				return 0, io.EOF
			}
			r.br.Discard(1) // dot-stuffing
		}
		b.atStart = false
	}
	if _, err := r.br.Peek(1); err != nil {
		if err == io.EOF {
			r.done = true
			return 0, newError(r.line, ErrTruncated, "input ended inside DATA: no final \".\" line")
		}
		r.err = err
		return 0, err
	}
	chunk, _ := r.br.Peek(min(r.br.Buffered(), len(p)))
	if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
		chunk = chunk[:i+1]
		b.atStart = true
	}
	n := copy(p, chunk)
	r.br.Discard(n)
	b.lineLen += n
	if r.maxBodyLine > 0 && b.lineLen > r.maxBodyLine {
		line := r.line
		if !b.atStart {
			if err := r.discardLine(bufio.ErrBufferFull); err != nil && err != io.EOF {
				return n, err
			}
		}
		b.atStart = true
		r.skip = skipData
		return n, newError(line, ErrLineTooLong, "message line longer than %d octets; rest of the message skipped", r.maxBodyLine)
	}
	if b.atStart {
		b.lineLen = 0
	}
	return n, nil
}

// drain reads what the caller left of the message and returns the error
// that ended it, unless Read already returned that error.
func (b *body) drain() error {
	var buf [4096]byte
	for !b.done && b.err == nil {
		if _, err := b.read(buf[:]); err == io.EOF {
			break
		} else if err != nil {
			b.err = err
		}
	}
	if b.reported {
		return nil
	}
	return b.err
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
