package pktcrypt

import (
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"

	"ferry/internal/node"
	"ferry/internal/wire"
)

// ReadHeader reads and parses the 172-byte encrypted header from r.
func ReadHeader(r io.Reader) (wire.EncHeader, error) {
	var b [wire.EncHeaderSize]byte
	n, err := io.ReadFull(r, b[:])
	if err != nil && n >= 8 {
		// Let the parser say whether it is ours at all before "truncated".
		if _, perr := wire.ParseEncHeader(b[:n]); perr != nil {
			return wire.EncHeader{}, perr
		}
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return wire.EncHeader{}, fmt.Errorf("encrypted header: %d of %d bytes: %w", n, wire.EncHeaderSize, ErrTruncated)
	}
	if err != nil {
		return wire.EncHeader{}, err
	}
	return wire.ParseEncHeader(b[:])
}

// Verify checks the header's signature with the sender's public key.
func Verify(h *wire.EncHeader, sender *node.Public) error {
	tbs := h.TBS()
	if !ed25519.Verify(sender.SignPub, tbs[:], h.Sig[:]) {
		return ErrBadSignature
	}
	return nil
}

// Decrypter reads the plaintext stream of an encrypted packet. It
// authenticates each block as it goes; the end of the stream (SIZE block,
// padding, nothing after it) is checked when Read returns io.EOF. A
// caller must treat a packet as good only once it has read io.EOF: an
// error before that means the bytes already returned are not to be used.
type Decrypter struct {
	r     io.Reader
	keys  *keys
	full  cipher.AEAD
	size  cipher.AEAD
	nonce nonce

	ct      []byte // ciphertext buffer
	pt      []byte // decrypted bytes not yet returned
	ptBuf   []byte // backing store of pt
	n       int64  // stream bytes decrypted from full blocks so far
	sz      *wire.SizeStruct
	spill   int64 // payload bytes still expected in the block after SIZE
	ipadLen int64
	done    bool
	err     error
	bufs    *blockBufs
}

// blockBufs are a Decrypter's two block buffers, reused between packets
// (a toss of thousands of small packets would otherwise allocate 256 KiB
// for each).
type blockBufs struct{ ct, pt []byte }

var bufPool = sync.Pool{New: func() any {
	return &blockBufs{ct: make([]byte, BlockSize+Overhead), pt: make([]byte, 0, BlockSize)}
}}

// Close gives the Decrypter's buffers back for reuse; it must not be used
// afterwards. Not calling it is fine (the buffers are then collected).
func (d *Decrypter) Close() {
	if d.bufs != nil {
		bufPool.Put(d.bufs)
		d.bufs, d.ct, d.ptBuf, d.pt = nil, nil, nil, nil
		d.err = errors.New("pktcrypt: decrypter closed")
	}
}

// NewDecrypter checks that h is addressed to self and signed by sender,
// and returns a reader of the plain stream that follows the header in r
// (r must be positioned just after the 172 header bytes).
func NewDecrypter(r io.Reader, h *wire.EncHeader, self *node.Private, sender *node.Public) (*Decrypter, error) {
	if h.Recipient != self.ID {
		return nil, fmt.Errorf("%w (to %s)", ErrNotForUs, h.Recipient)
	}
	if h.Sender != sender.ID {
		return nil, fmt.Errorf("sender is %s, not %s: %w", h.Sender, sender.ID, ErrBadSignature)
	}
	if err := Verify(h, sender); err != nil {
		return nil, err
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
	bufs := bufPool.Get().(*blockBufs)
	d := &Decrypter{
		r:     r,
		keys:  deriveKeys(shared, tbs[:]),
		ct:    bufs.ct,
		ptBuf: bufs.pt[:0],
		bufs:  bufs,
	}
	d.full, _ = chacha20poly1305.New(d.keys.full[:])
	d.size, _ = chacha20poly1305.New(d.keys.size[:])
	return d, nil
}

func (d *Decrypter) open(aead cipher.AEAD, ct []byte) ([]byte, error) {
	pt, err := aead.Open(d.ptBuf[:0], d.nonce[:], ct, d.keys.ad[:])
	if err != nil {
		return nil, err
	}
	return pt, nil
}

// readBlock reads up to one sealed block; it returns the bytes read.
func (d *Decrypter) readBlock() ([]byte, error) {
	n, err := io.ReadFull(d.r, d.ct)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return d.ct[:n], err
}

// next decrypts the next block into d.pt.
func (d *Decrypter) next() error {
	ct, err := d.readBlock()
	if err != nil {
		return err
	}
	if d.sz != nil {
		// The block after a SIZE block that spilled over.
		if len(ct) < Overhead {
			return fmt.Errorf("last block missing: %w", ErrTruncated)
		}
		pt, err := d.open(d.full, ct)
		if err != nil {
			return fmt.Errorf("block %d: %w", d.blockNo(), ErrAuth)
		}
		d.nonce.inc()
		if int64(len(pt)) < d.spill {
			return fmt.Errorf("last block has %d of %d bytes: %w", len(pt), d.spill, ErrTruncated)
		}
		if err := d.checkIPad(pt[d.spill:]); err != nil {
			return err
		}
		d.pt = pt[:d.spill]
		d.spill = 0
		return d.finish()
	}
	if len(ct) < Overhead {
		if len(ct) == 0 {
			return fmt.Errorf("no SIZE block: %w", ErrTruncated)
		}
		return fmt.Errorf("block %d of %d bytes: %w", d.blockNo(), len(ct), ErrTruncated)
	}
	if len(ct) == BlockSize+Overhead {
		if pt, err := d.open(d.full, ct); err == nil {
			d.nonce.inc()
			d.n += int64(len(pt))
			d.pt = pt
			return nil
		}
	}
	pt, err := d.open(d.size, ct)
	if err != nil {
		if len(ct) < BlockSize+Overhead {
			// A short block that is no SIZE block: cut or corrupt.
			return &shortBlockError{n: d.blockNo(), size: len(ct)}
		}
		return fmt.Errorf("block %d: %w", d.blockNo(), ErrAuth)
	}
	d.nonce.inc()
	sz, err := wire.ParseSizeStruct(pt)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSize, err)
	}
	d.sz = &sz
	if sz.Payload < uint64(d.n) {
		return fmt.Errorf("SIZE says %d bytes, %d already read: %w", sz.Payload, d.n, ErrBadSize)
	}
	rest := int64(sz.Payload) - d.n
	body := pt[wire.SizeStructSize:]
	if rest > int64(len(body)) {
		// Spills into one more block; this one must be full.
		if len(pt) != BlockSize || rest-int64(len(body)) > BlockSize {
			return fmt.Errorf("SIZE says %d more bytes than the packet holds: %w", rest-int64(len(body)), ErrBadSize)
		}
		d.spill = rest - int64(len(body))
		d.pt = body
		return nil
	}
	if err := d.checkIPad(body[rest:]); err != nil {
		return err
	}
	d.pt = body[:rest]
	return d.finish()
}

