package mta

import (
	"time"

	"ferry/internal/mail/queue"
)

// bounce sends a delivery status notification for the recipients that
// failed for good and were not reported yet. TODO: build the DSN.
func (m *MTA) bounce(e *queue.Entry, now time.Time) error {
	for _, r := range e.Rcpts {
		if r.State == queue.Failed && !r.Bounced {
			r.Bounced = true
		}
	}
	return nil
}
