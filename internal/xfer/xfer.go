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
	"syscall"

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

// Rx moves packets addressed to us from dir into our spool's rx/ queues:
// each is copied to SPOOL/tmp (or hard-linked there, see moveTmp) with
// its MTH checked on the way, the copies
// are made durable and placed a batch at a time (safeio.Batch), and a
// packet leaves dir (unless Keep) once its copy is durable in rx/. It
// returns how many packets failed.
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
		// The copies are made durable a batch at a time (safeio.Batch),
		// and a packet leaves the stick, and is reported, only once its
		// copy is durable in rx/.
		b := s.NewBatch()
		for _, f := range files {
			if !f.Type().IsRegular() || !spool.ValidName(f.Name()) {
				continue
			}
			ev := &Event{XX: spool.RX, Node: from, Dir: ours, Pkt: f.Name(), Path: filepath.Join(sdir, f.Name())}
			stage(b, ev, report, func(staged *bool) (string, error) {
				return rxOne(s, b, ev, o, func(placed bool, err error) {
					if err == nil && !placed {
						ev.Skip = "already in rx"
					}
					if err == nil && !o.Keep {
						err = os.Remove(ev.Path)
					}
					ev.Err = err
					report(ev)
				}, staged)
			})
		}
		b.Commit()
		unlock()
	}
	return failed, nil
}

// stage runs one packet's step, which stages the packet in b (its done
// callback then reports ev when b is committed) or not (a skip or an
// error, reported here in its turn), and commits b once it is full.
func stage(b *safeio.Batch, ev *Event, report func(*Event), step func(staged *bool) (string, error)) {
	staged := false
	ev.Skip, ev.Err = step(&staged)
	if !staged {
		b.InOrder(func() { report(ev) })
	}
	if b.Full() {
		b.Commit()
	}
}

// rxOne copies one packet into a temporary file and stages it in b; done
// is called when b is committed, and *staged says whether it will be.
func rxOne(s *spool.Spool, b *safeio.Batch, ev *Event, o Options, done func(placed bool, err error), staged *bool) (skip string, err error) {
	// What another run placed may not be durable yet (it may have been
	// killed before its fsync of the directory): the source goes once
	// the batch has synced that directory.
	drop := func(dir string) {
		if !o.Keep {
			b.Then(dir, func(err error) {
				if err == nil {
					os.Remove(ev.Path)
				}
			})
		}
	}
	if s.IsSeen(ev.Node, ev.Pkt) {
		drop(filepath.Join(s.QueueDir(ev.Node, spool.RX), "seen"))
		return "already seen", nil
	}
	if _, err := os.Stat(s.PktPath(ev.Node, spool.RX, ev.Pkt)); err == nil {
		drop(s.QueueDir(ev.Node, spool.RX))
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
	tmp := moveTmp(s, f, fi, ev, o)
	if tmp == nil {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
		tmp, err = s.NewTmp()
		if err != nil {
			return "", err
		}
		w, mdone := o.meter(ev, tmp)
		_, err = io.Copy(w, f)
		mdone()
		if err != nil {
			tmp.Abort()
			return "", err
		}
	}
	defer tmp.Abort()
	if _, err := tmp.Stage(b, ev.Node, spool.RX, ev.Pkt, done); err != nil {
		return "", err
	}
	*staged = true
	return "", nil
}

// moveTmp is the packet at ev.Path hard-linked into the spool's tmp/
// rather than copied, when it is leaving the stick anyway (no Keep), the
// stick is on the spool's file system, and nobody else can write it: it
// is ours and has no other name. Nil means copy it. The link must be to
// the file whose header was checked (f), not to one put in its place
// meanwhile.
func moveTmp(s *spool.Spool, f *os.File, fi os.FileInfo, ev *Event, o Options) *spool.Tmp {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if o.Keep || !ok || !fi.Mode().IsRegular() || st.Nlink != 1 || int(st.Uid) != os.Geteuid() {
		return nil
	}
	tmp, err := s.LinkTmp(ev.Path)
	if err != nil {
		return nil // another file system (EXDEV), no hard links (vfat): copy
	}
	lfi, err := tmp.File().Stat()
	if err != nil || !os.SameFile(fi, lfi) {
		tmp.Abort()
		return nil
	}
	return tmp
}

// moveOut is the packet j hard-linked beside dst rather than copied, when
// it is leaving tx/ anyway (no Keep), dir is on the spool's file system,
// and the packet is ours with no other name; it gets the mode a copy
// would (0666 less the umask). Nil means copy it.
func moveOut(s *spool.Spool, j spool.Job, dst string, o Options) *safeio.File {
	if o.Keep {
		return nil
	}
	fi, err := os.Stat(j.Path)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() || st.Nlink != 1 || int(st.Uid) != os.Geteuid() {
		return nil
	}
	out, err := safeio.LinkTemp(j.Path, filepath.Dir(dst), filepath.Base(dst), safeio.Options{NoSync: s.NoSync})
	if err != nil {
		return nil // another file system (EXDEV), no hard links (vfat): copy
	}
	if err := out.OS().Chmod(safeio.SharedPerm()); err != nil {
		out.Abort()
		return nil
	}
	spool.HoldTemp(out)
	return out
}

// Tx copies our queued packets for each neighbour into
// dir/NEIGH/SELF/PKT (written as a temporary file beside it, then made
// durable and renamed a batch at a time, see safeio.Batch), removing them
// from the spool, once their copies are durable, unless Keep. Temporary
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
			if _, err := os.Stat(odir); err == nil {
				s.CleanTemps(odir) // what a killed Tx left
			}
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
		// As for Rx: copies made durable a batch at a time, a packet
		// removed from tx/ (and reported) once its copy is durable.
		b := &safeio.Batch{NoSync: s.NoSync}
		for _, j := range jobs {
			ev := &Event{XX: spool.TX, Node: id, Dir: odir, Pkt: j.Name, Path: filepath.Join(odir, j.Name), Size: j.Size}
			if j.Header.Nice > o.MaxNice {
				continue
			}
			stage(b, ev, report, func(staged *bool) (string, error) {
				return txOne(s, b, j, ev, o, func(_ bool, err error) {
					if err == nil && !o.Keep {
						err = s.Remove(j.Node, spool.TX, j.Name)
					}
					ev.Err = err
					report(ev)
				}, staged)
			})
		}
		b.Commit()
		unlock()
	}
	return failed, nil
}

// txOne copies one packet into a temporary file beside its target and
// stages it in b; done is called when b is committed, and *staged says
// whether it will be.
func txOne(s *spool.Spool, b *safeio.Batch, j spool.Job, ev *Event, o Options, done func(bool, error), staged *bool) (string, error) {
	dst := ev.Path
	if _, err := os.Stat(dst); err == nil {
		if !o.Keep {
			// Placed by an earlier run, perhaps killed before its
			// fsync of the directory.
			b.Then(filepath.Dir(dst), func(err error) {
				if err == nil {
					s.Remove(j.Node, spool.TX, j.Name)
				}
			})
		}
		return "already there", nil
	}
	if out := moveOut(s, j, dst, o); out != nil {
		b.Add(out, dst, false, done)
		*staged = true
		return "", nil
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
	w, mdone := o.meter(ev, out)
	_, err = io.Copy(w, src)
	mdone()
	if err != nil {
		return "", err
	}
	b.Add(out, dst, false, done)
	*staged = true
	return "", nil
}
