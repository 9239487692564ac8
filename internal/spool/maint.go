package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"ferry/internal/mth"
	"ferry/internal/node"
	"ferry/internal/safeio"
	"ferry/internal/wire"
)

// This file is the maintenance side of the spool: listing queues the way
// nncp-stat and nncp-check see them, verifying and promoting .nock files.
// What rm removes is in sweep.go.

// Kind says what a file in a queue directory is.
type Kind int

// Kinds of queue files.
const (
	KindPkt  Kind = iota // NAME: a whole packet
	KindNoCK             // NAME.nock: whole, checksum not verified yet
	KindPart             // NAME.part: partly received
)

// Entry is one file of a queue whose name (without suffix) is a packet id.
type Entry struct {
	Kind Kind
	// File is the name on disk, suffix included.
	File string
	// ID is the decoded packet name: the MTH the file must hash to.
	ID [mth.Size]byte
	// Path is the file's full path.
	Path string
	Size int64
	// Header is the packet's header for KindPkt (from hdr/ when cached)
	// and KindNoCK (read from the file); nil for .part files and for
	// files whose header cannot be read (HdrErr says why).
	Header *wire.EncHeader
	HdrErr error
}

// Pkt is the packet's name in canonical Base32: what NNCP prints, since it
// decodes names and encodes them again.
func (e *Entry) Pkt() string { return node.B32.EncodeToString(e.ID[:]) }

// ParseName decodes a packet name (52 Base32 characters, no suffix).
func ParseName(name string) (id [mth.Size]byte, ok bool) {
	if len(name) != 52 {
		return id, false
	}
	b, err := node.B32.DecodeString(name)
	if err != nil || len(b) != mth.Size {
		return id, false
	}
	copy(id[:], b)
	return id, true
}

// ReadDirUnsorted lists a directory in the order the file system returns
// it, which is the order nncp-* process files in. A missing directory is
// empty.
func ReadDirUnsorted(dir string) ([]os.DirEntry, error) {
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	return ents, nil
}

// Names lists the whole packets of a queue (not .part, .nock, hdr/ or
// seen/) by name, in directory order, which is the order nncp-* process
// them in. A missing queue is empty.
func (s *Spool) Names(id node.ID, xx XX) ([]string, error) {
	ents, err := ReadDirUnsorted(s.QueueDir(id, xx))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && ValidName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Scan lists a queue's packet files (whole, .nock and .part) in directory
// order; files whose names are not packet ids, and directories, are left
// out. With headers, whole packets get their header from hdr/, which is
// written when missing unless NoHdr (as nncp-stat does), and .nock files
// from the file itself; a header that cannot be read is reported in
// Entry.HdrErr.
func (s *Spool) Scan(id node.ID, xx XX, headers bool) ([]Entry, error) {
	dir := s.QueueDir(id, xx)
	ents, err := ReadDirUnsorted(dir)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, de := range ents {
		if de.IsDir() {
			continue
		}
		e := Entry{File: de.Name(), Path: filepath.Join(dir, de.Name())}
		base := e.File
		switch {
		case strings.HasSuffix(base, NoCKSuffix):
			e.Kind, base = KindNoCK, strings.TrimSuffix(base, NoCKSuffix)
		case strings.HasSuffix(base, PartSuffix):
			e.Kind, base = KindPart, strings.TrimSuffix(base, PartSuffix)
		}
		var ok bool
		if e.ID, ok = ParseName(base); !ok {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		e.Size = fi.Size()
		switch {
		case !headers:
		case e.Kind == KindPkt:
			h, err := s.header(id, xx, e.File)
			e.setHeader(h, err)
		case e.Kind == KindNoCK:
			h, err := readHeaderFile(e.Path)
			e.setHeader(h, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func (e *Entry) setHeader(h wire.EncHeader, err error) {
	if err != nil {
		e.HdrErr = err
		return
	}
	e.Header = &h
}

func readHeaderFile(path string) (wire.EncHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return wire.EncHeader{}, err
	}
	defer f.Close()
	var b [wire.EncHeaderSize]byte
	n, err := io.ReadFull(f, b[:])
	if err != nil && n < 8 {
		return wire.EncHeader{}, fmt.Errorf("reading header: %w", err)
	}
	return wire.ParseEncHeader(b[:n])
}

// Verify hashes the entry's file and reports whether its MTH is its name.
// wrap, if not nil, wraps the file's reader (for a progress bar).
func (s *Spool) Verify(e *Entry, wrap func(io.Reader) io.Reader) (bool, error) {
	f, err := os.Open(e.Path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var r io.Reader = f
	if wrap != nil {
		r = wrap(r)
	}
	h := mth.New()
	if _, err := io.CopyBuffer(h, r, make([]byte, mth.BlockSize)); err != nil {
		return false, fmt.Errorf("reading %s: %w", e.Path, err)
	}
	return h.Root() == e.ID, nil
}

// PromoteNoCK renames a verified NAME.nock to NAME in the same queue
// (replacing a file of that name, as NNCP does), makes the rename durable
// and writes its hdr/ file unless NoHdr.
func (s *Spool) PromoteNoCK(id node.ID, xx XX, e *Entry) error {
	if e.Kind != KindNoCK {
		return fmt.Errorf("%s: not a %s file", e.Path, NoCKSuffix)
	}
	dir := filepath.Dir(e.Path)
	name := strings.TrimSuffix(e.File, NoCKSuffix)
	if err := safeio.Rename(e.Path, filepath.Join(dir, name), s.NoSync); err != nil {
		return err
	}
	if !s.NoHdr {
		// The cache may hold a stale header of the file just replaced.
		os.Remove(filepath.Join(dir, "hdr", name))
		s.header(id, xx, name)
	}
	return nil
}
