package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"ferry/internal/mth"
	"ferry/internal/node"
	"ferry/internal/owner"
	"ferry/internal/safeio"
	"ferry/internal/tempfail"
	"ferry/internal/wire"
)

// Tmp is a packet being written in SPOOL/tmp. Its MTH is computed on the
// fly (in a second goroutine, so hashing and writing overlap). Commit puts
// it in a queue under its MTH name; Abort removes it.
type Tmp struct {
	s    *Spool
	f    *safeio.File
	h    *asyncHasher
	hdr  []byte // the first bytes, for hdr/
	n    int64
	err  error
	done bool
	// linked: the file is a hard link to the packet (LinkTmp), only
	// read for its hash.
	linked bool
}

// NewTmp creates a temporary file in SPOOL/tmp, locked while it is
// written (see HoldTemp).
func (s *Spool) NewTmp() (*Tmp, error) {
	f, err := safeio.CreateTemp(s.TmpDir(), "pkt", safeio.Options{NoSync: s.NoSync})
	if err != nil {
		return nil, tempfail.Local(fmt.Errorf("spool tmp: %w", err))
	}
	owner.File(f.OS())
	HoldTemp(f)
	return &Tmp{s: s, f: f, h: newAsyncHasher(), hdr: make([]byte, 0, wire.EncHeaderSize)}, nil
}

// LinkTmp is NewTmp for a packet already on the spool's file system (an
// xfer directory there): src is hard-linked into SPOOL/tmp instead of
// copied, and read once for its MTH; Commit or Stage it as a written one.
// The caller must know that nobody else writes src, and remove it once
// the packet is committed. os.Link's error (EXDEV: another file system)
// says to copy instead.
func (s *Spool) LinkTmp(src string) (*Tmp, error) {
	f, err := safeio.LinkTemp(src, s.TmpDir(), "pkt", safeio.Options{NoSync: s.NoSync})
	if err != nil {
		return nil, err
	}
	owner.File(f.OS())
	if fi, err := f.OS().Stat(); err == nil && fi.Mode().Perm() != 0o600 {
		f.OS().Chmod(0o600) // as a packet written here is
	}
	HoldTemp(f)
	t := &Tmp{s: s, f: f, h: newAsyncHasher(), hdr: make([]byte, 0, wire.EncHeaderSize), linked: true}
	if _, err := io.Copy(struct{ io.Writer }{t}, f.OS()); err != nil {
		t.Abort()
		return nil, tempfail.Local(fmt.Errorf("reading %s: %w", src, err))
	}
	return t, nil
}

// File is the temporary file (for Stat: a LinkTmp's is the linked
// packet).
func (t *Tmp) File() *os.File { return t.f.OS() }

// Name is the temporary file's path.
func (t *Tmp) Name() string { return t.f.Name() }

// Len is the number of bytes written.
func (t *Tmp) Len() int64 { return t.n }

// Write appends p to the file and the hash.
func (t *Tmp) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if len(t.hdr) < wire.EncHeaderSize {
		k := min(wire.EncHeaderSize-len(t.hdr), len(p))
		t.hdr = append(t.hdr, p[:k]...)
	}
	n, err := len(p), error(nil)
	if !t.linked {
		n, err = t.f.Write(p)
	}
	t.n += int64(n)
	t.h.Write(p[:n])
	if err != nil {
		t.err = tempfail.Local(fmt.Errorf("writing %s: %w", t.f.Name(), err))
		return n, t.err
	}
	return n, nil
}

// Sum finishes hashing and returns the packet's name (Base32 MTH).
func (t *Tmp) sum() string {
	r := t.h.Root()
	return node.B32.EncodeToString(r[:])
}

// Commit fsyncs the file and places it at SPOOL/NODEID/XX/NAME, NAME
// being its MTH, then fsyncs the directory. If want is not empty, the
// MTH must equal it (ErrChecksum otherwise, and the file is removed). A
// packet already there under that name is the same packet: the copy is
// dropped.
func (t *Tmp) Commit(id node.ID, xx XX, want string) (name string, err error) {
	name, dir, err := t.check(id, xx, want)
	if err != nil {
		return "", err
	}
	// No hdr/ file here: it is a cache for listing big spools, built by
	// stat (as nncp-stat does); making one per packet would cost a second
	// file creation on every submission.
	if _, err := t.f.CommitIfAbsent(filepath.Join(dir, name)); err != nil {
		return "", tempfail.Local(err)
	}
	return name, nil
}

