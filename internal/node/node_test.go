package node

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

func TestParseNice(t *testing.T) {
	for in, want := range map[string]uint8{"1": 1, "255": 255, "F": 32, "flash": 32, "P": 96, "p+3": 99,
		"N-31": 129, "NORMAL+32": 192, "B": 224, "bulk-10": 214, "MAX": 255, "max": 255, "B+31": 255} {
		got, err := ParseNice(in)
		if err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "256", "Q", "P+33", "F-32", "B+32", "P+", "Px", "-1"} {
		if _, err := ParseNice(in); !errors.Is(err, ErrBadNice) {
			t.Errorf("%q accepted", in)
		}
	}
}

// As nncp-pkt 8.8.2 prints niceness.
func TestNiceString(t *testing.T) {
	for n, want := range map[uint8]string{
		0: "0", 1: "1", 2: "F-30", 31: "F-1", 32: "F", 64: "F+32", 65: "65", 66: "P-30", 96: "P", 128: "P+32",
		129: "129", 130: "N-30", 160: "N", 192: "N+32", 193: "193", 194: "B-30", 224: "B", 254: "B+30", 255: "MAX",
	} {
		if got := NiceString(n); got != want {
			t.Errorf("NiceString(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestIDs(t *testing.T) {
	p, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != IDFromSignPub(p.SignPub) {
		t.Fatal("id is not BLAKE2b-256(signpub)")
	}
	if err := p.Check(); err != nil {
		t.Fatalf("a generated node's keys: %v", err)
	}
	back, err := ParseID(p.ID.String())
	if err != nil || back != p.ID {
		t.Fatal("id does not round-trip")
	}
	if _, err := ParseID("ABC"); !errors.Is(err, ErrBadID) {
		t.Fatal("short id accepted")
	}
}

// A damaged seed whose stored public half is intact is caught before
// the key signs anything.
func TestCheckSignKey(t *testing.T) {
	p, _ := Generate()
	if err := p.CheckSignKey(); err != nil {
		t.Fatal(err)
	}
	q, _ := Generate()
	q.SignPrv[0] ^= 1
	if err := q.CheckSignKey(); !errors.Is(err, ErrBadSignKey) {
		t.Fatalf("damaged seed: %v", err)
	}
}

// Sign is crypto/ed25519.Sign, byte for byte.
func TestSignMatchesStdlib(t *testing.T) {
	for i := 0; i < 50; i++ {
		p, _ := Generate()
		msg := make([]byte, i*7)
		for j := range msg {
			msg[j] = byte(i * j)
		}
		if got, want := p.Sign(msg), ed25519.Sign(p.SignPrv, msg); !bytes.Equal(got, want) {
			t.Fatalf("signature %d differs:\n%x\n%x", i, got, want)
		}
		if !bytes.Equal(signPubFromSeed(p.SignPrv[:32]), p.SignPub) {
			t.Fatal("public key derivation differs")
		}
	}
}
