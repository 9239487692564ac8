package sp

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/flynn/noise"

	"ferry/internal/logrec"
	"ferry/internal/node"
	"ferry/internal/wire"
)

// Initiate runs a session as the caller over rw with peer, whose noise
// key must answer. The returned error is non-nil only when the session
// could not start (handshake); what ends an established session is in
// Result.Err.
func Initiate(ctx context.Context, rw io.ReadWriter, peer Peer, o Options) (*Result, error) {
	if err := o.Self.CheckNoiseKey(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	s := newSession(rw, o)
	s.peer = peer
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   cipherSuite,
		Random:        rand.Reader,
		Pattern:       noise.HandshakeIK,
		Initiator:     true,
		StaticKeypair: s.staticKey(),
		PeerStatic:    peer.NoisePub[:],
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.unlock()
	s.setDeadline(time.Now().Add(s.deadline()))
	first, err := s.firstPayload()
	if err != nil {
		return nil, err
	}
	failI := func(stage string, err error) (*Result, error) {
		verb := map[string]string{"read": "reading", "write": "writing"}[stage]
		s.logErr("sp-startI-"+stage, []logrec.Field{fld("Node", peer.ID.String()), fld("Nice", itoa(int64(o.Nice)))}, err,
			fmt.Sprintf("SP with %s (nice %s): %s", peer.Name, node.NiceString(o.Nice), verb))
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	msg, _, _, err := hs.WriteMessage(nil, first)
	if err != nil {
		return failI("write", err)
	}
	if err := s.writeEnvelope(msg); err != nil {
		return failI("write", err)
	}
	in, err := wire.ReadSPEnvelope(s.rw, nil)
	if err != nil {
		return failI("read", err)
	}
	s.rxBytes.add(envLen(in))
	payload, csIn, csOut, err := hs.ReadMessage(nil, in)
	if err != nil {
		return failI("read", err)
	}
	// Split gives the initiator's sending state first.
	s.csOut, s.csIn = csIn, csOut
	s.setDeadline(time.Time{})
	return s.run(ctx, payload), nil
}

// PeerFunc finds the neighbour whose noise public key is pub.
type PeerFunc func(pub [32]byte) (Peer, bool)

// Respond runs a session as the answering side: the caller is identified
// by its noise key through peers, and refused (ErrUnknownPeer) when it is
// none of them.
func Respond(ctx context.Context, rw io.ReadWriter, peers PeerFunc, o Options) (*Result, error) {
	if err := o.Self.CheckNoiseKey(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	s := newSession(rw, o)
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   cipherSuite,
		Random:        rand.Reader,
		Pattern:       noise.HandshakeIK,
		Initiator:     false,
		StaticKeypair: s.staticKey(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	firstDl := o.deadline(nil) // the caller is not known yet
	if o.Deadline <= 0 && o.FirstDeadline > firstDl {
		firstDl = o.FirstDeadline
	}
	s.setDeadline(time.Now().Add(firstDl))
	waiting := fmt.Sprintf("SP nice %s: waiting for first message", node.NiceString(o.Nice))
	failR := func(stage string, err error) (*Result, error) {
		s.logErr("sp-startR-"+stage, []logrec.Field{fld("Nice", itoa(int64(o.Nice)))}, err, waiting)
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	in, err := wire.ReadSPEnvelope(s.rw, nil)
	if err != nil {
		return failR("read", err)
	}
	s.rxBytes.add(envLen(in))
	payload, _, _, err := hs.ReadMessage(nil, in)
	if err != nil {
		return failR("read", err)
	}
	var pub [32]byte
	copy(pub[:], hs.PeerStatic())
	peer, ok := peers(pub)
	if !ok {
		key := node.B32.EncodeToString(pub[:])
		err := fmt.Errorf("%w: %s", ErrUnknownPeer, key)
		s.logErr("sp-startR-unknown", []logrec.Field{fld("Nice", itoa(int64(o.Nice))), fld("Peer", key)}, err, waiting)
		return nil, err
	}
	s.peer = peer
	s.setDeadline(time.Now().Add(s.deadline())) // the caller's own, for our answer
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.unlock()
	first, err := s.firstPayload()
	if err != nil {
		return nil, err
	}
	msg, csIn, csOut, err := hs.WriteMessage(nil, first)
	if err != nil {
		return failR("write", err)
	}
	s.csIn, s.csOut = csIn, csOut
	if err := s.writeEnvelope(msg); err != nil {
		return failR("write", err)
	}
	s.setDeadline(time.Time{})
	return s.run(ctx, payload), nil
}

// lock takes the peer's queue locks, logging a failure as NNCP does.
func (s *session) lock() error {
	unlock, err := s.o.Store.Lock(s.peer.ID)
	if err != nil {
		s.logErr("lockdir-flock", []logrec.Field{fld("Node", s.peer.ID.String())}, err,
			fmt.Sprintf("Locking directory of %s", s.peer.Name))
		return err
	}
	s.unlockFn = unlock
	return nil
}

func (s *session) unlock() {
	if s.unlockFn != nil {
		s.unlockFn()
		s.unlockFn = nil
	}
}
