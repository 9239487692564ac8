// Package bundle owns bundles: pax streams of encrypted packets, as
// nncp-bundle writes them to tapes, discs and pipes and reads them back.
// It moves opaque packets named by their MTH and never decrypts them.
//
// The layout, as NNCP 8.8.2 makes it: every packet is preceded by a
// directory entry "NNCP" (mode 0700) and stored as
// NNCP/RECIPIENT/SENDER/PKT (mode 0400), uid and gid 0, mtime 0, in plain
// ustar headers (the long name split into prefix and name), padded to 512
// bytes. There is no end-of-archive marker, so bundles can be appended to
// one another. A reader resynchronises on the next valid header after
// garbage (a damaged tape, a bundle cut and restarted).
package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"ferry/internal/node"
	"ferry/internal/spool"
)

// Errors of bundle streams.
var (
	// ErrTruncated: the stream ended inside a packet.
	ErrTruncated = errors.New("bundle is truncated: the stream ended inside a packet")
	// ErrBadName: an entry whose name is not NNCP/RECIPIENT/SENDER/PKT.
	ErrBadName = errors.New("entry is not named NNCP/RECIPIENT/SENDER/PKT")
)

// Dir is the top directory of every packet's path.
const Dir = "NNCP"

const blockSize = 512

// Writer writes packets as bundle entries.
type Writer struct {
	tw *tar.Writer
}

// NewWriter returns a Writer on w. Each WritePacket ends on a 512-byte
// boundary with nothing buffered: what was written is whole entries.
func NewWriter(w io.Writer) *Writer { return &Writer{tw: tar.NewWriter(w)} }

var epoch = time.Unix(0, 0)

func dirHeader() *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: Dir, Mode: 0o700, ModTime: epoch, Format: tar.FormatUSTAR}
}

// Name is the path of a packet in a bundle.
func Name(recipient, sender node.ID, pkt string) string {
	return Dir + "/" + recipient.String() + "/" + sender.String() + "/" + pkt
}

// WritePacket writes the directory entry, then the packet named pkt from
// sender to recipient: size bytes read from r. Fewer bytes than size is an
// error (the stream is then unusable).
func (w *Writer) WritePacket(recipient, sender node.ID, pkt string, size int64, r io.Reader) error {
	if err := w.tw.WriteHeader(dirHeader()); err != nil {
		return err
	}
	h := &tar.Header{Typeflag: tar.TypeReg, Name: Name(recipient, sender, pkt), Mode: 0o400,
		Size: size, ModTime: epoch, Format: tar.FormatUSTAR}
	if err := w.tw.WriteHeader(h); err != nil {
		return err
	}
	n, err := io.CopyN(w.tw, r, size)
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("%s: %d of %d bytes: file shrank while being written", pkt, n, size)
		}
		return err
	}
	return w.tw.Flush()
}

// Entry is a packet found in a bundle.
type Entry struct {
	// Name is the entry's name as stored.
	Name string
	// Recipient, Sender and Pkt are parsed from Name when Err is nil.
	Recipient, Sender node.ID
	Pkt               string
	// Size is the entry's size.
	Size int64
	// Err is set for a regular-file entry whose name is not a packet's;
	// its content is skipped by the next call to Next.
	Err error
}

// Reader reads packets from a bundle stream. It never holds more than a
// buffer of the stream in memory.
type Reader struct {
	br   *bufio.Reader
	tr   *tar.Reader
	left int64 // bytes of the current entry not read yet
}

const bufSize = 64 * 1024

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{br: bufio.NewReaderSize(r, bufSize)} }

