// Package wire owns NNCP 8.8.2's byte layouts: magic numbers, the plain and
// encrypted packet headers, the chunked-file meta structure and XDR helpers.
// It knows bytes only: no keys, no files.
//
// XDR as NNCP uses it: integers narrower than 32 bits are 4-byte big-endian
// unsigned, sizes are 8-byte big-endian, fixed opaque data is padded with
// zeros to a multiple of 4 (so the 255-byte path takes 256 bytes).
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"ferry/internal/node"
)

// Magic numbers, 8 bytes each.
var (
	MagicPlain     = [8]byte{'N', 'N', 'C', 'P', 'P', 0, 0, 3} // plain packet v3
	MagicEncrypted = [8]byte{'N', 'N', 'C', 'P', 'E', 0, 0, 6} // encrypted packet v6
	MagicMeta      = [8]byte{'N', 'N', 'C', 'P', 'M', 0, 0, 2} // chunked file .meta v2
	MagicSP        = [8]byte{'N', 'N', 'C', 'P', 'S', 0, 0, 1} // sync protocol envelope v1
	MagicArea      = [8]byte{'N', 'N', 'C', 'P', 'A', 0, 0, 1} // encrypted area packet v1
	MagicBlob      = [8]byte{'N', 'N', 'C', 'P', 'B', 0, 0, 3} // eblob (encrypted config) v3
)

// Errors of this package. Parse errors wrap one of these.
var (
	ErrShort      = errors.New("truncated")
	ErrBadMagic   = errors.New("bad magic number")
	ErrOldVersion = errors.New("unsupported old format version")
	ErrBadField   = errors.New("bad field")
)

// Type is a plain packet's payload type. The 8.8.2 binary numbers them from
// 1 (the manual's list reads as counting from 0; the binary wins).
type Type uint32

// Plain packet types.
const (
	TypeFile    Type = 1 // file transmission
	TypeFreq    Type = 2 // file request
	TypeExec    Type = 3 // exec, body compressed with zstd
	TypeTrns    Type = 4 // transition: relay the payload to the node in path
	TypeExecFat Type = 5 // exec, body not compressed
	TypeArea    Type = 6 // multicast area message
	TypeACK     Type = 7 // receipt acknowledgement of the packet id in path
)

var typeNames = map[Type]string{
	TypeFile: "file", TypeFreq: "freq", TypeExec: "exec", TypeTrns: "trns",
	TypeExecFat: "exec-fat", TypeArea: "area", TypeACK: "ack",
}

// String is the name NNCP uses in logs ("file", "exec", "trns"...).
func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("unknown(%d)", uint32(t))
}

// Sizes of the fixed structures.
const (
	MaxPathSize       = 255
	PlainHeaderSize   = 8 + 4 + 4 + 4 + 256   // 276
	EncHeaderTBSSize  = 8 + 4 + 32 + 32 + 32  // 108: the signed part
	EncHeaderSize     = EncHeaderTBSSize + 64 // 172
	SizeStructSize    = 16                    // SIZE: payload and pad lengths
	ChunkMetaHeadSize = 8 + 8 + 8 + 4         // magic, file size, chunk size, array length
)

// checkMagic compares b's first 8 bytes with want and explains a mismatch:
// an older version of the same structure, or something else entirely.
func checkMagic(b []byte, want [8]byte, what string) error {
	if [8]byte(b[:8]) == want {
		return nil
	}
	if string(b[:5]) == string(want[:5]) && b[5] == 0 && b[6] == 0 {
		return fmt.Errorf("%s: version %d, want %d: %w", what, b[7], want[7], ErrOldVersion)
	}
	return fmt.Errorf("%s: %w %q", what, ErrBadMagic, b[:8])
}

func putU32(b []byte, v uint32) { binary.BigEndian.PutUint32(b, v) }
func getU32(b []byte) uint32    { return binary.BigEndian.Uint32(b) }

// PlainHeader is the header of a plain packet (what is inside the
// encryption): type, niceness and path. The payload follows it directly.
type PlainHeader struct {
	Type Type
	// Nice is the reply niceness: NNCP_NICE for exec, the wanted niceness
	// of the reply for freq, 0 for trns.
	Nice uint8
	Path []byte // at most 255 bytes
}

// Marshal returns the 276-byte XDR encoding of h.
func (h *PlainHeader) Marshal() ([PlainHeaderSize]byte, error) {
	var b [PlainHeaderSize]byte
	if len(h.Path) > MaxPathSize {
		return b, fmt.Errorf("plain header: path of %d bytes, at most %d: %w", len(h.Path), MaxPathSize, ErrBadField)
	}
	copy(b[0:8], MagicPlain[:])
	putU32(b[8:], uint32(h.Type))
	putU32(b[12:], uint32(h.Nice))
	putU32(b[16:], uint32(len(h.Path)))
	copy(b[20:], h.Path)
	return b, nil
}

