package deliver

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ferry/internal/safeio"
)

// Maildir delivers into a Maildir (https://cr.yp.to/proto/maildir.html):
// the message is written to a temporary file in tmp/, fsynced, linked to
// new/NAME,S=SIZE (never over an existing file) and new/ is fsynced. NAME
// is SECONDS.MMICROSECONDSPPIDRRANDOM.HOST, unique without any lock, or,
// for a message with a Key, SECONDS.KHASH.HOST with HASH derived from the
// key and the recipient: a retry makes the same name, and with
// Message.Retry finds the earlier copy in new/ or cur/ and delivers
// nothing twice. SIZE is the file's length (Dovecot's S=).
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
	// NoSync skips the fsyncs ($NNCPNOSYNC).
	NoSync bool
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
	base, unique := m.uniqueName(), ""
	if msg.Key != "" {
		base, unique = m.keyedName(msg, rcpt)
		if msg.Retry {
			// An earlier attempt may have placed it, and the reader may
			// have moved it to cur/ (renamed NAME:2,FLAGS) since.
			found, err := findUnique(m.Path, unique)
			if err != nil {
				return "", fileError("maildir: looking for an earlier copy", err)
			}
			if found != "" {
				return "maildir " + found + " (delivered before)", nil
			}
		}
	}
	src, serr := openSource(ctx, msg)
	if serr != nil {
		return "", serr
	}
	defer src.Close()

	mode := m.FileMode
	if mode == 0 {
		mode = 0o600
	}
	f, err := safeio.Create(filepath.Join(tmpDir, base), safeio.Options{Perm: mode, NoSync: m.NoSync})
	if err != nil {
		return "", fileError("maildir: creating a file in tmp/", err)
	}
	defer f.Abort()
	size, derr := m.write(f, src, msg, rcpt)
	if derr != nil {
		return "", derr
	}
	newBase := fmt.Sprintf("%s,S=%d", base, size)
	newName := filepath.Join(newDir, newBase)
	placed, err := f.CommitIfAbsent(newName)
	if err != nil {
		if _, serr := os.Lstat(newName); serr == nil && msg.Key == "" {
			// Placed but not durable: take it back rather than report a
			// delivery that a crash could undo, or keep a copy the queue
			// will deliver again. A keyed copy stays: the retry finds it.
			os.Remove(newName)
		}
		return "", fileError("maildir: moving the file to new/", err)
	}
	if !placed && msg.Key == "" {
		return "", fileError("maildir: moving the file to new/", fmt.Errorf("%s: %w", newName, os.ErrExist))
	}
	return "maildir " + newName, nil
}

// keyedName derives the file name of a delivery from its key and
// recipient: SECONDS.KHASH.HOST, SECONDS from the first attempt, so that
// every retry makes the same name. unique is the part a retry looks for.
func (m Maildir) keyedName(msg *Message, rcpt string) (base, unique string) {
	h := sha256.Sum256([]byte(msg.Key + "\x00" + rcpt))
	unique = ".K" + hex.EncodeToString(h[:12]) + "."
	t := msg.Time
	if t.IsZero() {
		t = time.Now()
	}
	return fmt.Sprintf("%d%s%s", t.Unix(), unique, m.host()), unique
}

// findUnique returns the path of the message in new/ or cur/ whose name,
// before any ":", contains unique; "" when there is none.
func findUnique(dir, unique string) (string, error) {
	for _, sub := range []string{"new", "cur"} {
		d, err := os.Open(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return "", err
		}
		for _, n := range names {
			if i := strings.IndexByte(n, ':'); i >= 0 {
				n = n[:i]
			}
			if strings.Contains(n, unique) {
				return filepath.Join(dir, sub, n), nil
			}
		}
	}
	return "", nil
}

// write writes the trace headers and the message to f and returns the
// number of bytes written.
func (m Maildir) write(f io.Writer, src *source, msg *Message, rcpt string) (int64, *Error) {
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

// uniqueName returns a new file name for new/.
func (m Maildir) uniqueName() string {
	var r [8]byte
	rand.Read(r[:])
	now := time.Now()
	return fmt.Sprintf("%d.M%dP%dR%s.%s", now.Unix(), now.Nanosecond()/1000, os.Getpid(), hex.EncodeToString(r[:]), m.host())
}

// host is the host part of file names.
func (m Maildir) host() string {
	host := m.Hostname
	if host == "" {
		host, _ = os.Hostname()
		if host == "" {
			host = "localhost"
		}
	}
	return strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
}
