package submit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// source reads the message from the caller, line-aware, applying the
// sendmail dot rule: unless dots is false, a line holding only "." (LF or
// CRLF, or "." at the very end) ends the message, as in Exim and sendmail
// without -i/-oi. Lines starting with a dot are not unstuffed: local
// submission is not SMTP.
type source struct {
	br       *bufio.Reader
	dots     bool
	lines    bool // chunks end at line ends (else: whatever is buffered)
	atStart  bool // at the start of a line
	dotEnded bool // the message ended at a lone "." line
}

func newSource(r io.Reader, dots bool) *source {
	return &source{br: bufio.NewReaderSize(r, 64<<10), dots: dots, lines: true, atStart: true}
}

// chunk returns the next bytes of input, up to and including the next LF
// at most (when lines is set); after it, atStart tells whether the chunk
// ended a line. It
// returns io.EOF at the end of input or at a lone dot line. The chunk is
// valid until the next call.
func (s *source) chunk() ([]byte, error) {
	if s.atStart && s.dots {
		head, err := s.br.Peek(3)
		if err != nil && err != io.EOF {
			return nil, err
		}
		h := string(head)
		if strings.HasPrefix(h, ".\n") || h == ".\r\n" || h == "." && err == io.EOF {
			s.dotEnded = true
			return nil, io.EOF
		}
	}
	if _, err := s.br.Peek(1); err != nil {
		return nil, err
	}
	buf, _ := s.br.Peek(s.br.Buffered())
	// In line mode, wait for the whole line (up to the buffer size): the
	// header parser classifies lines by their start and their end.
	for s.lines && bytes.IndexByte(buf, '\n') < 0 && len(buf) < s.br.Size() {
		more, err := s.br.Peek(len(buf) + 1) // may move the buffered bytes
		if len(more) == len(buf) {
			if err != io.EOF {
				return nil, err
			}
			buf = more
			break
		}
		buf, _ = s.br.Peek(s.br.Buffered())
	}
	s.atStart = false
	if !s.lines {
		s.atStart = buf[len(buf)-1] == '\n'
	} else if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		buf, s.atStart = buf[:i+1], true
	}
	s.br.Discard(len(buf))
	return buf, nil
}

// field is one header field as it came: all its physical lines, endings
// included.
type field struct {
	name string // before the colon, as written
	raw  []byte
}

// header is the message header as read.
type header struct {
	fields []field
	eol    string // the line ending of the first line: "\n" or "\r\n"
	// sep is the empty line that ended the header, as it came; nil when the
	// header was ended by a line that is not a header field (the body
	// starts with that line) or by the end of input.
	sep []byte
	// first holds the first body bytes when the header was ended by a
	// line that is not a header field.
	first []byte
	size  int
}

// readHeader reads the header fields up to the empty line, the first line
// that is not a header field, or the end of input. A Unix "From " line at
// the very start is dropped. A header field line that is not ended at the
// end of input gets a line ending.
func readHeader(src *source, maxBytes int) (*header, error) {
	h := &header{eol: "\n"}
	firstLine, eolSet := true, false
	for {
		c, err := src.chunk()
		if err == io.EOF {
			return h, nil
		}
		if err != nil {
			return nil, err
		}
		lineDone := src.atStart
		if lineDone && !eolSet {
			if bytes.HasSuffix(c, []byte("\r\n")) {
				h.eol = "\r\n"
			}
			eolSet = true
		}
		var f *field
		switch {
		case bytes.Equal(c, []byte("\n")) || bytes.Equal(c, []byte("\r\n")):
			h.sep = append([]byte(nil), c...)
			return h, nil
		case firstLine && bytes.HasPrefix(c, []byte("From ")) && !isField(c):
			// A Unix mbox "From " line: not a header field; dropped.
			for !lineDone {
				if _, err := src.chunk(); err == io.EOF {
					return h, nil
				} else if err != nil {
					return nil, err
				}
				lineDone = src.atStart
			}
			firstLine, eolSet = false, false
			continue
		case (c[0] == ' ' || c[0] == '\t') && len(h.fields) > 0:
			f = &h.fields[len(h.fields)-1]
		default:
			name, ok := fieldName(c)
			if !ok {
				h.first = append([]byte(nil), c...)
				return h, nil
			}
			h.fields = append(h.fields, field{name: name})
			f = &h.fields[len(h.fields)-1]
		}
		firstLine = false
		for {
			h.size += len(c)
			if h.size > maxBytes {
				return nil, fmt.Errorf("%w: over %d bytes", ErrHeaderTooLarge, maxBytes)
			}
			f.raw = append(f.raw, c...)
			if lineDone {
				break
			}
			if c, err = src.chunk(); err == io.EOF {
				f.raw = append(f.raw, h.eol...)
				return h, nil
			} else if err != nil {
				return nil, err
			}
			lineDone = src.atStart
		}
	}
}

// fieldName returns the name of a header field line: printable ASCII
// other than ":", optional blanks, then ":".
func fieldName(line []byte) (string, bool) {
	i := 0
	for i < len(line) && line[i] > 32 && line[i] < 127 && line[i] != ':' {
		i++
	}
	if i == 0 {
		return "", false
	}
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if j == len(line) || line[j] != ':' {
		return "", false
	}
	return string(line[:i]), true
}

func isField(line []byte) bool {
	_, ok := fieldName(line)
	return ok
}

// value returns the field's unfolded value (after the colon).
func (f *field) value() string {
	_, v, _ := strings.Cut(string(f.raw), ":")
	v = strings.ReplaceAll(v, "\r\n", "")
	v = strings.ReplaceAll(v, "\n", "")
	return strings.TrimSpace(v)
}

// has reports whether the header has a field called name (any case).
func (h *header) has(name string) bool {
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) {
			return true
		}
	}
	return false
}
