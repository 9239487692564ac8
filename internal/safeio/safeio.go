// Package safeio owns every durable write in ferry: a temporary file
// beside the target, fsync, rename (or a no-clobber link), fsync of the
// directory; and the hook through which tests make any of those steps
// fail (a failing write, fsync or rename, a full disk), as chasquid's
// safeio does.
//
// A crash at any point leaves either the old state or the whole new file,
// never a half-written one under the target's name. What a crash can leave
// is a temporary file; their names start with TempPrefix so that the next
// run (or `ferry rm -tmp`) can find and remove them.
package safeio

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// TempPrefix starts the name of every temporary file safeio creates.
const TempPrefix = ".ferry-"

// TempSuffix ends the name of every temporary file safeio creates.
const TempSuffix = ".part"

// Options says how a file is written.
type Options struct {
	// NoSync skips the fsyncs ($NNCPNOSYNC): the rename is still atomic,
	// but a crash may lose the file.
	NoSync bool
	// Perm is the mode the file is created with, before the umask; 0
	// means 0600. os.CreateTemp cannot do this: it always uses 0600.
	Perm os.FileMode
	// Dir is where the temporary file is made; empty means the target's
	// directory. It must be on the target's filesystem.
	Dir string
}

// PermShared is the mode of the files ferry hands to users (files tossed
// into incoming/, reassembled files) before the umask, which the config's
// umask replaces: 0666, as NNCP's (0644 under the usual umask 022).
const PermShared os.FileMode = 0o666

func (o Options) perm() os.FileMode {
	if o.Perm == 0 {
		return 0o600
	}
	return o.Perm
}

// File is a file being written. Nothing is visible under the target's
// name until Commit; Abort (or a crash) leaves nothing but, at worst, a
// temporary file.
type File struct {
	f    *os.File
	dst  string
	opt  Options
	done bool
}

// Create starts writing dst: a temporary file is made beside it (or in
// opt.Dir) and becomes dst on Commit.
func Create(dst string, opt Options) (*File, error) {
	dir := opt.Dir
	if dir == "" {
		dir = filepath.Dir(dst)
	}
	f, err := CreateTemp(dir, filepath.Base(dst), opt)
	if err != nil {
		return nil, err
	}
	f.dst = dst
	return f, nil
}

// maxTempName keeps temporary names within the 255 bytes most
// filesystems allow, whatever the target's name.
const maxTempName = 255

// CreateTemp makes a temporary file in dir whose final name is decided at
// commit time (CommitTo, CommitNoClobber). hint is put in its name to
// tell humans what it is; it is shortened as needed.
func CreateTemp(dir, hint string, opt Options) (*File, error) {
	for range 10_000 {
		name := tempName(dir, hint)
		if err := fault(OpCreate, name, 0); err != nil {
			return nil, &os.PathError{Op: "create", Path: name, Err: err}
		}
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, opt.perm())
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &File{f: f, opt: opt}, nil
	}
	return nil, fmt.Errorf("%s: cannot create a temporary file", dir)
}

// tempName is a fresh temporary name in dir.
func tempName(dir, hint string) string {
	rnd := strconv.FormatUint(rand.Uint64(), 36)
	room := maxTempName - len(TempPrefix) - len(TempSuffix) - len(rnd) - 1
	h := hint
	if len(h) > room {
		h = truncUTF8(h, room)
	}
	return filepath.Join(dir, TempPrefix+h+"."+rnd+TempSuffix)
}

// LinkTemp makes a temporary file in dir that is a hard link to src,
// opened read-only: a file moved without a copy (src must be on dir's
// file system; os.Link's error otherwise, e.g. EXDEV), to be checked
// before it is committed (CommitTo, Batch.Add) and src removed. The
// caller must know that nobody else writes src. Its data is made durable
// on commit like a written file's.
func LinkTemp(src, dir, hint string, opt Options) (*File, error) {
	for range 10_000 {
		name := tempName(dir, hint)
		if err := fault(OpCreate, name, 0); err != nil {
			return nil, &os.PathError{Op: "create", Path: name, Err: err}
		}
		err := os.Link(src, name)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		f, err := os.Open(name)
		if err != nil {
			os.Remove(name)
			return nil, err
		}
		return &File{f: f, opt: opt}, nil
	}
	return nil, fmt.Errorf("%s: cannot create a temporary file", dir)
}

