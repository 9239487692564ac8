package spool

import (
	"errors"
	"fmt"
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
	n, err := t.f.Write(p)
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
	if t.done {
		return "", errors.New("spool: tmp already committed or aborted")
	}
	t.done = true
	name = t.sum()
	if t.err != nil {
		t.f.Abort()
		return "", t.err
	}
	if want != "" && name != want {
		t.f.Abort()
		return "", fmt.Errorf("%s: %w (MTH %s)", want, ErrChecksum, name)
	}
	dir := t.s.QueueDir(id, xx)
	if err := owner.MkdirAll(dir, 0o777); err != nil {
		t.f.Abort()
		return "", tempfail.Local(err)
	}
	// No hdr/ file here: it is a cache for listing big spools, built by
	// stat (as nncp-stat does); making one per packet would cost a second
	// file creation on every submission.
	if _, err := t.f.CommitIfAbsent(filepath.Join(dir, name)); err != nil {
		return "", tempfail.Local(err)
	}
	return name, nil
}

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
