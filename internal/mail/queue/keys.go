package queue

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/owner"
	"ferry/internal/safeio"
)

// keyBucketMax is the size at which a key bucket is rotated (one older
// generation is kept, so a key is remembered for at least this many
// bytes' worth of newer keys in its bucket: about 3,000 keys, 750,000 in
// all).
var keyBucketMax int64 = 256 << 10

// KeyState is what the handled-key index knows of a key.
type KeyState int

// Key states.
const (
	// KeyNew: never seen; Begin has now recorded the intent to handle it.
	KeyNew KeyState = iota
	// KeyInDoubt: an earlier attempt recorded its intent and never said
	// it was done (it was killed, or failed). What it delivered may be
	// visible: deliveries must look for their earlier copy first.
	KeyInDoubt
	// KeyDone: handled; nothing more is to be done.
	KeyDone
)

func (s KeyState) String() string {
	switch s {
	case KeyNew:
		return "new"
	case KeyInDoubt:
		return "in doubt"
	}
	return "done"
}

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

// A bucket holds one line per event:
//
//	HASH              the key is done (the format of older versions)
//	HASH I UNIXNANO   intent: an attempt began at that time

// lookup scans a bucket (older generation first) for a key.
func lookup(bucket, want string) (KeyState, time.Time, bool) {
	state, since, found := KeyNew, time.Time{}, false
	for _, p := range []string{bucket + ".old", bucket} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, want) {
				continue
			}
			rest := line[len(want):]
			switch {
			case rest == "":
				f.Close()
				return KeyDone, since, true
			case strings.HasPrefix(rest, " I "):
				if ns, err := strconv.ParseInt(rest[3:], 10, 64); err == nil && !found {
					state, since, found = KeyInDoubt, time.Unix(0, ns), true
				}
			}
		}
		f.Close()
	}
	return state, since, found
}

// Handled reports whether a key (a received transaction) was marked
// done.
func (q *Queue) Handled(key string) bool {
	st, _, _ := lookup(q.keyBucket(key), hashKey(key))
	return st == KeyDone
}

// Claim is a key being handled: the bucket's lock is held until Release,
// so that two processes handling the same batch (a handle that outlived
// its killed toss, and the next toss) never handle one key at once.
type Claim struct {
	q      *Queue
	key    string
	bucket string
	lock   *os.File
	// State is what the index knew before this claim; Since is when the
	// first attempt began (now, for a new key). A retry uses Since for
	// everything it derives from the time, so that what it writes is the
	// same as what the first attempt wrote.
	State KeyState
	Since time.Time
}

// Begin claims key (waiting for a process that holds its bucket) and
// says what is known of it. A new key's intent is recorded durably
// before Begin returns: from then on, a crash leaves the key in doubt,
// never forgotten. The caller must Release the claim, after Done if the
// key was handled.
func (q *Queue) Begin(key string, now time.Time) (*Claim, error) {
	b := q.keyBucket(key)
	lf, err := owner.OpenFile(strings.TrimSuffix(b, ".log")+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("mail queue: key index: %w", err)
	}
	for {
		err = unix.Flock(int(lf.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("mail queue: locking the key index: %w", err)
	}
	c := &Claim{q: q, key: key, bucket: b, lock: lf}
	st, since, _ := lookup(b, hashKey(key))
	c.State, c.Since = st, since
	if st == KeyNew {
		c.Since = now
		if err := q.appendKey(b, hashKey(key)+" I "+strconv.FormatInt(now.UnixNano(), 10), true); err != nil {
			c.Release()
			return nil, fmt.Errorf("mail queue: recording the intent: %w", err)
		}
	}
	return c, nil
}

// Done marks the claimed key handled. No fsync: a mark lost in a crash
// leaves the key in doubt, and the retry finds what was delivered.
func (c *Claim) Done() error {
	if err := c.q.appendKey(c.bucket, hashKey(c.key), false); err != nil {
		return fmt.Errorf("mail queue: marking a key handled: %w", err)
	}
	c.State = KeyDone
	return nil
}

// Release lets others claim the key.
func (c *Claim) Release() {
	if c.lock != nil {
		unix.Flock(int(c.lock.Fd()), unix.LOCK_UN)
		c.lock.Close()
		c.lock = nil
	}
}

// MarkHandled remembers a key as done, outside a claim.
func (q *Queue) MarkHandled(key string) error {
	c, err := q.Begin(key, time.Now())
	if err != nil {
		return err
	}
	defer c.Release()
	return c.Done()
}

// appendKey appends one line to a bucket (rotating it when it is full),
// fsynced when durable (and the directory too when the file is new). The
// bucket's lock is held.
func (q *Queue) appendKey(bucket, line string, durable bool) error {
	durable = durable && !q.NoSync
	created := false
	if fi, err := os.Stat(bucket); err == nil && fi.Size() > keyBucketMax {
		if err := safeio.Rename(bucket, bucket+".old", !durable); err != nil {
			return err
		}
		created = true
	} else if errors.Is(err, os.ErrNotExist) {
		created = true
	}
	f, err := owner.OpenFile(bucket, os.O_APPEND|os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	var size int64 // 0 if unknown: then nothing is ended first
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	err = writeLine(f, size, []byte(line))
	if err == nil && durable {
		err = safeio.Sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && durable && created {
		err = safeio.SyncDir(filepath.Dir(bucket))
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
	return appendJournal(filepath.Join(q.Dir, "history.log"), b, 16<<20)
}

// Recorded reports whether the history journal has an entry with this id
// (a retry of a transaction cut short after its record).
func (q *Queue) Recorded(id string) bool {
	p := filepath.Join(q.Dir, "history.log")
	want := []byte(`"id":"` + id + `"`)
	for _, f := range []string{p, p + ".old"} {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, want) {
			return true
		}
	}
	return false
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

// Intent records rec under a delivery's key (QUEUE/intent/HASH),
// durably: what a keyed mbox delivery is about to write, for a retry to
// check (deliver.Journal).
func (q *Queue) Intent(key string, rec []byte) error {
	p := q.path("intent", hashKey(key))
	if err := safeio.WriteFile(p, rec, safeio.Options{NoSync: q.NoSync, Dir: q.path("tmp", "")}); err != nil {
		return err
	}
	owner.Inherit(p)
	return nil
}

// Prior returns what Intent recorded under key.
func (q *Queue) Prior(key string) ([]byte, bool) {
	b, err := os.ReadFile(q.path("intent", hashKey(key)))
	return b, err == nil
}

// DropIntents forgets the delivery records of an entry (the keys the MTA
// gives its deliveries: the entry id and the recipient), once nothing
// will retry them: the entry is finished, or the received transaction's
// key is done. No fsync: a record left behind is only checked, never
// acted on blindly.
func (q *Queue) DropIntents(e *Entry) {
	for _, r := range e.Rcpts {
		os.Remove(q.path("intent", hashKey(e.ID+"\x00"+r.Addr)))
	}
}
