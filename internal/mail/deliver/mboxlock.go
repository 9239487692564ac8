package deliver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
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
//     dotlock older than StaleLock is removed as stale (liblockfile's
//     rule);
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

// dotlock creates lock (PATH.lock) and returns its release.
func dotlock(ctx context.Context, lock string, deadline time.Time, stale time.Duration) (func(), error) {
	for {
		f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, werr := f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(lock)
				return nil, werr
			}
			return func() { os.Remove(lock) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if fi, serr := os.Lstat(lock); serr == nil && time.Since(fi.ModTime()) > stale {
			// Stale: its holder died. Another waiter may remove it at the
			// same time; O_EXCL still lets only one of us create the next.
			os.Remove(lock)
			continue
		}
		if err := wait(ctx, deadline); err != nil {
			return nil, fmt.Errorf("%s: %w", lock, err)
		}
	}
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