// SharedPerm is 0666 less the process's umask: the mode a file created
// with Perm 0666 gets (read from /proc/self/status once; 0644 where it
// cannot be read).
func SharedPerm() os.FileMode {
	umaskOnce.Do(func() {
		umaskVal = 0o022
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					umaskVal = os.FileMode(m) & 0o777
				}
			}
		}
	})
	return 0o666 &^ umaskVal
}

var (
	umaskOnce sync.Once
	umaskVal  os.FileMode
)

func truncUTF8(s string, n int) string {
	if n <= 0 {
		return ""
	}
	return strings.ToValidUTF8(s[:n], "") // no half character at the cut
}

// Name is the temporary file's path.
func (f *File) Name() string { return f.f.Name() }

// OS is the underlying file, for Seek, Stat or ReadAt. Writes must go
// through f.
func (f *File) OS() *os.File { return f.f }

// Write writes to the temporary file.
func (f *File) Write(p []byte) (int, error) {
	if err := fault(OpWrite, f.f.Name(), len(p)); err != nil {
		return 0, &os.PathError{Op: "write", Path: f.f.Name(), Err: err}
	}
	return f.f.Write(p)
}

// WriteString writes s to the temporary file.
func (f *File) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

// ReadFrom copies r into the file. Without a fault hook it lets the
// kernel copy (copy_file_range, splice); with one, every write is asked.
func (f *File) ReadFrom(r io.Reader) (int64, error) {
	if faultFn.Load() == nil {
		return f.f.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{f}, r)
}

// Sync makes what was written durable (unless NoSync) without committing.
func (f *File) Sync() error {
	if f.opt.NoSync {
		return nil
	}
	return syncFile(f.f)
}

// Commit makes the file durable and renames it to the target given to
// Create, replacing what is there.
func (f *File) Commit() error {
	if f.dst == "" {
		return errors.New("safeio: commit of a file made by CreateTemp needs a name: use CommitTo")
	}
	return f.CommitTo(f.dst)
}

// CommitTo makes the file durable and renames it to dst, replacing what
// is there, then makes the rename durable.
func (f *File) CommitTo(dst string) (err error) {
	if err := f.finish(); err != nil {
		return err
	}
	defer f.cleanup(&err)
	if err := rename(f.f.Name(), dst); err != nil {
		return err
	}
	return f.syncDir(filepath.Dir(dst))
}

// CommitNoClobber makes the file durable and places it at dst without
// overwriting anything (see PlaceNoClobber), returning the name used.
func (f *File) CommitNoClobber(dst string) (name string, err error) {
	if err := f.finish(); err != nil {
		return "", err
	}
	defer f.cleanup(&err)
	name, err = PlaceNoClobber(f.f.Name(), dst)
	if err != nil {
		return "", err
	}
	return name, f.syncDir(filepath.Dir(dst))
}

// CommitIfAbsent makes the file durable and places it at dst unless a
// file is already there, in which case the temporary file is dropped and
// placed is false (content-addressed files: the one there is the same).
func (f *File) CommitIfAbsent(dst string) (placed bool, err error) {
	if err := f.finish(); err != nil {
		return false, err
	}
	defer f.cleanup(&err)
	if err := fault(OpLink, dst, 0); err != nil {
		return false, &os.LinkError{Op: "link", Old: f.f.Name(), New: dst, Err: err}
	}
	lerr := os.Link(f.f.Name(), dst)
	switch {
	case lerr == nil:
		os.Remove(f.f.Name())
	case errors.Is(lerr, os.ErrExist):
		os.Remove(f.f.Name())
		return false, nil
	default:
		// No hard links here (vfat): a checked rename.
		if _, serr := os.Lstat(dst); serr == nil {
			os.Remove(f.f.Name())
			return false, nil
		}
		if err := rename(f.f.Name(), dst); err != nil {
			return false, err
		}
	}
	return true, f.syncDir(filepath.Dir(dst))
}

