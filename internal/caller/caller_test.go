package caller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ferry/internal/caller/clocktest"
	"ferry/internal/config"
	"ferry/internal/logrec"
	"ferry/internal/node"
)

var t0 = time.Date(2026, 3, 28, 20, 34, 17, 0, time.UTC)

// recLog keeps the records the scheduler writes.
type recLog struct {
	mu      sync.Mutex
	recs    []logrec.Rec
	errs    []error
	changed chan struct{} // closed and replaced on each record
}

func newRecLog() *recLog { return &recLog{changed: make(chan struct{})} }

func (l *recLog) Debug(r logrec.Rec) { l.Error(r, nil) }
func (l *recLog) Error(r logrec.Rec, err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	l.errs = append(l.errs, err)
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

// waitFor blocks until there are n records of who.
func (l *recLog) waitFor(t *testing.T, who string, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		ch := l.changed
		l.mu.Unlock()
		if len(l.msgs(who)) >= n {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("no %d %s records: %q", n, who, l.msgs(who))
		}
	}
}

// msgs returns the Msg of the records of who.
func (l *recLog) msgs(who string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Who == who {
			out = append(out, r.Msg)
		}
	}
	return out
}

func neighbour(t *testing.T, name string, calls ...config.Call) *config.Neighbour {
	t.Helper()
	k, err := node.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return &config.Neighbour{Name: name, Public: k.Public, OnlineDeadline: config.DefaultOnlineDeadline, Calls: calls}
}

// fired is one call the test dialer saw.
type fired struct {
	spec CallSpec
	at   time.Time
}

// harness runs the scheduler on a fake clock with a dialer that reports
// each call on a channel and, when hold is set, waits for release.
type harness struct {
	t       *testing.T
	clock   *clocktest.Clock
	log     *recLog
	calls   chan fired
	release chan struct{}
	hold    bool
	done    chan error
	cancel  context.CancelFunc
	active  atomic.Int32 // calls in progress per the dialer
	maxAct  atomic.Int32
}