// check ends the writing: the MTH is the name, and must be want when
// that is set; the queue directory is made. On an error the file is
// removed.
func (t *Tmp) check(id node.ID, xx XX, want string) (name, dir string, err error) {
	if t.done {
		return "", "", errors.New("spool: tmp already committed or aborted")
	}
	t.done = true
	name = t.sum()
	if t.err != nil {
		t.f.Abort()
		return "", "", t.err
	}
	if want != "" && name != want {
		t.f.Abort()
		return "", "", fmt.Errorf("%s: %w (MTH %s)", want, ErrChecksum, name)
	}
	dir = t.s.QueueDir(id, xx)
	if err := owner.MkdirAll(dir, 0o777); err != nil {
		t.f.Abort()
		return "", "", tempfail.Local(err)
	}
	return name, dir, nil
}

// Stage is Commit in a batch (safeio.Batch): the MTH is checked now
// (ErrChecksum, and the file is removed, if it is not want), and b.Commit
// places the file at SPOOL/NODEID/XX/NAME unless a packet of that name is
// there, then calls done (may be nil) once the packet is durable there
// (placed is false when it was there already).
func (t *Tmp) Stage(b *safeio.Batch, id node.ID, xx XX, want string, done func(placed bool, err error)) (name string, err error) {
	name, dir, err := t.check(id, xx, want)
	if err != nil {
		return "", err
	}
	b.Add(t.f, filepath.Join(dir, name), true, func(placed bool, err error) {
		if done != nil {
			done(placed, tempfail.Local(err))
		}
	})
	return name, nil
}

// NewBatch is a batch for this spool's writes (NoSync as the spool's).
func (s *Spool) NewBatch() *safeio.Batch { return &safeio.Batch{NoSync: s.NoSync} }

// Abort removes the temporary file. It is safe after Commit.
func (t *Tmp) Abort() {
	if t.done {
		return
	}
	t.done = true
	t.h.Root()
	t.f.Abort()
}

// asyncHasher runs MTH in its own goroutine over copies of the written
// blocks, so that the writer's encryption and the hashing use two cores.
// The goroutine starts with the first full block: a small packet is
// hashed at the end, in the caller's goroutine (no thread to wake).
type asyncHasher struct {
	ch   chan []byte
	free chan []byte
	res  chan [mth.Size]byte
	buf  []byte
	root *[mth.Size]byte
}

const asyncBuf = 256 * 1024

func newAsyncHasher() *asyncHasher { return &asyncHasher{} }

func (a *asyncHasher) start() {
	a.ch = make(chan []byte, 4)
	a.free = make(chan []byte, 6)
	a.res = make(chan [mth.Size]byte, 1)
	go func() {
		h := mth.New()
		for b := range a.ch {
			h.Write(b)
			select {
			case a.free <- b[:0]:
			default:
			}
		}
		a.res <- h.Root()
	}()
}

func (a *asyncHasher) flush() {
	if len(a.buf) > 0 {
		if a.ch == nil {
			a.start()
		}
		a.ch <- a.buf
		a.buf = nil
	}
}

func (a *asyncHasher) Write(p []byte) {
	for len(p) > 0 {
		if a.buf == nil {
			select {
			case a.buf = <-a.free:
			default:
				// Grown by append up to asyncBuf: a small packet
				// needs no 256 KiB.
				a.buf = make([]byte, 0, min(asyncBuf, max(len(p), 16<<10)))
			}
		}
		k := min(asyncBuf-len(a.buf), len(p))
		a.buf = append(a.buf, p[:k]...)
		p = p[k:]
		if len(a.buf) == asyncBuf {
			a.flush()
		}
	}
}

func (a *asyncHasher) Root() [mth.Size]byte {
	if a.root == nil {
		var r [mth.Size]byte
		if a.ch == nil { // never a full block: hash here
			h := mth.New()
			h.Write(a.buf)
			r = h.Root()
		} else {
			a.flush()
			close(a.ch)
			r = <-a.res
		}
		a.root = &r
	}
	return *a.root
}
