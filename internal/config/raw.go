package config

import (
	"fmt"
	"math"
	"sort"
)

// obj is one decoded Hjson object and its dotted field path. Values are what
// hjson-go produces for an `any` target: map[string]any, []any, string,
// float64, bool and nil. A key whose value is null counts as absent, as it
// does for nncp-*.
type obj struct {
	field string
	m     map[string]any
}

// typeName describes a decoded value for error messages.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("a string (%q)", v)
	case float64:
		return fmt.Sprintf("a number (%v)", v)
	case bool:
		return fmt.Sprintf("a boolean (%v)", v)
	}
	return fmt.Sprintf("%T", v)
}

func (o obj) get(key string) (any, bool) {
	v, ok := o.m[key]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

// sortedKeys returns the keys of m in order, skipping null values.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func asString(field string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fieldErr(field, "want a string, got %s", typeName(v))
	}
	return s, nil
}

// str reads an optional string.
func (o obj) str(key string) (string, bool, error) {
	v, ok := o.get(key)
	if !ok {
		return "", false, nil
	}
	s, err := asString(join(o.field, key), v)
	return s, err == nil, err
}

// need reads a required string.
func (o obj) need(key string) (string, error) {
	s, ok, err := o.str(key)
	if err == nil && !ok {
		err = wrapField(join(o.field, key), ErrMissing)
	}
	return s, err
}

// asInt checks that v is a whole number within [lo, hi].
func asInt(field string, v any, lo, hi int64) (int64, error) {
	f, ok := v.(float64)
	if !ok {
		return 0, fieldErr(field, "want a number, got %s", typeName(v))
	}
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		return 0, fieldErr(field, "want a whole number, got %v", f)
	}
	if f < float64(lo) || f > float64(hi) {
		if lo == 0 && f < 0 {
			return 0, fieldErr(field, "must not be negative, got %v", f)
		}
		return 0, fieldErr(field, "%v is out of range %d..%d", f, lo, hi)
	}
	return int64(f), nil
}

// num reads an optional whole number within [lo, hi].
func (o obj) num(key string, lo, hi int64) (int64, bool, error) {
	v, ok := o.get(key)
	if !ok {
		return 0, false, nil
	}
	n, err := asInt(join(o.field, key), v, lo, hi)
	return n, err == nil, err
}

// flag reads an optional boolean.
func (o obj) flag(key string) (bool, error) {
	v, ok := o.get(key)
	if !ok {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fieldErr(join(o.field, key), "want true or false, got %s", typeName(v))
	}
	return b, nil
}

func asObj(field string, v any) (obj, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return obj{}, fieldErr(field, "want an object, got %s", typeName(v))
	}
	return obj{field: field, m: m}, nil
}

// sub reads an optional nested object.
func (o obj) sub(key string) (obj, bool, error) {
	v, ok := o.get(key)
	if !ok {
		return obj{}, false, nil
	}
	s, err := asObj(join(o.field, key), v)
	return s, err == nil, err
}

func asStrings(field string, v any) ([]string, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fieldErr(field, "want a list of strings, got %s", typeName(v))
	}
	var out []string
	for i, e := range l {
		s, err := asString(fmt.Sprintf("%s[%d]", field, i), e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// strs reads an optional list of strings; an empty list reads as nil.
func (o obj) strs(key string) ([]string, error) {
	v, ok := o.get(key)
	if !ok {
		return nil, nil
	}
	return asStrings(join(o.field, key), v)
}

// strMap reads an optional object of strings; an empty one reads as nil.
func (o obj) strMap(key string) (map[string]string, error) {
	s, ok, err := o.sub(key)
	if !ok {
		return nil, err
	}
	var out map[string]string
	for _, k := range sortedKeys(s.m) {
		v, err := asString(join(s.field, k), s.m[k])
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[k] = v
	}
	return out, nil
}

// execMap reads an exec table: handle -> argv. An empty table reads as nil.
func (o obj) execMap(key string) (map[string][]string, error) {
	s, ok, err := o.sub(key)
	if !ok {
		return nil, err
	}
	var out map[string][]string
	for _, k := range sortedKeys(s.m) {
		argv, err := asStrings(join(s.field, k), s.m[k])
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = make(map[string][]string)
		}
		out[k] = argv
	}
	return out, nil
}
