package pktcrypt

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"io"
	"testing"

	"ferry/internal/node"
)

// Fixed keys so that the fuzzer's corpus stays meaningful between runs.
func fuzzNodes() (a, b *node.Private) {
	mk := func(seed byte) *node.Private {
		var p node.Private
		s := sha256.Sum256([]byte{seed})
		p.SignPrv = ed25519.NewKeyFromSeed(s[:])
		p.SignPub = p.SignPrv.Public().(ed25519.PublicKey)
		p.ID = node.IDFromSignPub(p.SignPub)
		copy(p.ExchPrv[:], s[:])
		k, _ := ecdh.X25519().NewPrivateKey(p.ExchPrv[:])
		copy(p.ExchPub[:], k.PublicKey().Bytes())
		return &p
	}
	return mk(1), mk(2)
}

// FuzzDecrypt feeds arbitrary bytes, and mutations of a real packet, to
// the reader: it must never panic, and a changed packet must never
// decrypt to anything.
func FuzzDecrypt(f *testing.F) {
	a, b := fuzzNodes()
	seedPkt := func(n int, pad int64) []byte {
		var out bytes.Buffer
		e, _ := NewEncrypter(&out, EncryptOptions{Sender: a, Recipient: &b.Public, Nice: 1,
			PadFor: func(int64) int64 { return pad }, Rand: bytes.NewReader(make([]byte, 32))})
		e.Write(bytes.Repeat([]byte{'x'}, n))
		e.Close()
		return out.Bytes()
	}
	orig := seedPkt(300, 0)
	f.Add(orig, uint(0), byte(0))
	f.Add(seedPkt(0, 70), uint(200), byte(1))
	f.Add(seedPkt(BlockSize-10, 0), uint(5000), byte(0x80))
	f.Fuzz(func(t *testing.T, pkt []byte, off uint, x byte) {
		mutated := bytes.Clone(pkt)
		if len(mutated) > 0 {
			mutated[int(off%uint(len(mutated)))] ^= x
		}
		r := bytes.NewReader(mutated)
		h, err := ReadHeader(r)
		if err != nil {
			return
		}
		d, err := NewDecrypter(r, &h, b, &a.Public)
		if err != nil {
			return
		}
		_, err = io.Copy(io.Discard, d)
		if err == nil && !bytes.Equal(mutated, orig) && !bytes.Equal(mutated, pkt) {
			// A different packet that decrypts must at least be one of
			// the seeds made with the right keys; anything else is forged.
			t.Fatalf("mutated packet accepted")
		}
	})
}
