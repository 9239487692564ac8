// Package spool owns the spool directory: per-node rx/ and tx/ queues of
// encrypted packets named by their MTH, their hdr/ and seen/ companions,
// .part and .nock files, lock files and tmp/. Every packet enters a queue
// the same way: written to tmp/, fsynced, renamed into place, directory
// fsynced. It never decrypts anything.
//
// Layout, as NNCP 8.8.2 makes it:
//
//	SPOOL/tmp/                    temporary files, same filesystem
//	SPOOL/NAME -> SPOOL/NODEID    a symlink per neighbour name
//	SPOOL/NODEID/{rx,tx}/PKT      encrypted packets
//	SPOOL/NODEID/{rx,tx}/hdr/PKT  the packet's 172-byte header (unless nohdr)
//	SPOOL/NODEID/rx/seen/PKT      empty: PKT was tossed (toss -seen)
//	SPOOL/NODEID/{rx,tx}/PKT.part partly received (online protocol)
//	SPOOL/NODEID/{rx,tx}/PKT.nock received, checksum not verified yet
//	SPOOL/NODEID/{toss,rx,tx}.lock
package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"ferry/internal/node"
	"ferry/internal/owner"
	"ferry/internal/safeio"
	"ferry/internal/tempfail"
	"ferry/internal/wire"
)

// XX names a queue direction.
type XX string

// The two queues.
const (
	RX XX = "rx"
	TX XX = "tx"
)

// Suffixes of files that are not (yet) whole packets.
const (
	PartSuffix = ".part"
	NoCKSuffix = ".nock"
)

// Errors of the spool. Failures to write the spool (permission, a full
// disk, a missing directory) are tempfail.Local: temporary.
var (
	// ErrLocked is temporary: the other process will let go.
	ErrLocked   = tempfail.New("locked by another process")
	ErrChecksum = errors.New("checksum mismatch: the file's MTH is not its name")
	ErrNotPkt   = errors.New("not a packet name")
)

// Options tune the spool's behaviour.
type Options struct {
	// NoSync skips every fsync ($NNCPNOSYNC=1): faster, unsafe on crash.
	NoSync bool
	// NoHdr disables hdr/ files (config nohdr).
	NoHdr bool
}

// Spool is an open spool directory.
type Spool struct {
	Dir string
	Options
}

// Open checks that dir exists (creating it and tmp/ if needed) and
// returns the spool. Run as root, what Open and the spool's methods
// create gets the owner of the directory it is made in (package owner):
// a spool owned by nncp stays nncp's.
func Open(dir string, o Options) (*Spool, error) {
	if dir == "" {
		return nil, errors.New("spool: no directory configured")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := owner.MkdirAll(filepath.Join(abs, "tmp"), 0o777); err != nil {
		return nil, tempfail.Local(fmt.Errorf("spool: %w", err))
	}
	return &Spool{Dir: abs, Options: o}, nil
}

// NodeDir is SPOOL/NODEID.
func (s *Spool) NodeDir(id node.ID) string { return filepath.Join(s.Dir, id.String()) }

// QueueDir is SPOOL/NODEID/XX.
func (s *Spool) QueueDir(id node.ID, xx XX) string { return filepath.Join(s.NodeDir(id), string(xx)) }

// PktPath is the path of packet name in a queue.
func (s *Spool) PktPath(id node.ID, xx XX, name string) string {
	return filepath.Join(s.QueueDir(id, xx), name)
}

// TmpDir is SPOOL/tmp.
func (s *Spool) TmpDir() string { return filepath.Join(s.Dir, "tmp") }

// ValidName reports whether name is a packet name: unpadded Base32 of 32
// bytes.
func ValidName(name string) bool {
	if len(name) != 52 {
		return false
	}
	b, err := node.B32.DecodeString(name)
	return err == nil && len(b) == 32
}

// Sync fsyncs f unless NoSync is set (through safeio, whose fault hook
// tests use).
func (s *Spool) Sync(f *os.File) error {
	if s.NoSync {
		return nil
	}
	return safeio.Sync(f)
}

// SyncDir fsyncs a directory so that a rename in it is durable, unless
// NoSync is set.
func (s *Spool) SyncDir(dir string) error {
	if s.NoSync {
		return nil
	}
	return safeio.SyncDir(dir)
}

// LinkName creates the SPOOL/NAME -> SPOOL/NODEID symlink that NNCP makes
// the first time a packet is queued for a neighbour. Errors are ignored:
// the link is a convenience for humans.
func (s *Spool) LinkName(name string, id node.ID) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "tmp" || name == "." || name == ".." {
		return
	}
	p := filepath.Join(s.Dir, name)
	if _, err := os.Lstat(p); err == nil {
		return
	}
	owner.Symlink(s.NodeDir(id), p)
}

