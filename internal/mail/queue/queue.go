// Package queue owns ferry's mail queue: messages accepted for delivery
// (each a message file and an envelope file with per-recipient state),
// their history once finished, the records of messages this node handed
// to NNCP, and the markers that keep a retried batch from delivering a
// message twice. Every durable write goes through package safeio: temp
// file, fsync, rename, fsync of the directory.
//
//	QUEUE/msg/ID        the message as accepted
//	QUEUE/env/ID        its envelope and state (JSON); its presence means "queued"
//	QUEUE/done/ID       the final envelope of a delivered or bounced message
//	QUEUE/sent.log      the messages this node queued as NNCP packets,
//	                    and what became of them (sent.go)
//	QUEUE/noted/HOP     the note about a hop nothing carries mail to was
//	                    given (FirstNote)
//	QUEUE/keys/XX.log   keys of received transactions: the intent to
//	                    handle one (fsynced before any delivery), then
//	                    "done" (256 buckets, rotated, each locked through
//	                    XX.lock), so a batch tossed twice delivers nothing
//	                    twice
//	QUEUE/intent/HASH   where a keyed mbox delivery writes, recorded
//	                    before it does, until its entry is finished
//	QUEUE/history.log   messages delivered at once, for mailq -all
//	QUEUE/tmp/
package queue

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/owner"
	"ferry/internal/safeio"
	"ferry/internal/tempfail"
)

// Errors of the queue.
var (
	ErrNotFound  = errors.New("no such message in the queue")
	ErrDuplicate = errors.New("message already accepted")
	ErrLocked    = tempfail.New("message is being delivered by another process") // temporary
)

// Recipient states.
const (
	Pending   = "pending"   // not delivered yet (maybe deferred)
	Delivered = "delivered" // delivered or relayed for good
	Failed    = "failed"    // failed for good; a bounce was (or will be) sent
)

// Rcpt is one recipient and what became of it.
type Rcpt struct {
	Addr     string `json:"addr"`
	ORcpt    string `json:"orcpt,omitempty"`
	Notify   string `json:"notify,omitempty"`
	State    string `json:"state"`
	Via      string `json:"via,omitempty"` // how it was delivered: "maildir:/..", "nncp:far", "smtp:host"
	Err      string `json:"err,omitempty"` // last error
	Code     int    `json:"code,omitempty"`
	Enhanced string `json:"enhanced,omitempty"`
	Diag     string `json:"diag,omitempty"` // DSN Diagnostic-Code
	// RemoteMTA is the server that answered, when one did (DSN Remote-MTA).
	RemoteMTA string    `json:"remote_mta,omitempty"`
	Updated   time.Time `json:"updated"`
	Bounced   bool      `json:"bounced,omitempty"` // a DSN for this failure was queued
	// BounceErr is why the DSN for this failure could not be sent yet;
	// the entry stays queued and the bounce is tried again.
	BounceErr string `json:"bounce_err,omitempty"`
	// BounceGaveUp: the DSN could not be sent within the give-up time.
	BounceGaveUp bool `json:"bounce_gave_up,omitempty"`
}

// OwesBounce reports whether r failed and its bounce is neither sent nor
// given up.
func (r *Rcpt) OwesBounce() bool { return r.State == Failed && !r.Bounced && !r.BounceGaveUp }

// Entry is a queued message's envelope and state.
type Entry struct {
	ID       string    `json:"id"`
	From     string    `json:"from"` // "" is the null sender
	Rcpts    []*Rcpt   `json:"rcpts"`
	Origin   string    `json:"origin,omitempty"` // NNCP node id it came from; "" for local submission
	Received time.Time `json:"received"`
	Size     int64     `json:"size"`
	// Header facts for mailq.
	MessageID string `json:"message_id,omitempty"`
	Subject   string `json:"subject,omitempty"`
	// ESMTP parameters to carry on.
	EnvID    string    `json:"envid,omitempty"`
	Ret      string    `json:"ret,omitempty"`
	Body     string    `json:"body,omitempty"`
	Attempts int       `json:"attempts"`
	NextTry  time.Time `json:"next_try"`
	LastErr  string    `json:"last_err,omitempty"`
	Finished time.Time `json:"finished,omitzero"`
	Key      string    `json:"key,omitempty"`
	// Postmaster marks a report to the postmaster: if it fails too,
	// nothing more is sent.
	Postmaster bool `json:"postmaster,omitempty"`
}

