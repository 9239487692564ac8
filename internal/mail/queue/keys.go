package queue

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"ferry/internal/owner"
)

// keyBucketMax is the size at which a key bucket is rotated (one older
// generation is kept, so a key is remembered for at least this many
// bytes' worth of newer keys in its bucket: about 3,000 keys, 750,000 in
// all).
const keyBucketMax = 256 << 10

// keyBucket names the bucket file of a key: 256 files, so a lookup reads
// about 1/256 of the index.
func (q *Queue) keyBucket(key string) string {
	s := sha256.Sum256([]byte(key))
	return filepath.Join(q.Dir, "keys", hex.EncodeToString(s[:1])+".log")
}

func hashKey(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:16])
}

// Handled reports whether a message (or one recipient of it: key
// "batch:index:rcpt") was marked handled.
func (q *Queue) Handled(key string) bool {
	b := q.keyBucket(key)
	want := hashKey(key)
	for _, p := range []string{b, b + ".old"} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if sc.Text() == want {
				f.Close()
				return true
			}
		}
		f.Close()
	}
	return false
}

// MarkHandled remembers a key: one appended line, no fsync. The message
// it names is already safe (delivered, or in the queue); the mark only
// keeps a batch tossed again from delivering it twice, and the window a
// crash could reopen is the one every MTA has between delivering and
// recording.
func (q *Queue) MarkHandled(key string) error {
	b := q.keyBucket(key)
	if fi, err := os.Stat(b); err == nil && fi.Size() > keyBucketMax {
		os.Rename(b, b+".old")
	}
	f, err := owner.OpenFile(b, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(hashKey(key) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Record appends a finished entry that never needed the queue (delivered
// at once) to the history journal that mailq -all reads. No fsync: it is
// a record, the message itself is already delivered.
func (q *Queue) Record(e *Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	p := filepath.Join(q.Dir, "history.log")
	if fi, err := os.Stat(p); err == nil && fi.Size() > 16<<20 {
		os.Rename(p, p+".old")
	}
	f, err := owner.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// journal reads the history journal (older generation first).
func (q *Queue) journal() []*Entry {
	var out []*Entry
	p := filepath.Join(q.Dir, "history.log")
	for _, f := range []string{p + ".old", p} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" {
				continue
			}
			var e Entry
			if json.Unmarshal([]byte(line), &e) == nil {
				out = append(out, &e)
			}
		}
	}
	return out
}
