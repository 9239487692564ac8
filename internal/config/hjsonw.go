package config

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// hw writes Hjson the way nncp-cfgnew lays it out: two-space indents,
// braces on the key's line, one member per line, strings without quotes
// where Hjson reads them back unchanged.
type hw struct {
	b      bytes.Buffer
	indent int
}

func (w *hw) line(s string) {
	for range w.indent {
		w.b.WriteString("  ")
	}
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *hw) open(key string) {
	w.line(quoteKey(key) + ": {")
	w.indent++
}

func (w *hw) close() {
	w.indent--
	w.line("}")
}

func (w *hw) str(key, v string) { w.line(quoteKey(key) + ": " + quoteValue(v)) }

func (w *hw) num(key string, v int64) { w.line(quoteKey(key) + ": " + strconv.FormatInt(v, 10)) }

// optNum writes a number unless it is zero.
func (w *hw) optNum(key string, v int64) {
	if v != 0 {
		w.num(key, v)
	}
}

// optStr writes a string unless it is empty.
func (w *hw) optStr(key, v string) {
	if v != "" {
		w.str(key, v)
	}
}

// flag writes "key: true" when v is set.
func (w *hw) flag(key string, v bool) {
	if v {
		w.line(quoteKey(key) + ": true")
	}
}

func (w *hw) list(key string, l []string) { w.line(quoteKey(key) + ": " + inlineList(l)) }

func inlineList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = quoteJSON(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// anyValue writes a value of a tree as hjson-go decodes it (Mail.Raw);
// prefix is "key: " in an object and "" in a list.
func (w *hw) anyValue(prefix string, v any, inList bool) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			w.line(prefix + "{}")
			return
		}
		w.line(prefix + "{")
		w.indent++
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.anyValue(quoteKey(k)+": ", v[k], false)
		}
		w.close()
	case []any:
		if len(v) == 0 {
			w.line(prefix + "[]")
			return
		}
		w.line(prefix + "[")
		w.indent++
		for _, e := range v {
			w.anyValue("", e, true)
		}
		w.indent--
		w.line("]")
	case []string:
		w.line(prefix + inlineList(v))
	case string:
		if inList {
			w.line(prefix + quoteJSON(v))
		} else {
			w.line(prefix + quoteValue(v))
		}
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			w.line(prefix + "null")
		} else {
			w.line(prefix + strconv.FormatFloat(v, 'g', -1, 64))
		}
	case bool:
		w.line(prefix + strconv.FormatBool(v))
	case nil:
		w.line(prefix + "null")
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		w.line(prefix + fmt.Sprint(v))
	case float32:
		w.anyValue(prefix, float64(v), inList)
	default:
		w.line(prefix + quoteJSON(fmt.Sprint(v)))
	}
}

// Hjson reads an unquoted value as a number or a literal when it starts
// with one followed by the end of the line, a comma, a closing bracket or a
// comment. These match a superset of that.
var (
	startsWithNumber  = regexp.MustCompile(`^-?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]*)?\s*($|[,\]}#]|//|/\*)`)
	startsWithKeyword = regexp.MustCompile(`^(true|false|null)\s*($|[,\]}#]|//|/\*)`)
)

// invisible reports characters hjson-go escapes: controls, line breaks and
// formatting characters a reader would not see.
func invisible(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f, r == 0xad, r >= 0x600 && r <= 0x604, r == 0x70f,
		r == 0x17b4, r == 0x17b5, r >= 0x200c && r <= 0x200f, r >= 0x2028 && r <= 0x202f,
		r >= 0x2060 && r <= 0x206f, r == 0xfeff, r >= 0xfff0 && r <= 0xffff:
		return true
	}
	return false
}

// hasInvisible reports invisible characters or invalid UTF-8 in s.
func hasInvisible(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if invisible(r) {
			return true
		}
	}
	return false
}

// quoteValue writes an object member's string value, without quotes when
// Hjson reads it back as the same string. The rules are hjson-go's, which
// nncp-* write with, so that MinText matches nncp-cfgmin.
func quoteValue(s string) string {
	if s == "" || hasInvisible(s) ||
		strings.ContainsAny(s[:1], " \t\"'#{}[]:,") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/*") ||
		strings.ContainsAny(s[len(s)-1:], " \t") ||
		startsWithNumber.MatchString(s) || startsWithKeyword.MatchString(s) {
		return quoteJSON(s)
	}
	return s
}

// quoteKey writes an object key, without quotes when Hjson allows it.
func quoteKey(s string) string {
	if s == "" || hasInvisible(s) || strings.ContainsAny(s, ",{}[] \t:#\"'\\") ||
		strings.Contains(s, "//") || strings.Contains(s, "/*") {
		return quoteJSON(s)
	}
	return s
}

// quoteJSON writes s as a JSON string. Non-ASCII text is kept as is, except
// for invisible and line-breaking characters, which are escaped.
func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case invisible(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