func (d *Decrypter) blockNo() uint64 {
	var c uint64
	for _, b := range d.nonce[4:] {
		c = c<<8 | uint64(b)
	}
	return c
}

func (d *Decrypter) checkIPad(ipad []byte) error {
	if uint64(len(ipad)) > d.sz.Pad {
		return fmt.Errorf("%d padding bytes in the last block, SIZE says %d: %w", len(ipad), d.sz.Pad, ErrBadPadding)
	}
	for _, c := range ipad {
		if c != 0 {
			return fmt.Errorf("inner padding is not zero: %w", ErrBadPadding)
		}
	}
	d.ipadLen = int64(len(ipad))
	return nil
}

// finish checks the outer padding and that nothing follows it.
func (d *Decrypter) finish() error {
	d.done = true
	opad := int64(d.sz.Pad) - d.ipadLen
	if opad > 0 {
		h, _ := blake3.NewKeyed(d.keys.pad[:])
		xof := h.Digest()
		want := make([]byte, 32*1024)
		got := make([]byte, 32*1024)
		for opad > 0 {
			k := min(int64(len(got)), opad)
			if _, err := io.ReadFull(d.r, got[:k]); err != nil {
				return fmt.Errorf("outer padding cut short: %w", ErrTruncated)
			}
			xof.Read(want[:k])
			if subtle.ConstantTimeCompare(got[:k], want[:k]) != 1 {
				return fmt.Errorf("outer padding differs: %w", ErrBadPadding)
			}
			opad -= k
		}
	}
	var one [1]byte
	if n, _ := io.ReadFull(d.r, one[:]); n > 0 {
		return ErrTrailing
	}
	return nil
}

// Read returns decrypted stream bytes.
func (d *Decrypter) Read(p []byte) (int, error) {
	for len(d.pt) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		if d.done {
			return 0, io.EOF
		}
		if err := d.next(); err != nil {
			d.err = err
			d.pt = nil
		}
	}
	n := copy(p, d.pt)
	d.pt = d.pt[n:]
	return n, nil
}

// Size returns the SIZE block's contents once it has been read (nil
// before).
func (d *Decrypter) Size() *wire.SizeStruct { return d.sz }

// shortBlockError is a last, short block that does not authenticate: the
// packet was cut inside it, or it is corrupt; it matches both sentinels.
type shortBlockError struct {
	n    uint64
	size int
}

func (e *shortBlockError) Error() string {
	return fmt.Sprintf("block %d (%d bytes) does not authenticate: the packet is truncated or corrupt", e.n, e.size)
}

func (e *shortBlockError) Is(target error) bool { return target == ErrTruncated || target == ErrAuth }

// WriteTo writes the rest of the stream to w, decrypting the next blocks
// on a second goroutine while w takes the current one, so that a file
// being tossed is decrypted and written at the same time. Like Read, it
// returns an error (and has written part of the stream) unless the whole
// packet authenticated.
func (d *Decrypter) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if len(d.pt) > 0 {
		n, err := w.Write(d.pt)
		total += int64(n)
		d.pt = d.pt[n:]
		if err != nil {
			return total, err
		}
	}
	if d.err != nil {
		return total, d.err
	}
	if d.done {
		return total, nil
	}
	type chunk struct {
		buf []byte // the block's whole buffer, to recycle
		pt  []byte
		err error
	}
	const depth = 2
	out := make(chan chunk, depth)
	free := make(chan []byte, depth+1)
	for range depth + 1 {
		free <- make([]byte, 0, BlockSize)
	}
	stop := make(chan struct{})
	go func() {
		defer close(out)
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			d.ptBuf = buf[:0]
			err := d.next()
			select {
			case out <- chunk{buf: buf, pt: d.pt, err: err}:
			case <-stop:
				return
			}
			if err != nil || d.done {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		for range out { // let the producer finish before d is used again
		}
		d.pt = nil
	}()
	for c := range out {
		if len(c.pt) > 0 {
			n, err := w.Write(c.pt)
			total += int64(n)
			if err != nil {
				d.err = err
				return total, err
			}
		}
		if c.err != nil {
			d.err = c.err
			return total, c.err
		}
		free <- c.buf
	}
	return total, nil
}
