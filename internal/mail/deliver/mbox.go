package deliver

import (
	"bufio"
	"context"
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
	return nil
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
	writeErr := func(err error) *Error { return fileError("mbox "+m.Path+": writing", err) }
	w := bufio.NewWriterSize(f, 64<<10)
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
	if err := w.Flush(); err != nil {
		return writeErr(err)
	}
	if err := safeio.Sync(f); err != nil {
		return fileError("mbox "+m.Path+": fsync", err)
	}
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
