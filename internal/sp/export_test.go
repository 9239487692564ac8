package sp

import "time"

// SetPeerPing lowers the longest wait between a peer's PINGs, so that a
// test can make a single message outlast it; the returned func restores it.
func SetPeerPing(d time.Duration) func() {
	old := peerPing
	peerPing = d
	return func() { peerPing = old }
}
