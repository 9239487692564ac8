// Package sp owns NNCP's synchronization protocol (SP): the Noise-IK
// handshake between two nodes, the exchange of INFO/FREQ/FILE/DONE
// packets that moves whole encrypted packets between their spools, and
// the deadlines, pings and rate limits of an online session. It moves
// opaque files only: it never decrypts a packet, and it reaches the spool
// through the Store interface it defines.
//
// The protocol, as NNCP 8.8.2 speaks it:
//
//	transport   any reliable byte stream (TCP, a pipe to a command, UCSPI fds 6/7)
//	envelope    "NNCPS" 0 0 1, then the Noise message as XDR variable opaque
//	            (uint32 length, bytes, zero padding to 4); see wire.AppendSPEnvelope
//	Noise       Noise_IK_25519_ChaChaPoly_BLAKE2b, no prologue, the caller is
//	            the initiator and knows the responder's static key (noisepub);
//	            the responder learns the caller from the handshake's static key
//	message 1   initiator -> responder: handshake, payload = its INFOs padded with
//	            HALTs to exactly 65280 bytes
//	message 2   responder -> initiator: handshake, payload = its INFOs, padded the same
//	then        transport messages both ways, each an encrypted SP payload of at
//	            most 65280 bytes: a concatenation of SP packets (wire.SPPacket)
//
// What each side does with the packets it receives:
//
//	INFO nice size hash   too nice (above -nice): ignored. rx/HASH or seen/HASH
//	                      exists: DONE. HASH.nock exists: nothing (nncp-check will
//	                      strip it; the next call sends DONE). Otherwise FREQ with
//	                      the size of HASH.part as offset (0 when none).
//	FREQ hash offset      queue the packet for sending from offset, ordered by
//	                      niceness (most urgent first).
//	FILE hash off chunk   write chunk at off into HASH.part; when the part reaches
//	                      the INFO's size: check its MTH (unless -nock), make it
//	                      durable, rename to rx/HASH, fsync rx/, then DONE. Parts
//	                      completed meanwhile are committed together (a batch: one
//	                      syncfs or an fsync each, one fsync of rx/), and their
//	                      DONEs go out once the whole batch is durable. A bad
//	                      checksum drops the part and asks again from offset 0
//	                      (once per session).
//	DONE hash             remove tx/HASH.
//	HALT                  empty the sending queue.
//	PING                  nothing: it only proves the link alive.
//
// FILE packets are sent only when no INFO, FREQ or DONE waits, as many in
// one message as fit (a dozen small packets travel together). Every second the tx queue
// is scanned again and new packets are offered. A PING goes out after a
// minute without sending; two minutes without receiving anything end the
// session, as do onlinedeadline seconds without any packet but PINGs in
// either direction (while nothing is being received or committed), and
// maxonlinetime. There is no explicit end of a session (sp.texi): HALT
// only empties the peer's sending queue, so a side that has nothing left
// still waits onlinedeadline, for packets queued meanwhile.
package sp

import (
	"errors"
	"time"
)

// Timing defaults of NNCP 8.8.2.
const (
	// DefaultDeadline bounds each handshake and each write
	// ($NNCPDEADLINE overrides it).
	DefaultDeadline = 10 * time.Second
	// DefaultOnlineDeadline ends a session idle for that long.
	DefaultOnlineDeadline = 10 * time.Second
	// PingInterval: a PING is sent after this long without sending.
	PingInterval = time.Minute
	// RescanInterval: how often the tx queue is scanned for new packets.
	RescanInterval = time.Second
)

// Errors of the protocol.
var (
	// ErrUnknownPeer: the caller's noise key belongs to no neighbour.
	ErrUnknownPeer = errors.New("unknown peer")
	// ErrHandshake wraps every failure before the session is established.
	ErrHandshake = errors.New("handshake failed")
	// ErrProtocol: the peer sent something that is not the protocol.
	ErrProtocol = errors.New("protocol violation")
)

// Temporary reports whether err is worth retrying later (a network or
// handshake failure), as opposed to a refusal (unknown peer).
func Temporary(err error) bool {
	return err != nil && !errors.Is(err, ErrUnknownPeer)
}
