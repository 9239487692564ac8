// Package owner owns one rule: what a ferry command run as root makes in
// a directory (a spool's tmp/, queues, hdr/ and seen/ files, lock files,
// the log beside its directory, the mail queue) belongs to the owner of
// that directory. Applied from the top down, everything in a spool that
// user nncp owns stays nncp's, so that a ferry or nncp-* run once as root
// (a cron job, an admin's shell) cannot leave root-owned files that the
// next run as nncp is refused (issue 6, defect 10).
//
// Run by anyone else the functions here are os's: only root can give a
// file away. Failing to give a file away is not an error (a file system
// without owners, such as FAT, refuses every chown): the file is there,
// and the next run as its owner is what tells.
package owner

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// root reports whether the process may give files away. A variable for
// the tests of the non-root paths.
var root = func() bool { return os.Geteuid() == 0 }

// dirOwner returns the uid and gid of dir.
func dirOwner(dir string) (uid, gid int, ok bool) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}

// Inherit gives path (not following a symlink) the owner of the
// directory it is in, when running as root and they differ.
func Inherit(path string) {
	if !root() {
		return
	}
	uid, gid, ok := dirOwner(filepath.Dir(path))
	if !ok {
		return
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && int(st.Gid) == gid {
		return
	}
	os.Lchown(path, uid, gid)
}

// File gives the open file f the owner of the directory f.Name() is in,
// when running as root and they differ.
func File(f *os.File) {
	if !root() {
		return
	}
	uid, gid, ok := dirOwner(filepath.Dir(f.Name()))
	if !ok {
		return
	}
	fi, err := f.Stat()
	if err != nil {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && int(st.Gid) == gid {
		return
	}
	f.Chown(uid, gid)
}

// MkdirAll is os.MkdirAll, and every directory it creates, and path
// itself if it was there already, gets its parent's owner. Fixing an
// existing path repairs a directory an older run as root left behind.
func MkdirAll(path string, perm os.FileMode) error {
	if !root() {
		return os.MkdirAll(path, perm)
	}
	path = filepath.Clean(path)
	// The directories to create, deepest first.
	var missing []string
	for p := path; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		err := os.Mkdir(missing[i], perm)
		if err != nil && !errors.Is(err, os.ErrExist) {
			// What os.MkdirAll would say (it handles a file in the way).
			return os.MkdirAll(path, perm)
		}
		if err == nil {
			Inherit(missing[i])
		}
	}
	if len(missing) == 0 {
		Inherit(path)
	}
	return nil
}

// CreateTemp is os.CreateTemp; the file gets dir's owner.
func CreateTemp(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	File(f)
	return f, nil
}

// OpenFile is os.OpenFile; with O_CREATE, the file (made now or before)
// gets its directory's owner.
func OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if flag&os.O_CREATE != 0 {
		File(f)
	}
	return f, nil
}

// WriteFile is os.WriteFile; the file gets its directory's owner.
func WriteFile(name string, data []byte, perm os.FileMode) error {
	f, err := OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Symlink is os.Symlink; the link gets its directory's owner.
func Symlink(oldname, newname string) error {
	if err := os.Symlink(oldname, newname); err != nil {
		return err
	}
	Inherit(newname)
	return nil
}
