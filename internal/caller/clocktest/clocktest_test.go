package clocktest

import (
	"context"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(t0)
	ch1, _ := c.After(time.Second)
	ch2, stop2 := c.After(2 * time.Second)
	ch3, _ := c.After(3 * time.Second)
	if err := c.WaitWaiters(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	if at, ok := c.Next(); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("Next = %v %v", at, ok)
	}
	stop2()
	c.Advance(2 * time.Second)
	select {
	case got := <-ch1:
		if !got.Equal(t0.Add(2 * time.Second)) {
			t.Errorf("fired with %v", got)
		}
	default:
		t.Error("due waiter did not fire")
	}
	select {
	case <-ch2:
		t.Error("stopped waiter fired")
	case <-ch3:
		t.Error("waiter fired early")
	default:
	}
	if c.Waiters() != 1 {
		t.Errorf("%d waiters, want 1", c.Waiters())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.WaitWaiters(ctx, 2); err == nil {
		t.Error("WaitWaiters returned nil for a cancelled context")
	}
	if ch, _ := c.After(0); len(ch) != 1 {
		t.Error("After(0) does not fire at once")
	}
}
