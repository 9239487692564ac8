package bundle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"ferry/internal/mth"
	"ferry/internal/node"
	"ferry/internal/safeio"
	"ferry/internal/spool"
	"ferry/internal/wire"
)

// ErrBadChecksum: a packet's MTH is not the name it travels under.
var ErrBadChecksum = errors.New("bad checksum")

// Kind says what happened to one packet.
type Kind int

// Kinds of events.
const (
	Sent     Kind = iota + 1 // tx: written to the bundle (and removed, with Delete)
	Received                 // rx: stored in rx/ (read through only, with DryRun)
	Removed                  // rx with Delete: our own packet came back intact and left tx/
	Checked                  // rx with Delete and DryRun: our own packet came back intact
	Skipped                  // left alone on purpose; Skip says why
	Failed                   // Err says why
)

// Skip says why a packet was left alone.
type Skip string

// Reasons to skip a packet; the texts are nncp-bundle's.
const (
	SkipBadName       Skip = "not a packet entry"
	SkipTooSmall      Skip = "too small packet"
	SkipNotPacket     Skip = "not an encrypted packet"
	SkipNotForUs      Skip = "unknown recipient"
	SkipUnknownSender Skip = "unknown sender"
	SkipNotRequested  Skip = "sender is not requested"
	SkipTooNice       Skip = "too nice"
	SkipSeen          Skip = "packet already seen"
	SkipExists        Skip = "packet already exists"
	SkipMissing       Skip = "packet is already missing"
)

// Event is one packet handled.
type Event struct {
	Kind Kind
	// XX is TX for packets of our tx/ queues (sent, or verified with
	// Delete), RX for packets received.
	XX spool.XX
	// Node is the recipient for XX = TX, the packet's sender (the author
	// named in its header, who may have been relayed) for RX.
	Node node.ID
	Pkt  string
	// Name is the entry's name in the bundle (rx).
	Name string
	// Size is the number of bytes moved; FullSize the entry's size (rx).
	Size, FullSize int64
	Skip           Skip
	Err            error
}

// Options select what a bundle carries.
type Options struct {
	// Self is our node.
	Self node.ID
	// Nodes: for Tx, the neighbours whose tx/ queues go in the bundle, in
	// this order; for Rx, the senders whose packets are taken (all known
	// ones when empty).
	Nodes []node.ID
	// Known reports whether a node is a neighbour; Rx skips packets from
	// strangers. Nil accepts everyone.
	Known func(node.ID) bool
	// MaxNice: only packets with niceness <= MaxNice move (0 means 255).
	MaxNice uint8
	// Delete: Tx removes packets once written; Rx checks our own packets
	// coming back (sender: us) and removes them from tx/ if intact.
	Delete bool
	// DryRun: Rx reads and checks but writes nothing to the spool; Tx
	// removes nothing.
	DryRun bool
	// Report receives one event per packet.
	Report func(*Event)
}

func (o *Options) report(ev *Event) {
	if o.Report != nil {
		o.Report(ev)
	}
}

func (o *Options) maxNice() uint8 {
	if o.MaxNice == 0 {
		return 255
	}
	return o.MaxNice
}

// Tx writes the packets queued for o.Nodes to w. An error writing w is
// returned at once (the stream is then unusable); a packet that cannot be
// read is reported and counted in failed.
//
// With Delete, packets leave tx/ a batch at a time (see sentBatch), once
// what was written is flushed to w and, when w is a regular file, fsynced
// (unless NoSync): on a pipe or a tape, flushed is all ferry can know.
func Tx(s *spool.Spool, w io.Writer, o Options) (failed int, err error) {
	bw := bufio.NewWriterSize(w, 128*1024)
	bwr := NewWriter(bw)
	sb := &sentBatch{s: s, w: w, bw: bw, o: &o, failed: &failed}
	for _, id := range o.Nodes {
		names, err := s.Names(id, spool.TX) // directory order, as nncp-bundle
		if err != nil {
			o.report(&Event{Kind: Failed, XX: spool.TX, Node: id, Err: err})
			failed++
			continue
		}
		if len(names) == 0 {
			continue
		}
		unlock, err := s.Lock(id, "tx")
		if err != nil {
			o.report(&Event{Kind: Failed, XX: spool.TX, Node: id, Err: err})
			failed++
			continue
		}
		for _, name := range names {
			ev := &Event{XX: spool.TX, Node: id, Pkt: name}
			if err := txOne(s, bwr, ev, &o); err != nil {
				unlock()
				return failed, err
			}
			switch ev.Kind {
			case 0:
				continue
			case Sent:
				if err := sb.add(ev); err != nil {
					unlock()
					return failed, err
				}
				continue
			case Failed:
				failed++
			}
			o.report(ev)
		}
		// The lock is let go only once what it covered is settled.
		err = sb.flush()
		unlock()
		if err != nil {
			return failed, err
		}
	}
	return failed, sb.flush()
}

