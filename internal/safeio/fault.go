package safeio

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// Op is a step of a durable write, as the fault hook sees it.
type Op uint8

// The steps a fault hook can fail.
const (
	OpCreate  Op = iota + 1 // creating the temporary file
	OpWrite                 // one write to it (n is the length)
	OpSync                  // fsync of a file
	OpClose                 // closing it after the fsync
	OpRename                // renaming it into place
	OpLink                  // linking it into place (no-clobber placement)
	OpSyncDir               // fsync of a directory
)

var opNames = [...]string{"?", "create", "write", "fsync", "close", "rename", "link", "fsync-dir"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "?"
}

// Fault decides whether a step fails: a non-nil error fails it with that
// error. path is the file or directory concerned; n is the length of a
// write, 0 otherwise.
type Fault func(op Op, path string, n int) error

var faultFn atomic.Pointer[Fault]

// SetFault installs a fault hook for every safeio operation of the
// process and returns the function that removes it. It is for tests;
// with no hook the cost is one atomic load per operation.
func SetFault(f Fault) (restore func()) {
	faultFn.Store(&f)
	return func() { faultFn.Store(nil) }
}

func fault(op Op, path string, n int) error {
	f := faultFn.Load()
	if f == nil {
		return nil
	}
	return (*f)(op, path, n)
}

// FailNth returns a hook that fails the nth (counting from 1) operation
// op with err, and nothing else.
func FailNth(op Op, nth int, err error) Fault {
	var mu sync.Mutex
	seen := 0
	return func(o Op, _ string, _ int) error {
		if o != op {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		seen++
		if seen == nth {
			return err
		}
		return nil
	}
}

// DiskFull returns a hook that lets limit bytes be written in all, then
// fails every write, and every file creation, with ENOSPC, as a full disk
// does.
func DiskFull(limit int64) Fault {
	var used atomic.Int64
	return func(o Op, _ string, n int) error {
		switch o {
		case OpWrite:
			if used.Add(int64(n)) > limit {
				return syscall.ENOSPC
			}
		case OpCreate:
			if used.Load() >= limit {
				return syscall.ENOSPC
			}
		}
		return nil
	}
}
