package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, that it only returns *Error,
// and that whatever it accepts survives Marshal then Parse unchanged.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"rich.hjson", "rich.nncp-cfgmin.hjson", "nncp-cfgnew.hjson", "nncp-cfgnew-nocomments.hjson"} {
		f.Add(readTestdata(f, name))
	}
	// The vector configs, when present (see internal/testnet/vectors).
	vec := filepath.Join("..", "..", "..", "shared", "testdata", "nncp-8.8.2", "configs")
	if d := os.Getenv("FERRY_TESTDATA"); d != "" {
		vec = filepath.Join(d, "configs")
	}
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