// Lock takes SPOOL/NODEID/WHAT.lock (what: "toss", "rx", "tx") without
// waiting. The returned function releases it.
func (s *Spool) Lock(id node.ID, what string) (func(), error) {
	dir := s.NodeDir(id)
	if err := owner.MkdirAll(dir, 0o777); err != nil {
		return nil, tempfail.Local(err)
	}
	p := filepath.Join(dir, what+".lock")
	f, err := owner.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		return nil, tempfail.Local(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", p, ErrLocked)
		}
		return nil, tempfail.Local(fmt.Errorf("%s: %w", p, err))
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// Job is a whole packet waiting in a queue.
type Job struct {
	Node   node.ID
	XX     XX
	Name   string
	Path   string
	Size   int64
	Header wire.EncHeader
}

// Jobs lists the whole packets in a queue (not .part, .nock, hdr/ or
// seen/), with their headers, sorted by niceness then name. A file whose
// header cannot be read is skipped and reported in bad.
func (s *Spool) Jobs(id node.ID, xx XX) (jobs []Job, bad []error, err error) {
	dir := s.QueueDir(id, xx)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !ValidName(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		j := Job{Node: id, XX: xx, Name: e.Name(), Path: filepath.Join(dir, e.Name()), Size: fi.Size()}
		// Listing for work (toss, xfer) only reads: building hdr/ for
		// packets about to leave would be wasted file creations.
		h, err := s.readHeader(id, xx, e.Name(), false)
		if err != nil {
			bad = append(bad, fmt.Errorf("%s: %w", j.Path, err))
			continue
		}
		j.Header = h
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(a, b Job) int {
		if a.Header.Nice != b.Header.Nice {
			return int(a.Header.Nice) - int(b.Header.Nice)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return jobs, bad, nil
}

// header reads a packet's header from hdr/ if there, else from the packet
// (writing hdr/ unless NoHdr).
func (s *Spool) header(id node.ID, xx XX, name string) (wire.EncHeader, error) {
	return s.readHeader(id, xx, name, !s.NoHdr)
}

// readHeader reads a packet's header from hdr/ if there, else from the
// packet, writing hdr/ when cache is set.
func (s *Spool) readHeader(id node.ID, xx XX, name string, cache bool) (wire.EncHeader, error) {
	hp := filepath.Join(s.QueueDir(id, xx), "hdr", name)
	if !s.NoHdr {
		if b, err := os.ReadFile(hp); err == nil {
			if h, err := wire.ParseEncHeader(b); err == nil {
				return h, nil
			}
		}
	}
	h, err := readHeaderFile(s.PktPath(id, xx, name))
	if err != nil {
		return h, err
	}
	if cache {
		b := h.Marshal()
		s.writeHdr(id, xx, name, b[:])
	}
	return h, nil
}

// writeHdr stores hdr/NAME; failures are not fatal (it is a cache). It is
// not fsynced: a lost or empty hdr/ file is read from the packet again.
func (s *Spool) writeHdr(id node.ID, xx XX, name string, b []byte) {
	dir := filepath.Join(s.QueueDir(id, xx), "hdr")
	if owner.MkdirAll(dir, 0o777) != nil {
		return
	}
	p := filepath.Join(dir, name)
	if safeio.WriteFile(p, b, safeio.Options{NoSync: true}) == nil {
		owner.Inherit(p)
	}
}

// Remove deletes a packet and its hdr/ file. The directory is not
// fsynced: a removal that a crash undoes only brings back a packet that
// is processed (or carried) again, which an fsync here could not prevent
// anyway (the crash may come just before it), and it would cost one
// fsync per tossed packet.
func (s *Spool) Remove(id node.ID, xx XX, name string) error {
	os.Remove(filepath.Join(s.QueueDir(id, xx), "hdr", name))
	return os.Remove(s.PktPath(id, xx, name))
}

func (s *Spool) seenPath(id node.ID, name string) string {
	return filepath.Join(s.QueueDir(id, RX), "seen", name)
}

// IsSeen reports whether packet name from node id was tossed before with
// -seen.
func (s *Spool) IsSeen(id node.ID, name string) bool {
	_, err := os.Stat(s.seenPath(id, name))
	return err == nil
}

// MarkSeen creates rx/seen/NAME.
func (s *Spool) MarkSeen(id node.ID, name string) error {
	p := s.seenPath(id, name)
	if err := owner.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		return tempfail.Local(err)
	}
	f, err := owner.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		return tempfail.Local(err)
	}
	s.Sync(f)
	if err := f.Close(); err != nil {
		return tempfail.Local(err)
	}
	return tempfail.Local(s.SyncDir(filepath.Dir(p)))
}
