package bsmtp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// WriterOptions tunes a Writer. The zero value writes what Exim's pipe
// transport writes: no HELO, LF line endings, no QUIT.
type WriterOptions struct {
	// Helo, when not empty, is written as "HELO <Helo>" before the first
	// transaction.
	Helo string
	// CRLF ends the lines the Writer makes (commands, the final ".", a
	// line ending added to a body) with CRLF instead of LF. Message lines
	// keep the endings they have either way.
	CRLF bool
	// Quit makes Close write QUIT.
	Quit bool
}

// ErrClosed is returned by a Writer used after Close.
var ErrClosed = errors.New("bsmtp: writer closed")

// Writer writes a batch. It is not safe for concurrent use.
type Writer struct {
	bw      *bufio.Writer
	opts    WriterOptions
	eol     string
	started bool
	closed  bool
	err     error // sticky write or body error
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer, opts WriterOptions) *Writer {
	eol := "\n"
	if opts.CRLF {
		eol = "\r\n"
	}
	return &Writer{bw: bufio.NewWriterSize(w, 64<<10), opts: opts, eol: eol}
}

// WriteMessage writes one transaction: MAIL FROM with env.Params, one RCPT
// TO per recipient (with env.RcptParams), DATA, the message from body
// dot-stuffed (a line ending is added when the message does not end with
// one), and the final "." line; then it flushes. env.Helo and env.Line are
// ignored.
//
// An invalid envelope is refused (ErrSyntax) before anything is written.
// An error reading body or writing leaves the transaction unfinished, with
// no final "."; the Writer then refuses all further calls, and the output
// must not be used as a complete batch (a Reader reports it as truncated).
func (w *Writer) WriteMessage(env *Envelope, body io.Reader) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	lines, err := w.envelopeLines(env)
	if err != nil {
		return err
	}
	w.start()
	for _, l := range lines {
		w.line(l)
	}
	w.line("DATA")
	if w.err != nil {
		return w.err
	}
	if err := w.stuff(body); err != nil {
		w.err = err
		return err
	}
	w.line(".")
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	return w.err
}

// Close writes QUIT when WriterOptions.Quit is set (and the HELO line if
// no transaction wrote it yet) and flushes. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	w.start()
	if w.opts.Quit {
		w.line("QUIT")
	}
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	return w.err
}

func (w *Writer) start() {
	if w.started {
		return
	}
	w.started = true
	if w.opts.Helo != "" {
		if strings.ContainsFunc(w.opts.Helo, func(c rune) bool { return c <= ' ' || c == 127 }) {
			w.err = fmt.Errorf("%w: HELO argument %q has blanks or control characters", ErrSyntax, w.opts.Helo)
			return
		}
		w.line("HELO " + w.opts.Helo)
	}
}

// envelopeLines checks env and returns its MAIL and RCPT lines.
func (w *Writer) envelopeLines(env *Envelope) ([]string, error) {
	if len(env.To) == 0 {
		return nil, fmt.Errorf("%w: envelope has no recipient", ErrNoRecipients)
	}
	if env.RcptParams != nil && len(env.RcptParams) != len(env.To) {
		return nil, fmt.Errorf("%w: %d RcptParams for %d recipients", ErrSyntax, len(env.RcptParams), len(env.To))
	}
	if env.From != "" {
		if err := checkMailbox(env.From, false); err != nil {
			return nil, fmt.Errorf("%w: sender: %v", ErrSyntax, err)
		}
	}
	params, err := normalizeMailParams(env.Params)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	lines := []string{"MAIL FROM:<" + env.From + ">" + paramString(params)}
	for i, to := range env.To {
		if err := checkMailbox(to, true); err != nil {
			return nil, fmt.Errorf("%w: recipient: %v", ErrSyntax, err)
		}
		var rp []Param
		if env.RcptParams != nil {
			if rp, err = normalizeRcptParams(env.RcptParams[i]); err != nil {
				return nil, fmt.Errorf("%w: recipient %s: %v", ErrSyntax, to, err)
			}
		}
		lines = append(lines, "RCPT TO:<"+to+">"+paramString(rp))
	}
	for _, l := range lines {
		if len(l)+len(w.eol) > MaxCommandLine {
			return nil, fmt.Errorf("%w: command longer than %d octets, starting %.40q", ErrLineTooLong, MaxCommandLine, l)
		}
	}
	return lines, nil
}

func paramString(ps []Param) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteByte(' ')
		b.WriteString(p.String())
	}
	return b.String()
}

func (w *Writer) line(s string) {
	if w.err != nil {
		return
	}
	if _, err := w.bw.WriteString(s); err != nil {
		w.err = err
		return
	}
	_, w.err = w.bw.WriteString(w.eol)
}

// stuff copies body, doubling a dot that starts a line, and ends it with a
// line ending if it has none.
func (w *Writer) stuff(body io.Reader) error {
	buf := make([]byte, 32<<10)
	atStart, empty := true, true
	for {
		n, rerr := body.Read(buf)
		chunk := buf[:n]
		for len(chunk) > 0 {
			if atStart && chunk[0] == '.' {
				if err := w.bw.WriteByte('.'); err != nil {
					return err
				}
			}
			seg := chunk
			atStart = false
			if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
				seg, atStart = chunk[:i+1], true
			}
			if _, err := w.bw.Write(seg); err != nil {
				return err
			}
			chunk = chunk[len(seg):]
			empty = false
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("bsmtp: reading message: %w", rerr)
		}
	}
	if !atStart && !empty {
		_, err := w.bw.WriteString(w.eol)
		return err
	}
	return nil
}