// Done reports whether no recipient is pending and no bounce is owed.
func (e *Entry) Done() bool {
	for _, r := range e.Rcpts {
		if r.State == Pending || r.OwesBounce() {
			return false
		}
	}
	return true
}

// State sums up an entry for mailq: queued, deferred, delivered, bounced,
// partly bounced, or "bounce deferred" while a bounce waits to be sent.
func (e *Entry) State() string {
	var pend, del, fail, owed int
	for _, r := range e.Rcpts {
		switch r.State {
		case Pending:
			pend++
		case Delivered:
			del++
		case Failed:
			fail++
			if r.OwesBounce() {
				owed++
			}
		}
	}
	switch {
	case pend > 0 && e.Attempts > 0:
		return "deferred"
	case pend > 0:
		return "queued"
	case owed > 0:
		return "bounce deferred"
	case fail == 0:
		return "delivered"
	case del == 0:
		return "bounced"
	}
	return "partly bounced"
}

// Queue is an open mail queue directory.
type Queue struct {
	Dir    string
	NoSync bool

	sentMu sync.Mutex
	sent   *sentSet // what was read of sent.log, see SentByPkt
}

var subdirs = []string{"msg", "env", "done", "keys", "intent", "noted", "tmp"}

// Open creates the queue's directories if needed.
func Open(dir string, noSync bool) (*Queue, error) {
	for _, s := range subdirs {
		if err := owner.MkdirAll(filepath.Join(dir, s), 0o700); err != nil {
			return nil, fmt.Errorf("mail queue: %w", err)
		}
	}
	return &Queue{Dir: dir, NoSync: noSync}, nil
}

func (q *Queue) path(sub, id string) string { return filepath.Join(q.Dir, sub, id) }

var idEnc = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// NewID returns a fresh message id: time-ordered, then random.
func NewID(now time.Time) string {
	var b [8]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%s", strings.ToUpper(fmt.Sprintf("%09x", now.Unix())), idEnc.EncodeToString(b[:5]))
}

// KeyID derives a message id from a dedup key, so that accepting the
// same message again finds the same entry.
func KeyID(key string) string {
	s := sha256.Sum256([]byte(key))
	return "K-" + idEnc.EncodeToString(s[:10])
}

// writeAtomic writes sub/name through safeio (a temporary file in tmp/,
// fsync, rename, fsync of sub/).
func (q *Queue) writeAtomic(sub, name string, write func(w io.Writer) error) error {
	return q.write(sub, name, write, !q.NoSync)
}

// write writes sub/name via tmp/ and a rename; sync adds the fsyncs that
// make it survive a crash.
func (q *Queue) write(sub, name string, write func(w io.Writer) error, sync bool) error {
	f, err := safeio.Create(q.path(sub, name), safeio.Options{NoSync: !sync, Dir: q.path("tmp", "")})
	if err != nil {
		return err
	}
	owner.File(f.OS())
	defer f.Abort()
	if err := write(f); err != nil {
		return err
	}
	return f.Commit()
}

func (q *Queue) syncDir(sub string) error {
	if q.NoSync {
		return nil
	}
	return safeio.SyncDir(q.path(sub, ""))
}

func writeJSON(v any) func(io.Writer) error {
	return func(f io.Writer) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
}

