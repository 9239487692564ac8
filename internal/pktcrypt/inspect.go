package pktcrypt

import (
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"

	"ferry/internal/node"
	"ferry/internal/wire"
)

// NewDecrypterUnverified is NewDecrypter for a packet whose sender is not
// known, so whose signature cannot be checked: it checks only that the
// packet is addressed to self. The blocks are still authenticated, but
// anybody could have made the packet. It exists for inspecting packets
// (nncp-pkt -dump decrypts such packets too); never toss what it returns.
func NewDecrypterUnverified(r io.Reader, h *wire.EncHeader, self *node.Private) (*Decrypter, error) {
	if h.Recipient != self.ID {
		return nil, fmt.Errorf("%w (to %s)", ErrNotForUs, h.Recipient)
	}
	k, err := self.ExchKey()
	if err != nil {
		return nil, err
	}
	shared, err := exchange(k, h.ExchPub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	tbs := h.TBS()
	d := &Decrypter{
		r:     r,
		keys:  deriveKeys(shared, tbs[:]),
		ct:    make([]byte, BlockSize+Overhead),
		ptBuf: make([]byte, 0, BlockSize),
	}
	d.full, _ = chacha20poly1305.New(d.keys.full[:])
	d.size, _ = chacha20poly1305.New(d.keys.size[:])
	return d, nil
}
