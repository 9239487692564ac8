package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

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

// TxList lists the whole packets of tx/, most urgent first.
func (o Online) TxList(peer node.ID) ([]sp.TxPkt, error) {
	jobs, _, err := o.S.Jobs(peer, TX)
	if err != nil {
		return nil, err
	}
	out := make([]sp.TxPkt, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, sp.TxPkt{Name: j.Name, Nice: j.Header.Nice, Size: j.Size})
	}
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

type part struct {
	*os.File
}

func (p part) Close() error {
	unix.Flock(int(p.Fd()), unix.LOCK_UN)
	return p.File.Close()
}

// OpenPart opens rx/NAME.part, creating it, under an exclusive flock so
// that two sessions never write one part.
func (o Online) OpenPart(peer node.ID, name string) (sp.Part, error) {
	if !ValidName(name) {
		return nil, ErrNotPkt
	}
	dir := o.S.QueueDir(peer, RX)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, name+PartSuffix), os.O_CREATE|os.O_WRONLY, 0o666)
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
	return part{f}, nil
}

// CommitPart verifies rx/NAME.part's MTH (unless nock), fsyncs it and
// renames it to rx/NAME (or NAME.nock), then fsyncs the directory.
func (o Online) CommitPart(peer node.ID, name string, nock bool) error {
	want, ok := ParseName(name)
	if !ok {
		return ErrNotPkt
	}
	dir := o.S.QueueDir(peer, RX)
	src := filepath.Join(dir, name+PartSuffix)
	f, err := os.OpenFile(src, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("%s%s: %w", name, PartSuffix, sp.ErrBusy)
	}
	hdr := make([]byte, wire.EncHeaderSize)
	n, _ := io.ReadFull(f, hdr)
	hdr = hdr[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dst := filepath.Join(dir, name)
	if nock {
		dst += NoCKSuffix
	} else {
		h := mth.New()
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("hashing %s: %w", src, err)
		}
		if got := h.Sum(nil); [mth.Size]byte(got) != want {
			os.Remove(src)
			return fmt.Errorf("%s: %w (MTH %s)", name, sp.ErrChecksum, node.B32.EncodeToString(got))
		}
	}
	if err := o.S.Sync(f); err != nil {
		return fmt.Errorf("fsync %s: %w", src, err)
	}
	if err := safeio.Rename(src, dst, true); err != nil { // the directory is synced next
		return err
	}
	if err := o.S.SyncDir(dir); err != nil {
		return err
	}
	if !nock && !o.S.NoHdr && len(hdr) == wire.EncHeaderSize {
		if _, err := wire.ParseEncHeader(hdr); err == nil {
			o.S.writeHdr(peer, RX, name, hdr)
		}
	}
	return nil
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