// finish fsyncs and closes the temporary file; on failure it is removed.
func (f *File) finish() error {
	if f.done {
		return errors.New("safeio: file already committed or aborted")
	}
	f.done = true
	err := f.Sync()
	if err == nil {
		err = fault(OpClose, f.f.Name(), 0)
		if cerr := f.f.Close(); err == nil {
			err = cerr
		}
	} else {
		f.f.Close()
	}
	if err != nil {
		os.Remove(f.f.Name())
		return fmt.Errorf("writing %s: %w", f.f.Name(), err)
	}
	return nil
}

// cleanup removes the temporary file if the commit failed before it was
// placed (a failed directory fsync leaves the placed file alone).
func (f *File) cleanup(err *error) {
	if *err != nil {
		os.Remove(f.f.Name())
	}
}

func (f *File) syncDir(dir string) error {
	if f.opt.NoSync {
		return nil
	}
	return SyncDir(dir)
}

// Abort drops the temporary file. It is safe after Commit.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.f.Close()
	os.Remove(f.f.Name())
}

// WriteFile atomically replaces dst with data.
func WriteFile(dst string, data []byte, opt Options) error {
	f, err := Create(dst, opt)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// Rename renames old to new and makes it durable in new's directory (and
// old's, when they differ) unless noSync.
func Rename(old, new string, noSync bool) error {
	if err := rename(old, new); err != nil {
		return err
	}
	if noSync {
		return nil
	}
	if err := SyncDir(filepath.Dir(new)); err != nil {
		return err
	}
	if od := filepath.Dir(old); od != filepath.Dir(new) {
		return SyncDir(od)
	}
	return nil
}

func rename(old, new string) error {
	if err := fault(OpRename, new, 0); err != nil {
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
	}
	return os.Rename(old, new)
}

// Sync fsyncs a file written outside safeio (an mbox being appended to),
// through the fault hook.
func Sync(f *os.File) error { return syncFile(f) }

func syncFile(f *os.File) error {
	if err := fault(OpSync, f.Name(), 0); err != nil {
		return &os.PathError{Op: "fsync", Path: f.Name(), Err: err}
	}
	return f.Sync()
}

// SyncDir fsyncs a directory so that the entries made or renamed in it
// survive a crash.
func SyncDir(dir string) error {
	if err := fault(OpSyncDir, dir, 0); err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// PlaceNoClobber moves tmp to dst, or to dst.0, dst.1 ... when that name
// is taken (the counter nncp-toss and nncp-reass use), and returns the
// name used. A hard link makes the check and the move one step; on
// filesystems without hard links (vfat USB sticks) it falls back to a
// checked rename. tmp must be in dst's directory. It does not fsync.
func PlaceNoClobber(tmp, dst string) (string, error) {
	for i := -1; i < 1_000_000; i++ {
		cand := dst
		if i >= 0 {
			cand = dst + "." + strconv.Itoa(i)
		}
		if err := fault(OpLink, cand, 0); err != nil {
			return "", &os.LinkError{Op: "link", Old: tmp, New: cand, Err: err}
		}
		err := os.Link(tmp, cand)
		if err == nil {
			os.Remove(tmp)
			return cand, nil
		}
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if _, serr := os.Lstat(cand); serr == nil {
			continue
		}
		if err := rename(tmp, cand); err != nil {
			return "", err
		}
		return cand, nil
	}
	return "", fmt.Errorf("%s: no free name", dst)
}
