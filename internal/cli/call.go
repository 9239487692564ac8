package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ferry/internal/caller"
	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/progress"
	"ferry/internal/sp"
	"ferry/internal/spool"
	"ferry/internal/toss"
)

func init() {
	register("call", &command{summary: "call a node's daemon and exchange packets online (sync protocol)", run: runCall, nncp: true})
}

// autoTossOpts are the -autotoss* options of call and daemon, as toss
// options.
type autoTossOpts struct {
	on   bool
	seen bool
	o    toss.Options
	// after sees each packet tossed (the mail system's ACKs); set by
	// prepare once the config is loaded.
	after func(*toss.Event)
}

// prepare readies -autotoss once the config is loaded.
func (a *autoTossOpts) prepare(x *ctx) {
	if a.on {
		a.after = x.mailOnToss()
	}
}

func (a *autoTossOpts) register(fs *flag.FlagSet) {
	fs.BoolVar(&a.on, "autotoss", false, "Toss after call is finished")
	fs.BoolVar(&a.seen, "autotoss-seen", false, "Create seen/ files during tossing")
	skipFlags(fs, &a.o.Skip, "autotoss-", " during tossing", nil)
}

// autoToss tosses what arrived from id, as nncp-toss -node would.
func (x *ctx) autoToss(id node.ID, a autoTossOpts) int {
	o := a.o
	o.Node = &id
	o.Seen = a.seen
	o.Report = x.tossReporter(false, a.after)
	o.Env = handleEnv(x.cfg.Path)
	o.InProcess = x.inProcessHandles()
	t := &toss.Tosser{Cfg: x.cfg, Spool: x.spool, Sender: x.sender(), Opts: o}
	failed, err := t.Run()
	if err != nil {
		x.log.fail("toss", []kv{{"Node", id.String()}}, err, "Tossing")
		return failed + 1
	}
	return failed
}

// deadlineEnv reads $NNCPDEADLINE (seconds).
func (x *ctx) deadlineEnv() (time.Duration, error) {
	v := x.Getenv("NNCPDEADLINE")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("$NNCPDEADLINE=%q: want a positive number of seconds", v)
	}
	return time.Duration(n) * time.Second, nil
}

// spPeer is a neighbour as the sync protocol sees it.
func spPeer(n *config.Neighbour) (sp.Peer, bool) {
	if n.NoisePub == nil {
		return sp.Peer{}, false
	}
	p := sp.Peer{ID: n.ID, Name: n.Name, NoisePub: *n.NoisePub,
		OnlineDeadline: time.Duration(n.OnlineDeadline) * time.Second,
		MaxOnlineTime:  time.Duration(n.MaxOnlineTime) * time.Second,
		RxRate:         n.RxRate, TxRate: n.TxRate,
		Deadline:     time.Duration(n.SPDeadline) * time.Second,
		PingInterval: time.Duration(n.SPPing) * time.Second}
	if n.SPPad != nil {
		p.PadTo = *n.SPPad
		if p.PadTo == 0 {
			p.PadTo = -1
		}
	}
	return p, true
}

// firstDeadline is how long the daemon waits for a caller's first
// message: it does not know yet who calls, so the longest sp-deadline of
// the neighbours (0: none is set).
func (x *ctx) firstDeadline() time.Duration {
	var d time.Duration
	for _, n := range x.cfg.Neigh {
		d = max(d, time.Duration(n.SPDeadline)*time.Second)
	}
	return d
}

// peersFunc finds a neighbour (not ourselves) by noise key.
func (x *ctx) peersFunc() sp.PeerFunc {
	return func(pub [32]byte) (sp.Peer, bool) {
		for _, n := range x.cfg.Neigh {
			if n.Name == "self" || n.NoisePub == nil || *n.NoisePub != pub {
				continue
			}
			if x.cfg.Self != nil && n.ID == x.cfg.Self.ID {
				continue
			}
			return spPeer(n)
		}
		return sp.Peer{}, false
	}
}

