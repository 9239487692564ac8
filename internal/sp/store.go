package sp

import (
	"errors"
	"io"

	"ferry/internal/node"
)

// TxPkt is a whole packet queued for the peer.
type TxPkt struct {
	Name string // Base32 MTH, the packet's file name
	Nice uint8  // the packet's niceness (its encrypted header's)
	Size int64
}

// RxState is what the receiving spool already has of a packet.
type RxState struct {
	// Have: rx/NAME or rx/seen/NAME exists; the sender may drop its copy.
	Have bool
	// NoCK: NAME.nock exists (received, checksum not verified yet).
	NoCK bool
	// Part is the size of NAME.part, or -1 when there is none.
	Part int64
}

// TxFile is an open packet being sent.
type TxFile interface {
	io.ReaderAt
	io.Closer
}

// Part is a partly received packet, NAME.part.
type Part interface {
	io.WriterAt
	io.Closer
}

// ErrChecksum is what CommitParts returns (wrapped) when a received
// packet's MTH is not its name; the part is gone afterwards.
var ErrChecksum = errors.New("checksum mismatch")

// ErrBusy is what OpenPart returns (wrapped) when another session writes
// the same part.
var ErrBusy = errors.New("part busy")

// Store is the spool as the protocol sees it, for any peer. Names are
// Base32 MTHs. Implementations must be safe for concurrent use by several
// sessions.
type Store interface {
	// TxList lists whole packets queued for peer, most urgent (lowest
	// niceness) first, leaving out those for which known (when not nil)
	// returns true.
	TxList(peer node.ID, known func(name string) bool) ([]TxPkt, error)
	// OpenTx opens a queued packet for reading.
	OpenTx(peer node.ID, name string) (TxFile, error)
	// RemoveTx deletes a packet the peer has acknowledged with DONE.
	RemoveTx(peer node.ID, name string) error
	// RxState says what is already here of a packet the peer offers.
	RxState(peer node.ID, name string) (RxState, error)
	// OpenPart opens NAME.part for writing, creating it if needed. It
	// fails with ErrBusy when another session holds it.
	OpenPart(peer node.ID, name string) (Part, error)
	// CommitParts makes finished parts (opened by OpenPart, written to
	// their INFO's size) packets, in one batch: with nock each is renamed
	// to NAME.nock; otherwise its MTH is checked (ErrChecksum, and the
	// part removed, when it differs), it is fsynced and renamed to NAME.
	// When it returns, every part without an error is durable (unless
	// the spool does not sync) and every part is closed. errs[i] is
	// parts[i]'s outcome.
	CommitParts(peer node.ID, parts []Part, nock bool) (errs []error)
	// Lock takes the peer's rx and tx queue locks for the session, as
	// NNCP does (a second session with the same peer, or an xfer, waits
	// its turn); it fails at once when they are held.
	Lock(peer node.ID) (unlock func(), err error)
}