// Accept stores a message durably and returns its entry. If e.Key is set
// and a message with that key was accepted before (queued or finished),
// it returns that entry and ErrDuplicate, and stores nothing.
func (q *Queue) Accept(e *Entry, msg io.Reader) (*Entry, error) {
	if e.Key != "" {
		e.ID = KeyID(e.Key)
		if old, err := q.Get(e.ID); err == nil {
			return old, ErrDuplicate
		}
		if old, err := q.getFrom("done", e.ID); err == nil {
			return old, ErrDuplicate
		}
	}
	if e.ID == "" {
		e.ID = NewID(e.Received)
	}
	for _, r := range e.Rcpts {
		if r.State == "" {
			r.State = Pending
		}
	}
	var n int64
	err := q.writeAtomic("msg", e.ID, func(w io.Writer) error {
		var err error
		n, err = io.Copy(w, msg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mail queue: storing message: %w", err)
	}
	e.Size = n
	if err := q.writeAtomic("env", e.ID, writeJSON(e)); err != nil {
		// A failed fsync of env/ may leave the envelope placed: never an
		// entry the caller was told is not there.
		os.Remove(q.path("env", e.ID))
		os.Remove(q.path("msg", e.ID))
		return nil, fmt.Errorf("mail queue: storing envelope: %w", err)
	}
	return e, nil
}

// Known reports whether an entry with this id is queued or finished
// (through the queue).
func (q *Queue) Known(id string) bool {
	for _, sub := range []string{"env", "done"} {
		if _, err := os.Lstat(q.path(sub, id)); err == nil {
			return true
		}
	}
	return false
}

// Get reads a queued entry.
func (q *Queue) Get(id string) (*Entry, error) { return q.getFrom("env", id) }

func (q *Queue) getFrom(sub, id string) (*Entry, error) {
	if strings.ContainsAny(id, "/\x00") || id == "" || id == "." || id == ".." {
		return nil, ErrNotFound
	}
	b, err := os.ReadFile(q.path(sub, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("mail queue: %s/%s: %w", sub, id, err)
	}
	return &e, nil
}

// Open returns the message of a queued entry.
func (q *Queue) Open(id string) (io.ReadCloser, error) {
	f, err := os.Open(q.path("msg", id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

// Update rewrites a queued entry's envelope.
func (q *Queue) Update(e *Entry) error { return q.writeAtomic("env", e.ID, writeJSON(e)) }

// Finish moves a finished entry to the history and drops its message.
func (q *Queue) Finish(e *Entry, now time.Time) error {
	e.Finished = now
	if err := q.writeAtomic("done", e.ID, writeJSON(e)); err != nil {
		return err
	}
	if err := os.Remove(q.path("env", e.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	os.Remove(q.path("msg", e.ID))
	q.DropIntents(e)
	return q.syncDir("env")
}

// Remove drops a queued entry without delivering it (mailq -rm).
func (q *Queue) Remove(id string) error {
	e, err := q.Get(id)
	if err != nil {
		return err
	}
	unlock, err := q.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	for _, r := range e.Rcpts {
		if r.State == Pending {
			r.State, r.Err = Failed, "cancelled by the administrator"
		}
	}
	return q.Finish(e, time.Now())
}

// Lock takes an exclusive, non-blocking lock on a queued entry so that two
// queue runners never deliver the same message at once.
func (q *Queue) Lock(id string) (func(), error) {
	f, err := os.Open(q.path("env", id))
	if err != nil {
		return nil, ErrNotFound
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, ErrLocked
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// List returns the queued entries (due or not), oldest first.
func (q *Queue) List() ([]*Entry, error) { return q.list("env") }

// History returns finished entries, oldest first: those that went
// through the queue (done/) and those delivered at once (the journal).
func (q *Queue) History() ([]*Entry, error) {
	done, err := q.list("done")
	if err != nil {
		return nil, err
	}
	all := append(q.journal(), done...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Received.Before(all[j].Received) })
	return all, nil
}

func (q *Queue) list(sub string) ([]*Entry, error) {
	ents, err := os.ReadDir(q.path(sub, ""))
	if err != nil {
		return nil, err
	}
	var out []*Entry
	for _, de := range ents {
		e, err := q.getFrom(sub, de.Name())
		if err != nil {
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Received.Before(out[j].Received) })
	return out, nil
}

// Due returns the queued entries whose next try has come.
func (q *Queue) Due(now time.Time) ([]*Entry, error) {
	all, err := q.List()
	if err != nil {
		return nil, err
	}
	var due []*Entry
	for _, e := range all {
		if !e.NextTry.After(now) {
			due = append(due, e)
		}
	}
	return due, nil
}

// Prune drops history entries finished before `before`, and delivery
// records older than that (left by attempts that were cut short).
func (q *Queue) Prune(before time.Time) error {
	if ents, err := os.ReadDir(q.path("intent", "")); err == nil {
		for _, de := range ents {
			if fi, err := de.Info(); err == nil && fi.ModTime().Before(before) {
				os.Remove(q.path("intent", de.Name()))
			}
		}
	}
	hist, err := q.History()
	if err != nil {
		return err
	}
	for _, e := range hist {
		if e.Finished.Before(before) {
			os.Remove(q.path("done", e.ID))
		}
	}
	return nil
}
