package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/logrec"
	"ferry/internal/mail/mta"
)

// The mail log's records: a message's sender is always there (<> for the
// null sender); a quarantined batch, which is no message, has none.
func TestMailLoggerFrom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	x := &ctx{Env: &Env{Stderr: &bytes.Buffer{}}, quiet: true}
	l, err := newLogger(x, path)
	if err != nil {
		t.Fatal(err)
	}
	x.log = l
	ml := mailLogger{x}
	ml.Mail(&mta.Event{What: "bounced", ID: "m1", Rcpts: []string{"a@x"}})
	ml.Mail(&mta.Event{What: "quarantined", ID: "batch-1", Err: errors.New("bad part")})
	ml.Mail(&mta.Event{What: "submitted", ID: "m2", From: "u@x", Rcpts: []string{"b@y"}})
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := logrec.NewReader(f)
	want := map[string]string{"m1": "<>", "batch-1": "", "m2": "u@x"}
	n := 0
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		n++
		id, from := "", ""
		for _, fl := range rec {
			switch fl.Name {
			case "ID":
				id = fl.Value
			case "From":
				from = fl.Value
			}
		}
		if w, ok := want[id]; !ok || from != w {
			t.Errorf("record %v: From %q, want %q", rec, from, w)
		}
	}
	if n != 3 {
		t.Fatalf("%d records in the log, want 3", n)
	}
}