// Next skips what is left of the current entry and finds the next packet:
// directories, pax and other non-file entries and garbage between
// headers are passed over. It returns io.EOF at the end of the stream and
// ErrTruncated if it ends inside an entry.
func (r *Reader) Next() (*Entry, error) {
	if err := r.skipRest(); err != nil {
		return nil, err
	}
	afterDir := false
	for {
		blk, err := r.sync()
		if err == io.EOF && afterDir {
			// nncp-bundle writes the NNCP directory just before each
			// packet: the packet was cut off.
			return nil, ErrTruncated
		}
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(io.MultiReader(bytes.NewReader(blk), r.br))
		h, err := tr.Next()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, ErrTruncated
		}
		if err != nil {
			continue // not a header after all: look further
		}
		if h.Typeflag != tar.TypeReg {
			// Directories (the "NNCP" before each packet), links and the
			// like: pass over whatever content they have.
			if _, err := io.Copy(io.Discard, tr); err == io.ErrUnexpectedEOF {
				return nil, ErrTruncated
			}
			afterDir = h.Typeflag == tar.TypeDir && strings.TrimSuffix(h.Name, "/") == Dir
			continue
		}
		r.tr, r.left = tr, h.Size
		e := &Entry{Name: h.Name, Size: h.Size}
		e.Recipient, e.Sender, e.Pkt, e.Err = ParseName(h.Name)
		return e, nil
	}
}

// Read reads the current entry's content; io.EOF at its end,
// ErrTruncated if the stream ends first.
func (r *Reader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.tr.Read(p)
	r.left -= int64(n)
	if err == io.ErrUnexpectedEOF || (err == io.EOF && r.left > 0) {
		return n, ErrTruncated
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

func (r *Reader) skipRest() error {
	if r.left > 0 {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	}
	r.left, r.tr = 0, nil
	return nil
}

// sync finds the next block that looks like a tar header (the "ustar"
// magic at offset 257 and a correct checksum), at any byte offset, and
// consumes it. It returns ErrTruncated when the stream ends inside what
// looks like a header.
func (r *Reader) sync() ([]byte, error) {
	magic := []byte("ustar")
	for {
		b, err := r.br.Peek(bufSize)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return nil, err
		}
		if len(b) < blockSize {
			if i := bytes.Index(b, magic); i >= 257 {
				return nil, ErrTruncated // a header cut off
			}
			return nil, io.EOF
		}
		from := 0
		for {
			i := bytes.Index(b[from:], magic)
			if i < 0 {
				break
			}
			i += from
			from = i + 1
			start := i - 257
			if start < 0 {
				continue
			}
			if start+blockSize > len(b) {
				if err == io.EOF {
					// A header cut off by the end of the stream.
					return nil, ErrTruncated
				}
				break
			}
			if validHeader(b[start : start+blockSize]) {
				blk := make([]byte, blockSize)
				copy(blk, b[start:])
				r.br.Discard(start + blockSize)
				return blk, nil
			}
		}
		// Keep the tail: a header may start in it.
		drop := len(b) - (blockSize - 1)
		if err == io.EOF {
			return nil, io.EOF
		}
		r.br.Discard(drop)
	}
}

// validHeader checks a tar header block's checksum (unsigned, the
// checksum field counted as spaces).
func validHeader(b []byte) bool {
	f := strings.Trim(string(b[148:156]), " \x00")
	want, err := strconv.ParseUint(f, 8, 32)
	if err != nil {
		return false
	}
	var sum uint64
	for i, c := range b {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += uint64(c)
	}
	return sum == want
}

// ParseName splits NNCP/RECIPIENT/SENDER/PKT.
func ParseName(name string) (recipient, sender node.ID, pkt string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != Dir || !spool.ValidName(parts[3]) {
		return recipient, sender, "", fmt.Errorf("%q: %w", name, ErrBadName)
	}
	if recipient, err = node.ParseID(parts[1]); err != nil {
		return recipient, sender, "", fmt.Errorf("%q: %w", name, ErrBadName)
	}
	if sender, err = node.ParseID(parts[2]); err != nil {
		return recipient, sender, "", fmt.Errorf("%q: %w", name, ErrBadName)
	}
	return recipient, sender, parts[3], nil
}
