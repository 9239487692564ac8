package logrec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
)

// The texts of these errors are the ones nncp-log prints after
// "Can not read log: ".
var (
	// ErrFieldFormat: a line that is neither empty, a comment, a continuation
	// nor holds "Name:".
	ErrFieldFormat = errors.New("invalid field format")
	// ErrLeftContinuation: the input ends on a line ending in a backslash.
	ErrLeftContinuation = errors.New("left continuation")
)

// SyntaxError says where a log stops being a recfile. Unwrap gives
// ErrFieldFormat or ErrLeftContinuation.
type SyntaxError struct {
	Line int // 1-based line number
	Err  error
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *SyntaxError) Unwrap() error { return e.Err }

// Reader reads records from a log, with the rules nncp-log 8.8.2 follows
// (observed on the binary; testdata/edge holds one file per rule):
//
//   - Lines end at "\n"; one "\r" before it (or at the end of input) is dropped.
//   - An empty line ends a record; records without fields are skipped. A
//     line of blanks is not empty (it is an invalid field).
//   - A line starting with "#" is a comment, even inside a record.
//   - A line starting with "+" continues the last field's value: "\n" plus
//     the rest of the line, less one leading space. Before any field, it
//     continues a field with an empty name.
//   - Any other line ending in "\" is joined with the next raw line (without
//     the backslash, without a newline), repeatedly; input ending there is
//     ErrLeftContinuation.
//   - The first "Name:" in the line, Name being a letter or "%" followed by
//     letters, digits and "_", makes a field; leading blanks (space, tab,
//     "\f", "\r") of the value are dropped. "Foo Bar: x" is field "Bar";
//     "%rec: Log" is field "%rec". A line without one is ErrFieldFormat.
//
// Unlike nncp-log, lines may be of any length.
type Reader struct {
	br   *bufio.Reader
	line int
	err  error
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReader(r)}
}

// readLine returns the next line without its "\n" and one trailing "\r".
func (r *Reader) readLine() (string, bool, error) {
	s, err := r.br.ReadString('\n')
	if err != nil && err != io.EOF {
		return "", false, err
	}
	if err == io.EOF && s == "" {
		return "", false, nil
	}
	r.line++
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, true, nil
}

// Next returns the next record, or io.EOF after the last one. After an
// error, Next keeps returning it.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
	}
	return rec, err
}

func (r *Reader) next() (Record, error) {
	var rec Record
	for {
		line, ok, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if !ok {
			if len(rec) > 0 {
				return rec, nil
			}
			return nil, io.EOF
		}
		switch {
		case line == "":
			if len(rec) > 0 {
				return rec, nil
			}
			continue
		case line[0] == '#':
			continue
		case line[0] == '+':
			if len(rec) == 0 {
				rec = append(rec, Field{})
			}
			rec[len(rec)-1].Value += "\n" + strings.TrimPrefix(line[1:], " ")
			continue
		}
		if strings.HasSuffix(line, `\`) {
			if line, err = r.joinBackslash(line); err != nil {
				return nil, err
			}
		}
		name, value, ok := matchField(line)
		if !ok {
			return nil, &SyntaxError{Line: r.line, Err: ErrFieldFormat}
		}
		rec = append(rec, Field{Name: name, Value: value})
	}
}

// joinBackslash joins line, which ends in a backslash, with the lines that
// follow while the result still ends in one.
func (r *Reader) joinBackslash(line string) (string, error) {
	buf := []byte(line)
	for len(buf) > 0 && buf[len(buf)-1] == '\\' {
		start := r.line
		buf = buf[:len(buf)-1]
		next, ok, err := r.readLine()
		if err != nil {
			return "", err
		}
		if !ok {
			return "", &SyntaxError{Line: start, Err: ErrLeftContinuation}
		}
		buf = append(buf, next...)
	}
	return string(buf), nil
}

// matchField finds the leftmost "Name:" in line, Name matching
// [a-zA-Z%][a-zA-Z0-9_]*, and returns the name and the rest of the line
// after ":" less its leading blanks (the regexp `([a-zA-Z%][a-zA-Z0-9_]*):\s*(.*)`).
func matchField(line string) (name, value string, ok bool) {
	for i := 0; i < len(line); i++ {
		if !isNameStart(line[i]) {
			continue
		}
		j := i + 1
		for j < len(line) && isNameChar(line[j]) {
			j++
		}
		if j < len(line) && line[j] == ':' {
			return line[i:j], strings.TrimLeft(line[j+1:], " \t\f\r"), true
		}
		// Every later start inside this run of name characters ends at j
		// too: skip them (keeps long lines linear).
		i = j - 1
	}
	return "", "", false
}

// Read iterates over the records of r. A failure is yielded once, with a
// nil record, and ends the iteration.
func Read(r io.Reader) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		rd := NewReader(r)
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				return
			}
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}
