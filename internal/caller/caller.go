// Package caller owns scheduled calls (nncp-caller): it fires each
// neighbour's configured calls at their cron times, skips those whose
// when-tx-exists finds nothing queued, never lets two calls to one node
// overlap, and stops when its context ends. Making a call is not its
// concern: it is handed a Dialer (ExecDialer runs "ferry call" as a child).
// It also picks the neighbours that have something queued (WithTx), for a
// call to each of them in turn.
package caller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"ferry/internal/config"
	"ferry/internal/cron"
	"ferry/internal/logrec"
	"ferry/internal/node"
)

// Who values nncp-caller 8.8.2 writes (all of them debug records: its log
// file gets only what the calls themselves write).
const (
	WhoNoCalls = "caller-no-calls" // a node without calls is skipped
	WhoTime    = "caller-time"     // when a call fires next
	WhoCaller  = "caller"          // checking tx existence (ferry: also a call's failure)
	WhoNoTx    = "caller-no-tx"    // when-tx-exists found nothing to send
	WhoBusy    = "caller-busy"     // the node is in a call already
	WhoCalling = "calling"         // a call failed to start (NNCP's Who for call failures)
)

// DefaultNice is a call's niceness when it sets none: everything.
const DefaultNice = node.NiceMax

// CallSpec is one call to make, with the neighbour's settings and the
// command line's -autotoss* already applied.
type CallSpec struct {
	Node  *config.Neighbour
	Index int   // position in Node.Calls (CallIndex in the log)
	Nice  uint8 // only packets this nice or nicer (numerically <=); 255 by default
	// Xx is "rx" (only receive), "tx" (only send) or "" (both).
	Xx string
	// Addr is the call's addr as written: a key of Node.Addrs, an
	// address ("host:port", "|command"), or "" for every address.
	Addr string
	// Rates in packets per second (0: none); OnlineDeadline and
	// MaxOnlineTime in seconds (MaxOnlineTime 0: no limit).
	RxRate, TxRate                int
	OnlineDeadline, MaxOnlineTime int
	NoCK                          bool // do not checksum received packets
	// MCDIgnore: do not use addresses learnt from multicast announcements.
	// ferry does not listen to them yet, so it changes nothing today.
	MCDIgnore bool
	AutoToss  AutoToss
}

// Addrs are the addresses the call tries, in order: the call's addr (a
// key of Node.Addrs, or an address as written), or all of Node.Addrs by
// key name. Empty when the node has none: an in-process dialer then needs
// an address from elsewhere (MCD, or the user).
func (s CallSpec) Addrs() []string {
	if s.Addr != "" {
		if a, ok := s.Node.Addrs[s.Addr]; ok {
			return []string{a}
		}
		return []string{s.Addr}
	}
	keys := make([]string, 0, len(s.Node.Addrs))
	for k := range s.Node.Addrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = s.Node.Addrs[k]
	}
	return out
}

// AutoToss is when and what a call tosses while it runs.
type AutoToss struct {
	Enabled                                       bool
	DoSeen                                        bool // create seen/ files
	NoFile, NoFreq, NoExec, NoTrns, NoArea, NoACK bool
}

// or merges two sets of autotoss options (a flag set in either is set).
func (a AutoToss) or(b AutoToss) AutoToss {
	return AutoToss{a.Enabled || b.Enabled, a.DoSeen || b.DoSeen, a.NoFile || b.NoFile, a.NoFreq || b.NoFreq,
		a.NoExec || b.NoExec, a.NoTrns || b.NoTrns, a.NoArea || b.NoArea, a.NoACK || b.NoACK}
}

// Spec builds the CallSpec of n's call number i, over the autotoss options
// of the command line.
func Spec(n *config.Neighbour, i int, autoToss AutoToss) CallSpec {
	c := &n.Calls[i]
	s := CallSpec{Node: n, Index: i, Nice: c.Nice, Xx: c.Xx, Addr: c.Addr,
		RxRate: n.RxRate, TxRate: n.TxRate, OnlineDeadline: n.OnlineDeadline, MaxOnlineTime: n.MaxOnlineTime,
		NoCK: c.NoCK, MCDIgnore: c.MCDIgnore}
	if s.Nice == 0 {
		s.Nice = DefaultNice
	}
	for _, o := range []struct{ call, dst *int }{
		{&c.RxRate, &s.RxRate}, {&c.TxRate, &s.TxRate},
		{&c.OnlineDeadline, &s.OnlineDeadline}, {&c.MaxOnlineTime, &s.MaxOnlineTime},
	} {
		if *o.call != 0 {
			*o.dst = *o.call
		}
	}
	s.AutoToss = autoToss.or(AutoToss{c.AutoToss, c.AutoTossDoSeen, c.AutoTossNoFile, c.AutoTossNoFreq,
		c.AutoTossNoExec, c.AutoTossNoTrns, c.AutoTossNoArea, c.AutoTossNoACK})
	return s
}

// Dialer makes one call and returns when it is over. It logs what happens
// during the call itself; the error it returns is only logged at debug
// level. It must return soon after ctx ends.
type Dialer func(ctx context.Context, spec CallSpec) error

// Log is where the scheduler reports; *logrec.Logger is one.
type Log interface {
	Debug(logrec.Rec)
	Error(logrec.Rec, error) error
}

