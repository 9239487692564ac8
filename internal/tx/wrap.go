package tx

import (
	"errors"
	"io"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/pktcrypt"
	"ferry/internal/spool"
	"ferry/internal/wire"
)

// ErrNoRelays is returned by Wrap when there is no relay to wrap for.
var ErrNoRelays = errors.New("no relay to wrap the packet for")

// Wrap queues an existing encrypted packet (pkt, addressed to dest) in
// transit packets, as nncp-trns does: one layer per relay, the last relay
// told to hand the packet to dest, each earlier one to the next relay.
// The outermost packet waits in relays[0]'s tx/. Nice is the wrappers'
// niceness; MinSize pads the outermost packet; Via is ignored (the
// relays are given).
func (s *Sender) Wrap(dest node.ID, relays []*config.Neighbour, pkt io.Reader, o Options) (*Result, error) {
	self := s.Cfg.Self
	if self == nil {
		return nil, ErrNoSelf
	}
	if len(relays) == 0 {
		return nil, ErrNoRelays
	}
	tmp, err := s.Spool.NewTmp()
	if err != nil {
		return nil, err
	}
	defer tmp.Abort()
	var w io.Writer = tmp
	encs := make([]*pktcrypt.Encrypter, 0, len(relays))
	for i, hop := range relays {
		eo := pktcrypt.EncryptOptions{Sender: self, Recipient: &hop.Public, Nice: o.Nice}
		if i == len(relays)-1 && o.MinSize > 0 {
			wraps, min := len(relays)-1, o.MinSize
			eo.PadFor = func(n int64) int64 { return pktcrypt.PadFor(n, wraps, min) }
		}
		e, err := pktcrypt.NewEncrypter(w, eo)
		if err != nil {
			return nil, err
		}
		encs = append(encs, e)
		next := dest
		if i < len(relays)-1 {
			next = relays[i+1].ID
		}
		h := wire.PlainHeader{Type: wire.TypeTrns, Path: next[:]}
		hb, err := h.Marshal()
		if err != nil {
			return nil, err
		}
		if _, err := e.Write(hb[:]); err != nil {
			return nil, err
		}
		w = e
	}
	if _, err := io.Copy(w, pkt); err != nil {
		return nil, err
	}
	for i := len(encs) - 1; i >= 0; i-- {
		if err := encs[i].Close(); err != nil {
			return nil, err
		}
	}
	hop := relays[0]
	name, err := tmp.Commit(hop.ID, spool.TX, "")
	if err != nil {
		return nil, err
	}
	s.Spool.LinkName(hop.Name, hop.ID)
	return &Result{Pkt: name, Hop: hop.ID, Size: encs[len(encs)-1].Len(), PktSize: tmp.Len()}, nil
}
