package queue

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// FuzzKeyBucket: whatever a bucket file holds (a crash can leave a torn
// line, a disk can corrupt one), looking a key up never panics, and a
// key appended as done after it is found done.
func FuzzKeyBucket(f *testing.F) {
	q, err := Open(f.TempDir(), true)
	if err != nil {
		f.Fatal(err)
	}
	k := "sat:0:fuzz"
	h := hashKey(k)
	f.Add([]byte(h + " I 1700000000000000000\n"))
	f.Add([]byte(h + " I \n" + h[:10]))
	f.Add([]byte(h + " I -99999999999999999999\n" + h + "x\n"))
	f.Add([]byte("\x00\xff\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := q.keyBucket(k)
		os.Remove(b + ".old")
		if err := os.WriteFile(b, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := q.Begin(k, time.Unix(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		if c.State != KeyDone {
			if err := c.Done(); err != nil {
				t.Fatal(err)
			}
		}
		c.Release()
		if !q.Handled(k) {
			t.Fatalf("not handled after Done; bucket %q", data)
		}
	})
}

// FuzzSentJournal: whatever sent.log holds (a torn line, a corrupt disk,
// a hand edit), reading it never panics, consumes whole lines only, and a
// record appended after it is found, by id and by packet.
func FuzzSentJournal(f *testing.F) {
	s := sent(1)
	s.ID = "06B000000-AAAAAAAA"
	one, _ := json.Marshal(s)
	f.Add(append(one, '\n'))
	f.Add([]byte(`{"op":"acked","id":"06B000000-AAAAAAAA"}` + "\n" + string(one)))
	f.Add([]byte(`{"op":"report","id":"","report":"bounced"}` + "\n{\"id\":1}\n\x00\xff"))
	f.Add([]byte("\n\n{}\n[]\nnull\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x := newSentSet()
		if n := x.parse(data); n < 0 || n > len(data) || (n > 0 && data[n-1] != '\n') {
			t.Fatalf("parse consumed %d of %d bytes", n, len(data))
		}
		q, err := Open(t.TempDir(), true)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(q.sentLog(), data, 0o600); err != nil {
			t.Fatal(err)
		}
		q.ListSent()
		r := sent(2)
		r.Pkt = "FUZZPKT"
		if err := q.RecordSent(r); err != nil {
			t.Fatal(err)
		}
		if got, err := q.GetSent(r.ID); err != nil || got.Pkt != "FUZZPKT" {
			t.Fatalf("the record appended after the data: %+v %v", got, err)
		}
		if got, _ := q.SentByPkt("FUZZPKT"); got == nil || got.ID != r.ID {
			t.Fatalf("SentByPkt after the data: %+v", got)
		}
	})
}
