package deliver

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"ferry/internal/safeio"
)

// fileError classifies a failure of the local file system. Everything is
// temporary (an administrator can fix permissions, free space or a missing
// directory, as Exim defers), except a file over the size limit.
func fileError(what string, err error) *Error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return newError(452, "4.3.1", err, "%s: %v", what, err)
	case errors.Is(err, syscall.EDQUOT):
		return newError(452, "4.2.2", err, "%s: %v", what, err)
	case errors.Is(err, syscall.EFBIG):
		return newError(552, "5.2.3", err, "%s: %v", what, err)
	}
	return newError(451, "4.3.0", err, "%s: %v", what, err)
}

// mkdirDurable creates dir and its missing parents with mode perm, and
// fsyncs the parent of every directory it creates.
func mkdirDurable(dir string, perm os.FileMode) error {
	dir = filepath.Clean(dir)
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return &os.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirDurable(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil
		}
		return err
	}
	return safeio.SyncDir(parent)
}
