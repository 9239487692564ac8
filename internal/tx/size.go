package tx

import (
	"errors"
	"fmt"

	"ferry/internal/config"
	"ferry/internal/pktcrypt"
	"ferry/internal/wire"
)

// ErrTooBig is wrapped by SizeError: a packet over Options.MaxSize.
var ErrTooBig = errors.New("packet over the maximum size")

// SizeError says a packet was refused for its size; nothing was queued.
type SizeError struct {
	Size, Max int64
	// Estimated: Size is CheckFileSize's estimate, made before the payload
	// was read; otherwise it is the size of the packet as it was built.
	Estimated bool
}

func (e *SizeError) Error() string {
	if e.Estimated {
		return fmt.Sprintf("packet would be %d bytes, over the maximum of %d", e.Size, e.Max)
	}
	return fmt.Sprintf("packet is %d bytes, over the maximum of %d: not queued", e.Size, e.Max)
}

func (e *SizeError) Unwrap() error { return ErrTooBig }

// FileSize is the size of the packet File queues for `to` on o's route
// with a payload of size bytes: one encryption per hop of a plain header
// and what it wraps, the outermost padded to o.MinSize.
func (s *Sender) FileSize(to *config.Neighbour, size int64, o Options) (int64, error) {
	hops, err := s.Hops(to, o.Via)
	if err != nil {
		return 0, err
	}
	n := size
	for range hops {
		n = pktcrypt.EncryptedSize(wire.PlainHeaderSize+n, 0)
	}
	return max(n, o.MinSize), nil
}

// CheckFileSize refuses at once, before a byte of it is read, a payload of
// known size whose packet would be over o.MaxSize (0: no limit). A payload
// of unknown size (stdin, a directory as pax) is checked as it is built:
// File refuses it before it is queued.
func (s *Sender) CheckFileSize(to *config.Neighbour, size int64, o Options) error {
	if o.MaxSize <= 0 {
		return nil
	}
	n, err := s.FileSize(to, size, o)
	if err != nil {
		return err
	}
	if n > o.MaxSize {
		return &SizeError{Size: n, Max: o.MaxSize, Estimated: true}
	}
	return nil
}
