// Package toss owns processing inbound packets: each packet in rx/ is
// checked (addressed to us, signed by the neighbour whose queue it is in),
// decrypted and staged whole before anything is acted on, then dispatched:
// files to the sender's incoming directory, exec bodies to the handle from
// the sender's exec table, file requests answered, transit packets relayed
// unopened, ACKs applied. A packet that fails stays in rx/ to be retried,
// and the failure is reported.
package toss

import (
	"errors"
	"fmt"
	"github.com/klauspost/compress/zstd"
	"io"
	"os"
	"time"

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
	// Skip* leave packets of that type in rx/ untouched.
	SkipFile, SkipFreq, SkipExec, SkipTrns, SkipArea, SkipACK bool
	// Env is the environment exec handles start from (os.Environ() when
	// nil); NNCP_SELF, NNCP_SENDER and NNCP_NICE are added.
	Env []string
	// Report receives one event per packet considered.
	Report func(*Event)
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

	zdec    *zstd.Decoder   // reused for every exec body
	cleaned map[string]bool // directories swept of stale temporary files
}

// Run tosses every inbound packet of every neighbour (or of Opts.Node)
// once. It returns how many packets failed.
func (t *Tosser) Run() (failed int, err error) {
	if t.Cfg.Self == nil {
		return 0, tx.ErrNoSelf
	}
	t.cleaned = nil // each run (toss -cycle) sweeps again
	ids := make([]node.ID, 0, len(t.Cfg.ByID))
	if t.Opts.Node != nil {
		ids = append(ids, *t.Opts.Node)
	} else {
		for id := range t.Cfg.ByID {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		f, err := t.RunNode(id)
		failed += f
		if err != nil {
			return failed, err
		}
	}
	return failed, nil
}

// RunNode tosses one neighbour's rx/ queue.
func (t *Tosser) RunNode(id node.ID) (failed int, err error) {
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
	if !t.Opts.DryRun && !t.cleaned[t.Spool.TmpDir()] {
		t.cleanStale(t.Spool.TmpDir())
	}
	for _, j := range jobs {
		ev := t.One(j)
		if ev.Outcome == Failed {
			failed++
		}
	}
	return failed, nil
}

func (t *Tosser) report(ev *Event) {
	if t.Opts.Report != nil {
		t.Opts.Report(ev)
	}
}

// One tosses a single packet and reports it.
func (t *Tosser) One(j spool.Job) *Event {
	start := time.Now()
	ev := &Event{Job: j}
	err := t.one(j, ev)
	ev.Took = time.Since(start)
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
	t.report(ev)
	return ev
}

var errSkip = errors.New("skipped")

func (t *Tosser) one(j spool.Job, ev *Event) error {
	sender, err := checkHeader(t.Cfg, &j.Header)
	if err != nil {
		return err
	}
	ev.Sender = sender
	if t.Opts.Seen && t.Spool.IsSeen(j.Node, j.Name) {
		// Same name, same MTH, same bytes: processed already. Drop the
		// copy (the caller logs it), unless this is a dry run.
		if !t.Opts.DryRun {
			if err := t.Spool.Remove(j.Node, spool.RX, j.Name); err != nil {
				return err
			}
		}
		return ErrSeen
	}
	f, err := os.Open(j.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	h, err := pktcrypt.ReadHeader(f)
	if err != nil {
		return err
	}
	if h != j.Header {
		return errors.New("header differs from its hdr/ copy")
	}
	d, ph, err := openPlain(f, &h, t.Cfg.Self, sender)
	if err != nil {
		return err
	}
	defer d.Close()
	ev.Type, ev.Nice, ev.Path = ph.Type, ph.Nice, ph.Path
	if t.skip(ph.Type) {
		return errSkip
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
		return err
	}
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

func (t *Tosser) skip(ty wire.Type) bool {
	o := &t.Opts
	switch ty {
	case wire.TypeFile:
		return o.SkipFile
	case wire.TypeFreq:
		return o.SkipFreq
	case wire.TypeExec, wire.TypeExecFat:
		return o.SkipExec
	case wire.TypeTrns:
		return o.SkipTrns
	case wire.TypeArea:
		return o.SkipArea
	case wire.TypeACK:
		return o.SkipACK
	}
	return false
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
}
