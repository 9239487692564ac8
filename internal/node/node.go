// Package node owns node identities: ids, key pairs, their Base32 text form,
// and niceness levels with NNCP's names (F, P, N, B, MAX and deltas).
package node

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/blake2b"
)

// B32 is the encoding of every id and key in configs, spool names and logs:
// RFC 4648 Base32, upper case, no padding.
var B32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// IDSize is the length of a node id in bytes.
const IDSize = 32

// ID identifies a node: BLAKE2b-256 of its ed25519 signing public key.
type ID [IDSize]byte

// String is the Base32 form used in configs, spool paths and logs.
func (id ID) String() string { return B32.EncodeToString(id[:]) }

// IsZero reports whether id is all zeros (unset).
func (id ID) IsZero() bool { return id == ID{} }

// ErrBadID is returned for text that is not a Base32 node id.
var ErrBadID = errors.New("not a node id (52 Base32 characters)")

// ParseID decodes the Base32 text form of a node id.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := B32.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != IDSize {
		return id, fmt.Errorf("%q: %w", s, ErrBadID)
	}
	copy(id[:], b)
	return id, nil
}

// IDFromSignPub derives a node id from its signing public key.
func IDFromSignPub(pub ed25519.PublicKey) ID {
	return ID(blake2b.Sum256(pub))
}

// DecodeKey decodes a Base32 key of exactly n bytes.
func DecodeKey(s string, n int) ([]byte, error) {
	b, err := B32.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("not Base32: %w", err)
	}
	if len(b) != n {
		return nil, fmt.Errorf("decodes to %d bytes, want %d", len(b), n)
	}
	return b, nil
}

// Public is what a neighbour publishes: the keys others need to send to it.
type Public struct {
	ID       ID
	ExchPub  [32]byte          // X25519, for encrypted packets
	SignPub  ed25519.PublicKey // verifies the packets it sends
	NoisePub *[32]byte         // X25519 for the sync protocol; nil if it cannot be called
}

// Private is our own node: the public half plus the secret keys.
type Private struct {
	Public
	ExchPrv  [32]byte
	SignPrv  ed25519.PrivateKey
	NoisePrv [32]byte

	checkOnce sync.Once
	checkErr  error
	exchOnce  sync.Once
	exchKey   *ecdh.PrivateKey
	exchErr   error
	noiseOnce sync.Once
	noiseErr  error
}

// Errors of a private key whose public half in the config is not its own
// (a damaged or hand-edited config).
var (
	ErrBadExchKey  = errors.New("self.exchpub does not match self.exchprv (a damaged config)")
	ErrBadNoiseKey = errors.New("self.noisepub does not match self.noiseprv (a damaged config)")
)

// CheckExchKey checks that exchprv gives exchpub; callers run it before
// they decrypt. Like CheckSignKey it is not done when the config loads:
// an X25519 multiplication costs about 0.1 ms, and a command that only
// sends (exec, file, sendmail) never uses the key.
func (p *Private) CheckExchKey() error {
	_, err := p.ExchKey()
	return err
}

// ExchKey returns exchprv as an X25519 key for key exchanges, made and
// checked against exchpub once: a toss of thousands of packets derives
// its public half once, not per packet.
func (p *Private) ExchKey() (*ecdh.PrivateKey, error) {
	p.exchOnce.Do(func() {
		k, err := ecdh.X25519().NewPrivateKey(p.ExchPrv[:])
		switch {
		case err != nil:
			p.exchErr = err
		case !bytes.Equal(k.PublicKey().Bytes(), p.ExchPub[:]):
			p.exchErr = ErrBadExchKey
		default:
			p.exchKey = k
		}
	})
	return p.exchKey, p.exchErr
}

// CheckNoiseKey checks that noiseprv gives noisepub; callers run it
// before an online session.
func (p *Private) CheckNoiseKey() error {
	p.noiseOnce.Do(func() {
		if p.NoisePub == nil || x25519Base(p.NoisePrv) != *p.NoisePub {
			p.noiseErr = ErrBadNoiseKey
		}
	})
	return p.noiseErr
}

// Check runs every check of the private keys.
func (p *Private) Check() error {
	return errors.Join(p.CheckSignKey(), p.CheckExchKey(), p.CheckNoiseKey())
}

// x25519Base is the public half of an X25519 key: one scalar
// multiplication (curve25519.X25519 with the base point makes two).
func x25519Base(prv [32]byte) (pub [32]byte) {
	k, err := ecdh.X25519().NewPrivateKey(prv[:])
	if err == nil {
		copy(pub[:], k.PublicKey().Bytes())
	}
	return pub
}

// ErrBadSignKey is returned when a signing key's public half does not
// match its seed (a damaged config).
var ErrBadSignKey = errors.New("signprv is not a valid ed25519 private key: its public half does not match its seed")

// CheckSignKey checks that the signing key's seed gives its public half
// (about 0.1 ms); callers run it once before they sign.
func (p *Private) CheckSignKey() error {
	p.checkOnce.Do(func() {
		if len(p.SignPrv) != ed25519.PrivateKeySize || string(signPubFromSeed(p.SignPrv[:32])) != string(p.SignPrv[32:]) {
			p.checkErr = ErrBadSignKey
		}
	})
	return p.checkErr
}

// Generate makes a fresh node with random keys.
func Generate() (*Private, error) {
	var p Private
	spub, sprv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	p.SignPub, p.SignPrv = spub, sprv
	p.ID = IDFromSignPub(spub)
	if _, err := rand.Read(p.ExchPrv[:]); err != nil {
		return nil, err
	}
	p.ExchPub = x25519Base(p.ExchPrv)
	if _, err := rand.Read(p.NoisePrv[:]); err != nil {
		return nil, err
	}
	npub := x25519Base(p.NoisePrv)
	p.NoisePub = &npub
	return &p, nil
}