// CallOptions is one call as `ferry call` makes it; `ferry caller` makes
// its calls through (*ctx).Call with the same options.
type CallOptions struct {
	Node string // neighbour name or id
	// Addr is an address name from the neighbour's addrs; Force an
	// address to use instead of the configured ones ("host:port" or
	// "|command"). Both empty: every configured address in turn.
	Addr, Force string
	// Session settings: niceness limit, -rx/-tx, -list, -pkts, -nock,
	// and overrides of the neighbour's onlinedeadline, maxonlinetime,
	// rxrate and txrate (zero: the neighbour's).
	Nice           uint8
	NoRx, NoTx     bool
	List           bool
	Pkts           map[string]bool
	NoCK           bool
	OnlineDeadline time.Duration
	MaxOnlineTime  time.Duration
	RxRate, TxRate int
	// UCSPI: talk over fds 6 (read) and 7 (write) instead of dialing.
	UCSPI bool
	// OnEvent and Progress are sp.Options': packets finished, and the
	// meters of packets moving (nil: none).
	OnEvent  func(sp.Event)
	Progress func(*sp.Event) progress.Meter
}

// Call makes one call with the config and spool already set up, and
// returns the session's result. The error is non-nil when no session
// could be established.
func (x *ctx) Call(c context.Context, o CallOptions) (*sp.Result, error) {
	nb, err := x.node(o.Node)
	if err != nil {
		return nil, err
	}
	self, err := x.self()
	if err != nil {
		return nil, err
	}
	peer, ok := spPeer(nb)
	if !ok {
		return nil, fmt.Errorf("%s has no noisepub: it can not be called", nb.Name)
	}
	dl, err := x.deadlineEnv()
	if err != nil {
		return nil, err
	}
	co := sp.CallOptions{Peer: peer, Options: sp.Options{
		Self: self, Store: spool.Online{S: x.spool}, Log: x.log.l, Nice: o.Nice,
		NoRx: o.NoRx, NoTx: o.NoTx || o.List, List: o.List, Pkts: o.Pkts, NoCK: o.NoCK,
		OnlineDeadline: o.OnlineDeadline, MaxOnlineTime: o.MaxOnlineTime,
		RxRate: o.RxRate, TxRate: o.TxRate, Deadline: dl,
		OnEvent: o.OnEvent, Progress: o.Progress,
	}}
	switch {
	case o.UCSPI:
		co.Conn = newUCSPIConn(6, 7)
		co.Addr = "UCSPI"
	case o.Force != "":
		co.Addrs = []string{o.Force}
	case o.Addr != "":
		a, ok := nb.Addrs[o.Addr]
		if !ok {
			return nil, fmt.Errorf("%s has no address named %q", nb.Name, o.Addr)
		}
		co.Addrs = []string{a}
	default:
		names := make([]string, 0, len(nb.Addrs))
		for k := range nb.Addrs {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			co.Addrs = append(co.Addrs, nb.Addrs[k])
		}
		if len(co.Addrs) == 0 {
			return nil, fmt.Errorf("%s has no addrs in the config: give FORCEADDR", nb.Name)
		}
	}
	return sp.Call(c, co)
}

type ucspiConn struct{ r, w *os.File }

// newUCSPIConn wraps inherited descriptors. They are made non-blocking
// first so that the Go runtime polls them: closing the connection then
// interrupts a pending read, and the session can end at its deadline.
func newUCSPIConn(r, w int) ucspiConn {
	syscall.SetNonblock(r, true)
	syscall.SetNonblock(w, true)
	return ucspiConn{r: os.NewFile(uintptr(r), "ucspi-r"), w: os.NewFile(uintptr(w), "ucspi-w")}
}

func (u ucspiConn) Read(p []byte) (int, error)  { return u.r.Read(p) }
func (u ucspiConn) Write(p []byte) (int, error) { return u.w.Write(p) }
func (u ucspiConn) Close() error                { u.w.Close(); return u.r.Close() }

