package deliver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Locking an mbox, the way procmail, mutt, Dovecot (mbox_write_locks =
// dotlock fcntl) and Debian policy 22.6 expect, in this order:
//
//  1. a mutex per path inside this process (fcntl locks belong to the
//     process, so they cannot keep two goroutines apart);
//  2. the dotlock PATH.lock, created with O_EXCL, holding our pid; a
//     dotlock older than StaleLock, or naming a pid that no longer runs
//     (its holder was killed), is removed as stale (liblockfile's rules);
//  3. fcntl(F_SETLK) on the whole file, then flock(LOCK_EX).
//
// Steps 2 and 3 are retried without blocking every pollInterval until
// LockTimeout; a lock still held then is a temporary error (ErrLocked).

// pollInterval is how often a held lock is tried again.
const pollInterval = 50 * time.Millisecond

var pathLocks sync.Map // path -> chan struct{} (capacity 1)

// lockPath takes the in-process lock for path and returns its release.
func lockPath(ctx context.Context, path string, deadline time.Time) (func(), error) {
	v, _ := pathLocks.LoadOrStore(path, make(chan struct{}, 1))
	ch := v.(chan struct{})
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, ErrLocked
	}
}

// dotlock creates lock (PATH.lock) and returns its release. The lock is
// made whole (our pid in a temporary file, then linked to its name, as
// liblockfile does), so that a holder killed at any point leaves either
// no lock or one naming it.
func dotlock(ctx context.Context, lock string, deadline time.Time, stale time.Duration) (func(), error) {
	pid := strconv.Itoa(os.Getpid())
	tmp := lock + "." + pid + ".tmp"
	if err := os.WriteFile(tmp, []byte(pid+"\n"), 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	for {
		err := os.Link(tmp, lock)
		if err != nil && !errors.Is(err, os.ErrExist) {
			// No hard links here: create it in place.
			var f *os.File
			if f, err = os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
				_, err = f.WriteString(pid + "\n")
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					os.Remove(lock)
					return nil, err
				}
			}
		}
		if err == nil {
			return func() { os.Remove(lock) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if fi, serr := os.Lstat(lock); serr == nil && (time.Since(fi.ModTime()) > stale || holderDead(lock, fi)) {
			// Stale: its holder died. Another waiter may remove it at the
			// same time; the link still lets only one of us make the next
			// (and the fcntl and flock locks, which die with their holder,
			// still keep writers apart).
			os.Remove(lock)
			continue
		}
		if err := wait(ctx, deadline); err != nil {
			return nil, fmt.Errorf("%s: %w", lock, err)
		}
	}
}

// holderDead reports whether the dotlock names, as liblockfile's do, the
// pid of a process that no longer runs on this host (killed while it
// delivered). A lock without a pid, or one that changed since fi, is left
// to the age rule.
func holderDead(lock string, fi os.FileInfo) bool {
	b, err := os.ReadFile(lock)
	if err != nil || len(b) > 32 {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	if !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	now, err := os.Lstat(lock)
	return err == nil && os.SameFile(now, fi)
}

// lockFile takes fcntl and flock write locks on f. Closing f releases
// both.
func lockFile(ctx context.Context, f *os.File, deadline time.Time) error {
	fd := int(f.Fd())
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	for {
		err := syscall.FcntlFlock(uintptr(fd), syscall.F_SETLK, &lk)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("fcntl lock: %w", err)
		}
		if err := wait(ctx, deadline); err != nil {
			return fmt.Errorf("fcntl lock: %w", err)
		}
	}
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("flock: %w", err)
		}
		if err := wait(ctx, deadline); err != nil {
			return fmt.Errorf("flock: %w", err)
		}
	}
}

// wait sleeps for pollInterval, or fails when ctx is done or deadline is
// past.
func wait(ctx context.Context, deadline time.Time) error {
	if !time.Now().Before(deadline) {
		return ErrLocked
	}
	t := time.NewTimer(min(pollInterval, time.Until(deadline)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
