package deliver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"ferry/internal/safeio"
)

// Mbox appends to an mbox file in the mboxrd format: a "From sender date"
// line, the message with every line that matches ^>*From␠ quoted by one
// more ">", a newline added when the message lacks a final one, and a
// blank line. When the file does not end with a blank line, one is written
// first.
//
// The file is locked as described in mboxlock.go (an in-process mutex,
// the dotlock PATH.lock, fcntl and flock), written, fsynced, and unlocked.
// On any failure it is truncated back to its old size. A missing file is
// created (FileMode) and its directory fsynced; it stays, empty, when the
// first delivery into it fails. Like Exim's appendfile,
// Mbox refuses a symbolic link, a file that is not regular, and a file
// with more than one hard link.
type Mbox struct {
	// Path of the mbox file.
	Path string
	// NoTraceHeaders: do not add Return-Path and Delivered-To.
	NoTraceHeaders bool
	// FileMode of a new file; 0 means 0600.
	FileMode os.FileMode
	// NoDotlock: skip PATH.lock (for a mail spool the delivering user
	// cannot create files in); fcntl and flock still apply.
	NoDotlock bool
	// LockTimeout is how long to wait for the locks; 0 means 1 minute.
	LockTimeout time.Duration
	// StaleLock is the age after which a dotlock is removed; 0 means 5
	// minutes.
	StaleLock time.Duration
	// Now gives the time of the From_ line; nil means time.Now.
	Now func() time.Time
}

// Deliver appends one copy of msg per recipient.
func (m Mbox) Deliver(ctx context.Context, msg *Message, rcpts []string) []Result {
	if m.Path == "" {
		return results(rcpts, newError(451, "4.3.5", nil, "mbox: no path configured"))
	}
	return each(rcpts, func(rcpt string) (string, *Error) {
		if err := checkEnvelope(msg.From, rcpt); err != nil {
			return "", err
		}
		if err := m.deliverOne(ctx, msg, rcpt); err != nil {
			return "", err
		}
		return "mbox " + m.Path, nil
	})
}

func (m Mbox) deliverOne(ctx context.Context, msg *Message, rcpt string) *Error {
	timeout, stale := m.LockTimeout, m.StaleLock
	if timeout <= 0 {
		timeout = time.Minute
	}
	if stale <= 0 {
		stale = 5 * time.Minute
	}
	deadline := time.Now().Add(timeout)
	lockErr := func(err error) *Error {
		if errors.Is(err, ErrLocked) {
			return newError(451, "4.2.0", err, "mbox %s: still locked after %v", m.Path, timeout)
		}
		return fileError("mbox "+m.Path+": locking", err)
	}

	unlock, err := lockPath(ctx, m.Path, deadline)
	if err != nil {
		return lockErr(err)
	}
	defer unlock()
	if !m.NoDotlock {
		undot, err := dotlock(ctx, m.Path+".lock", deadline, stale)
		if err != nil {
			return lockErr(err)
		}
		defer undot()
	}
	f, created, err := m.open()
	if err != nil {
		return fileError("mbox", err)
	}
	defer f.Close()
	if err := lockFile(ctx, f, deadline); err != nil {
		return lockErr(err)
	}

	fi, err := f.Stat()
	if err != nil {
		return fileError("mbox "+m.Path, err)
	}
	old := fi.Size()
	var slot *mboxIntent
	if msg.Key != "" && msg.Journal != nil {
		var derr *Error
		if slot, old, derr = m.journal(ctx, f, old, msg, rcpt); derr != nil {
			return derr
		}
		if slot == nil {
			return nil // delivered by an earlier attempt
		}
	}
	if derr := m.append(ctx, f, old, msg, rcpt); derr != nil {
		m.truncate(f, old)
		return derr
	}
	if created {
		if err := safeio.SyncDir(filepath.Dir(m.Path)); err != nil {
			m.truncate(f, old)
			return fileError("mbox", err)
		}
	}
	if slot != nil {
		// Whole and fsynced: the next delivery need not check it (a mark
		// lost in a crash only makes it check).
		slot.Done = true
		rec, _ := json.Marshal(slot)
		msg.Journal.Intent(slotKey(m.Path), rec)
	}
	return nil
}

// slotKey names the journal record of the last delivery into an mbox.
func slotKey(path string) string { return "mbox\x00" + path }

