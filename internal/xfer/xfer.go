// Package xfer owns carrying packets through a directory (a USB stick, a
// shared folder): DIR/RECIPIENT/SENDER/PKT, as nncp-xfer lays it out. It
// moves opaque encrypted packets and checks their MTH names; it never
// decrypts.
package xfer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"ferry/internal/node"
	"ferry/internal/progress"
	"ferry/internal/safeio"
	"ferry/internal/spool"
	"ferry/internal/wire"
)

// Options select what is carried.
type Options struct {
	Self  node.ID
	Nodes []node.ID // neighbours to carry for (tx: create their dirs; rx: accept from)
	// MaxNice: only packets with niceness <= MaxNice move (default 255).
	MaxNice uint8
	Keep    bool // do not remove what was carried
	Mkdir   bool // create DIR/NEIGH/SELF for every neighbour (tx)
	// Report gets one event per packet or directory considered.
	Report func(*Event)
	// Known reports whether packets signed by a node can be tossed here
	// (it is a neighbour). Rx leaves packets from anyone else where they
	// are. Nil accepts every signer.
	Known func(node.ID) bool
	// Verify, when set, checks a packet's header signature (xfer itself
	// never touches the crypto); Rx leaves packets that fail it.
	Verify func(h *wire.EncHeader) error
	// Progress, when set, is asked for a meter for each packet about to be
	// copied (nil: none); the copy reports its bytes to it.
	Progress func(ev *Event) progress.Meter
}

// meter wraps w when o asks for progress.
func (o *Options) meter(ev *Event, w io.Writer) (io.Writer, func()) {
	if o.Progress == nil {
		return w, func() {}
	}
	m := o.Progress(ev)
	if m == nil {
		return w, func() {}
	}
	return progress.Writer(w, m), m.Done
}

// Event is one thing xfer did or refused.
type Event struct {
	XX   spool.XX
	Node node.ID // the neighbour: sender for rx, recipient for tx
	Pkt  string
	Path string // the file in DIR
	Dir  string
	Size int64
	Err  error
	// Skip explains a packet deliberately left alone (already have it,
	// too nice...); Err is nil then.
	Skip string
}

// ErrUnknownSigner: a packet signed by a node that is not a neighbour; no
// toss could ever take it.
var ErrUnknownSigner = errors.New("packet signed by an unknown node")

// Rx moves packets addressed to us from dir into our spool's rx/ queues.
// It returns how many packets failed.
func Rx(s *spool.Spool, dir string, o Options) (failed int, err error) {
	if o.MaxNice == 0 {
		o.MaxNice = 255
	}
	s.CleanTmp()
	ours := filepath.Join(dir, o.Self.String())
	ents, err := os.ReadDir(ours)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	known := map[node.ID]bool{}
	for _, id := range o.Nodes {
		known[id] = true
	}
	report := func(ev *Event) {
		if ev.Err != nil {
			failed++
		}
		if o.Report != nil {
			o.Report(ev)
		}
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		from, err := node.ParseID(e.Name())
		if err != nil || !known[from] {
			continue
		}
		sdir := filepath.Join(ours, e.Name())
		files, err := os.ReadDir(sdir)
		if err != nil {
			report(&Event{XX: spool.RX, Node: from, Dir: ours, Path: sdir, Err: err})
			continue
		}
		unlock, err := s.Lock(from, "rx")
		if err != nil {
			report(&Event{XX: spool.RX, Node: from, Dir: ours, Path: sdir, Err: err})
			continue
		}
		for _, f := range files {
			if !f.Type().IsRegular() || !spool.ValidName(f.Name()) {
				continue
			}
			ev := &Event{XX: spool.RX, Node: from, Dir: ours, Pkt: f.Name(), Path: filepath.Join(sdir, f.Name())}
			ev.Skip, ev.Err = rxOne(s, ev, o)
			report(ev)
		}
		unlock()
	}
	return failed, nil
}

