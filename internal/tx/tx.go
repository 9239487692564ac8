// Package tx owns building outbound packets: a plain packet (file, freq,
// exec, ack, trns) is encrypted for its recipient, wrapped once per `via`
// hop in transit packets, padded to -minsize, and queued in the first
// hop's tx/ under its MTH name. It streams: memory stays flat whatever the
// payload's size.
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

// ErrNoSelf is returned when the config has no private keys.
var ErrNoSelf = errors.New("config has no self section (private keys): cannot make packets")

// Sender queues packets from this node.
type Sender struct {
	Cfg   *config.Config
	Spool *spool.Spool
}

// Options apply to one packet.
type Options struct {
	// Nice is the packet's niceness (the encrypted header's).
	Nice uint8
	// MinSize pads the outermost packet to at least this many bytes.
	MinSize int64
	// Via is the route to the destination (the zero Route: its
	// configured one).
	Via Route
	// MaxSize, when positive, is the largest packet to queue: a bigger
	// one is refused (SizeError) once built, before it enters tx/, so
	// that no xfer or call can carry it meanwhile.
	MaxSize int64
}

// Result tells what was queued.
type Result struct {
	// Pkt is the name of the queued (outermost) packet, Hop the node in
	// whose tx/ it waits (the first relay, or the destination).
	Pkt string
	Hop node.ID
	// Size is the plain stream's length (header and payload), as NNCP
	// reports it in logs; PktSize the queued file's size.
	Size    int64
	PktSize int64
	// Chunk is a chunk's number, from 0 (FileChunked).
	Chunk int
}

// Send queues a packet for `to` whose plain header is ph and whose payload
// fill writes. fill must write the whole payload and return nil; on error
// nothing is queued.
func (s *Sender) Send(to *config.Neighbour, ph wire.PlainHeader, o Options, fill func(w io.Writer) error) (*Result, error) {
	hops, err := s.Hops(to, o.Via)
	if err != nil {
		return nil, err
	}
	layers := make([]layer, len(hops))
	for i, hop := range hops {
		layers[i] = layer{to: hop, ph: ph}
		if i < len(hops)-1 {
			layers[i].ph = trnsHeader(hops[i+1].ID)
		}
	}
	return s.queue(layers, o, fill)
}

// layer is one encryption of a packet: for whom, and the plain header
// that starts its plaintext.
type layer struct {
	to *config.Neighbour
	ph wire.PlainHeader
}

func trnsHeader(next node.ID) wire.PlainHeader {
	return wire.PlainHeader{Type: wire.TypeTrns, Path: next[:]}
}

// queue builds the onion outside in (the first layer's packet is written
// to the spool's tmp/; each layer's plaintext is its header followed by
// the next layer's packet; fill writes the innermost payload), pads the
// innermost stream so that the outermost packet reaches o.MinSize, and
// commits the result to the first layer's recipient's tx/.
func (s *Sender) queue(layers []layer, o Options, fill func(w io.Writer) error) (*Result, error) {
	self := s.Cfg.Self
	if self == nil {
		return nil, ErrNoSelf
	}
	if err := self.CheckSignKey(); err != nil {
		return nil, err
	}
	tmp, err := s.Spool.NewTmp()
	if err != nil {
		return nil, err
	}
	defer tmp.Abort()
	var w io.Writer = tmp
	encs := make([]*pktcrypt.Encrypter, 0, len(layers))
	for i, l := range layers {
		eo := pktcrypt.EncryptOptions{Sender: self, Recipient: &l.to.Public, Nice: o.Nice}
		if i == len(layers)-1 && o.MinSize > 0 {
			wraps, min := len(layers)-1, o.MinSize
			eo.PadFor = func(n int64) int64 { return pktcrypt.PadFor(n, wraps, min) }
		}
		e, err := pktcrypt.NewEncrypter(w, eo)
		if err != nil {
			return nil, err
		}
		encs = append(encs, e)
		hb, err := l.ph.Marshal()
		if err != nil {
			return nil, err
		}
		if _, err := e.Write(hb[:]); err != nil {
			return nil, err
		}
		w = e
	}
	if err := fill(w); err != nil {
		return nil, err
	}
	for i := len(encs) - 1; i >= 0; i-- {
		if err := encs[i].Close(); err != nil {
			return nil, err
		}
	}
	if o.MaxSize > 0 && tmp.Len() > o.MaxSize {
		return nil, &SizeError{Size: tmp.Len(), Max: o.MaxSize}
	}
	hop := layers[0].to
	name, err := tmp.Commit(hop.ID, spool.TX, "")
	if err != nil {
		return nil, err
	}
	s.Spool.LinkName(hop.Name, hop.ID)
	return &Result{Pkt: name, Hop: hop.ID, Size: encs[len(encs)-1].Len(), PktSize: tmp.Len()}, nil
}

// Relay queues an already encrypted packet (a trns payload) as is in
// next's tx/, named by its MTH. It never decrypts it.
func (s *Sender) Relay(next *config.Neighbour, pkt io.Reader) (*Result, error) {
	tmp, err := s.Spool.NewTmp()
	if err != nil {
		return nil, err
	}
	defer tmp.Abort()
	if _, err := io.Copy(tmp, pkt); err != nil {
		return nil, err
	}
	name, err := tmp.Commit(next.ID, spool.TX, "")
	if err != nil {
		return nil, err
	}
	s.Spool.LinkName(next.Name, next.ID)
	return &Result{Pkt: name, Hop: next.ID, Size: tmp.Len(), PktSize: tmp.Len()}, nil
}