// Options configure Run.
type Options struct {
	// Nodes are the neighbours whose calls run (nodes without calls are
	// logged and skipped).
	Nodes []*config.Neighbour
	Dial  Dialer
	// Queue answers when-tx-exists; it may be nil when no call sets it.
	Queue Queue
	// Clock is the scheduler's time; nil means Real.
	Clock Clock
	// Log gets the scheduler's records; nil discards them.
	Log Log
	// AutoToss is the command line's -autotoss*, added to every call's own.
	AutoToss AutoToss
	// MaxWait bounds one wait on the clock (default a minute): after it
	// the wall clock is read again, so that a suspended machine or a
	// clock set forward does not delay a call by the time it was away.
	MaxWait time.Duration
}

// ErrNoQueue is returned by Run when a call sets when-tx-exists and
// Options.Queue is nil.
var ErrNoQueue = errors.New("when-tx-exists needs a queue to look at")

type scheduler struct {
	Options
	mu   sync.Mutex
	busy map[node.ID]bool
}

// Run fires every call of opts.Nodes at its cron times until ctx ends,
// then waits for the calls in progress to return. It returns nil at once
// when no node has calls (as nncp-caller exits), and when no call will
// ever fire again (a year field in the past).
func Run(ctx context.Context, opts Options) error {
	s := &scheduler{Options: opts, busy: map[node.ID]bool{}}
	if s.Clock == nil {
		s.Clock = Real
	}
	if s.Log == nil {
		s.Log = discard{}
	}
	if s.MaxWait <= 0 {
		s.MaxWait = time.Minute
	}
	type job struct {
		n    *config.Neighbour
		i    int
		expr *cron.Expr
	}
	var jobs []job
	for _, n := range opts.Nodes {
		if len(n.Calls) == 0 {
			s.Log.Debug(logrec.Rec{Who: WhoNoCalls, Fields: []logrec.Field{logrec.Node(n.ID)},
				Msg: n.Name + " node has no calls, skipping"})
			continue
		}
		for i, c := range n.Calls {
			e, err := cron.Parse(c.Cron)
			if err != nil {
				return fmt.Errorf("%s: calls[%d]: %w", n.Name, i, err)
			}
			if c.WhenTxExists && s.Queue == nil {
				return fmt.Errorf("%s: calls[%d]: %w", n.Name, i, ErrNoQueue)
			}
			jobs = append(jobs, job{n, i, e})
		}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, j.n, j.i, j.expr)
		}()
	}
	wg.Wait()
	return nil
}

func (s *scheduler) fields(n *config.Neighbour, i int) []logrec.Field {
	return []logrec.Field{logrec.Node(n.ID), logrec.F("CallIndex", strconv.Itoa(i))}
}

func (s *scheduler) debug(who string, n *config.Neighbour, i int, what string) {
	s.Log.Debug(logrec.Rec{Who: who, Fields: s.fields(n, i),
		Msg: fmt.Sprintf("%s node, call %d: %s", n.Name, i, what)})
}

// loop runs one call entry: wait for its time, call, again.
func (s *scheduler) loop(ctx context.Context, n *config.Neighbour, i int, expr *cron.Expr) {
	c := &n.Calls[i]
	for {
		next := expr.Next(s.Clock.Now())
		if next.IsZero() {
			s.debug(WhoTime, n, i, "never again")
			return
		}
		s.debug(WhoTime, n, i, next.String())
		if !s.sleepUntil(ctx, next) {
			return
		}
		if !s.lock(n.ID) {
			s.debug(WhoBusy, n, i, "busy")
			continue
		}
		spec := Spec(n, i, s.AutoToss)
		// As nncp-caller does, when-tx-exists looks at tx/ even for an
		// xx: rx call.
		if c.WhenTxExists {
			s.debug(WhoCaller, n, i, "checking tx existence")
			b, err := s.Queue.Tx(n.ID, spec.Nice)
			if err != nil {
				s.Log.Error(logrec.Rec{Who: WhoCaller, Fields: s.fields(n, i),
					Msg: fmt.Sprintf("%s node, call %d: checking tx existence", n.Name, i)}, err)
			}
			if err != nil || b.Pkts == 0 {
				s.debug(WhoNoTx, n, i, "no tx")
				s.unlock(n.ID)
				continue
			}
		}
		err := s.Dial(ctx, spec)
		s.unlock(n.ID)
		if err != nil {
			s.debug(WhoCaller, n, i, "call failed: "+err.Error())
		}
	}
}

// sleepUntil waits until the clock reaches t, in steps of at most
// MaxWait; false when ctx ended first.
func (s *scheduler) sleepUntil(ctx context.Context, t time.Time) bool {
	for {
		d := t.Sub(s.Clock.Now())
		if d <= 0 {
			return ctx.Err() == nil
		}
		ch, stop := s.Clock.After(min(d, s.MaxWait))
		select {
		case <-ch:
		case <-ctx.Done():
			stop()
			return false
		}
	}
}

func (s *scheduler) lock(id node.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[id] {
		return false
	}
	s.busy[id] = true
	return true
}

func (s *scheduler) unlock(id node.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, id)
}

type discard struct{}

func (discard) Debug(logrec.Rec)              {}
func (discard) Error(logrec.Rec, error) error { return nil }
