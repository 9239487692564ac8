package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"ferry/internal/mth"
	"ferry/internal/node"
	"ferry/internal/safeio"
	"ferry/internal/sp"
	"ferry/internal/wire"
)

// Online is the spool as the sync protocol sees it (sp.Store): tx/ packets
// to offer, rx/ .part files to resume, seen/ and .nock to consult.
type Online struct{ S *Spool }

var _ sp.Store = Online{}

// TxList lists the whole packets of tx/, most urgent first, but for
// those known says were listed before (known may be nil): their headers
// are not read again, so that the rescan a session makes every second
// costs a directory read, not a file read per queued packet.
func (o Online) TxList(peer node.ID, known func(name string) bool) ([]sp.TxPkt, error) {
	dir := o.S.QueueDir(peer, TX)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []sp.TxPkt
	for _, e := range ents {
		if !e.Type().IsRegular() || !ValidName(e.Name()) || known != nil && known(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.Size() < wire.EncHeaderSize {
			continue // removed meanwhile, or not whole yet: seen next time
		}
		h, err := o.S.readHeader(peer, TX, e.Name(), false)
		if err != nil {
			continue // not a packet (yet): Jobs reports those
		}
		out = append(out, sp.TxPkt{Name: e.Name(), Nice: h.Nice, Size: fi.Size()})
	}
	slices.SortFunc(out, func(a, b sp.TxPkt) int {
		if a.Nice != b.Nice {
			return int(a.Nice) - int(b.Nice)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// OpenTx opens tx/NAME.
func (o Online) OpenTx(peer node.ID, name string) (sp.TxFile, error) {
	if !ValidName(name) {
		return nil, ErrNotPkt
	}
	return os.Open(o.S.PktPath(peer, TX, name))
}

// RemoveTx removes tx/NAME and its hdr/ file.
func (o Online) RemoveTx(peer node.ID, name string) error {
	if !ValidName(name) {
		return ErrNotPkt
	}
	return o.S.Remove(peer, TX, name)
}

// RxState looks for rx/NAME, rx/seen/NAME, NAME.nock and NAME.part.
func (o Online) RxState(peer node.ID, name string) (sp.RxState, error) {
	st := sp.RxState{Part: -1}
	if !ValidName(name) {
		return st, ErrNotPkt
	}
	p := o.S.PktPath(peer, RX, name)
	if _, err := os.Stat(p); err == nil || o.S.IsSeen(peer, name) {
		st.Have = true
		return st, nil
	}
	if _, err := os.Stat(p + NoCKSuffix); err == nil {
		st.NoCK = true
		return st, nil
	}
	if fi, err := os.Stat(p + PartSuffix); err == nil {
		st.Part = fi.Size()
	}
	return st, nil
}

// part is rx/NAME.part open for writing under an exclusive flock, kept
// open until it is committed. It hashes what is written as long as the
// writes come in order from offset 0 (a packet received in one session),
// so that the commit need not read the file back; otherwise (a resumed
// part, a chunk sent again) the commit hashes the file.
type part struct {
	f      *os.File
	peer   node.ID
	name   string
	h      *mth.Hasher
	hashed int64 // bytes fed to h, in order; -1: out of order
}

func (p *part) WriteAt(b []byte, off int64) (int, error) {
	n, err := p.f.WriteAt(b, off)
	if p.hashed >= 0 {
		if off == p.hashed && err == nil {
			p.h.Write(b)
			p.hashed += int64(n)
		} else {
			p.hashed = -1
		}
	}
	return n, err
}

func (p *part) Close() error {
	unix.Flock(int(p.f.Fd()), unix.LOCK_UN)
	return p.f.Close()
}

// sum is the part's MTH, hashing the file unless its writes were hashed
// in order up to its size.
func (p *part) sum() ([mth.Size]byte, error) {
	fi, err := p.f.Stat()
	if err != nil {
		return [mth.Size]byte{}, err
	}
	if p.hashed == fi.Size() {
		return p.h.Root(), nil
	}
	h := mth.New()
	if _, err := io.Copy(h, io.NewSectionReader(p.f, 0, fi.Size())); err != nil {
		return [mth.Size]byte{}, fmt.Errorf("hashing %s: %w", p.f.Name(), err)
	}
	return h.Root(), nil
}

// OpenPart opens rx/NAME.part, creating it, under an exclusive flock so
// that two sessions never write one part.
func (o Online) OpenPart(peer node.ID, name string) (sp.Part, error) {
	if !ValidName(name) {
		return nil, ErrNotPkt
	}
	dir := o.S.QueueDir(peer, RX)
	f, err := os.OpenFile(filepath.Join(dir, name+PartSuffix), os.O_CREATE|os.O_RDWR, 0o666)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(filepath.Join(dir, name+PartSuffix), os.O_CREATE|os.O_RDWR, 0o666)
	}
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s%s: %w", name, PartSuffix, sp.ErrBusy)
		}
		return nil, err
	}
	p := &part{f: f, peer: peer, name: name, h: mth.New()}
	if fi, err := f.Stat(); err != nil || fi.Size() != 0 {
		p.hashed = -1 // a resumed part: hashed from the file at commit
	}
	return p, nil
}

// CommitParts makes finished parts packets, together, so that one batch
// costs one directory fsync: each part's MTH is checked (unless nock; a
// part that fails is removed, its error wraps sp.ErrChecksum), the good
// parts are made durable (safeio.SyncFiles: one syncfs for a batch), renamed to rx/NAME (or
// NAME.nock), then the directory is fsynced, all before CommitParts
// returns. Every part is closed afterwards; errs[i] is parts[i]'s
// outcome.
//
// No hdr/ file is made: it is a cache of the packet's header, which the
// spool's listings (stat) write when they first read the header, and a
// packet received online is usually tossed, and gone, soon after; making
// it here was a second file creation per packet on the receiver's
// critical path.
func (o Online) CommitParts(peer node.ID, parts []sp.Part, nock bool) []error {
	errs := make([]error, len(parts))
	ps := make([]*part, len(parts))
	for i, sp0 := range parts {
		p, ok := sp0.(*part)
		if !ok || p.peer != peer {
			errs[i] = errors.New("spool: not a part of this spool's peer")
			continue
		}
		ps[i] = p
	}
	defer func() {
		for _, p := range ps {
			if p != nil {
				p.Close()
			}
		}
	}()
	// Check each, then fsync the good ones, several at once.
	var good []int
	for i, p := range ps {
		if p == nil {
			continue
		}
		if !nock {
			want, _ := ParseName(p.name)
			got, err := p.sum()
			if err == nil && got != want {
				os.Remove(p.f.Name())
				err = fmt.Errorf("%s: %w (MTH %s)", p.name, sp.ErrChecksum, node.B32.EncodeToString(got[:]))
			}
			if err != nil {
				errs[i] = err
				continue
			}
		}
		good = append(good, i)
	}
	if !o.S.NoSync && len(good) > 0 {
		files := make([]*os.File, len(good))
		for k, i := range good {
			files[k] = ps[i].f
		}
		if err := safeio.SyncFiles(files); err != nil {
			for _, i := range good {
				errs[i] = err
			}
			good = nil
		}
	}
	// Rename the synced ones, then make the renames durable together.
	dir := o.S.QueueDir(peer, RX)
	renamed := false
	for _, i := range good {
		if errs[i] != nil {
			continue
		}
		p := ps[i]
		dst := filepath.Join(dir, p.name)
		if nock {
			dst += NoCKSuffix
		}
		if err := safeio.Rename(p.f.Name(), dst, true); err != nil { // the directory is synced below
			errs[i] = err
			continue
		}
		renamed = true
	}
	if renamed {
		if err := o.S.SyncDir(dir); err != nil {
			for _, i := range good {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		}
	}
	return errs
}

// Lock takes SPOOL/NODE/rx.lock and tx.lock.
func (o Online) Lock(peer node.ID) (func(), error) {
	rx, err := o.S.Lock(peer, "rx")
	if err != nil {
		return nil, err
	}
	tx, err := o.S.Lock(peer, "tx")
	if err != nil {
		rx()
		return nil, err
	}
	return func() { tx(); rx() }, nil
}
