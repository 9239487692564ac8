package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/owner"
)

// Sent is a message this node queued as an NNCP packet: its state is
// the packet's (queued while it waits in tx/, carried once gone, tossed
// once the hub acknowledged it) until a delivery report says more.
type Sent struct {
	ID        string    `json:"id"`
	From      string    `json:"from"`
	To        []string  `json:"to"`
	Node      string    `json:"node"`    // destination node name
	NodeID    string    `json:"node_id"` // destination node id
	Hop       string    `json:"hop"`     // node id whose tx/ holds the packet
	Pkt       string    `json:"pkt"`     // packet name
	Size      int64     `json:"size"`
	MessageID string    `json:"message_id,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Queued    time.Time `json:"queued"`
	Acked     bool      `json:"acked,omitempty"`
	// Report is "delivered" or "bounced" once a DSN about the message
	// came back; ReportText says why.
	Report     string `json:"report,omitempty"`
	ReportText string `json:"report_text,omitempty"`
	Cancelled  bool   `json:"cancelled,omitempty"`
}

// The records of sent messages are one journal, QUEUE/sent.log: a line
// per record (the whole Sent, in JSON) and a line per change of one
// (sentOp), appended under the file's lock, so that a submission costs
// an append and no file of its own (one file per message was the
// larger part of sendmail's time, ext4 allocating the inode). A change is
// an operation, not a rewritten record, so that two processes changing
// the same message (a toss noting the ACK, another the delivery report)
// cannot undo each other. At sentLogMax the journal becomes sent.log.old
// (the one before is dropped): the records of the oldest mail are what a
// busy node forgets first, and mailq stays bounded.
//
// Older versions kept a file per record in QUEUE/sent/; those are still
// read (the journal's lines come after them).
var sentLogMax int64 = 16 << 20 // a variable for the tests

// sentOp is a change of a record: "acked", "cancelled" or "report"
// (with Report and ReportText).
type sentOp struct {
	Op         string `json:"op"`
	ID         string `json:"id"`
	Report     string `json:"report,omitempty"`
	ReportText string `json:"report_text,omitempty"`
}

// apply makes the change on s. A "delivered" report never replaces a
// "bounced" one: one recipient's failure is what the sender must see.
func (o *sentOp) apply(s *Sent) {
	switch o.Op {
	case "acked":
		s.Acked = true
	case "cancelled":
		s.Cancelled = true
	case "report":
		if s.Report == "bounced" && o.Report != "bounced" {
			return
		}
		s.Report, s.ReportText = o.Report, o.ReportText
	}
}

func (q *Queue) sentLog() string { return filepath.Join(q.Dir, "sent.log") }

// RecordSent stores a Sent record. It is bookkeeping for mailq (the
// packet itself is durable in the spool), so it is appended but not
// fsynced.
func (q *Queue) RecordSent(s *Sent) error {
	if s.ID == "" {
		s.ID = NewID(s.Queued)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return appendJournal(q.sentLog(), b, sentLogMax)
}

// MarkAcked records that the packet of message id was acknowledged.
func (q *Queue) MarkAcked(id string) error { return q.sentChange(&sentOp{Op: "acked", ID: id}) }

// MarkCancelled records that message id was cancelled (its packet removed).
func (q *Queue) MarkCancelled(id string) error {
	return q.sentChange(&sentOp{Op: "cancelled", ID: id})
}

// SetReport records a delivery report about message id: "delivered" or
// "bounced", and why.
func (q *Queue) SetReport(id, report, text string) error {
	return q.sentChange(&sentOp{Op: "report", ID: id, Report: report, ReportText: text})
}

func (q *Queue) sentChange(o *sentOp) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return appendJournal(q.sentLog(), b, sentLogMax)
}

// GetSent reads one Sent record.
func (q *Queue) GetSent(id string) (*Sent, error) {
	all, err := q.loadSent()
	if err != nil {
		return nil, err
	}
	if s, ok := all.byID[id]; ok {
		return s, nil
	}
	return nil, ErrNotFound
}

// ListSent returns all Sent records, oldest first.
func (q *Queue) ListSent() ([]*Sent, error) {
	all, err := q.loadSent()
	if err != nil {
		return nil, err
	}
	out := make([]*Sent, 0, len(all.byID))
	for _, s := range all.byID {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Queued.Equal(out[j].Queued) {
			return out[i].Queued.Before(out[j].Queued)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// SentByPkt returns the record of the message sent in packet pkt, or nil.
// A queue keeps what it read of the journal and reads only what was
// appended since, so a toss that notes thousands of ACKs reads the
// journal once.
func (q *Queue) SentByPkt(pkt string) (*Sent, error) {
	x, err := q.sentIndex()
	if err != nil {
		return nil, err
	}
	return x.byID[x.byPkt[pkt]], nil
}

// SentByMessageID returns the newest record of a message with this
// Message-ID, or nil.
func (q *Queue) SentByMessageID(msgID string) (*Sent, error) {
	x, err := q.sentIndex()
	if err != nil {
		return nil, err
	}
	return x.byID[x.byMsgID[msgID]], nil
}

// sentSet is what the journal says: every record by id, and the
// indexes, with where in which file reading stopped.
type sentSet struct {
	byID    map[string]*Sent
	byPkt   map[string]string
	byMsgID map[string]string
	file    os.FileInfo // the generation of sent.log read, nil if none
	off     int64       // how far (whole lines only)
}

func newSentSet() *sentSet {
	return &sentSet{byID: map[string]*Sent{}, byPkt: map[string]string{}, byMsgID: map[string]string{}}
}

func (x *sentSet) add(s *Sent) {
	x.byID[s.ID] = s
	if s.Pkt != "" {
		x.byPkt[s.Pkt] = s.ID
	}
	if s.MessageID != "" {
		x.byMsgID[s.MessageID] = s.ID
	}
}

// parse applies the whole lines of b and returns how many bytes they
// take; a torn last line (a crash mid-append) is left for later, and a
// line that does not parse is skipped.
func (x *sentSet) parse(b []byte) int {
	n := 0
	for {
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			return n
		}
		line := b[n : n+i]
		n += i + 1
		if bytes.Contains(line, []byte(`"op":`)) {
			var o sentOp
			if json.Unmarshal(line, &o) == nil {
				if s, ok := x.byID[o.ID]; ok {
					o.apply(s)
				}
				continue
			}
		}
		var s Sent
		if json.Unmarshal(line, &s) == nil && s.ID != "" {
			x.add(&s)
		}
	}
}

// loadSent reads everything: the old per-record files, then the
// journal's older generation, then the current one.
func (q *Queue) loadSent() (*sentSet, error) {
	x := newSentSet()
	dir := filepath.Join(q.Dir, "sent")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, de := range ents {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			continue
		}
		var s Sent
		if json.Unmarshal(b, &s) == nil && s.ID != "" {
			x.add(&s)
		}
	}
	p := q.sentLog()
	if b, err := os.ReadFile(p + ".old"); err == nil {
		x.parse(b)
	}
	return x, x.tail(p)
}

// tail reads what was appended to the journal at p since x last read
// it. It reports errRotated when p is no longer the file x read.
func (x *sentSet) tail(p string) error {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		if x.file != nil {
			return errRotated
		}
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if x.file != nil && !os.SameFile(x.file, fi) {
		return errRotated
	}
	if fi.Size() <= x.off {
		x.file = fi
		return nil
	}
	b := make([]byte, fi.Size()-x.off)
	n, err := f.ReadAt(b, x.off)
	if err != nil && err != io.EOF {
		return err
	}
	x.file = fi
	x.off += int64(x.parse(b[:n]))
	return nil
}

var errRotated = errors.New("sent journal rotated")

// sentIndex returns the queue's view of the journal, brought up to date.
func (q *Queue) sentIndex() (*sentSet, error) {
	q.sentMu.Lock()
	defer q.sentMu.Unlock()
	if q.sent != nil {
		err := q.sent.tail(q.sentLog())
		if err == nil {
			return q.sent, nil
		}
		if !errors.Is(err, errRotated) {
			return nil, err
		}
	}
	x, err := q.loadSent()
	if err != nil {
		return nil, err
	}
	q.sent = x
	return x, nil
}

// appendJournal appends line (and a newline) to the journal at p under
// an exclusive lock of the file, without fsync. Past max bytes the
// journal becomes p.old first. A writer that waited for the lock while
// another rotated the file finds that p is no longer the file it holds,
// and opens the new one; a line torn by a crash is ended first, so that
// it cannot swallow this one.
func appendJournal(p string, line []byte, max int64) error {
	for range 8 {
		f, err := owner.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return err
		}
		again, err := appendLocked(f, p, line, max)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if !again {
			return err
		}
	}
	return fmt.Errorf("%s: rotated under every attempt to append", p)
}

func appendLocked(f *os.File, p string, line []byte, max int64) (again bool, err error) {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return false, err
	}
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if pi, err := os.Stat(p); err != nil || !os.SameFile(fi, pi) {
		return true, nil
	}
	if fi.Size() > max {
		if err := os.Rename(p, p+".old"); err != nil {
			return false, err
		}
		return true, nil
	}
	return false, writeLine(f, fi.Size(), line)
}

// writeLine appends line and a newline to f, open for appending and size
// bytes long, in one write. A last line torn by a crash is ended first,
// so that it cannot swallow this one.
func writeLine(f *os.File, size int64, line []byte) error {
	buf := make([]byte, 0, len(line)+2)
	if size > 0 {
		var last [1]byte
		if _, err := f.ReadAt(last[:], size-1); err == nil && last[0] != '\n' {
			buf = append(buf, '\n')
		}
	}
	_, err := f.Write(append(append(buf, line...), '\n'))
	return err
}

// FirstNote reports whether the note about hop (that nothing carries
// mail to it) is given for the first time, and remembers that it was:
// a marker file per hop, so that a submission checks it with one open
// however much mail was sent before.
func (q *Queue) FirstNote(hop string) bool {
	f, err := owner.OpenFile(q.path("noted", hop), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return !errors.Is(err, os.ErrExist)
	}
	f.Close()
	return true
}
