// Package toss owns processing inbound packets: each packet in rx/ is
// checked (addressed to us, signed by the neighbour whose queue it is in),
// decrypted and staged whole before anything is acted on, then dispatched:
// files to the sender's incoming directory, exec bodies to the handle from
// the sender's exec table, file requests answered, transit packets relayed
// unopened, ACKs applied. A packet that fails stays in rx/ to be retried,
// and the failure is reported.
package toss

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/pktcrypt"
	"ferry/internal/progress"
	"ferry/internal/spool"
	"ferry/internal/tx"
	"ferry/internal/wire"
)

// Errors that explain why a packet was refused. They wrap into Event.Err.
var (
	ErrUnknownSender = errors.New("packet from an unknown node")
	ErrSeen          = errors.New("packet was already tossed (seen/)")
	ErrNoIncoming    = errors.New("no incoming directory configured for the sender: file uploads are forbidden")
	ErrNoFreq        = errors.New("no freq.path configured for the sender: file requests are forbidden")
	ErrNoHandle      = errors.New("no such exec handle for the sender")
	ErrBadPath       = errors.New("path escapes its directory")
	ErrNotRegular    = errors.New("not a regular file")
	ErrArea          = errors.New("multicast area packets are not supported yet")
	ErrHandleFailed  = errors.New("exec handle failed")
	ErrExecTooBig    = errors.New("bigger than the sender's exec-maxsize")
)

// Options select what a toss does.
type Options struct {
	// Node limits tossing to one neighbour's rx/ queue.
	Node *node.ID
	// DryRun decrypts and reports but changes nothing.
	DryRun bool
	// Seen leaves rx/seen/PKT behind each tossed packet.
	Seen bool
	// Skip leaves packets of these types in rx/ untouched (-nofile and
	// the like; Exec stands for exec-fat too).
	Skip Types
	// Env is the environment exec handles start from (os.Environ() when
	// nil); NNCP_SELF, NNCP_SENDER and NNCP_NICE are added.
	Env []string
	// Report receives one event per packet considered, from one
	// goroutine at a time (packets are tossed concurrently, see Parallel).
	Report func(*Event)
	// Parallel is the most packets tossed at once, over all neighbours
	// (0: DefaultParallel; 1: one at a time, as nncp-toss does).
	// Neighbours' queues are tossed concurrently, each in its order; a
	// neighbour's own packets one at a time, unless its exec-parallel
	// lets up to that many of its exec handles run at once.
	Parallel int
	// MemLimit is the largest exec body kept in memory while it is
	// checked; bigger ones are staged in the spool's tmp/. Default 16 MiB.
	MemLimit int64
	// Progress, when set, is asked for a meter for each file about to be
	// written to incoming: ev is its packet's event so far (Job, Type,
	// Path: the name as sent); nil: none.
	Progress func(ev *Event) progress.Meter
	// InProcess, when set, is offered every exec handle before it is
	// started: if it recognises the command as one it can run itself (ferry's
	// own rsmtp), it runs it on stdin and returns handled=true; err plays the
	// part of a non-zero exit. Otherwise the command is started as usual.
	// It may be called from several goroutines at once (packets of
	// different neighbours, or of one whose exec-parallel is above 1).
	InProcess func(h *Handle) (handled bool, err error)
}

// Handle is an exec handle about to run.
type Handle struct {
	Argv   []string // the handle's command with the packet's arguments
	Sender *config.Neighbour
	Nice   uint8
	Stdin  io.Reader
	Output io.Writer // what the command prints (kept for the log)
}

// Outcome says what happened to a packet.
type Outcome int

// Outcomes.
const (
	Done      Outcome = iota // processed and removed (or would be, with DryRun)
	Failed                   // left in rx/; Err says why
	Skipped                  // left in rx/ on purpose (-noexec and the like)
	Duplicate                // a copy of a packet tossed before (seen/): removed, not processed
)

// Event describes one packet's toss.
type Event struct {
	Job     spool.Job
	Sender  *config.Neighbour // nil when unknown
	Outcome Outcome
	Err     error
	Type    wire.Type
	Nice    uint8 // the plain header's niceness
	Path    []byte
	// Size is the payload's size (for exec, the decompressed body's).
	Size int64
	// Dst: the file's name as sent, the handle and arguments, the
	// freq's source, the relay's next hop (Base32), the ACKed packet.
	Dst string
	// Saved is where a file was written (a counter may have been added).
	Saved string
	// Src is a freq's requested path; Dst its save-as name.
	Src string
	// Output is what an exec handle printed (stdout and stderr, cut at
	// 64 KiB): logged when it failed, mailed with exec notifications.
	Output []byte
	// Handle is an exec packet's handle name.
	Handle string
	// Relayed, Reply: packets queued by this toss (trns, freq answers).
	Relayed *tx.Result
	Reply   []*tx.Result
	// ReplyTo is the node a freq answer went to.
	Took time.Duration
}

