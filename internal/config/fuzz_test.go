package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/hjson/hjson-go/v4"

	"ferry/internal/node"
	"ferry/internal/testnet/vectors"
)

// FuzzParse checks that Parse never panics, that it only returns *Error,
// and that whatever it accepts survives Marshal then Parse unchanged.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"rich.hjson", "rich.nncp-cfgmin.hjson", "nncp-cfgnew.hjson", "nncp-cfgnew-nocomments.hjson"} {
		f.Add(readTestdata(f, name))
	}
	// The vector configs, when present (see internal/testnet/vectors).
	vec := filepath.Join(vectors.Root(), "configs")
	for _, name := range []string{"sat", "hub", "far"} {
		if b, err := os.ReadFile(filepath.Join(vec, name+".hjson")); err == nil {
			f.Add(bytes.ReplaceAll(b, []byte("/TESTDATA"), []byte("/tmp/x")))
		}
	}
	f.Add([]byte("{spool: /s\nlog: FD:3\nneigh: {self: null}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.hjson")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Path != "fuzz.hjson" {
				t.Fatalf("error %T %v is not an *Error naming the file", err, err)
			}
			return
		}
		text := Marshal(c)
		back, err := Parse(text, "fuzz.hjson")
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, text)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("Marshal then Parse differs:\n%s", text)
		}
		if again := Marshal(back); !bytes.Equal(again, text) {
			t.Fatalf("Marshal is not stable:\n%s\nthen\n%s", text, again)
		}
		if _, err := Parse(MinText(c), ""); err != nil {
			t.Fatalf("MinText output does not parse: %v\n%s", err, MinText(c))
		}
	})
}

// FuzzMarshalStrings: any string, as a mail value, a list element, a key,
// a neighbour's incoming and an exec argument, survives Marshal then Parse
// (hjson-go writes some strings unquoted that it cannot read back).
func FuzzMarshalStrings(f *testing.F) {
	for _, s := range []string{"", "1e", "2E+", "-1.5e-", "true #", "a\nb", "'''", " x", "\u2028", "\xff"} {
		f.Add(s)
	}
	self, _ := node.Generate()
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // Hjson is UTF-8 text
		}
		raw := map[string]any{"v": s, "l": []any{s, "x"}, "sl": []string{s}}
		if s != "" {
			raw[s] = "k"
		}
		c := &Config{Spool: "/s", Log: "/l", Self: self, Mail: &Mail{Raw: raw},
			Neigh: map[string]*Neighbour{"self": {Public: self.Public, Incoming: "/" + s, Exec: map[string][]string{"x": {s}}}}}
		text := Marshal(c)
		// These are not mail keys, which Parse refuses: the mail section
		// is compared as hjson-go reads it, the rest through Parse.
		var tree map[string]any
		if err := hjson.Unmarshal(text, &tree); err != nil {
			t.Fatalf("%q: %v\n%s", s, err, text)
		}
		mail := tree["mail"]
		delete(tree, "mail")
		back, err := fromTree(tree, "")
		if err != nil {
			t.Fatalf("%q: %v\n%s", s, err, text)
		}
		raw["sl"] = []any{s} // read back as hjson-go decodes a list
		if !reflect.DeepEqual(mail, raw) || back.Neigh["self"].Incoming != "/"+s || back.Neigh["self"].Exec["x"][0] != s {
			t.Fatalf("%q does not survive:\n%s", s, text)
		}
	})
}

// FuzzPlainTree: Parse's fast way (hjson into an ordered map, made
// plain) gives the very tree that hjson's general way (into an
// interface, through JSON) gives, whenever it succeeds.
func FuzzPlainTree(f *testing.F) {
	for _, name := range []string{"rich.hjson", "rich.nncp-cfgmin.hjson", "nncp-cfgnew.hjson", "nncp-cfgnew-nocomments.hjson"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte("{a: 1, a: 2, b: [1, {c: -0.5e3}, null, true, 'x'], d: {}}"))
	f.Add([]byte("a: 1\nb: {c: [[]]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var om hjson.OrderedMap
		if hjson.Unmarshal(data, &om) != nil {
			return
		}
		var v any
		if err := hjson.Unmarshal(data, &v); err != nil {
			t.Fatalf("the ordered map decodes, the interface does not: %v", err)
		}
		if got := plainTree(&om); !reflect.DeepEqual(got, v) {
			t.Fatalf("trees differ:\n%#v\n%#v", got, v)
		}
	})
}
