package tx

import (
	"errors"
	"io"

	"ferry/internal/config"
	"ferry/internal/node"
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