// Tosser processes rx/ queues.
type Tosser struct {
	Cfg    *config.Config
	Spool  *spool.Spool
	Sender *tx.Sender
	Opts   Options

	zdecs   chan *zstd.Decoder // decoders kept for reuse
	mu      sync.Mutex         // guards cleaned
	cleaned map[string]bool    // directories swept of stale temporary files
	repMu   sync.Mutex         // one Report (and Progress) call at a time
	txMu    sync.Mutex         // one Sender call at a time (freq answers, relays)
}

// DefaultParallel is Options.Parallel's default: how many packets are
// tossed at once. Exec handles are processes, and most of a small
// packet's toss is their start: a few at once keep two cores busy.
const DefaultParallel = 4

func (t *Tosser) parallel() int {
	if t.Opts.Parallel > 0 {
		return t.Opts.Parallel
	}
	return DefaultParallel
}

// Run tosses every inbound packet of every neighbour (or of Opts.Node)
// once. It returns how many packets failed.
func (t *Tosser) Run() (failed int, err error) {
	if t.Cfg.Self == nil {
		return 0, tx.ErrNoSelf
	}
	t.mu.Lock()
	t.cleaned = nil // each run (toss -cycle) sweeps again
	t.mu.Unlock()
	ids := make([]node.ID, 0, len(t.Cfg.ByID))
	if t.Opts.Node != nil {
		ids = append(ids, *t.Opts.Node)
	} else {
		for id := range t.Cfg.ByID {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b node.ID) int { return bytes.Compare(a[:], b[:]) })
	}
	slots := make(chan struct{}, t.parallel())
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		next = make(chan node.ID)
	)
	for range min(t.parallel(), len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				f, err := t.runNode(id, slots)
				mu.Lock()
				failed += f
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return failed, errors.Join(errs...)
}

// RunNode tosses one neighbour's rx/ queue.
func (t *Tosser) RunNode(id node.ID) (failed int, err error) {
	return t.runNode(id, make(chan struct{}, t.parallel()))
}

// runNode tosses one neighbour's queue, each packet holding one of slots
// while it is tossed. Packets are opened, checked and staged one after
// the other, in the queue's order; with the neighbour's exec-parallel
// above 1, up to that many of its exec handles run at once, each packet
// leaving rx/ when its handle has exited.
func (t *Tosser) runNode(id node.ID, slots chan struct{}) (failed int, err error) {
	// A damaged key fails the whole run, before any packet is touched.
	if t.Cfg.Self == nil {
		return 0, tx.ErrNoSelf
	}
	if err := t.Cfg.Self.CheckExchKey(); err != nil {
		return 0, fmt.Errorf("config %s: %w", t.Cfg.Path, err)
	}
	jobs, bad, err := t.Spool.Jobs(id, spool.RX)
	if err != nil {
		return 0, err
	}
	for _, e := range bad {
		t.report(&Event{Job: spool.Job{Node: id, XX: spool.RX}, Outcome: Failed, Err: e})
		failed++
	}
	if len(jobs) == 0 {
		return failed, nil
	}
	unlock, err := t.Spool.Lock(id, "toss")
	if err != nil {
		return failed, err
	}
	defer unlock()
	if !t.Opts.DryRun {
		t.cleanStale(t.Spool.TmpDir())
	}
	lanes := 1
	if n, ok := t.Cfg.ByID[id]; ok && n.ExecParallel > 1 {
		lanes = n.ExecParallel
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		mine = make(chan struct{}, lanes)
	)
	count := func(ev *Event) {
		if ev.Outcome == Failed {
			mu.Lock()
			failed++
			mu.Unlock()
		}
	}
	for _, j := range jobs {
		mine <- struct{}{}
		slots <- struct{}{}
		tk := t.begin(j)
		if tk.run == nil || lanes == 1 {
			count(tk.end())
			<-slots
			<-mine
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			count(tk.end())
			<-slots
			<-mine
		}()
	}
	wg.Wait()
	return failed, nil
}

func (t *Tosser) report(ev *Event) {
	if t.Opts.Report != nil {
		t.repMu.Lock()
		defer t.repMu.Unlock()
		t.Opts.Report(ev)
	}
}

// One tosses a single packet and reports it.
func (t *Tosser) One(j spool.Job) *Event {
	return t.begin(j).end()
}

// task is one packet's toss: begun (checked, decrypted, staged) and, for
// an exec packet, with its handle still to run.
type task struct {
	t     *Tosser
	start time.Time
	ev    *Event
	p     *packet
	err   error
	run   func() error // the handle, when one is still to run
}

