// Package tempfail owns the line between failures a retry can cure (a
// full disk, a spool this user cannot write, a lock another process
// holds) and failures of the request itself (a bad node name, a bad
// flag, a missing config), and the exit status that says "try again
// later" to the programs that run ferry: EX_TEMPFAIL, 75, which MTAs
// (Exim's pipe transport, Postfix's pipe(8)) take as "defer the message"
// where any other non-zero status bounces it.
//
// Temporary versus permanent is a method on the error, Temporary() bool,
// as go-smtp's SMTPError and net.Error have it. Is walks an error's chain:
// the outermost error that has the method decides. Below every marker,
// an errno that says a resource is short (ENOSPC, EDQUOT, EAGAIN ...)
// is temporary wherever it comes from. Permission, ownership, absence and
// a read-only file system are temporary only where the error arose in
// ferry's own storage (spool, log, mail queue): the package that owns
// that storage says so with Local. An error nobody classified is
// permanent.
package tempfail

import (
	"errors"
	"syscall"
)

// ExitTempFail is EX_TEMPFAIL from sysexits.h.
const ExitTempFail = 75

// temporary is the method that classifies an error.
type temporary interface{ Temporary() bool }

// Is reports whether err is temporary: whether the same request could
// succeed later without being changed.
func Is(err error) bool {
	temp, _ := classify(err)
	return temp
}

// classify returns err's class and whether anything in its chain said.
func classify(err error) (temp, known bool) {
	switch e := err.(type) {
	case nil:
		return false, false
	case syscall.Errno:
		// Errno has a Temporary method of its own (EINTR, EMFILE,
		// EAGAIN, ETIMEDOUT ...) that calls a full disk permanent: ours
		// replaces it.
		if resourceErrno(e) {
			return true, true
		}
		return false, false
	case temporary:
		return e.Temporary(), true
	case interface{ Unwrap() error }:
		return classify(e.Unwrap())
	case interface{ Unwrap() []error }:
		// Joined errors: temporary if any part is (retrying cures that
		// part), permanent if any part says so and none is temporary.
		for _, x := range e.Unwrap() {
			if t, k := classify(x); k {
				if t {
					return true, true
				}
				known = true
			}
		}
		return false, known
	}
	return false, false
}

// resourceErrno reports whether errno says something ran short or was
// busy: temporary wherever it happens.
func resourceErrno(e syscall.Errno) bool {
	switch e {
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EAGAIN, syscall.EINTR,
		syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.ENOBUFS,
		syscall.ENOLCK, syscall.EBUSY, syscall.ETXTBSY, syscall.EDEADLK,
		syscall.ETIMEDOUT, syscall.EIO:
		return true
	}
	return false
}

// localErrno reports whether errno, met in ferry's own storage, is a
// condition an administrator cures without changing the request: the
// spool or log is not writable by this user (a command once run as root
// made it), is missing (a file system not mounted yet), or is read-only.
func localErrno(e syscall.Errno) bool {
	switch e {
	case syscall.EACCES, syscall.EPERM, syscall.EROFS, syscall.ENOENT,
		syscall.ENOTDIR, syscall.ESTALE, syscall.ENXIO, syscall.ENODEV:
		return true
	}
	return resourceErrno(e)
}

// Error is an error with its class stated.
type Error struct {
	Err  error
	temp bool
	// local: the class is decided by the errno beneath (Local).
	local bool
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether a retry could cure the error.
func (e *Error) Temporary() bool {
	if !e.local {
		return e.temp
	}
	var errno syscall.Errno
	if errors.As(e.Err, &errno) && localErrno(errno) {
		return true
	}
	return Is(e.Err)
}

// Temporary marks err temporary (nil stays nil).
func Temporary(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, temp: true}
}

// Permanent marks err permanent (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err}
}

// New is errors.New for a temporary condition, for sentinels such as a
// lock held by another process: errors.Is still finds the value returned.
func New(text string) error { return &Error{Err: errors.New(text), temp: true} }

// Local marks err as coming from ferry's own storage (spool, log, mail
// queue): permission, ownership, absence and a read-only file system are
// then temporary too, besides what Is calls temporary anywhere (nil stays
// nil).
func Local(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, local: true}
}
