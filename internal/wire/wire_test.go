package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestPlainHeaderBytes(t *testing.T) {
	h := PlainHeader{Type: TypeExec, Nice: 224, Path: []byte("cat\x00arg1")}
	b, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "4e4e4350500000030000000300000000e000000008" // magic, type 3, nice 224... checked below
	_ = want
	if !bytes.Equal(b[:8], MagicPlain[:]) || b[11] != 3 || b[15] != 224 || b[19] != 8 || string(b[20:28]) != "cat\x00arg1" {
		t.Fatalf("%s", hex.EncodeToString(b[:32]))
	}
	for _, c := range b[28:] {
		if c != 0 {
			t.Fatal("path padding not zero")
		}
	}
	got, err := ParsePlainHeader(b[:])
	if err != nil || got.Type != h.Type || got.Nice != h.Nice || !bytes.Equal(got.Path, h.Path) {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := (&PlainHeader{Path: make([]byte, 256)}).Marshal(); !errors.Is(err, ErrBadField) {
		t.Fatal("256-byte path accepted")
	}
}

func TestParseErrors(t *testing.T) {
	h := PlainHeader{Type: TypeFile, Nice: 1, Path: []byte("x")}
	good, _ := h.Marshal()
	mod := func(f func(b []byte)) []byte { b := bytes.Clone(good[:]); f(b); return b }
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"short":        {good[:100], ErrShort},
		"magic":        {mod(func(b []byte) { b[0] = 'X' }), ErrBadMagic},
		"old version":  {mod(func(b []byte) { b[7] = 2 }), ErrOldVersion},
		"type 0":       {mod(func(b []byte) { b[11] = 0 }), ErrBadField},
		"type 8":       {mod(func(b []byte) { b[11] = 8 }), ErrBadField},
		"nice 256":     {mod(func(b []byte) { b[14] = 1 }), ErrBadField},
		"pathlen 256":  {mod(func(b []byte) { b[18] = 1 }), ErrBadField},
		"path garbage": {mod(func(b []byte) { b[200] = 1 }), ErrBadField},
	}
	for name, c := range cases {
		if _, err := ParsePlainHeader(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if _, err := ParseEncHeader([]byte("NNCPE\x00\x00\x05")); !errors.Is(err, ErrOldVersion) {
		t.Errorf("old encrypted: %v", err)
	}
}

func TestChunkMeta(t *testing.T) {
	m := &ChunkMeta{FileSize: 3*1048576 + 12345, ChunkSize: 1048576, Checksums: make([][32]byte, 4)}
	m.Checksums[3][0] = 9
	b := m.Marshal()
	if len(b) != 156 {
		t.Fatalf("%d bytes, the vector's meta is 156", len(b))
	}
	got, err := ParseChunkMeta(b)
	if err != nil || got.FileSize != m.FileSize || got.Checksums[3][0] != 9 {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := ParseChunkMeta(b[:150]); err == nil {
		t.Fatal("short meta accepted")
	}
	bad := (&ChunkMeta{FileSize: 10, ChunkSize: 1, Checksums: make([][32]byte, 3)}).Marshal()
	if _, err := ParseChunkMeta(bad); err == nil {
		t.Fatal("wrong checksum count accepted")
	}
}

// Whatever parses re-marshals to the same bytes.
func FuzzPlainHeader(f *testing.F) {
	h := PlainHeader{Type: TypeExec, Nice: 96, Path: []byte("rsmtp")}
	b, _ := h.Marshal()
	f.Add(b[:])
	f.Add(make([]byte, PlainHeaderSize))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ParsePlainHeader(in)
		if err != nil {
			return
		}
		out, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out[:], in[:PlainHeaderSize]) {
			t.Fatalf("re-marshal differs")
		}
	})
}

func FuzzEncHeader(f *testing.F) {
	h := EncHeader{Nice: 224}
	b := h.Marshal()
	f.Add(b[:])
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ParseEncHeader(in)
		if err != nil {
			return
		}
		out := h.Marshal()
		if !bytes.Equal(out[:], in[:EncHeaderSize]) {
			t.Fatalf("re-marshal differs")
		}
	})
}

func FuzzChunkMeta(f *testing.F) {
	f.Add((&ChunkMeta{FileSize: 5, ChunkSize: 2, Checksums: make([][32]byte, 3)}).Marshal())
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseChunkMeta(in)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Marshal(), in) {
			t.Fatalf("re-marshal differs")
		}
	})
}
