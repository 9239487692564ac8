package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The sync protocol's byte layouts (NNCP's sp.texi). Every Noise message
// travels in an envelope:
//
//	magic   8-byte fixed opaque   "NNCPS" 0 0 1
//	payload variable opaque       uint32 length, bytes, zero padding to 4
//
// A decrypted Noise payload is a concatenation of SP packets, each a
// uint32 type then its body:
//
//	INFO 0  nice uint32, size uint64, hash [32]
//	FREQ 1  hash [32], offset uint64
//	FILE 2  hash [32], offset uint64, payload variable opaque
//	DONE 3  hash [32]
//	HALT 4  (no body)
//	PING 5  (no body)

// SPType is a sync protocol packet's type. These count from 0, unlike the
// plain packet types.
type SPType uint32

// Sync protocol packet types.
const (
	SPInfo SPType = 0
	SPFreq SPType = 1
	SPFile SPType = 2
	SPDone SPType = 3
	SPHalt SPType = 4
	SPPing SPType = 5
)

var spNames = [...]string{"info", "freq", "file", "done", "halt", "ping"}

// String is the type's lower-case name, as NNCP logs it in Type fields.
func (t SPType) String() string {
	if int(t) < len(spNames) {
		return spNames[t]
	}
	return fmt.Sprintf("unknown(%d)", uint32(t))
}

// Sizes of the sync protocol.
const (
	// MaxSPPayload is the largest SP payload (all the SP packets of one
	// Noise message): 64 KiB - 256 B.
	MaxSPPayload = 65280
	// MaxNoiseMessage bounds what an envelope may carry: a Noise message
	// is at most 65535 bytes.
	MaxNoiseMessage = 65535
	SPHeadSize      = 4              // the type
	SPInfoSize      = 4 + 4 + 8 + 32 // 48, type included
	SPFreqSize      = 4 + 32 + 8     // 44
	SPDoneSize      = 4 + 32         // 36
	SPHaltSize      = 4
	SPPingSize      = 4
	// SPFileOverhead is a FILE packet without its chunk's bytes (type,
	// hash, offset, opaque length).
	SPFileOverhead = 4 + 32 + 8 + 4 // 48
	// MaxSPChunk is the largest FILE chunk that fits in one payload (a
	// multiple of 4, so no XDR padding).
	MaxSPChunk = MaxSPPayload - SPFileOverhead
)

// SPPacket is one SP packet. Which fields mean something depends on Type:
// INFO uses Nice, Size and Hash; FREQ Hash and Offset; FILE Hash, Offset
// and Chunk; DONE Hash; HALT and PING nothing.
type SPPacket struct {
	Type   SPType
	Nice   uint8
	Size   uint64
	Hash   [32]byte
	Offset uint64
	Chunk  []byte
}

// Len is the packet's encoded length.
func (p *SPPacket) Len() int {
	switch p.Type {
	case SPInfo:
		return SPInfoSize
	case SPFreq:
		return SPFreqSize
	case SPFile:
		return SPFileOverhead + pad4(len(p.Chunk))
	case SPDone:
		return SPDoneSize
	default:
		return SPHeadSize
	}
}

func pad4(n int) int { return (n + 3) &^ 3 }

// Append appends p's XDR encoding to b.
func (p *SPPacket) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(p.Type))
	switch p.Type {
	case SPInfo:
		b = binary.BigEndian.AppendUint32(b, uint32(p.Nice))
		b = binary.BigEndian.AppendUint64(b, p.Size)
		b = append(b, p.Hash[:]...)
	case SPFreq:
		b = append(b, p.Hash[:]...)
		b = binary.BigEndian.AppendUint64(b, p.Offset)
	case SPFile:
		b = append(b, p.Hash[:]...)
		b = binary.BigEndian.AppendUint64(b, p.Offset)
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.Chunk)))
		b = append(b, p.Chunk...)
		for i := len(p.Chunk); i%4 != 0; i++ {
			b = append(b, 0)
		}
	case SPDone:
		b = append(b, p.Hash[:]...)
	}
	return b
}