// sentBatch holds the packets written to the stream but not yet known
// to be on it: flush makes them so (bufio flush, fsync of a regular
// file), then removes them from tx/ (with Delete) and reports them.
type sentBatch struct {
	s      *spool.Spool
	w      io.Writer
	bw     *bufio.Writer
	o      *Options
	failed *int
	evs    []*Event
	size   int64
}

func (b *sentBatch) add(ev *Event) error {
	b.evs = append(b.evs, ev)
	b.size += ev.Size
	if len(b.evs) >= 512 || b.size >= 64<<20 {
		return b.flush()
	}
	return nil
}

func (b *sentBatch) flush() error {
	if err := b.bw.Flush(); err != nil {
		return err
	}
	if len(b.evs) == 0 {
		return nil
	}
	if b.o.Delete && !b.o.DryRun && !b.s.NoSync {
		if f, ok := b.w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				if err := safeio.Sync(f); err != nil {
					return err
				}
			}
		}
	}
	for _, ev := range b.evs {
		if b.o.Delete && !b.o.DryRun {
			if err := b.s.Remove(ev.Node, spool.TX, ev.Pkt); err != nil {
				ev.Kind, ev.Err = Failed, fmt.Errorf("sent but not removed: %w", err)
				*b.failed++
			}
		}
		b.o.report(ev)
	}
	b.evs, b.size = b.evs[:0], 0
	return nil
}

// txOne writes one packet to the stream; it returns an error only when
// the stream broke.
func txOne(s *spool.Spool, bwr *Writer, ev *Event, o *Options) error {
	path := s.PktPath(ev.Node, spool.TX, ev.Pkt)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // gone meanwhile (acknowledged, sent by a call)
	}
	if err != nil {
		ev.Kind, ev.Err = Failed, err
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		ev.Kind, ev.Err = Failed, err
		return nil
	}
	var hb [wire.EncHeaderSize]byte
	n, _ := io.ReadFull(f, hb[:])
	h, err := wire.ParseEncHeader(hb[:n])
	if err != nil {
		ev.Kind, ev.Err = Failed, fmt.Errorf("%s: %w", path, err)
		return nil
	}
	if h.Nice > o.maxNice() {
		ev.Kind, ev.Skip = Skipped, SkipTooNice
		return nil
	}
	size := fi.Size()
	if err := bwr.WritePacket(ev.Node, o.Self, ev.Pkt, size, io.MultiReader(bytes.NewReader(hb[:n]), f)); err != nil {
		return err
	}
	ev.Kind, ev.Size = Sent, size
	return nil
}

// Rx reads a bundle from r and stores the packets addressed to us in
// rx/ queues, each checked against its MTH name on the way (a packet
// that does not match is reported and not stored). With o.Delete, our own
// packets coming back are checked the same way and removed from tx/.
// It returns how many packets failed; err is set when the stream itself
// broke (ErrTruncated, a read error) or the spool cannot be written.
func Rx(s *spool.Spool, r io.Reader, o Options) (failed int, err error) {
	if !o.DryRun {
		s.CleanTmp() // what a killed Rx left
	}
	// Packets are made durable in rx/ a batch at a time (safeio.Batch)
	// and reported received once they are.
	b := s.NewBatch()
	defer b.Abort()
	commit := func() error {
		if err := b.Commit(); err != nil && !errors.Is(err, spool.ErrChecksum) {
			return err
		}
		return nil
	}
	br := NewReader(r)
	for {
		e, err := br.Next()
		if err == io.EOF {
			return failed, commit()
		}
		if err != nil {
			commit() // what was whole before the break
			return failed, err
		}
		ev := &Event{XX: spool.RX, Name: e.Name, Pkt: e.Pkt, FullSize: e.Size}
		staged := false
		done := func(placed bool, err error) {
			switch {
			case err != nil:
				ev.Kind, ev.Err = Failed, err
				failed++
			case !placed:
				ev.Kind, ev.Skip = Skipped, SkipExists
			default:
				ev.Kind = Received
			}
			o.report(ev)
		}
		if err := rxOne(s, b, br, e, ev, &o, done, &staged); err != nil {
			commit()
			return failed, err
		}
		if staged {
			if b.Full() {
				if err := commit(); err != nil {
					return failed, err
				}
			}
			continue
		}
		if ev.Kind == Failed {
			failed++
		}
		b.InOrder(func() { o.report(ev) }) // in stream order
	}
}

