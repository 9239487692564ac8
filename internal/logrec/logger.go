package logrec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"ferry/internal/owner"
)

// Rec is an event to log. The Logger writes When (and Debug, Err) first,
// then Who, then Fields in the given order, then Msg.
type Rec struct {
	Who    string  // e.g. WhoTx, WhoRx; omitted when empty
	Fields []Field // the event's fields, in NNCP's order (see CATALOG.md)
	Msg    string  // the human text; always written
}

// Options change what a Logger prints on the console.
type Options struct {
	// Quiet (-quiet) suppresses the console line of Info records: "print
	// only errors", as NNCP's manual says. (The 8.8.2 binary hides error
	// lines too; ferry keeps them, because callers such as an MTA's pipe
	// transport put a command's stderr into their reports.) Records are
	// still logged, and the "Can not open log" notes are still printed.
	Quiet bool
	// Debug (-debug) prints Debug records on the console, as raw recfile
	// records. Debug records never go to the log.
	Debug bool
	// Now is the clock (for tests); nil means time.Now. When is written in UTC.
	Now func() time.Time
}

var (
	// ErrDest is returned by New for a log destination it cannot parse.
	ErrDest = errors.New("invalid log destination")
	// ErrLog wraps every failure to append a record to the log.
	ErrLog = errors.New("can not write the log")
)

// Logger appends records to a log and prints their human lines on a
// console. It is safe for concurrent use; records of concurrent Loggers
// (and processes, ferry's or NNCP's) writing one log never interleave.
type Logger struct {
	path    string // log file; "" when fd is set or there is no log
	fd      int    // FD:N destination, or -1
	console io.Writer
	opts    Options

	mu  sync.Mutex
	err error // first log write failure
	// The lock file and the log, kept open from one record to the next
	// while they are still the files at their paths (see keep).
	lockF, logF   *os.File
	lockFI, logFI os.FileInfo
}

// New returns a Logger writing to dest and printing on console (nil: no
// console). dest is a path (NNCP takes it absolute; a relative one is used
// as is), "FD:N" for an inherited open descriptor N, or "" for no log.
// Nothing is opened here. Like NNCP, every record is appended with one
// write under an flock of dest+".lock"; unlike NNCP, which opens and
// closes both files for each record, the Logger keeps them open while a
// stat says they are still the files at those paths, so a rotated or
// removed log is picked up as before, at a third of the cost (xfer and
// toss write a record per packet). Close closes them.
func New(dest string, console io.Writer, opts Options) (*Logger, error) {
	l := &Logger{fd: -1, console: console, opts: opts}
	if l.console == nil {
		l.console = io.Discard
	}
	if l.opts.Now == nil {
		l.opts.Now = time.Now
	}
	if n, ok := strings.CutPrefix(dest, "FD:"); ok {
		fd, err := strconv.ParseUint(n, 10, 31)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrDest, dest, err)
		}
		l.fd = int(fd)
		return l, nil
	}
	l.path = dest
	return l, nil
}

// Info logs r and prints its line (unless Quiet). The error, if any, is a
// failure to write the log (wrapping ErrLog); the console already has the
// line and NNCP's note about it, so callers may ignore it or keep it for
// the exit status (Err returns the first one).
func (l *Logger) Info(r Rec) error { return l.log(r, nil, false) }

// Error logs r with "Err: <err>" right after When, and prints
// "<When> ERROR <Msg>: <err>" (unless Quiet). It returns what Info returns.
func (l *Logger) Error(r Rec, err error) error {
	if err == nil {
		err = errors.New("")
	}
	return l.log(r, err, false)
}

// Debug prints r as a raw record with "Debug: true" after When, when
// Options.Debug is set. Like NNCP, it never writes debug records to the log.
func (l *Logger) Debug(r Rec) {
	if l.opts.Debug {
		_ = l.log(r, nil, true)
	}
}

// Err returns the first failure to write the log, or nil.
func (l *Logger) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// record builds the record the Logger writes for r at when.
func (r Rec) record(when time.Time, err error, debug bool) Record {
	rec := make(Record, 0, len(r.Fields)+5)
	rec = append(rec, Field{"When", when.UTC().Format(time.RFC3339Nano)})
	if debug {
		rec = append(rec, Field{"Debug", "true"})
	}
	if err != nil {
		rec = append(rec, Field{"Err", err.Error()})
	}
	if r.Who != "" {
		rec = append(rec, Field{"Who", r.Who})
	}
	rec = append(rec, r.Fields...)
	return append(rec, Field{"Msg", r.Msg})
}

func (l *Logger) log(r Rec, err error, debug bool) error {
	rec := r.record(l.opts.Now(), err, debug)
	b, mErr := AppendRecord(nil, rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	if debug {
		if mErr == nil {
			_, _ = l.console.Write(b)
		}
		return mErr
	}
	if !l.opts.Quiet || err != nil {
		_ = Format(l.console, rec, FormatOptions{})
	}
	if mErr != nil {
		return mErr
	}
	var wErr error
	switch {
	case l.fd >= 0:
		wErr = writeFD(l.fd, b) // NNCP prints nothing when this fails
	case l.path != "":
		var note string
		note, wErr = l.appendLocked(b)
		if wErr != nil {
			fmt.Fprintf(l.console, "%s: %v\n", note, wErr)
		}
	default:
		return nil
	}
	if wErr == nil {
		return nil
	}
	wErr = fmt.Errorf("%w: %w", ErrLog, wErr)
	if l.err == nil {
		l.err = wErr
	}
	return wErr
}

// appendLocked appends b to the log with one write, holding an exclusive
// flock of its lock file, as NNCP does. On failure it returns NNCP's note
// for the console. l.mu is held.
func (l *Logger) appendLocked(b []byte) (string, error) {
	lf, err := keep(&l.lockF, &l.lockFI, l.path+".lock", os.O_WRONLY|os.O_CREATE)
	if err != nil {
		return "Can not open lock for log", err
	}
	if err := lockFile(lf); err != nil {
		return "Can not lock log", err
	}
	defer unlockFile(lf)
	f, err := keep(&l.logF, &l.logFI, l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND)
	if err != nil {
		return "Can not open log", err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		l.logF = nil
		return "Can not write log", err
	}
	return "", nil
}

// keep returns *f when it is still the file at path (same device and
// inode), else closes it and opens path anew with flag.
func keep(f **os.File, fi *os.FileInfo, path string, flag int) (*os.File, error) {
	if *f != nil {
		if pi, err := os.Stat(path); err == nil && os.SameFile(*fi, pi) {
			return *f, nil
		}
		(*f).Close()
		*f = nil
	}
	nf, err := owner.OpenFile(path, flag, 0o666)
	if err != nil {
		return nil, err
	}
	st, err := nf.Stat()
	if err != nil {
		nf.Close()
		return nil, err
	}
	*f, *fi = nf, st
	return nf, nil
}

// Close closes the files the Logger keeps open; a record logged after it
// opens them again.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	for _, f := range []**os.File{&l.logF, &l.lockF} {
		if *f != nil {
			err = errors.Join(err, (*f).Close())
			*f = nil
		}
	}
	return err
}
