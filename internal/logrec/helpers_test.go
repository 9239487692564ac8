package logrec

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"
)

// readAll parses every record of b; err is the reader's failure, if any.
func readAll(b []byte) ([]Record, error) {
	var recs []Record
	for r, err := range Read(bytes.NewReader(b)) {
		if err != nil {
			return recs, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawRecords splits a log NNCP wrote ("\n" + fields, one after the other)
// into the bytes of each record.
func rawRecords(b []byte) [][]byte {
	var out [][]byte
	for _, chunk := range bytes.Split(bytes.TrimPrefix(b, []byte("\n")), []byte("\n\n")) {
		out = append(out, append([]byte("\n"), append(chunk, '\n')...))
	}
	if n := len(out); n > 0 {
		// the file ends with "\n", which the split left on the last chunk
		out[n-1] = bytes.TrimSuffix(out[n-1], []byte("\n"))
	}
	return out
}

// toRec splits a parsed NNCP record back into what command code hands the
// Logger: the time, Rec, and the error text (nil when the record has none).
func toRec(t testing.TB, r Record) (time.Time, Rec, error) {
	t.Helper()
	when, err := time.Parse(time.RFC3339Nano, r[0].Value)
	if r[0].Name != "When" || err != nil {
		t.Fatalf("record does not start with When: %v", r)
	}
	i := 1
	var e error
	if r[i].Name == "Err" {
		e = errors.New(r[i].Value)
		i++
	}
	var rec Rec
	if r[i].Name == "Who" {
		rec.Who = r[i].Value
		i++
	}
	last := len(r) - 1
	if r[last].Name != "Msg" {
		t.Fatalf("record does not end with Msg: %v", r)
	}
	rec.Fields = append([]Field(nil), r[i:last]...)
	rec.Msg = r[last].Value
	return when, rec, e
}

// formatAll renders records as nncp-log does, stopping at a reader error
// (which it returns).
func formatAll(t testing.TB, b []byte, opts FormatOptions) (string, error) {
	t.Helper()
	var out bytes.Buffer
	for r, err := range Read(bytes.NewReader(b)) {
		if err != nil {
			return out.String(), err
		}
		if err := Format(&out, r, opts); err != nil {
			t.Fatal(err)
		}
	}
	return out.String(), nil
}
