package config

import (
	"encoding/json"
	"strings"

	"github.com/hjson/hjson-go/v4"
)

// Configs are written by hjson-go's encoder, which nncp-* write with, from
// ordered maps (members in the order nncp-* use): its quoting decides what
// needs quotes, so that MinText matches nncp-cfgmin byte for byte.

// wobj is an Hjson object to write, members in the order set.
type wobj struct{ m *hjson.OrderedMap }

func newWobj() wobj { return wobj{hjson.NewOrderedMap()} }

// set adds a member; v is a string, a number, a bool, nil, a wobj, a
// list (inlineList) or a tree as hjson-go decodes it (Mail.Raw).
func (o wobj) set(key string, v any) { o.m.Set(key, safe(v)) }

// safe is v with every string that hjson-go would write in a form it
// cannot read back replaced by its quoted form, escapes and all: its
// encoder and decoder disagree on a number with a dangling exponent ("1e",
// "2E+", left unquoted) and on leading spaces in a multi-line string.
func safe(v any) any {
	switch v := v.(type) {
	case wobj:
		return v.m
	case string:
		if needsQuotes(v) {
			return json.Number(encode(v, quoteAlways()))
		}
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = safe(e)
		}
		return m
	case []string:
		return inlineList(v)
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = safe(e)
		}
		return l
	}
	return v
}

// needsQuotes reports whether s, written as hjson-go writes an object's
// string member, does not read back as s.
func needsQuotes(s string) bool {
	m := hjson.NewOrderedMap()
	m.Set("k", s)
	var back map[string]any
	err := hjson.Unmarshal(encode(m, hjson.DefaultOptions()), &back)
	return err != nil || back["k"] != s
}

func quoteAlways() hjson.EncoderOptions {
	opt := hjson.DefaultOptions()
	opt.QuoteAlways = true
	return opt
}

// optStr sets a string unless it is empty.
func (o wobj) optStr(key, v string) {
	if v != "" {
		o.set(key, v)
	}
}

// optNum sets a number unless it is zero.
func (o wobj) optNum(key string, v int64) {
	if v != 0 {
		o.set(key, v)
	}
}

// flag sets "key: true" when v is set.
func (o wobj) flag(key string, v bool) {
	if v {
		o.set(key, true)
	}
}

// list sets a list of strings, written on one line as nncp-cfgnew writes
// them (exec: {sendmail: ["/usr/sbin/sendmail"]}).
func (o wobj) list(key string, l []string) { o.set(key, inlineList(l)) }

// inlineList is l as one line of Hjson: each string quoted by hjson-go
// (QuoteAlways), joined. hjson-go writes a list one element per line; a
// json.Number is the value it writes as it is, so the line is handed to
// it as one.
func inlineList(l []string) json.Number {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = string(encode(s, quoteAlways()))
	}
	return json.Number("[" + strings.Join(q, ", ") + "]")
}

// quoteValue is s as an Hjson value on a line of its own, quoted only
// where hjson-go would quote it (NewText's spool and log).
func quoteValue(s string) string {
	if needsQuotes(s) {
		return string(encode(s, quoteAlways()))
	}
	return string(encode(s, hjson.DefaultOptions()))
}

// text is o as a whole Hjson document with a final newline: braces on the
// key's line (sameLine) as in nncp-cfgnew's text, or on the next line as
// nncp-cfgmin writes them.
func (o wobj) text(sameLine bool) []byte {
	opt := hjson.DefaultOptions()
	opt.BracesSameLine = sameLine
	return append(encode(o.m, opt), '\n')
}

// encode runs hjson-go's encoder. Every value a Config holds encodes
// (Mail.Raw is what hjson-go decoded, or what code put there: strings,
// numbers, bools, lists and maps); an error is a bug in ferry.
func encode(v any, opt hjson.EncoderOptions) []byte {
	b, err := hjson.MarshalWithOptions(v, opt)
	if err != nil {
		panic("config: hjson encoding: " + err.Error())
	}
	return b
}