// ParsePlainHeader decodes the first 276 bytes of b.
func ParsePlainHeader(b []byte) (PlainHeader, error) {
	var h PlainHeader
	if len(b) < PlainHeaderSize {
		return h, fmt.Errorf("plain header: %d of %d bytes: %w", len(b), PlainHeaderSize, ErrShort)
	}
	if err := checkMagic(b, MagicPlain, "plain header"); err != nil {
		return h, err
	}
	t := getU32(b[8:])
	if _, ok := typeNames[Type(t)]; !ok {
		return h, fmt.Errorf("plain header: unknown packet type %d: %w", t, ErrBadField)
	}
	nice := getU32(b[12:])
	if nice > 255 {
		return h, fmt.Errorf("plain header: niceness %d: %w", nice, ErrBadField)
	}
	n := getU32(b[16:])
	if n > MaxPathSize {
		return h, fmt.Errorf("plain header: path length %d: %w", n, ErrBadField)
	}
	for _, c := range b[20+n : PlainHeaderSize] {
		if c != 0 {
			return h, fmt.Errorf("plain header: non-zero bytes after the path: %w", ErrBadField)
		}
	}
	h.Type, h.Nice = Type(t), uint8(nice)
	h.Path = append([]byte(nil), b[20:20+n]...)
	return h, nil
}

// EncHeader is the header of an encrypted packet, the only kind of file
// found in spools, xfer directories and bundles.
type EncHeader struct {
	Nice      uint8 // the packet's own niceness
	Sender    node.ID
	Recipient node.ID
	ExchPub   [32]byte // ephemeral X25519 public key
	Sig       [64]byte // ed25519 over the first 108 bytes (TBS)
}

// TBS returns the 108 signed bytes: the header without the signature. Its
// BLAKE3-256 hash is also the AEAD's associated data.
func (h *EncHeader) TBS() [EncHeaderTBSSize]byte {
	var b [EncHeaderTBSSize]byte
	copy(b[0:8], MagicEncrypted[:])
	putU32(b[8:], uint32(h.Nice))
	copy(b[12:44], h.Sender[:])
	copy(b[44:76], h.Recipient[:])
	copy(b[76:108], h.ExchPub[:])
	return b
}

// Marshal returns the 172-byte encoding of h.
func (h *EncHeader) Marshal() [EncHeaderSize]byte {
	var b [EncHeaderSize]byte
	tbs := h.TBS()
	copy(b[:], tbs[:])
	copy(b[EncHeaderTBSSize:], h.Sig[:])
	return b
}

// ParseEncHeader decodes the first 172 bytes of b. It checks the layout
// only; the signature is checked by pktcrypt.
func ParseEncHeader(b []byte) (EncHeader, error) {
	var h EncHeader
	if len(b) < 8 {
		return h, fmt.Errorf("encrypted header: %d of %d bytes: %w", len(b), EncHeaderSize, ErrShort)
	}
	if err := checkMagic(b, MagicEncrypted, "encrypted header"); err != nil {
		return h, err
	}
	if len(b) < EncHeaderSize {
		return h, fmt.Errorf("encrypted header: %d of %d bytes: %w", len(b), EncHeaderSize, ErrShort)
	}
	nice := getU32(b[8:])
	if nice > 255 {
		return h, fmt.Errorf("encrypted header: niceness %d: %w", nice, ErrBadField)
	}
	h.Nice = uint8(nice)
	copy(h.Sender[:], b[12:44])
	copy(h.Recipient[:], b[44:76])
	copy(h.ExchPub[:], b[76:108])
	copy(h.Sig[:], b[108:172])
	return h, nil
}

// SizeStruct is the SIZE structure that starts the last part of an
// encrypted stream: the stream's length (plain header included) and the
// total padding (inner and outer).
type SizeStruct struct {
	Payload uint64
	Pad     uint64
}

// Marshal returns the 16-byte encoding.
func (s SizeStruct) Marshal() [SizeStructSize]byte {
	var b [SizeStructSize]byte
	binary.BigEndian.PutUint64(b[0:], s.Payload)
	binary.BigEndian.PutUint64(b[8:], s.Pad)
	return b
}

// ParseSizeStruct decodes 16 bytes.
func ParseSizeStruct(b []byte) (SizeStruct, error) {
	if len(b) < SizeStructSize {
		return SizeStruct{}, fmt.Errorf("size block: %w", ErrShort)
	}
	return SizeStruct{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}, nil
}
