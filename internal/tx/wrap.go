package tx

import (
	"errors"
	"io"

	"ferry/internal/config"
	"ferry/internal/node"
)

// ErrNoRelays is returned by Wrap and Transit when there is no relay to
// wrap for.
var ErrNoRelays = errors.New("no relay to wrap the packet for")

// Transit queues an existing encrypted packet (pkt, addressed to dest) in
// transit packets through the relays of route r, as nncp-trns does: the
// relays given, or else those dest's config entry names (dest is then a
// known neighbour). Without relays it returns ErrNoRelays.
func (s *Sender) Transit(dest node.ID, r Route, pkt io.Reader, o Options) (*Result, error) {
	relays, err := s.relays(s.Cfg.ByID[dest], r)
	if err != nil {
		return nil, err
	}
	return s.Wrap(dest, relays, pkt, o)
}

// Wrap queues an existing encrypted packet (pkt, addressed to dest) in
// transit packets, as nncp-trns does: one layer per relay, the last relay
// told to hand the packet to dest, each earlier one to the next relay.
// The outermost packet waits in relays[0]'s tx/. Nice is the wrappers'
// niceness; MinSize pads the outermost packet; Via is ignored (the
// relays are given).
func (s *Sender) Wrap(dest node.ID, relays []*config.Neighbour, pkt io.Reader, o Options) (*Result, error) {
	if len(relays) == 0 {
		return nil, ErrNoRelays
	}
	layers := make([]layer, len(relays))
	for i, hop := range relays {
		next := dest
		if i < len(relays)-1 {
			next = relays[i+1].ID
		}
		layers[i] = layer{to: hop, ph: trnsHeader(next)}
	}
	return s.queue(layers, o, func(w io.Writer) error {
		_, err := io.Copy(w, pkt)
		return err
	})
}