func rxOne(s *spool.Spool, ev *Event, o Options) (skip string, err error) {
	if s.IsSeen(ev.Node, ev.Pkt) {
		if !o.Keep {
			os.Remove(ev.Path)
		}
		return "already seen", nil
	}
	if _, err := os.Stat(s.PktPath(ev.Node, spool.RX, ev.Pkt)); err == nil {
		if !o.Keep {
			os.Remove(ev.Path)
		}
		return "already in rx", nil
	}
	f, err := os.Open(ev.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	ev.Size = fi.Size()
	var hb [wire.EncHeaderSize]byte
	if _, err := io.ReadFull(f, hb[:]); err != nil {
		return "", fmt.Errorf("not a packet: %w", wire.ErrShort)
	}
	h, err := wire.ParseEncHeader(hb[:])
	if err != nil {
		return "", err
	}
	// The sender in the header is the packet's author; a relayed packet
	// is handed over by a hub but signed by its author.
	if h.Recipient != o.Self {
		return "", fmt.Errorf("packet is addressed to %s, not to us", h.Recipient)
	}
	if h.Nice > o.MaxNice {
		return fmt.Sprintf("niceness %d above %d", h.Nice, o.MaxNice), nil
	}
	// Whoever left it in a neighbour's directory, the header names its
	// signer: the neighbour itself, or the author of a packet it relays.
	// A packet no toss could take stays where it is.
	if o.Known != nil && !o.Known(h.Sender) {
		return "", fmt.Errorf("%w %s (found in %s's directory): left in place", ErrUnknownSigner, h.Sender, ev.Node)
	}
	if o.Verify != nil {
		if err := o.Verify(&h); err != nil {
			return "", fmt.Errorf("signer %s: %w: left in place", h.Sender, err)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	tmp, err := s.NewTmp()
	if err != nil {
		return "", err
	}
	defer tmp.Abort()
	w, done := o.meter(ev, tmp)
	_, err = io.Copy(w, f)
	done()
	if err != nil {
		return "", err
	}
	if _, err := tmp.Commit(ev.Node, spool.RX, ev.Pkt); err != nil {
		return "", err
	}
	if !o.Keep {
		if err := os.Remove(ev.Path); err != nil {
			return "", err
		}
	}
	return "", nil
}

// Tx copies our queued packets for each neighbour into
// dir/NEIGH/SELF/PKT (written as a temporary file beside it, fsynced,
// then renamed), removing them from the spool unless Keep. Temporary
// files a killed Tx left there are removed once stale.
func Tx(s *spool.Spool, dir string, o Options) (failed int, err error) {
	if o.MaxNice == 0 {
		o.MaxNice = 255
	}
	if _, err := os.Stat(dir); err != nil {
		return 0, err
	}
	report := func(ev *Event) {
		if ev.Err != nil {
			failed++
		}
		if o.Report != nil {
			o.Report(ev)
		}
	}
	ids := append([]node.ID(nil), o.Nodes...)
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	for _, id := range ids {
		ndir := filepath.Join(dir, id.String())
		odir := filepath.Join(ndir, o.Self.String())
		if o.Mkdir {
			if err := os.MkdirAll(odir, 0o777); err != nil {
				report(&Event{XX: spool.TX, Node: id, Dir: ndir, Err: err})
				continue
			}
		}
		jobs, bad, err := s.Jobs(id, spool.TX)
		for _, b := range bad {
			report(&Event{XX: spool.TX, Node: id, Err: b})
		}
		if err != nil {
			report(&Event{XX: spool.TX, Node: id, Err: err})
			continue
		}
		if len(jobs) == 0 {
			continue
		}
		if _, err := os.Stat(ndir); err != nil {
			report(&Event{XX: spool.TX, Node: id, Dir: ndir, Skip: "no directory for the node (use -mkdir)"})
			continue
		}
		if err := os.MkdirAll(odir, 0o777); err != nil {
			report(&Event{XX: spool.TX, Node: id, Dir: ndir, Err: err})
			continue
		}
		unlock, err := s.Lock(id, "tx")
		if err != nil {
			report(&Event{XX: spool.TX, Node: id, Err: err})
			continue
		}
		s.CleanTemps(odir) // what a killed Tx left
		for _, j := range jobs {
			ev := &Event{XX: spool.TX, Node: id, Dir: odir, Pkt: j.Name, Path: filepath.Join(odir, j.Name), Size: j.Size}
			if j.Header.Nice > o.MaxNice {
				continue
			}
			ev.Skip, ev.Err = txOne(s, j, ev, o)
			report(ev)
		}
		unlock()
	}
	return failed, nil
}

func txOne(s *spool.Spool, j spool.Job, ev *Event, o Options) (string, error) {
	dst := ev.Path
	if _, err := os.Stat(dst); err == nil {
		if !o.Keep {
			s.Remove(j.Node, spool.TX, j.Name)
		}
		return "already there", nil
	}
	src, err := os.Open(j.Path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	out, err := safeio.Create(dst, safeio.Options{NoSync: s.NoSync, Perm: 0o666})
	if err != nil {
		return "", err
	}
	defer out.Abort()
	spool.HoldTemp(out)
	w, done := o.meter(ev, out)
	_, err = io.Copy(w, src)
	done()
	if err != nil {
		return "", err
	}
	if err := out.Commit(); err != nil {
		return "", err
	}
	if !o.Keep {
		return "", s.Remove(j.Node, spool.TX, j.Name)
	}
	return "", nil
}
