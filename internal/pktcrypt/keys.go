// Package pktcrypt owns the encrypted packet stream: the ephemeral key
// exchange, the signed header, BLAKE3 key derivation, ChaCha20-Poly1305 in
// 128 KiB blocks, the SIZE block and IPAD/OPAD padding.
//
// Layout (pkt/encrypted.texi, wire-facts.md): after the 172-byte header
// come blocks of 128 KiB of plaintext plus a 16-byte tag. Every full block
// of the stream is sealed with key=full. At the end the 16-byte SIZE
// structure is put in front of the remaining bytes; that block is sealed
// with key=size, and if SIZE plus the rest exceed one block, the excess
// spills into one more block sealed with key=full. Zero padding (IPAD)
// fills the last block up to 128 KiB; the rest of the padding (OPAD) is
// BLAKE3 XOF output keyed with key=pad, after the last block. The nonce is
// a 96-bit big-endian block counter starting at zero.
package pktcrypt

import (
	"crypto/ecdh"
	"errors"
	"fmt"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"

	"ferry/internal/wire"
)

// BlockSize is the plaintext size of a full block.
const BlockSize = 128 * 1024

// Overhead is the AEAD tag added to each block.
const Overhead = chacha20poly1305.Overhead

// Errors of the encrypted stream. Decryption errors wrap one of these.
var (
	ErrBadSignature = errors.New("bad signature")
	ErrNotForUs     = errors.New("packet is addressed to another node")
	ErrAuth         = errors.New("decryption failed (corrupt or forged block)")
	ErrTruncated    = errors.New("packet is truncated")
	ErrTrailing     = errors.New("data after the end of the packet")
	ErrBadPadding   = errors.New("bad padding")
	ErrBadSize      = errors.New("inconsistent SIZE block")
)

type keys struct {
	full, size, pad [32]byte
	ad              [32]byte
}

func deriveKeys(shared []byte, tbs []byte) *keys {
	var k keys
	m := string(wire.MagicEncrypted[:])
	blake3.DeriveKey(m+" FULL", shared, k.full[:])
	blake3.DeriveKey(m+" SIZE", shared, k.size[:])
	blake3.DeriveKey(m+" PAD", shared, k.pad[:])
	k.ad = blake3.Sum256(tbs)
	return &k
}

// nonce is the 96-bit big-endian block counter.
type nonce [chacha20poly1305.NonceSize]byte

func (n *nonce) inc() {
	for i := len(n) - 1; i >= 0; i-- {
		n[i]++
		if n[i] != 0 {
			return
		}
	}
}

// EncryptedSize is the size of an encrypted packet whose stream (plain
// header included) is payload bytes long, padded with pad bytes.
func EncryptedSize(payload, pad int64) int64 {
	nblocks := (payload + wire.SizeStructSize + BlockSize - 1) / BlockSize
	return wire.EncHeaderSize + payload + wire.SizeStructSize + pad + nblocks*Overhead
}

// PadFor returns the smallest padding that makes a packet with the given
// stream length reach minSize once it is wrapped in `wraps` transit packets
// (each adds a plain header and an encrypted envelope around the whole
// inner packet). It returns 0 when the packet is large enough already.
func PadFor(payload int64, wraps int, minSize int64) int64 {
	final := func(pad int64) int64 {
		s := EncryptedSize(payload, pad)
		for range wraps {
			s = EncryptedSize(wire.PlainHeaderSize+s, 0)
		}
		return s
	}
	if final(0) >= minSize {
		return 0
	}
	// final grows by at least one byte per byte of padding, so the
	// answer is at most the deficit; search for the smallest.
	lo, hi := int64(0), minSize-final(0)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if final(mid) >= minSize {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// exchange is X25519 of k and pub: one scalar multiplication. A
// low-order pub (an all-zero secret) is an error, as curve25519.X25519
// makes it.
func exchange(k *ecdh.PrivateKey, pub [32]byte) ([]byte, error) {
	p, err := ecdh.X25519().NewPublicKey(pub[:])
	if err != nil {
		return nil, fmt.Errorf("key exchange: %w", err)
	}
	shared, err := k.ECDH(p)
	if err != nil {
		return nil, fmt.Errorf("key exchange: %w", err)
	}
	return shared, nil
}