// journal does, under the locks, what makes a keyed delivery happen once.
// The last delivery into this mbox, if the record says it never
// finished and the file ends inside the bytes it meant to write, was
// killed while it wrote: its piece is cut off. A retry looks for its own
// earlier copy (prior). Then where this copy goes, and its length, are
// recorded durably before its first byte. It returns the record (nil
// when the copy is there already) and the offset to write at.
func (m Mbox) journal(ctx context.Context, f *os.File, size int64, msg *Message, rcpt string) (*mboxIntent, int64, *Error) {
	jkey := msg.Key + "\x00" + rcpt
	if b, ok := msg.Journal.Prior(slotKey(m.Path)); ok {
		var last mboxIntent
		if json.Unmarshal(b, &last) == nil && !last.Done && last.Path == m.Path &&
			last.Offset < size && size < last.Offset+last.Length && startsCopy(f, last.Offset) {
			if err := f.Truncate(last.Offset); err != nil {
				return nil, size, fileError("mbox "+m.Path+": truncating a copy cut short", err)
			}
			size = last.Offset
		}
	}
	if msg.Retry {
		done, at, derr := m.prior(ctx, f, size, msg, rcpt, jkey)
		if derr != nil || done {
			return nil, size, derr
		}
		size = at
	}
	var cnt countWriter
	w := bufio.NewWriterSize(&cnt, 64<<10)
	if derr := m.render(ctx, w, f, size, msg, rcpt); derr != nil {
		return nil, size, derr
	}
	w.Flush()
	rec := &mboxIntent{Path: m.Path, Offset: size, Length: cnt.n}
	b, _ := json.Marshal(rec)
	for _, k := range []string{jkey, slotKey(m.Path)} {
		if err := msg.Journal.Intent(k, b); err != nil {
			return nil, size, fileError("mbox "+m.Path+": recording the delivery", err)
		}
	}
	return rec, size, nil
}

// startsCopy reports whether the bytes at off look like the start of
// what an append writes: up to two newlines, then "From " (or the end of
// the file within them).
func startsCopy(f *os.File, off int64) bool {
	var b [7]byte
	n, _ := f.ReadAt(b[:], off)
	p := b[:n]
	for range 2 {
		if len(p) > 0 && p[0] == '\n' {
			p = p[1:]
		}
	}
	return bytes.HasPrefix([]byte("From "), p) || bytes.HasPrefix(p, []byte("From "))
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// mboxIntent is what a keyed mbox delivery records before it writes.
type mboxIntent struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	Done   bool   `json:"done,omitempty"`
}

// prior looks, under the locks, for the copy an earlier attempt with the
// same key may have appended at the offset it recorded: the bytes there
// are compared with what this attempt would write. It reports done when
// they are all there. A copy cut short at the very end of the file (the
// attempt was killed while it wrote) is cut off, and at is where this
// attempt writes instead; otherwise at is size.
func (m Mbox) prior(ctx context.Context, f *os.File, size int64, msg *Message, rcpt, jkey string) (done bool, at int64, derr *Error) {
	b, ok := msg.Journal.Prior(jkey)
	var in mboxIntent
	if !ok || json.Unmarshal(b, &in) != nil || in.Path != m.Path || in.Offset < 0 || in.Offset > size {
		return false, size, nil
	}
	cmp := &compareWriter{r: io.NewSectionReader(f, in.Offset, size-in.Offset)}
	w := bufio.NewWriterSize(cmp, 64<<10)
	if derr := m.render(ctx, w, f, in.Offset, msg, rcpt); derr != nil {
		return false, size, derr
	}
	w.Flush()
	switch {
	case !cmp.differ:
		return true, size, nil // the whole copy is there
	case in.Offset+cmp.same == size:
		// Cut short at the end: nothing was appended after it.
		if err := f.Truncate(in.Offset); err != nil {
			return false, size, fileError("mbox "+m.Path+": truncating a copy cut short", err)
		}
		return false, in.Offset, nil
	}
	return false, size, nil
}

// compareWriter compares what is written with r's bytes, counting the
// bytes that match before the first difference.
type compareWriter struct {
	r      io.Reader
	same   int64
	differ bool
	buf    []byte
}

