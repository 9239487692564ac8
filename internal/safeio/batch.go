package safeio

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Batch makes many files durable together with few syncs, for copies of
// many small files (a stick or a bundle carried into the spool, the
// spool's packets carried to a stick). Each file is written (CreateTemp,
// Write) without a sync and handed to the batch with Add; Commit then
//
//  1. makes the data of every file durable: one syncfs(2) per file system
//     when there are at least SyncFSMin files, else one fsync per file;
//  2. places each file (a rename replacing the target, or a link that
//     leaves a file already there alone);
//  3. fsyncs every directory a file was placed in (or found already
//     there, with ifAbsent), once each;
//  4. calls each file's done function, in the order they were added.
//
// So a caller that removes a file's source in done removes it only once
// the copy is durable under its final name, as File.Commit would have
// made it, for two or three syncs in all instead of two per file. A crash
// before step 3 ends leaves the sources in place and, at worst, temporary
// files and placed copies whose data is durable (step 1 comes before any
// name is placed): a rerun finds the copy there and drops its source.
//
// The fault hook sees the same steps as for a single file: OpSync once
// per file in step 1 (whether it is done by fsync or by syncfs), OpClose,
// OpRename or OpLink, OpSyncDir once per directory. A failure in step 1
// fails every file of the batch (their temporary files are removed); a
// failure placing one file or syncing one directory fails those files
// only.
//
// syncfs(2) reports write-back errors of the file system since Linux 5.8.
// It also writes out whatever else is dirty on that file system, which
// costs some time but never correctness.
//
// Files wait open (their locks, see spool.HoldTemp, stay held): commit
// when Full says so. A Batch is not safe for concurrent use.
type Batch struct {
	// NoSync skips steps 1 and 3 ($NNCPNOSYNC); the renames are still
	// atomic.
	NoSync bool
	// MaxFiles and MaxBytes bound a batch for Full (0: 512 files, 64 MiB).
	MaxFiles int
	MaxBytes int64

	items []batchItem
	size  int64
}

// SyncFSMin is the smallest batch whose data is made durable by syncfs(2)
// rather than one fsync per file.
const SyncFSMin = 4

type batchItem struct {
	f        *File // nil for Then
	then     string
	dst      string
	ifAbsent bool
	done     func(placed bool, err error)
	placed   bool
	err      error
}

// Add hands f, a file written but not committed, to the batch: Commit
// places it at dst, replacing what is there or, with ifAbsent, leaving a
// file already there alone (placed is then false and the temporary file
// is dropped). done (may be nil) gets the outcome. f belongs to the batch
// from now on: it must not be written, committed or aborted any more.
func (b *Batch) Add(f *File, dst string, ifAbsent bool, done func(placed bool, err error)) {
	f.done = true // from now on the batch closes and removes it
	var n int64
	if fi, err := f.f.Stat(); err == nil {
		n = fi.Size()
	}
	b.size += n
	b.items = append(b.items, batchItem{f: f, dst: dst, ifAbsent: ifAbsent, done: done})
}

// Then asks Commit to fsync dir with the directories of step 3 and only
// then call done (in step 4, in order with the files): for a source whose
// copy another run placed in dir, and which may not be durable yet (that
// run may have been killed before its fsync of dir). With dir "", done
// is only called in order (an event reported after the files before it).
func (b *Batch) Then(dir string, done func(err error)) {
	b.items = append(b.items, batchItem{then: dir, done: func(_ bool, err error) { done(err) }})
}

// InOrder calls f in the batch's order: at once when nothing waits, else
// after what was added before it is placed (whatever the outcome): an
// event about something not in the batch, reported in its turn.
func (b *Batch) InOrder(f func()) {
	if len(b.items) == 0 {
		f()
		return
	}
	b.Then("", func(error) { f() })
}

// Len is the number of files waiting for Commit.
func (b *Batch) Len() int { return len(b.items) }

// Full reports whether the batch holds MaxFiles files or MaxBytes bytes.
func (b *Batch) Full() bool {
	mf, mb := b.MaxFiles, b.MaxBytes
	if mf <= 0 {
		mf = 512
	}
	if mb <= 0 {
		mb = 64 << 20
	}
	return len(b.items) >= mf || b.size >= mb
}

// Abort drops every file waiting in the batch; their done functions are
// not called.
func (b *Batch) Abort() {
	for _, it := range b.items {
		if it.f != nil {
			it.f.f.Close()
			os.Remove(it.f.f.Name())
		}
	}
	b.items, b.size = nil, 0
}

