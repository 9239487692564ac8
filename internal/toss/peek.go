package toss

import (
	"errors"
	"fmt"
	"io"
	"os"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/pktcrypt"
	"ferry/internal/wire"
)

// Peek decrypts the start of the inbound packet at path and returns its
// plain header (what it carries), acting on nothing: ack -all uses it to
// leave ACKs unacknowledged. It checks what a toss checks before it reads
// the payload: the packet is for cfg's node, from a known neighbour, and
// signed by it; the payload itself is not read, so not authenticated
// beyond its first block.
func Peek(cfg *config.Config, path string) (wire.PlainHeader, error) {
	if cfg.Self == nil {
		return wire.PlainHeader{}, errNoSelf
	}
	f, err := os.Open(path)
	if err != nil {
		return wire.PlainHeader{}, err
	}
	defer f.Close()
	h, err := pktcrypt.ReadHeader(f)
	if err != nil {
		return wire.PlainHeader{}, err
	}
	sender, err := checkHeader(cfg, &h)
	if err != nil {
		return wire.PlainHeader{}, err
	}
	d, ph, err := openPlain(f, &h, cfg.Self, sender)
	if err != nil {
		return wire.PlainHeader{}, err
	}
	d.Close()
	return ph, nil
}

var errNoSelf = errors.New("config has no self section (private keys): cannot decrypt packets")

// checkHeader checks that a packet's encrypted header is for cfg's node
// and from a known neighbour, and returns the neighbour.
func checkHeader(cfg *config.Config, h *wire.EncHeader) (*config.Neighbour, error) {
	if h.Recipient != cfg.Self.ID {
		return nil, fmt.Errorf("%w (to %s)", pktcrypt.ErrNotForUs, h.Recipient)
	}
	sender, ok := cfg.ByID[h.Sender]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownSender, h.Sender)
	}
	return sender, nil
}

// openPlain starts decrypting a packet whose encrypted header h was read
// from r, and reads its plain header; the returned decrypter then streams
// the payload (the caller closes it).
func openPlain(r io.Reader, h *wire.EncHeader, self *node.Private, sender *config.Neighbour) (*pktcrypt.Decrypter, wire.PlainHeader, error) {
	d, err := pktcrypt.NewDecrypter(r, h, self, &sender.Public)
	if err != nil {
		return nil, wire.PlainHeader{}, err
	}
	var hb [wire.PlainHeaderSize]byte
	if _, err := io.ReadFull(d, hb[:]); err != nil {
		d.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, wire.PlainHeader{}, fmt.Errorf("plain header: %w", pktcrypt.ErrTruncated)
		}
		return nil, wire.PlainHeader{}, err
	}
	ph, err := wire.ParsePlainHeader(hb[:])
	if err != nil {
		d.Close()
		return nil, wire.PlainHeader{}, err
	}
	return d, ph, nil
}
