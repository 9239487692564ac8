package logrec

import (
	"io"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzRead: the reader never panics; every record it returns serializes,
// and the serialization reads back as exactly that record; Format never
// panics.
func FuzzRead(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/edge/*.log")
	seeds = append(seeds, "testdata/nncp/sat.log", "testdata/nncp/hub.log")
	for _, p := range seeds {
		f.Add(mustRead(f, p))
	}
	f.Add([]byte("\n+ a\r\r\nX: \\\\\nb\\\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _ := readAll(data)
		var all []byte
		for _, r := range recs {
			if len(r) == 0 {
				t.Fatal("empty record returned")
			}
			b, err := AppendRecord(nil, r)
			if err != nil {
				t.Fatalf("%q: %v", r, err)
			}
			back, err := readAll(b)
			if err != nil || len(back) != 1 || !reflect.DeepEqual(back[0], r) {
				t.Fatalf("record %q\nwritten %q\nread back %q (%v)", r, b, back, err)
			}
			if err := Format(io.Discard, r, FormatOptions{Debug: true}); err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		back, err := readAll(all)
		if err != nil || !reflect.DeepEqual(norm(back), norm(recs)) {
			t.Fatalf("stream of %d records read back as %d (%v)", len(recs), len(back), err)
		}
	})
}
