package pktcrypt

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"

	"ferry/internal/node"
	"ferry/internal/wire"
)

// EncryptOptions say who sends what to whom.
type EncryptOptions struct {
	Sender    *node.Private
	Recipient *node.Public
	Nice      uint8 // the packet's niceness, in the header
	// PadFor, if set, is called once the stream length is known and
	// returns how many padding bytes to add (see PadFor the function).
	PadFor func(streamLen int64) int64
	// Rand is the source of the ephemeral key; crypto/rand when nil.
	Rand io.Reader
}

// Encrypter seals a stream into an encrypted packet written to an
// io.Writer. Write the whole plain packet (header, then payload), then
// Close. Memory use is two blocks whatever the stream's length.
type Encrypter struct {
	w      io.Writer
	keys   *keys
	full   cipher.AEAD
	size   cipher.AEAD
	nonce  nonce
	buf    []byte // plaintext of the block being filled, cap BlockSize
	out    []byte // sealed block, cap BlockSize+Overhead
	n      int64  // stream bytes written
	padFor func(int64) int64
	err    error
	closed bool
}

// NewEncrypter writes the signed header to w and returns the stream writer.
func NewEncrypter(w io.Writer, o EncryptOptions) (*Encrypter, error) {
	if o.Sender == nil || o.Recipient == nil {
		return nil, errors.New("pktcrypt: sender and recipient are required")
	}
	rnd := o.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var eprv [32]byte
	if _, err := io.ReadFull(rnd, eprv[:]); err != nil {
		return nil, fmt.Errorf("ephemeral key: %w", err)
	}
	// Two scalar multiplications: the ephemeral public key, then the
	// shared secret (curve25519.X25519 derives the public key of its
	// scalar on every call, four in all).
	ek, err := ecdh.X25519().NewPrivateKey(eprv[:])
	if err != nil {
		return nil, err
	}
	h := wire.EncHeader{Nice: o.Nice, Sender: o.Sender.ID, Recipient: o.Recipient.ID}
	copy(h.ExchPub[:], ek.PublicKey().Bytes())
	tbs := h.TBS()
	copy(h.Sig[:], o.Sender.Sign(tbs[:]))
	shared, err := exchange(ek, o.Recipient.ExchPub)
	if err != nil {
		return nil, err
	}
	e := &Encrypter{
		w:      w,
		keys:   deriveKeys(shared, tbs[:]),
		buf:    make([]byte, 0, BlockSize),
		out:    make([]byte, 0, BlockSize+Overhead),
		padFor: o.PadFor,
	}
	e.full, _ = chacha20poly1305.New(e.keys.full[:])
	e.size, _ = chacha20poly1305.New(e.keys.size[:])
	hb := h.Marshal()
	if _, err := w.Write(hb[:]); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Encrypter) seal(aead cipher.AEAD, pt []byte) error {
	e.out = aead.Seal(e.out[:0], e.nonce[:], pt, e.keys.ad[:])
	e.nonce.inc()
	_, err := e.w.Write(e.out)
	return err
}

// Write adds p to the stream.
func (e *Encrypter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.closed {
		return 0, errors.New("pktcrypt: write after close")
	}
	total := len(p)
	for len(p) > 0 {
		k := min(BlockSize-len(e.buf), len(p))
		e.buf = append(e.buf, p[:k]...)
		p = p[k:]
		e.n += int64(k)
		if len(e.buf) == BlockSize {
			if e.err = e.seal(e.full, e.buf); e.err != nil {
				return total - len(p), e.err
			}
			e.buf = e.buf[:0]
		}
	}
	return total, nil
}

// ReadFrom streams r into the packet without an extra copy.
func (e *Encrypter) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for e.err == nil {
		n, err := r.Read(e.buf[len(e.buf):BlockSize])
		e.buf = e.buf[:len(e.buf)+n]
		e.n += int64(n)
		total += int64(n)
		if len(e.buf) == BlockSize {
			if e.err = e.seal(e.full, e.buf); e.err != nil {
				break
			}
			e.buf = e.buf[:0]
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, e.err
}

// Len is the number of stream bytes written so far.
func (e *Encrypter) Len() int64 { return e.n }

// Close writes the SIZE block, the padding and the outer padding. It
// does not close the underlying writer.
func (e *Encrypter) Close() error {
	if e.closed {
		return e.err
	}
	e.closed = true
	if e.err != nil {
		return e.err
	}
	var pad int64
	if e.padFor != nil {
		pad = e.padFor(e.n)
	}
	sz := wire.SizeStruct{Payload: uint64(e.n), Pad: uint64(pad)}.Marshal()
	rest := e.buf
	// The last block(s): SIZE || rest, split when over one block.
	last := make([]byte, 0, 2*BlockSize)
	last = append(last, sz[:]...)
	last = append(last, rest...)
	var ipad int64
	if len(last) > BlockSize {
		if err := e.seal(e.size, last[:BlockSize]); err != nil {
			return e.fail(err)
		}
		tail := last[BlockSize:]
		ipad = min(pad, int64(BlockSize-len(tail)))
		tail = append(tail, make([]byte, ipad)...)
		if err := e.seal(e.full, tail); err != nil {
			return e.fail(err)
		}
	} else {
		ipad = min(pad, int64(BlockSize-len(last)))
		last = append(last, make([]byte, ipad)...)
		if err := e.seal(e.size, last); err != nil {
			return e.fail(err)
		}
	}
	if opad := pad - ipad; opad > 0 {
		h, _ := blake3.NewKeyed(e.keys.pad[:])
		if _, err := io.CopyN(e.w, h.Digest(), opad); err != nil {
			return e.fail(err)
		}
	}
	return nil
}

func (e *Encrypter) fail(err error) error {
	e.err = err
	return err
}
