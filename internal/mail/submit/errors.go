package submit

import (
	"errors"
)

// Errors. ParseArgs wraps ErrUsage and ErrUnsupported; Prepare wraps the
// others, or returns a read or spool error that is Temporary.
var (
	// ErrUsage: an unknown option, a missing or bad option value, or a
	// command line that makes no sense.
	ErrUsage = errors.New("usage error")
	// ErrUnsupported: a sendmail mode ferry does not implement (-bv, -bt,
	// -bd, -bh ...).
	ErrUnsupported = errors.New("not supported")
	// ErrBadAddress: an address that cannot be sent to.
	ErrBadAddress = errors.New("bad address")
	// ErrNoRecipients: the message has nobody to go to.
	ErrNoRecipients = errors.New("no recipients")
	// ErrHeaderTooLarge: the header is over PrepareOptions.MaxHeaderBytes.
	ErrHeaderTooLarge = errors.New("message header too large")
)

// Exit codes (sysexits.h) that sendmail's callers understand.
const (
	ExitOK       = 0
	ExitUsage    = 64 // EX_USAGE: bad command line
	ExitDataErr  = 65 // EX_DATAERR: bad address, no recipients, bad header
	ExitTempFail = 75 // EX_TEMPFAIL: try again later (reading, spooling)
)

// ExitCode returns the exit status sendmail gives for err.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrUsage), errors.Is(err, ErrUnsupported):
		return ExitUsage
	case errors.Is(err, ErrBadAddress), errors.Is(err, ErrNoRecipients), errors.Is(err, ErrHeaderTooLarge):
		return ExitDataErr
	default:
		return ExitTempFail
	}
}

// Temporary reports whether trying again later could succeed: true for
// read and spool errors, false for problems with the command line or the
// message.
func Temporary(err error) bool {
	return err != nil && ExitCode(err) == ExitTempFail
}

// tempError marks an error of the local system (disk full, temp dir
// missing) as temporary.
type tempError struct{ err error }

func (e tempError) Error() string   { return e.err.Error() }
func (e tempError) Unwrap() error   { return e.err }
func (e tempError) Temporary() bool { return true }
