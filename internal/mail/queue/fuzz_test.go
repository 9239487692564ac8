package queue

import (
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