func (t *Tosser) begin(j spool.Job) *task {
	tk := &task{t: t, start: time.Now(), ev: &Event{Job: j}}
	tk.p, tk.err = t.one(j, tk.ev)
	if tk.err == nil && tk.p != nil {
		tk.run = tk.p.run
	}
	return tk
}

// end runs what is left of the packet's toss, then reports it.
func (tk *task) end() *Event {
	err, ev := tk.err, tk.ev
	if err == nil && tk.run != nil {
		err = tk.run()
	}
	if err == nil && tk.p != nil {
		err = tk.p.finish()
	}
	if tk.p != nil && tk.p.release != nil {
		tk.p.release()
	}
	ev.Took = time.Since(tk.start)
	switch {
	case errors.Is(err, errSkip):
		ev.Outcome = Skipped
	case errors.Is(err, ErrSeen):
		ev.Outcome, ev.Err = Duplicate, err
	case err != nil:
		ev.Outcome, ev.Err = Failed, err
	default:
		ev.Outcome = Done
	}
	tk.t.report(ev)
	return ev
}

var errSkip = errors.New("skipped")

// one checks, opens and dispatches one packet; what is left to do (an exec
// handle to run, the packet to remove) is in the packet returned.
func (t *Tosser) one(j spool.Job, ev *Event) (*packet, error) {
	sender, err := checkHeader(t.Cfg, &j.Header)
	if err != nil {
		return nil, err
	}
	ev.Sender = sender
	if t.Opts.Seen && t.Spool.IsSeen(j.Node, j.Name) {
		// Same name, same MTH, same bytes: processed already. Drop the
		// copy (the caller logs it), unless this is a dry run.
		if !t.Opts.DryRun {
			if err := t.Spool.Remove(j.Node, spool.RX, j.Name); err != nil {
				return nil, err
			}
		}
		return nil, ErrSeen
	}
	f, err := os.Open(j.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := pktcrypt.ReadHeader(f)
	if err != nil {
		return nil, err
	}
	if h != j.Header {
		return nil, errors.New("header differs from its hdr/ copy")
	}
	d, ph, err := openPlain(f, &h, t.Cfg.Self, sender)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ev.Type, ev.Nice, ev.Path = ph.Type, ph.Nice, ph.Path
	if t.Opts.Skip.Has(ph.Type) {
		return nil, errSkip
	}
	p := &packet{t: t, job: j, sender: sender, ph: ph, body: d, ev: ev}
	switch ph.Type {
	case wire.TypeFile:
		err = p.file()
	case wire.TypeFreq:
		err = p.freq()
	case wire.TypeExec, wire.TypeExecFat:
		err = p.exec()
	case wire.TypeTrns:
		err = p.trns()
	case wire.TypeACK:
		err = p.ack()
	case wire.TypeArea:
		err = ErrArea
	default:
		err = fmt.Errorf("packet type %d: %w", ph.Type, wire.ErrBadField)
	}
	if err != nil {
		if p.release != nil {
			p.release()
		}
		return nil, err
	}
	return p, nil
}

// finish removes a packet whose work is done from rx/ (leaving seen/
// behind with -seen).
func (p *packet) finish() error {
	t, j := p.t, p.job
	if t.Opts.DryRun {
		return nil
	}
	if t.Opts.Seen {
		if err := t.Spool.MarkSeen(j.Node, j.Name); err != nil {
			return fmt.Errorf("seen: %w", err)
		}
	}
	if err := t.Spool.Remove(j.Node, spool.RX, j.Name); err != nil {
		return err
	}
	if p.after != nil {
		p.after()
	}
	return nil
}

// packet is one packet being dispatched; body streams its payload and
// returns io.EOF only once the whole packet has been authenticated.
type packet struct {
	t      *Tosser
	job    spool.Job
	sender *config.Neighbour
	ph     wire.PlainHeader
	body   io.Reader
	ev     *Event
	// after runs once the packet has left rx/ (removing the marker of a
	// placed file).
	after func()
	// run, when set, is the exec handle still to run on the staged body;
	// release frees what the staging holds, once the toss is over.
	run     func() error
	release func()
}

// Types is a set of packet types.
type Types uint64

// TypesOf is the set of ts.
func TypesOf(ts ...wire.Type) Types {
	var s Types
	for _, t := range ts {
		if t == wire.TypeExecFat {
			t = wire.TypeExec
		}
		if t < 64 {
			s |= 1 << t
		}
	}
	return s
}

// Has reports whether ty is in s; exec-fat counts as exec.
func (s Types) Has(ty wire.Type) bool {
	if ty == wire.TypeExecFat {
		ty = wire.TypeExec
	}
	return ty < 64 && s&(1<<ty) != 0
}
