package deliver

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Maildir delivers into a Maildir (https://cr.yp.to/proto/maildir.html):
// the message is written to tmp/NAME, fsynced, renamed to new/NAME,S=SIZE
// and new/ is fsynced. NAME is SECONDS.MMICROSECONDSPPIDRRANDOM.HOST,
// unique without any lock; SIZE is the file's length (Dovecot's S=).
//
// Each recipient gets its own copy (with its own Delivered-To line). A
// router delivering to per-user Maildirs makes one Maildir value per
// user.
type Maildir struct {
	// Path is the Maildir: the directory that holds tmp, new and cur.
	Path string
	// Create makes Path, tmp, new and cur (mode 0700) when they are
	// missing; without it a missing directory is a temporary error.
	Create bool
	// NoTraceHeaders: do not add Return-Path and Delivered-To.
	NoTraceHeaders bool
	// FileMode of the message files; 0 means 0600.
	FileMode os.FileMode
	// Hostname in file names; "" means os.Hostname(). "/" and ":" are
	// written as \057 and \072, as the Maildir specification says.
	Hostname string
}

// Deliver writes one copy of msg per recipient.
func (m Maildir) Deliver(ctx context.Context, msg *Message, rcpts []string) []Result {
	if m.Path == "" {
		return results(rcpts, newError(451, "4.3.5", nil, "maildir: no path configured"))
	}
	return each(rcpts, func(rcpt string) (string, *Error) {
		return m.deliverOne(ctx, msg, rcpt)
	})
}

func (m Maildir) deliverOne(ctx context.Context, msg *Message, rcpt string) (string, *Error) {
	if err := checkEnvelope(msg.From, rcpt); err != nil {
		return "", err
	}
	tmpDir, newDir := filepath.Join(m.Path, "tmp"), filepath.Join(m.Path, "new")
	if m.Create {
		for _, d := range []string{tmpDir, newDir, filepath.Join(m.Path, "cur")} {
			if err := mkdirDurable(d, 0o700); err != nil {
				return "", fileError("maildir: creating "+d, err)
			}
		}
	}
	src, serr := openSource(ctx, msg)
	if serr != nil {
		return "", serr
	}
	defer src.Close()

	base := m.uniqueName()
	tmpName := filepath.Join(tmpDir, base)
	mode := m.FileMode
	if mode == 0 {
		mode = 0o600
	}
	f, err := os.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return "", fileError("maildir: creating a file in tmp/", err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(tmpName)
		}
	}()

	size, derr := m.write(f, src, msg, rcpt)
	if derr != nil {
		return "", derr
	}
	if err := f.Sync(); err != nil {
		return "", fileError("maildir: fsync", err)
	}
	if err := f.Close(); err != nil {
		return "", fileError("maildir: closing the file", err)
	}
	newBase := fmt.Sprintf("%s,S=%d", base, size)
	newName := filepath.Join(newDir, newBase)
	if err := os.Rename(tmpName, newName); err != nil {
		return "", fileError("maildir: moving the file to new/", err)
	}
	committed = true
	if err := syncDir(newDir); err != nil {
		// Not durable: take it back rather than report a delivery that a
		// crash could undo, or keep a copy the queue will deliver again.
		os.Remove(newName)
		return "", fileError("maildir", err)
	}
	return "maildir " + filepath.Join(m.Path, "new", newBase), nil
}

// write writes the trace headers and the message to f and returns the
// number of bytes written.
func (m Maildir) write(f *os.File, src *source, msg *Message, rcpt string) (int64, *Error) {
	br := bufio.NewReaderSize(src, 64<<10)
	w := bufio.NewWriterSize(f, 64<<10)
	var n int64
	if !m.NoTraceHeaders {
		head, _ := br.Peek(br.Size())
		k, _ := w.WriteString(traceHeaders(msg.From, []string{rcpt}, lineEnding(head)))
		n += int64(k)
	}
	k, err := io.Copy(w, br)
	n += k
	if err == nil {
		err = w.Flush()
	}
	if serr := src.failed(); serr != nil {
		return 0, serr
	}
	if err != nil {
		return 0, fileError("maildir: writing the file", err)
	}
	if serr := src.short(msg.Size); serr != nil {
		return 0, serr
	}
	return n, nil
}

// uniqueName returns a new file name for tmp/ and new/.
func (m Maildir) uniqueName() string {
	host := m.Hostname
	if host == "" {
		host, _ = os.Hostname()
		if host == "" {
			host = "localhost"
		}
	}
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	var r [8]byte
	rand.Read(r[:])
	now := time.Now()
	return fmt.Sprintf("%d.M%dP%dR%s.%s", now.Unix(), now.Nanosecond()/1000, os.Getpid(), hex.EncodeToString(r[:]), host)
}