func rxOne(s *spool.Spool, b *safeio.Batch, br *Reader, e *Entry, ev *Event, o *Options, done func(bool, error), staged *bool) error {
	skip := func(why Skip) error {
		ev.Kind, ev.Skip = Skipped, why
		return nil
	}
	if e.Err != nil {
		return skip(SkipBadName)
	}
	if e.Size < wire.EncHeaderSize {
		return skip(SkipTooSmall)
	}
	var hb [wire.EncHeaderSize]byte
	if _, err := io.ReadFull(br, hb[:]); err != nil {
		return err
	}
	h, err := wire.ParseEncHeader(hb[:])
	if err != nil {
		return skip(SkipNotPacket)
	}
	body := io.MultiReader(bytes.NewReader(hb[:]), br)
	ev.Node = h.Sender
	switch {
	case h.Recipient == o.Self:
	case o.Delete && (h.Sender == o.Self || e.Sender == o.Self):
		return ownOne(s, body, e, ev, o)
	default:
		return skip(SkipNotForUs)
	}
	if o.Known != nil && !o.Known(h.Sender) {
		return skip(SkipUnknownSender)
	}
	if len(o.Nodes) > 0 && !slices.Contains(o.Nodes, h.Sender) {
		return skip(SkipNotRequested)
	}
	if h.Nice > o.maxNice() {
		return skip(SkipTooNice)
	}
	if s.IsSeen(h.Sender, e.Pkt) {
		return skip(SkipSeen)
	}
	if _, err := os.Stat(s.PktPath(h.Sender, spool.RX, e.Pkt)); err == nil {
		return skip(SkipExists)
	}
	if o.DryRun {
		ok, n, err := check(body, e.Pkt)
		if err != nil {
			return err
		}
		ev.Size = n
		if ok {
			ev.Kind = Received
		} else {
			ev.Kind, ev.Err = Failed, ErrBadChecksum
		}
		return nil
	}
	tmp, err := s.NewTmp()
	if err != nil {
		return err
	}
	defer tmp.Abort()
	n, err := io.Copy(tmp, body)
	if err != nil {
		return err
	}
	ev.Size = n
	if _, err := tmp.Stage(b, h.Sender, spool.RX, e.Pkt, done); err != nil {
		if errors.Is(err, spool.ErrChecksum) {
			ev.Kind, ev.Err = Failed, ErrBadChecksum
			return nil
		}
		return err
	}
	*staged = true
	return nil
}

// ownOne checks one of our own packets coming back: if it is intact and
// still in tx/, it is removed from there.
func ownOne(s *spool.Spool, body io.Reader, e *Entry, ev *Event, o *Options) error {
	ev.XX, ev.Node = spool.TX, e.Recipient
	if len(o.Nodes) > 0 && !slices.Contains(o.Nodes, e.Recipient) {
		ev.Kind, ev.Skip = Skipped, SkipNotRequested
		return nil
	}
	if _, err := os.Stat(s.PktPath(e.Recipient, spool.TX, e.Pkt)); err != nil {
		ev.Kind, ev.Skip = Skipped, SkipMissing
		return nil
	}
	ok, n, err := check(body, e.Pkt)
	if err != nil {
		return err
	}
	ev.Size = n
	switch {
	case !ok:
		ev.Kind, ev.Err = Failed, ErrBadChecksum
	case o.DryRun:
		ev.Kind = Checked
	default:
		if err := s.Remove(e.Recipient, spool.TX, e.Pkt); err != nil && !errors.Is(err, os.ErrNotExist) {
			ev.Kind, ev.Err = Failed, err
			return nil
		}
		ev.Kind = Removed
	}
	return nil
}

// check reads r to its end and reports whether its MTH is name.
func check(r io.Reader, name string) (ok bool, n int64, err error) {
	h := mth.New()
	n, err = io.Copy(h, r)
	if err != nil {
		return false, n, err
	}
	root := h.Root()
	return node.B32.EncodeToString(root[:]) == name, n, nil
}
