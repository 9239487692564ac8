//go:build !unix

package logrec

import (
	"errors"
	"os"
)

func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}

func writeFD(int, []byte) error { return errors.New("FD: logs need a unix system") }