func start(t *testing.T, opts Options, hold bool) *harness {
	h := &harness{t: t, clock: clocktest.New(t0), log: newRecLog(), calls: make(chan fired, 100),
		release: make(chan struct{}), hold: hold, done: make(chan error, 1)}
	opts.Clock, opts.Log = h.clock, h.log
	opts.Dial = func(ctx context.Context, s CallSpec) error {
		n := h.active.Add(1)
		defer h.active.Add(-1)
		for {
			m := h.maxAct.Load()
			if n <= m || h.maxAct.CompareAndSwap(m, n) {
				break
			}
		}
		h.calls <- fired{s, h.clock.Now()}
		if h.hold {
			select {
			case <-h.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- Run(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		close(h.release)
		h.wait()
	})
	return h
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// waiting blocks until n loops wait on the clock.
func (h *harness) waiting(n int) {
	h.t.Helper()
	if err := h.clock.WaitWaiters(h.ctx(), n); err != nil {
		h.t.Fatalf("waiting for %d waiters (have %d): %v", n, h.clock.Waiters(), err)
	}
}

// next moves the clock to the earliest waiter and returns its time.
func (h *harness) next() time.Time {
	h.t.Helper()
	at, ok := h.clock.Next()
	if !ok {
		h.t.Fatal("nothing waits on the clock")
	}
	h.clock.Set(at)
	return at
}

func (h *harness) call() fired {
	h.t.Helper()
	select {
	case f := <-h.calls:
		return f
	case <-h.ctx().Done():
		h.t.Fatal("no call")
	}
	return fired{}
}

func (h *harness) noCall() {
	h.t.Helper()
	select {
	case f := <-h.calls:
		h.t.Fatalf("unexpected call %d of %s at %v", f.spec.Index, f.spec.Node.Name, f.at)
	default:
	}
}

func (h *harness) wait() error {
	h.t.Helper()
	select {
	case err := <-h.done:
		h.done <- err
		return err
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return")
	}
	return nil
}

// A seconds-field schedule fires at each of its times, and only then.
func TestFiresAtCronTimes(t *testing.T) {
	b := neighbour(t, "b", config.Call{Cron: "*/5 * * * * * *"})
	h := start(t, Options{Nodes: []*config.Neighbour{b}}, false)
	for _, want := range []string{"20:34:20", "20:34:25", "20:34:30"} {
		h.waiting(1)
		h.noCall()
		if at := h.next(); at.Format("15:04:05") != want {
			t.Fatalf("next wait ends at %v, want %s", at, want)
		}
		f := h.call()
		if f.at.Format("15:04:05") != want || f.spec.Node != b || f.spec.Index != 0 {
			t.Errorf("call at %v (%s, %d), want %s", f.at, f.spec.Node.Name, f.spec.Index, want)
		}
	}
	got := h.log.msgs(WhoTime)
	want := []string{"b node, call 0: 2026-03-28 20:34:20 +0000 UTC", "b node, call 0: 2026-03-28 20:34:25 +0000 UTC"}
	if len(got) < 2 || !slices.Equal(got[:2], want) {
		t.Errorf("caller-time records %q, want %q first", got, want)
	}
}

// A jump over several firing times makes one call, not one per time
// missed, and the clock is read again after MaxWait (a suspended machine).
func TestClockJump(t *testing.T) {
	b := neighbour(t, "b", config.Call{Cron: "0 * * * *"}) // hourly
	h := start(t, Options{Nodes: []*config.Neighbour{b}, MaxWait: time.Minute}, false)
	h.waiting(1)
	if at, _ := h.clock.Next(); !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("first wait ends at %v, want a minute from now", at)
	}
	h.clock.Set(t0.Add(5 * time.Hour)) // the machine slept for five hours
	f := h.call()
	if !f.at.Equal(t0.Add(5 * time.Hour)) {
		t.Errorf("call at %v", f.at)
	}
	h.waiting(1)
	h.noCall()
}

// Nodes without calls are logged and skipped; with none at all, Run
// returns at once, as nncp-caller exits.
func TestNoCalls(t *testing.T) {
	log := newRecLog()
	a, b := neighbour(t, "self"), neighbour(t, "b")
	err := Run(context.Background(), Options{Nodes: []*config.Neighbour{a, b}, Log: log,
		Dial: func(context.Context, CallSpec) error { return errors.New("no call expected") }})
	if err != nil {
		t.Fatal(err)
	}
	if got := log.msgs(WhoNoCalls); !slices.Equal(got, []string{"self node has no calls, skipping", "b node has no calls, skipping"}) {
		t.Errorf("caller-no-calls: %q", got)
	}
}

// A schedule that never fires again ends its loop.
func TestNeverAgain(t *testing.T) {
	b := neighbour(t, "b", config.Call{Cron: "* * * * * * 2021"})
	h := start(t, Options{Nodes: []*config.Neighbour{b}}, false)
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	h.noCall()
}

// A call that would start while another to the same node runs is skipped
// ("busy"); calls to different nodes run at the same time.
func TestNoConcurrentCallsToOneNode(t *testing.T) {
	b := neighbour(t, "b", config.Call{Cron: "* * * * * * *", Nice: 10}, config.Call{Cron: "* * * * * * *", Nice: 20})
	c := neighbour(t, "c", config.Call{Cron: "* * * * * * *"})
	h := start(t, Options{Nodes: []*config.Neighbour{b, c}}, true)
	h.waiting(3)
	h.next() // 20:34:18: all three loops wake
	first := h.call()
	second := h.call()
	names := []string{first.spec.Node.Name, second.spec.Node.Name}
	slices.Sort(names)
	if !slices.Equal(names, []string{"b", "c"}) {
		t.Fatalf("calls to %v, want one to b and one to c", names)
	}
	if h.maxAct.Load() != 2 {
		t.Errorf("%d calls at once, want 2 (b and c)", h.maxAct.Load())
	}
	// The other b loop found b busy and waits for its next time.
	h.log.waitFor(t, WhoBusy, 1)
	busy := h.log.msgs(WhoBusy)
	if len(busy) != 1 || !strings.HasPrefix(busy[0], "b node, call ") {
		t.Fatalf("caller-busy records %q", busy)
	}
	// Several more seconds pass with both calls still in progress: only
	// the free b loop wakes, and finds b busy each time.
	for range 3 {
		h.waiting(1)
		h.next()
	}
	h.log.waitFor(t, WhoBusy, 4)
	h.waiting(1)
	h.noCall()
	h.release <- struct{}{}
	h.release <- struct{}{}
	h.waiting(3)
	h.next()
	h.call()
	h.call()
	if h.maxAct.Load() != 2 {
		t.Errorf("%d calls at once, want at most 2", h.maxAct.Load())
	}
}

// when-tx-exists asks the queue at the call's niceness, and calls only
// when something waits there.
func TestWhenTxExists(t *testing.T) {
	b := neighbour(t, "b", config.Call{Cron: "* * * * * * *", WhenTxExists: true, Nice: 100})
	q := &fakeQueue{}
	h := start(t, Options{Nodes: []*config.Neighbour{b}, Queue: q}, false)
	h.waiting(1)
	h.next()
	h.waiting(1)
	h.noCall()
	if got := h.log.msgs(WhoNoTx); !slices.Equal(got, []string{"b node, call 0: no tx"}) {
		t.Errorf("caller-no-tx: %q", got)
	}
	q.set(150, 1) // too nice for the call
	h.next()
	h.waiting(1)
	h.noCall()
	q.set(100, 1)
	h.next()
	if f := h.call(); f.spec.Nice != 100 {
		t.Errorf("call with nice %d", f.spec.Nice)
	}
	if q.asked.Load() != 3 {
		t.Errorf("queue asked %d times, want 3", q.asked.Load())
	}
}

func TestWhenTxExistsNeedsQueue(t *testing.T) {
	b := neighbour(t, "b", config.Call{Cron: "@daily", WhenTxExists: true})
	err := Run(context.Background(), Options{Nodes: []*config.Neighbour{b}, Dial: func(context.Context, CallSpec) error { return nil }})
	if !errors.Is(err, ErrNoQueue) {
		t.Errorf("Run = %v, want ErrNoQueue", err)
	}
}

// fakeQueue has one packet at one niceness for every node.
type fakeQueue struct {
	mu    sync.Mutex
	nice  uint8
	pkts  int
	asked atomic.Int32
}

func (q *fakeQueue) set(nice uint8, pkts int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.nice, q.pkts = nice, pkts
}

func (q *fakeQueue) Tx(_ node.ID, nice uint8) (Backlog, error) {
	q.asked.Add(1)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pkts > 0 && q.nice <= nice {
		return Backlog{Pkts: q.pkts, Size: 1000}, nil
	}
	return Backlog{}, nil
}

// Cancelling the context stops the waits and the call in progress; Run
// returns once the call has.
func TestShutdown(t *testing.T) {
	b := neighbour(t, "b", config.Call{Cron: "* * * * * * *"})
	c := neighbour(t, "c", config.Call{Cron: "@yearly"})
	h := start(t, Options{Nodes: []*config.Neighbour{b, c}}, true)
	h.waiting(2)
	h.next()
	h.call() // b's call now holds until its context ends
	select {
	case err := <-h.done:
		t.Fatalf("Run returned %v during a call", err)
	default:
	}
	h.cancel()
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	if n := h.active.Load(); n != 0 {
		t.Errorf("%d calls still running after Run returned", n)
	}
	if n := h.clock.Waiters(); n != 0 {
		t.Errorf("%d timers left behind", n)
	}
}

func TestBadCron(t *testing.T) {
	b := neighbour(t, "b", config.Call{Cron: "61 * * * *"})
	err := Run(context.Background(), Options{Nodes: []*config.Neighbour{b}})
	if err == nil || !strings.Contains(err.Error(), "b: calls[0]") {
		t.Errorf("Run = %v", err)
	}
}

func TestSpec(t *testing.T) {
	b := neighbour(t, "b",
		config.Call{Cron: "@daily"},
		config.Call{Cron: "@daily", Nice: 64, Xx: "rx", Addr: "lan", RxRate: 5, OnlineDeadline: 3600, MaxOnlineTime: 1750,
			NoCK: true, AutoToss: true, AutoTossNoExec: true})
	b.RxRate, b.TxRate, b.MaxOnlineTime = 1, 2, 99
	s0 := Spec(b, 0, AutoToss{})
	if s0.Nice != 255 || s0.RxRate != 1 || s0.TxRate != 2 || s0.OnlineDeadline != 10 || s0.MaxOnlineTime != 99 || s0.AutoToss != (AutoToss{}) {
		t.Errorf("call 0: %+v", s0)
	}
	s1 := Spec(b, 1, AutoToss{DoSeen: true})
	want := AutoToss{Enabled: true, DoSeen: true, NoExec: true}
	if s1.Nice != 64 || s1.Xx != "rx" || s1.Addr != "lan" || s1.RxRate != 5 || s1.TxRate != 2 ||
		s1.OnlineDeadline != 3600 || s1.MaxOnlineTime != 1750 || !s1.NoCK || s1.AutoToss != want {
		t.Errorf("call 1: %+v", s1)
	}
}

func TestCallArgs(t *testing.T) {
	b := neighbour(t, "b")
	b.Addrs = map[string]string{"lan": "[fe80::1]:5400"}
	for _, c := range []struct {
		spec CallSpec
		want []string
	}{
		{CallSpec{Node: b, Nice: 255, OnlineDeadline: 10}, strings.Fields("-nice 255 -onlinedeadline 10 b")},
		{CallSpec{Node: b, Nice: 64, Addr: "lan", Xx: "tx", RxRate: 3, TxRate: 4, MaxOnlineTime: 60, NoCK: true},
			strings.Fields("-nice 64 -tx -rxrate 3 -txrate 4 -maxonlinetime 60 -nock b:lan")},
		{CallSpec{Node: b, Nice: 1, Addr: "127.0.0.1:5400", Xx: "rx",
			AutoToss: AutoToss{true, true, true, true, true, true, true, true}},
			strings.Fields("-nice 1 -rx -autotoss -autotoss-seen -autotoss-nofile -autotoss-nofreq -autotoss-noexec -autotoss-notrns -autotoss-noarea -autotoss-noack b 127.0.0.1:5400")},
		{CallSpec{Node: b, Nice: 2, Addr: "|ssh hub nncp-daemon -ucspi"}, []string{"-nice", "2", "b", "|ssh hub nncp-daemon -ucspi"}},
	} {
		if got := CallArgs(c.spec); !slices.Equal(got, c.want) {
			t.Errorf("CallArgs = %q, want %q", got, c.want)
		}
	}
}

func TestSpecAddrs(t *testing.T) {
	b := neighbour(t, "b")
	b.Addrs = map[string]string{"wan": "b.example:5400", "lan": "[fe80::1]:5400", "ssh": "|ssh b nncp-daemon -ucspi"}
	for addr, want := range map[string][]string{
		"":               {"[fe80::1]:5400", "|ssh b nncp-daemon -ucspi", "b.example:5400"},
		"lan":            {"[fe80::1]:5400"},
		"10.0.0.1:5400":  {"10.0.0.1:5400"},
		"|nc 10.0.0.1 1": {"|nc 10.0.0.1 1"},
	} {
		if got := (CallSpec{Node: b, Addr: addr}).Addrs(); !slices.Equal(got, want) {
			t.Errorf("Addrs(%q) = %q, want %q", addr, got, want)
		}
	}
	if got := (CallSpec{Node: neighbour(t, "c")}).Addrs(); len(got) != 0 {
		t.Errorf("no addrs: %q", got)
	}
}
