package wire

import (
	"encoding/binary"
	"fmt"
)

// maxChunks bounds the checksum array of a .meta file so that a forged
// length cannot make the parser allocate without limit (1 TiB in 1 KiB
// chunks).
const maxChunks = 1 << 30

// ChunkMeta is the .nncp.meta file of a chunked transfer.
type ChunkMeta struct {
	FileSize  uint64
	ChunkSize uint64
	Checksums [][32]byte // MTH of each chunk
}

// Marshal returns the XDR encoding of m.
func (m *ChunkMeta) Marshal() []byte {
	b := make([]byte, ChunkMetaHeadSize+32*len(m.Checksums))
	copy(b, MagicMeta[:])
	binary.BigEndian.PutUint64(b[8:], m.FileSize)
	binary.BigEndian.PutUint64(b[16:], m.ChunkSize)
	putU32(b[24:], uint32(len(m.Checksums)))
	for i, c := range m.Checksums {
		copy(b[ChunkMetaHeadSize+32*i:], c[:])
	}
	return b
}

// ParseChunkMeta decodes a whole .meta file and checks that the number of
// checksums agrees with the sizes.
func ParseChunkMeta(b []byte) (*ChunkMeta, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("chunk meta: %w", ErrShort)
	}
	if err := checkMagic(b, MagicMeta, "chunk meta"); err != nil {
		return nil, err
	}
	if len(b) < ChunkMetaHeadSize {
		return nil, fmt.Errorf("chunk meta: %w", ErrShort)
	}
	m := &ChunkMeta{
		FileSize:  binary.BigEndian.Uint64(b[8:]),
		ChunkSize: binary.BigEndian.Uint64(b[16:]),
	}
	n := getU32(b[24:])
	if n > maxChunks {
		return nil, fmt.Errorf("chunk meta: %d checksums: %w", n, ErrBadField)
	}
	if len(b) != ChunkMetaHeadSize+32*int(n) {
		return nil, fmt.Errorf("chunk meta: %d bytes for %d checksums: %w", len(b), n, ErrShort)
	}
	if m.ChunkSize == 0 {
		return nil, fmt.Errorf("chunk meta: zero chunk size: %w", ErrBadField)
	}
	want := (m.FileSize + m.ChunkSize - 1) / m.ChunkSize
	if m.FileSize == 0 {
		want = 1
	}
	if uint64(n) != want && !(m.FileSize == 0 && n == 0) {
		return nil, fmt.Errorf("chunk meta: %d checksums for %d bytes in chunks of %d: %w", n, m.FileSize, m.ChunkSize, ErrBadField)
	}
	m.Checksums = make([][32]byte, n)
	for i := range m.Checksums {
		copy(m.Checksums[i][:], b[ChunkMetaHeadSize+32*i:])
	}
	return m, nil
}
