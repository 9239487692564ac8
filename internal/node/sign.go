package node

import (
	"crypto/ed25519"
	"crypto/sha512"
	"sync/atomic"

	"filippo.io/edwards25519"
)

// Sign makes the RFC 8032 Ed25519 signature of msg with p's signing key:
// byte for byte what crypto/ed25519.Sign makes (FuzzSign).
//
// Which code signs depends on how many signatures the process has made.
// The standard library computes R = [r]B with a base-point table whose
// construction (about 1.2 ms) is most of the CPU time of a short command
// that signs one packet; signByHand needs no table but costs about twice
// as much per signature (BenchmarkColdSign, BenchmarkSign: the two cross
// after about 35 signatures). So the first handSignatures signatures of a
// process are made by hand and the rest by the standard library: a short
// command pays no table, a long toss or ack -all pays it once, and no
// process pays more than about 1.2 ms over the better of the two.
func (p *Private) Sign(msg []byte) []byte {
	if signatures.Add(1) <= handSignatures {
		return p.signByHand(msg)
	}
	return ed25519.Sign(p.SignPrv, msg)
}

// handSignatures is about the table's construction over the difference in
// cost per signature (the rent-or-buy break-even).
const handSignatures = 32

// signatures counts the process's signatures.
var signatures atomic.Int64

// signByHand is Sign with a constant-time variable-base multiplication
// for R = [r]B instead of the standard library's base-point table.
func (p *Private) signByHand(msg []byte) []byte {
	seed, pub := p.SignPrv[:32], p.SignPrv[32:]
	h := sha512.Sum512(seed)
	s, _ := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	rh := sha512.New()
	rh.Write(h[32:])
	rh.Write(msg)
	r, _ := edwards25519.NewScalar().SetUniformBytes(rh.Sum(nil))
	R := new(edwards25519.Point).ScalarMult(r, edwards25519.NewGeneratorPoint()).Bytes()
	kh := sha512.New()
	kh.Write(R)
	kh.Write(pub)
	kh.Write(msg)
	k, _ := edwards25519.NewScalar().SetUniformBytes(kh.Sum(nil))
	S := edwards25519.NewScalar().MultiplyAdd(k, s, r)
	sig := make([]byte, 0, ed25519.SignatureSize)
	sig = append(sig, R...)
	return append(sig, S.Bytes()...)
}

// signPubFromSeed derives the public key of an Ed25519 seed the same way.
func signPubFromSeed(seed []byte) []byte {
	h := sha512.Sum512(seed)
	s, _ := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	return new(edwards25519.Point).ScalarMult(s, edwards25519.NewGeneratorPoint()).Bytes()
}