// ParseSPPacket decodes the SP packet at the start of b and returns it
// with the number of bytes it took. A FILE's Chunk aliases b.
func ParseSPPacket(b []byte) (SPPacket, int, error) {
	var p SPPacket
	if len(b) < SPHeadSize {
		return p, 0, fmt.Errorf("sp packet: %d bytes: %w", len(b), ErrShort)
	}
	p.Type = SPType(binary.BigEndian.Uint32(b))
	need := 0
	switch p.Type {
	case SPInfo:
		need = SPInfoSize
	case SPFreq:
		need = SPFreqSize
	case SPFile:
		need = SPFileOverhead
	case SPDone:
		need = SPDoneSize
	case SPHalt, SPPing:
		return p, SPHeadSize, nil
	default:
		return p, 0, fmt.Errorf("sp packet: unknown type %d: %w", uint32(p.Type), ErrBadField)
	}
	if len(b) < need {
		return p, 0, fmt.Errorf("sp %s: %d of %d bytes: %w", p.Type, len(b), need, ErrShort)
	}
	switch p.Type {
	case SPInfo:
		nice := binary.BigEndian.Uint32(b[4:])
		if nice > 255 {
			return p, 0, fmt.Errorf("sp info: niceness %d: %w", nice, ErrBadField)
		}
		p.Nice = uint8(nice)
		p.Size = binary.BigEndian.Uint64(b[8:])
		copy(p.Hash[:], b[16:48])
	case SPFreq:
		copy(p.Hash[:], b[4:36])
		p.Offset = binary.BigEndian.Uint64(b[36:])
	case SPDone:
		copy(p.Hash[:], b[4:36])
	case SPFile:
		copy(p.Hash[:], b[4:36])
		p.Offset = binary.BigEndian.Uint64(b[36:])
		n := binary.BigEndian.Uint32(b[44:])
		if n > MaxSPPayload {
			return p, 0, fmt.Errorf("sp file: chunk of %d bytes: %w", n, ErrBadField)
		}
		end := SPFileOverhead + pad4(int(n))
		if len(b) < end {
			return p, 0, fmt.Errorf("sp file: chunk of %d bytes, %d left: %w", n, len(b)-SPFileOverhead, ErrShort)
		}
		p.Chunk = b[SPFileOverhead : SPFileOverhead+int(n)]
		need = end
	}
	return p, need, nil
}

// ParseSPPayload splits a decrypted Noise payload into its SP packets.
func ParseSPPayload(b []byte) ([]SPPacket, error) {
	var out []SPPacket
	for len(b) > 0 {
		p, n, err := ParseSPPacket(b)
		if err != nil {
			return out, err
		}
		out = append(out, p)
		b = b[n:]
	}
	return out, nil
}

// AppendSPEnvelope appends the NNCPS envelope around a Noise message.
func AppendSPEnvelope(b, msg []byte) []byte {
	b = append(b, MagicSP[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(msg)))
	b = append(b, msg...)
	for i := len(msg); i%4 != 0; i++ {
		b = append(b, 0)
	}
	return b
}

// WriteSPEnvelope writes one envelope with a single Write.
func WriteSPEnvelope(w io.Writer, msg []byte) error {
	_, err := w.Write(AppendSPEnvelope(make([]byte, 0, 12+pad4(len(msg))), msg))
	return err
}

// ReadSPEnvelope reads one envelope from r and returns the Noise message
// (into buf when it is large enough). A message longer than a Noise
// message can be is refused before it is read.
func ReadSPEnvelope(r io.Reader, buf []byte) ([]byte, error) {
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	if err := checkMagic(head[:], MagicSP, "sp envelope"); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[8:])
	if n > MaxNoiseMessage {
		return nil, fmt.Errorf("sp envelope: message of %d bytes: %w", n, ErrBadField)
	}
	total := pad4(int(n))
	if cap(buf) < total {
		buf = make([]byte, total)
	}
	buf = buf[:total]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("sp envelope: %w", err)
	}
	return buf[:n], nil
}

// ParseSPEnvelope decodes one envelope from the start of b and returns the
// message and the bytes taken.
func ParseSPEnvelope(b []byte) ([]byte, int, error) {
	if len(b) < 12 {
		return nil, 0, fmt.Errorf("sp envelope: %w", ErrShort)
	}
	if err := checkMagic(b, MagicSP, "sp envelope"); err != nil {
		return nil, 0, err
	}
	n := binary.BigEndian.Uint32(b[8:])
	if n > MaxNoiseMessage {
		return nil, 0, fmt.Errorf("sp envelope: message of %d bytes: %w", n, ErrBadField)
	}
	end := 12 + pad4(int(n))
	if len(b) < end {
		return nil, 0, fmt.Errorf("sp envelope: %w", ErrShort)
	}
	return b[12 : 12+int(n)], end, nil
}
