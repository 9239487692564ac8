// Package clocktest is a hand-driven clock for the caller's tests: time
// stands still until the test moves it, and the test can wait until the
// code under test is waiting on the clock.
package clocktest

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake caller.Clock. The zero value is not usable: use New.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters map[*waiter]struct{}
	changed chan struct{} // closed and replaced when waiters change
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// New returns a clock standing at now.
func New(now time.Time) *Clock {
	return &Clock{now: now, waiters: map[*waiter]struct{}{}, changed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After registers a waiter due d from now; d <= 0 fires at once.
func (c *Clock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &waiter{at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		w.ch <- c.now
		return w.ch, func() {}
	}
	c.waiters[w] = struct{}{}
	c.notify()
	return w.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.waiters[w]; ok {
			delete(c.waiters, w)
			c.notify()
		}
	}
}

// Set moves the clock to t (forward or back) and fires the waiters due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	for w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
			delete(c.waiters, w)
		}
	}
	c.notify()
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Waiters is the number of pending After calls.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// Next returns the earliest pending waiter's time, and false if there is none.
func (c *Clock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first time.Time
	for w := range c.waiters {
		if first.IsZero() || w.at.Before(first) {
			first = w.at
		}
	}
	return first, !first.IsZero()
}

// WaitWaiters blocks until at least n After calls are pending, or ctx
// ends.
func (c *Clock) WaitWaiters(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		ok, ch := len(c.waiters) >= n, c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notify wakes WaitWaiters; c.mu is held.
func (c *Clock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}