// Commit makes the waiting files durable and places them (see Batch),
// then calls their done functions. It returns the first error any file
// had; the batch is empty afterwards, ready for more.
func (b *Batch) Commit() error {
	items := b.items
	b.items, b.size = nil, 0
	if len(items) == 0 {
		return nil
	}
	err := b.syncData(items)
	for i := range items {
		it := &items[i]
		if it.f == nil {
			continue
		}
		cerr := fault(OpClose, it.f.f.Name(), 0)
		if e := it.f.f.Close(); cerr == nil {
			cerr = e
		}
		switch {
		case err != nil:
			it.err = err
		case cerr != nil:
			it.err = &os.PathError{Op: "close", Path: it.f.f.Name(), Err: cerr}
		}
	}
	dirs := map[string][]int{}
	var order []string
	for i := range items {
		it := &items[i]
		if it.f == nil {
			if it.then == "" {
				continue
			}
			if _, ok := dirs[it.then]; !ok {
				order = append(order, it.then)
			}
			dirs[it.then] = append(dirs[it.then], i)
			continue
		}
		if it.err == nil {
			it.placed, it.err = place(it)
		}
		if it.err != nil || !it.placed {
			os.Remove(it.f.f.Name())
		}
		if it.err != nil {
			continue
		}
		// A file found there (not placed) is synced too: another run
		// may have placed it and been killed before its fsync.
		d := filepath.Dir(it.dst)
		if _, ok := dirs[d]; !ok {
			order = append(order, d)
		}
		dirs[d] = append(dirs[d], i)
	}
	if !b.NoSync {
		for _, d := range order {
			if err := SyncDir(d); err != nil {
				for _, i := range dirs[d] {
					items[i].err = err // placed, not known durable: keep the source
				}
			}
		}
	}
	var first error
	for i := range items {
		it := &items[i]
		if it.err != nil && first == nil {
			first = it.err
		}
		if it.done != nil {
			it.done(it.placed && it.err == nil, it.err)
		}
	}
	return first
}

// place moves one file of the batch to its target.
func place(it *batchItem) (placed bool, err error) {
	tmp := it.f.f.Name()
	if !it.ifAbsent {
		if err := rename(tmp, it.dst); err != nil {
			return false, err
		}
		return true, nil
	}
	if err := fault(OpLink, it.dst, 0); err != nil {
		return false, &os.LinkError{Op: "link", Old: tmp, New: it.dst, Err: err}
	}
	lerr := os.Link(tmp, it.dst)
	switch {
	case lerr == nil:
		os.Remove(tmp)
		return true, nil
	case errors.Is(lerr, os.ErrExist):
		return false, nil
	}
	// No hard links here (vfat): a checked rename.
	if _, serr := os.Lstat(it.dst); serr == nil {
		return false, nil
	}
	if err := rename(tmp, it.dst); err != nil {
		return false, err
	}
	return true, nil
}

// syncData makes the data of every file of the batch durable.
func (b *Batch) syncData(items []batchItem) error {
	if b.NoSync {
		return nil
	}
	files := items[:0:0]
	for _, it := range items {
		if it.f != nil {
			files = append(files, it)
		}
	}
	items = files
	if len(items) == 0 {
		return nil
	}
	fs := make([]*os.File, len(items))
	for i := range items {
		fs[i] = items[i].f.f
	}
	return SyncFiles(fs)
}

// SyncFiles makes the data and inodes of files durable: an fsync each
// when there are fewer than SyncFSMin, otherwise one syncfs(2) per file
// system they are on (an fsync each where there is no syncfs). On this
// kind of disk an fsync of a small file costs a few milliseconds, which
// for a thousand packets is seconds; syncfs writes everything out and
// flushes once. It also writes whatever else is dirty on the file
// system, which costs time, never correctness, and it reports write-back
// errors since Linux 5.8. The fault hook sees one OpSync per file, before
// anything is synced.
func SyncFiles(files []*os.File) error {
	for _, f := range files {
		if err := fault(OpSync, f.Name(), 0); err != nil {
			return &os.PathError{Op: "fsync", Path: f.Name(), Err: err}
		}
	}
	fsyncEach := func() error {
		for _, f := range files {
			if err := f.Sync(); err != nil {
				return err
			}
		}
		return nil
	}
	if len(files) < SyncFSMin {
		return fsyncEach()
	}
	// One syncfs per file system the files are on.
	done := map[uint64]bool{}
	for _, f := range files {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
		}
		if done[st.Dev] {
			continue
		}
		done[st.Dev] = true
		if err := syncfs(f); err == errNoSyncfs {
			return fsyncEach()
		} else if err != nil {
			return err
		}
	}
	return nil
}

var errNoSyncfs = errors.New("no syncfs")

func syncfs(f *os.File) error {
	for {
		err := unix.Syncfs(int(f.Fd()))
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.ENOSYS {
			return errNoSyncfs
		}
		if err != nil {
			return &os.PathError{Op: "syncfs", Path: f.Name(), Err: err}
		}
		return nil
	}
}
