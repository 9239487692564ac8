package logrec

import (
	"errors"
	"fmt"
	"strings"
)

// Field is one "Name: value" line of a record (plus its continuation lines).
type Field struct {
	Name  string
	Value string
}

// Record is one log record: its fields in file order. Names may repeat.
type Record []Field

// Get returns the value of the last field called name, as nncp-log sees it
// (it keeps the last of repeated fields).
func (r Record) Get(name string) (string, bool) {
	for i := len(r) - 1; i >= 0; i-- {
		if r[i].Name == name {
			return r[i].Value, true
		}
	}
	return "", false
}

// All returns the values of every field called name, in order.
func (r Record) All(name string) []string {
	var vs []string
	for _, f := range r {
		if f.Name == name {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Map returns the fields as nncp-log holds them: one value per name, the
// last one winning.
func (r Record) Map() map[string]string {
	m := make(map[string]string, len(r))
	for _, f := range r {
		m[f.Name] = f.Value
	}
	return m
}

// IsDescriptor reports whether r is a recfile record descriptor ("%rec: ...")
// rather than a log record. nncp-log treats descriptors as records (and
// prints "Can not humanize"); Format does the same, so callers that want to
// hide them test this first.
func (r Record) IsDescriptor() bool {
	return len(r) > 0 && strings.HasPrefix(r[0].Name, "%")
}

// ErrBadName is returned when a record holds a field name that cannot be
// written: names are a letter or "%" followed by letters, digits and "_".
var ErrBadName = errors.New("invalid field name")

// validName reports whether s is a recfile field name: [a-zA-Z%][a-zA-Z0-9_]*.
func validName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

func isNameStart(c byte) bool {
	return c == '%' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isNameChar(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// MarshalText returns the record as it is written to the log: an empty line,
// then one line per field, continuation lines starting with "+ ".
func (r Record) MarshalText() ([]byte, error) {
	return AppendRecord(nil, r)
}

// String returns the record as MarshalText does, or an error note.
func (r Record) String() string {
	b, err := AppendRecord(nil, r)
	if err != nil {
		return fmt.Sprintf("logrec: %v", err)
	}
	return string(b)
}

// AppendRecord appends the log form of r to b: "\n", then for every field
// "Name: first line\n" and "+ next line\n" for each further line of its value.
//
// So that every reader gets the value back: a value line ending in "\r" gets
// one more "\r" (line readers drop one), and a first line ending in "\\" gets a
// trailing space (readers would take the next line as its continuation). A
// field with an empty name (what a reader makes of continuation lines that
// open a record) is written as continuation lines only, and only as the first
// field. Other names must be valid recfile names ([ErrBadName]).
func AppendRecord(b []byte, r Record) ([]byte, error) {
	b = append(b, '\n')
	for i, f := range r {
		if f.Name == "" {
			first, rest, multi := strings.Cut(f.Value, "\n")
			if i != 0 || first != "" || !multi {
				return nil, fmt.Errorf("field %d: %w: %q", i, ErrBadName, f.Name)
			}
			b = appendCont(b, rest)
			continue
		}
		if !validName(f.Name) {
			return nil, fmt.Errorf("field %d: %w: %q", i, ErrBadName, f.Name)
		}
		first, rest, multi := strings.Cut(f.Value, "\n")
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, first...)
		if strings.HasSuffix(first, `\`) {
			b = append(b, ' ')
		}
		if strings.HasSuffix(first, "\r") {
			b = append(b, '\r')
		}
		b = append(b, '\n')
		if multi {
			b = appendCont(b, rest)
		}
	}
	return b, nil
}

// appendCont writes every line of s as a "+ " continuation line.
func appendCont(b []byte, s string) []byte {
	for {
		line, rest, more := strings.Cut(s, "\n")
		b = append(b, "+ "...)
		b = append(b, line...)
		if strings.HasSuffix(line, "\r") {
			b = append(b, '\r')
		}
		b = append(b, '\n')
		if !more {
			return b
		}
		s = rest
	}
}
