package tempfail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func pathErr(op string, errno syscall.Errno) error {
	return &fs.PathError{Op: op, Path: "/var/spool/nncp/tmp/pkt-1", Err: errno}
}

func TestIs(t *testing.T) {
	locked := New("locked by another process")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("unknown node"), false},
		{"ENOSPC anywhere", fmt.Errorf("writing: %w", pathErr("write", syscall.ENOSPC)), true},
		{"EDQUOT anywhere", pathErr("write", syscall.EDQUOT), true},
		{"bare errno ENOSPC", syscall.ENOSPC, true},
		{"EIO", pathErr("read", syscall.EIO), true},
		// A file the request names that this user cannot read is the
		// request's problem ...
		{"EACCES outside the spool", pathErr("open", syscall.EACCES), false},
		{"ENOENT outside the spool", pathErr("stat", syscall.ENOENT), false},
		// ... the spool, the log, the queue are ferry's own.
		{"EACCES in the spool", Local(fmt.Errorf("spool tmp: %w", pathErr("open", syscall.EACCES))), true},
		{"EPERM in the spool", Local(pathErr("chown", syscall.EPERM)), true},
		{"EROFS in the spool", Local(pathErr("open", syscall.EROFS)), true},
		{"ENOENT in the spool", Local(pathErr("open", syscall.ENOENT)), true},
		{"Local of a permanent error", Local(errors.New("checksum mismatch")), false},
		{"Local of ENOSPC", Local(pathErr("write", syscall.ENOSPC)), true},
		{"lock held", fmt.Errorf("/spool/X/toss.lock: %w", locked), true},
		{"marked temporary", Temporary(errors.New("queue full")), true},
		// The outermost marker wins over what is beneath.
		{"permanent over ENOSPC", Permanent(pathErr("write", syscall.ENOSPC)), false},
		{"temporary over permanent", Temporary(Permanent(errors.New("x"))), true},
		// syscall.Errno's own Temporary calls ENOSPC permanent and
		// EAGAIN temporary: ours is used.
		{"EAGAIN", syscall.EAGAIN, true},
		{"EINVAL", syscall.EINVAL, false},
		{"joined, one temporary", errors.Join(errors.New("bad"), pathErr("write", syscall.ENOSPC)), true},
		{"joined, none temporary", errors.Join(errors.New("bad"), errors.New("worse")), false},
		{"a Temporary method of another package", netLike{true}, true},
		{"os.ErrDeadlineExceeded", os.ErrDeadlineExceeded, true},
	} {
		if got := Is(tc.err); got != tc.want {
			t.Errorf("%s: Is(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

type netLike struct{ temp bool }

func (e netLike) Error() string   { return "net" }
func (e netLike) Temporary() bool { return e.temp }

func TestMarkersKeepIdentity(t *testing.T) {
	sentinel := New("busy")
	if err := fmt.Errorf("x: %w", sentinel); !errors.Is(err, sentinel) {
		t.Error("errors.Is does not find a New sentinel")
	}
	base := pathErr("open", syscall.EACCES)
	for _, err := range []error{Local(base), Temporary(base), Permanent(base)} {
		if !errors.Is(err, fs.ErrPermission) || err.Error() != base.Error() {
			t.Errorf("%T: lost its cause or changed its text: %v", err, err)
		}
	}
	if Local(nil) != nil || Temporary(nil) != nil || Permanent(nil) != nil {
		t.Error("a marker of nil is not nil")
	}
}
