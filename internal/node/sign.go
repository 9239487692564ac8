package node

import (
	"crypto/ed25519"
	"crypto/sha512"

	"filippo.io/edwards25519"
)

// Sign makes the RFC 8032 Ed25519 signature of msg with p's signing key:
// byte for byte what crypto/ed25519.Sign makes. It computes R = [r]B with
// a constant-time variable-base multiplication instead of the standard
// library's base-point table, whose construction (about 1.5 ms) would be
// most of the CPU time of a short command that signs one packet.
func (p *Private) Sign(msg []byte) []byte {
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