func (c *compareWriter) Write(p []byte) (int, error) {
	if c.differ {
		return len(p), nil
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	got := c.buf[:len(p)]
	n, _ := io.ReadFull(c.r, got)
	for i := 0; i < n; i++ {
		if got[i] != p[i] {
			c.same += int64(i)
			c.differ = true
			return len(p), nil
		}
	}
	c.same += int64(n)
	if n < len(p) {
		c.differ = true
	}
	return len(p), nil
}

// truncate takes the file back to its old size after a failure. A file
// this delivery created stays, empty: another process may already hold it
// open, waiting for the lock, and must not write into an unlinked file.
func (m Mbox) truncate(f *os.File, old int64) {
	if err := f.Truncate(old); err == nil {
		f.Sync()
	}
}

// open opens the mbox for appending, creating it when missing, and checks
// that it is a regular file with one link.
func (m Mbox) open() (f *os.File, created bool, err error) {
	const flags = os.O_RDWR | os.O_APPEND | syscall.O_NOFOLLOW
	mode := m.FileMode
	if mode == 0 {
		mode = 0o600
	}
	for {
		f, err = os.OpenFile(m.Path, flags, 0)
		if errors.Is(err, os.ErrNotExist) {
			f, err = os.OpenFile(m.Path, flags|os.O_CREATE|os.O_EXCL, mode)
			if errors.Is(err, os.ErrExist) {
				continue // created by someone else meanwhile
			}
			created = err == nil
		}
		break
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, false, fmt.Errorf("%s is a symbolic link", m.Path)
	}
	if err != nil {
		return nil, false, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", m.Path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); err == nil && ok && st.Nlink != 1 {
		err = fmt.Errorf("%s has %d hard links", m.Path, st.Nlink)
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return f, created, nil
}

// append writes the message at the end of f, whose size is old, and
// fsyncs it.
func (m Mbox) append(ctx context.Context, f *os.File, old int64, msg *Message, rcpt string) *Error {
	w := bufio.NewWriterSize(f, 64<<10)
	if derr := m.render(ctx, w, f, old, msg, rcpt); derr != nil {
		return derr
	}
	if err := w.Flush(); err != nil {
		return fileError("mbox "+m.Path+": writing", err)
	}
	if err := safeio.Sync(f); err != nil {
		return fileError("mbox "+m.Path+": fsync", err)
	}
	return nil
}

// render writes to w what delivering msg to rcpt appends to a file of
// size old whose bytes f holds: the separation from the previous message,
// the From_ line, the trace headers, the quoted message and its end.
func (m Mbox) render(ctx context.Context, w *bufio.Writer, f io.ReaderAt, old int64, msg *Message, rcpt string) *Error {
	writeErr := func(err error) *Error { return fileError("mbox "+m.Path+": writing", err) }
	if old > 0 {
		var tail [2]byte
		k := int64(min(old, 2))
		if _, err := f.ReadAt(tail[:k], old-k); err != nil {
			return fileError("mbox "+m.Path+": reading", err)
		}
		switch {
		case tail[k-1] != '\n':
			w.WriteString("\n\n")
		case k == 2 && tail[0] != '\n':
			w.WriteString("\n")
		}
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	if msg.Key != "" && !msg.Time.IsZero() {
		now = func() time.Time { return msg.Time } // the same line on a retry
	}
	w.WriteString(fromLine(msg.From, now()))

	src, serr := openSource(ctx, msg)
	if serr != nil {
		return serr
	}
	defer src.Close()
	br := bufio.NewReaderSize(src, 64<<10)
	if !m.NoTraceHeaders {
		head, _ := br.Peek(br.Size())
		w.WriteString(traceHeaders(msg.From, []string{rcpt}, lineEnding(head)))
	}
	endsNL, err := copyQuoted(w, br)
	if serr := src.failed(); serr != nil {
		return serr
	}
	if err != nil {
		return writeErr(err)
	}
	if serr := src.short(msg.Size); serr != nil {
		return serr
	}
	if !endsNL {
		w.WriteByte('\n')
	}
	w.WriteByte('\n')
	return nil
}

// fromLine is the separator line: "From sender asctime-date\n", with
// MAILER-DAEMON for the null sender and no white space in the address.
func fromLine(from string, t time.Time) string {
	if from == "" {
		from = "MAILER-DAEMON"
	}
	from = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' {
			return '_'
		}
		return r
	}, from)
	return "From " + from + " " + t.Format("Mon Jan _2 15:04:05 2006") + "\n"
}

// copyQuoted copies r to w, adding a ">" in front of every line that
// matches ^>*From␠ (mboxrd), and reports whether what it wrote ends with
// a newline (true for nothing). It reads r in chunks, whatever the line
// lengths.
func copyQuoted(w *bufio.Writer, r *bufio.Reader) (endsNL bool, err error) {
	endsNL = true // at the start of a line
	for {
		if endsNL {
			k := 0
			for {
				p, _ := r.Peek(1)
				if len(p) == 0 || p[0] != '>' {
					break
				}
				r.ReadByte()
				k++
			}
			if p, _ := r.Peek(5); string(p) == "From " {
				w.WriteByte('>')
			}
			for ; k > 0; k-- {
				w.WriteByte('>')
				endsNL = false
			}
		}
		line, rerr := r.ReadSlice('\n')
		if len(line) > 0 {
			if _, err := w.Write(line); err != nil {
				return false, err
			}
			endsNL = line[len(line)-1] == '\n'
		}
		switch {
		case rerr == nil, rerr == bufio.ErrBufferFull:
		case rerr == io.EOF:
			return endsNL, nil
		default:
			return false, rerr
		}
	}
}