func runCall(x *ctx, args []string) error {
	fs := x.flags("[options] NODE[:ADDR] [FORCEADDR]")
	onlineDeadline := fs.Uint("onlinedeadline", 0, "Override onlinedeadline option")
	maxOnline := fs.Uint("maxonlinetime", 0, "Override maxonlinetime option")
	rxOnly := fs.Bool("rx", false, "Only receive packets")
	txOnly := fs.Bool("tx", false, "Only transmit packets")
	list := fs.Bool("list", false, "Only list remote packets")
	pkts := fs.String("pkts", "", "Recieve only that packets, comma separated")
	rxRate := fs.Int("rxrate", 0, "Maximal receive rate, pkts/sec")
	txRate := fs.Int("txrate", 0, "Maximal transmit rate, pkts/sec")
	niceS := fs.String("nice", "MAX", "Minimal required niceness")
	nock := fs.Bool("nock", false, "Do no checksum checking")
	ucspi := fs.Bool("ucspi", false, "Is it started as UCSPI-TCP client")
	fs.Uint("mcd-wait", 0, "Wait for MCD for specified number of seconds (not supported: ignored)")
	allWithTx := fs.Bool("all-with-tx", false, "Call, one after another, every neighbour with packets queued at -nice or nicer\n(ferry's own; no NODE then)")
	var at autoTossOpts
	at.register(fs)
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if *allWithTx {
		if fs.NArg() != 0 || *pkts != "" || *ucspi || *list {
			return usageErr("-all-with-tx calls the neighbours itself: no NODE, -pkts, -ucspi or -list")
		}
	} else if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return exitCode(2, nil)
	}
	if *rxOnly && *txOnly {
		return usageErr("-rx and -tx can not be set simultaneously")
	}
	nice, err := parseNice("nice", *niceS)
	if err != nil {
		return usageErr("%v", err)
	}
	o := CallOptions{Nice: nice, NoRx: *txOnly, NoTx: *rxOnly, List: *list, NoCK: *nock, UCSPI: *ucspi,
		OnlineDeadline: time.Duration(*onlineDeadline) * time.Second,
		MaxOnlineTime:  time.Duration(*maxOnline) * time.Second, RxRate: *rxRate, TxRate: *txRate}
	if *pkts != "" {
		o.Pkts = map[string]bool{}
		for _, p := range strings.Split(*pkts, ",") {
			if p = strings.TrimSpace(p); p != "" {
				if !spool.ValidName(p) {
					return usageErr("-pkts: %q is not a packet name", p)
				}
				o.Pkts[p] = true
			}
		}
	}
	st := x.statusLine()
	if err := x.setup(); err != nil {
		return err
	}
	at.prepare(x)
	var stopProgress func()
	o.Progress, stopProgress = x.startCallProgress(st)
	defer stopProgress()
	c, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed := 0
	if *allWithTx {
		pending, err := caller.WithTx(x.cfg, caller.SpoolQueue{Spool: x.spool}, nice)
		if err != nil {
			return err
		}
		for _, p := range pending {
			if c.Err() != nil {
				break
			}
			o.Node = p.Node.Name
			n, err := x.callOnce(c, o, at)
			if err != nil {
				x.log.fail("call", []kv{{"Node", p.Node.ID.String()}}, err, "Calling "+p.Node.Name)
				n = 1
			}
			failed += n
		}
	} else {
		o.Node = fs.Arg(0)
		if fs.NArg() == 2 {
			o.Force = fs.Arg(1)
		}
		if _, err := x.node(o.Node); err != nil {
			if name, addr, ok := strings.Cut(o.Node, ":"); ok {
				o.Node, o.Addr = name, addr
			}
		}
		n, err := x.callOnce(c, o, at)
		if err != nil {
			return err
		}
		failed += n
	}
	if failed > 0 {
		return exitCode(1, nil)
	}
	return nil
}

// callOnce makes one call and tosses after it if asked; it returns how
// many things went wrong: a failed toss, a session that ended badly, each
// packet within the niceness still queued for the node.
func (x *ctx) callOnce(c context.Context, o CallOptions, at autoTossOpts) (int, error) {
	tossing := at.on && !o.NoRx && !o.List
	var loop *tossLoop
	if tossing {
		loop = x.startTossLoop(at)
		o.OnEvent = loop.onEvent
	}
	res, err := x.Call(c, o)
	loop.close(false) // the toss below is the last round
	if err != nil {
		return 0, err
	}
	failed := 0
	if tossing {
		// What arrived in the last second, and what failed meanwhile.
		failed += x.autoToss(res.Peer.ID, at)
	}
	if res.Err != nil {
		failed++
	}
	if !o.NoTx && !o.List {
		left, _ := spool.Online{S: x.spool}.TxList(res.Peer.ID, nil)
		for _, p := range left {
			if p.Nice <= o.Nice {
				failed++
			}
		}
	}
	return failed, nil
}
