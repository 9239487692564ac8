package sp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flynn/noise"

	"ferry/internal/logrec"
	"ferry/internal/node"
	"ferry/internal/progress"
	"ferry/internal/wire"
)

var cipherSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2b)

// Peer is a neighbour a session may talk to, with its online settings.
type Peer struct {
	ID       node.ID
	Name     string
	NoisePub [32]byte
	// OnlineDeadline and MaxOnlineTime from the neighbour's config (0:
	// default and unlimited).
	OnlineDeadline time.Duration
	MaxOnlineTime  time.Duration
	RxRate, TxRate int // messages per second, 0: unlimited
	// Slow links (ferry's own settings, local only): Deadline bounds the
	// handshake and how long a read or write may go without progress (0:
	// DefaultDeadline); PingInterval spaces PINGs on a quiet link (0:
	// PingInterval), and twice it (twice PingInterval at least, the peer
	// may be NNCP, which pings every minute) without a byte received
	// ends the session;
	// PadTo is the size the first payload is padded to with HALTs (0:
	// as NNCP pads it; below 0: not padded).
	Deadline     time.Duration
	PingInterval time.Duration
	PadTo        int
}

// Options are one session's settings.
type Options struct {
	Self  *node.Private
	Store Store
	Log   *logrec.Logger // nil: no logging
	// Nice is the highest niceness offered and accepted (MAX: 255).
	Nice uint8
	// NoRx: do not ask for the peer's packets (-tx). NoTx: offer none of
	// ours (-rx).
	NoRx, NoTx bool
	// List: log the peer's offers and fetch nothing (-list).
	List bool
	// Pkts, when not nil, limits fetching to these names (-pkts).
	Pkts map[string]bool
	// NoCK leaves received packets as NAME.nock, unverified (-nock).
	NoCK bool
	// OnlineDeadline, MaxOnlineTime, RxRate, TxRate override the peer's
	// settings when non-zero.
	OnlineDeadline time.Duration
	MaxOnlineTime  time.Duration
	RxRate, TxRate int
	// Deadline, when set ($NNCPDEADLINE), overrides the peer's Deadline.
	Deadline time.Duration
	// FirstDeadline bounds the wait for a caller's first message on the
	// answering side, where the caller is not known yet (0: Deadline, or
	// DefaultDeadline): the largest Deadline of the neighbours.
	FirstDeadline time.Duration
	// Addr is the remote address, for the log (empty on the daemon side,
	// as NNCP writes it).
	Addr string
	// Remote is the caller's address on the daemon side, for the log's
	// messages only.
	Remote string
	// OnEvent, when set, sees each packet finished in either direction.
	OnEvent func(Event)
	// Progress, when set, gives the meter that follows one packet's bytes
	// from ev.Offset on (nil: none); it is Done when the packet is whole
	// or the session ends.
	Progress func(ev *Event) progress.Meter
}

// Event is a packet that finished moving (OnEvent), or that starts to
// (Progress).
type Event struct {
	Peer     node.ID
	PeerName string
	XX       string // "rx" (received and committed) or "tx" (acknowledged, removed)
	Name     string
	Size     int64
	Offset   int64 // where it starts (Progress): a resumed packet's part
}

// Info is one of the peer's offers.
type Info struct {
	Name string
	Nice uint8
	Size int64
}

// Result is a finished session.
type Result struct {
	Peer     Peer
	Started  time.Time
	Duration time.Duration
	RxBytes  int64 // bytes read from the connection, envelopes included
	TxBytes  int64
	Received []string // packets received and committed
	Sent     []string // packets acknowledged by the peer
	Offers   []Info   // the peer's INFOs, in arrival order
	// Err is why the session ended, when it was not a clean close.
	Err error
}

// conn is what a session needs of its transport; deadlines are used
// when it has them.
type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// deadline is the deadline with peer: the override ($NNCPDEADLINE), the
// peer's, the default.
func (o *Options) deadline(peer *Peer) time.Duration {
	switch {
	case o.Deadline > 0:
		return o.Deadline
	case peer != nil && peer.Deadline > 0:
		return peer.Deadline
	}
	return DefaultDeadline
}

// deadline is the session's (see Options.deadline).
func (s *session) deadline() time.Duration { return s.o.deadline(&s.peer) }

func (s *session) pingInterval() time.Duration {
	if s.peer.PingInterval > 0 {
		return s.peer.PingInterval
	}
	return PingInterval
}

// peerPing is the longest a peer waits between PINGs: NNCP's interval.
// Tests of slow links lower it.
var peerPing = PingInterval

// silence is how long the session waits for a byte from the peer.
func (s *session) silence() time.Duration {
	return 2 * max(s.pingInterval(), peerPing)
}

// halts is how many HALTs pad a first payload of n bytes. NNCP 8.8.2
// pads with (65,280 - n) / 8 of them, each 4 bytes long (measured
// against the binary: its first payload is half a maximal payload plus
// half its INFOs, not the whole 65,280 that sp.texi says); ferry does
// the same unless the peer's PadTo says otherwise.
func (s *session) halts(n int) int {
	switch {
	case s.peer.PadTo == 0:
		return max(0, (wire.MaxSPPayload-n)/8)
	case s.peer.PadTo < 0:
		return 0
	}
	return max(0, (min(s.peer.PadTo, wire.MaxSPPayload)-n)/4)
}

func envLen(msg []byte) int64 { return int64(12 + (len(msg)+3)&^3) }

type counter struct {
	mu sync.Mutex
	n  int64
}

func (c *counter) add(n int64) { c.mu.Lock(); c.n += n; c.mu.Unlock() }
func (c *counter) get() int64  { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// sendJob is a packet the peer asked for.
type sendJob struct {
	name   string
	hash   [32]byte
	nice   uint8
	offset int64
	size   int64
	f      TxFile
	meter  progress.Meter
}

func (j *sendJob) close() {
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	if j.meter != nil {
		j.meter.Done()
		j.meter = nil
	}
}

// rxFile is a packet being received.
type rxFile struct {
	size    int64
	nice    uint8
	part    Part
	written int64
	fetched bool // FREQ sent
	done    bool
	retried bool
	meter   progress.Meter
}

type session struct {
	rw    io.ReadWriter
	o     Options
	peer  Peer
	csIn  *noise.CipherState
	csOut *noise.CipherState

	rxBytes, txBytes counter
	wmu              sync.Mutex // one envelope at a time

	mu       sync.Mutex
	ctrl     []wire.SPPacket  // INFO/FREQ/DONE/PING waiting to go
	files    []*sendJob       // FREQed packets, most urgent first
	offered  map[string]TxPkt // our packets announced with INFO
	rx       map[string]*rxFile
	result   Result
	lastSent time.Time    // last non-PING packet sent
	lastRecv time.Time    // last non-PING packet received
	lastOut  time.Time    // last message sent at all
	lastByte atomic.Int64 // unix ns of the last byte received
	wake     chan struct{}
	// commitQ are complete parts for the committer, which commitWake wakes.
	commitQ    []rxCommit
	committing bool // the committer is at work on a batch
	commitWake chan struct{}
	bg         sync.WaitGroup // the committer
	unlockFn   func()         // releases the peer's queue locks
	// retired are jobs dropped by HALT or DONE; only the writer closes
	// their files (it may be reading one).
	retired []*sendJob
}

func newSession(rw io.ReadWriter, o Options) *session {
	now := time.Now()
	s := &session{rw: rw, o: o, offered: map[string]TxPkt{}, rx: map[string]*rxFile{},
		lastSent: now, lastRecv: now, lastOut: now, wake: make(chan struct{}, 1),
		commitWake: make(chan struct{}, 1),
		result:     Result{Started: now}}
	s.lastByte.Store(now.UnixNano())
	return s
}

func (s *session) staticKey() noise.DHKey {
	return noise.DHKey{Private: s.o.Self.NoisePrv[:], Public: s.o.Self.NoisePub[:]}
}

func (s *session) setDeadline(t time.Time) {
	if d, ok := s.rw.(deadliner); ok {
		d.SetReadDeadline(t)
		d.SetWriteDeadline(t)
	}
}

func (s *session) writeEnvelope(msg []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	b := wire.AppendSPEnvelope(nil, msg)
	s.txBytes.add(int64(len(b)))
	d, ok := s.rw.(deadliner)
	if !ok {
		_, err := s.rw.Write(b)
		return err
	}
	// The deadline is on progress, not on the whole message: a 64 KiB
	// message takes minutes over a radio modem, and each write that
	// moves some bytes before the deadline earns another.
	for {
		d.SetWriteDeadline(time.Now().Add(s.deadline()))
		n, err := s.rw.Write(b)
		b = b[n:]
		if err == nil || len(b) == 0 {
			return nil
		}
		var ne net.Error
		if n == 0 || !errors.As(err, &ne) || !ne.Timeout() {
			return err
		}
	}
}

// progressReader renews the read deadline before every read and notes
// when bytes last arrived: silence is measured from the last byte, not
// from the last whole message.
type progressReader struct {
	s *session
}

func (p progressReader) Read(b []byte) (int, error) {
	if d, ok := p.s.rw.(deadliner); ok {
		d.SetReadDeadline(time.Now().Add(p.s.silence()))
	}
	n, err := p.s.rw.Read(b)
	if n > 0 {
		p.s.lastByte.Store(time.Now().UnixNano())
	}
	return n, err
}

func (s *session) log(who string, f []logrec.Field, msg string) {
	if s.o.Log != nil {
		s.o.Log.Info(logrec.Rec{Who: who, Fields: f, Msg: msg})
	}
}

func (s *session) logErr(who string, f []logrec.Field, err error, msg string) {
	if s.o.Log != nil {
		s.o.Log.Error(logrec.Rec{Who: who, Fields: f, Msg: msg}, err)
	}
}

func (s *session) debug(format string, a ...any) {
	if s.o.Log != nil {
		s.o.Log.Debug(logrec.Rec{Who: "sp-debug", Msg: fmt.Sprintf(format, a...)})
	}
}

func fld(name, value string) logrec.Field { return logrec.Field{Name: name, Value: value} }
func itoa(n int64) string                 { return fmt.Sprint(n) }

// txList returns our packets for the peer within the niceness limit, but
// for those known says were offered already (known may be nil).
func (s *session) txList(known func(string) bool) ([]TxPkt, error) {
	if s.o.NoTx {
		return nil, nil
	}
	all, err := s.o.Store.TxList(s.peer.ID, known)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, p := range all {
		if p.Nice <= s.o.Nice {
			out = append(out, p)
		}
	}
	return out, nil
}

func infoPkt(p TxPkt) (wire.SPPacket, bool) {
	h, err := node.B32.DecodeString(p.Name)
	if err != nil || len(h) != 32 {
		return wire.SPPacket{}, false
	}
	return wire.SPPacket{Type: wire.SPInfo, Nice: p.Nice, Size: uint64(p.Size), Hash: [32]byte(h)}, true
}

// firstPayload builds the handshake payload: as many INFOs as fit, then
// HALTs (see halts); the INFOs left over wait in ctrl. With the peer's
// PadTo set, the INFOs too stay within it (none when below zero): on a
// slow link the handshake stays small, and the rest follow at once.
func (s *session) firstPayload() ([]byte, error) {
	pkts, err := s.txList(nil)
	if err != nil {
		return nil, fmt.Errorf("listing tx for %s: %w", s.peer.Name, err)
	}
	var total int64
	b := make([]byte, 0, wire.MaxSPPayload)
	room := wire.MaxSPPayload
	if s.peer.PadTo != 0 {
		room = max(0, min(s.peer.PadTo, wire.MaxSPPayload))
	}
	for _, p := range pkts {
		ip, ok := infoPkt(p)
		if !ok {
			continue
		}
		s.offered[p.Name] = p
		total += p.Size
		if len(b)+wire.SPInfoSize <= room {
			b = ip.Append(b)
		} else {
			s.ctrl = append(s.ctrl, ip)
		}
	}
	for n := s.halts(len(b)); n > 0; n-- {
		b = append(b, 0, 0, 0, byte(wire.SPHalt))
	}
	if len(s.offered) > 0 {
		s.log("sp-infos-tx", []logrec.Field{fld("XX", "tx"), fld("Node", s.peer.ID.String()),
			fld("Pkts", itoa(int64(len(s.offered)))), fld("Size", itoa(total))},
			fmt.Sprintf("We have got for %s: %d packets, %s", s.peer.Name, len(s.offered), humanSize(total)))
	}
	return b, nil
}

func (s *session) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *session) queueCtrl(p wire.SPPacket) {
	s.mu.Lock()
	s.ctrl = append(s.ctrl, p)
	s.mu.Unlock()
	s.notify()
}

func (s *session) onlineDeadline() time.Duration {
	switch {
	case s.o.OnlineDeadline > 0:
		return s.o.OnlineDeadline
	case s.peer.OnlineDeadline > 0:
		return s.peer.OnlineDeadline
	}
	return DefaultOnlineDeadline
}

func (s *session) maxOnline() time.Duration {
	if s.o.MaxOnlineTime > 0 {
		return s.o.MaxOnlineTime
	}
	return s.peer.MaxOnlineTime
}

func pick(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

// run drives an established session until it ends.
func (s *session) run(ctx context.Context, first []byte) *Result {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fields := []logrec.Field{fld("Node", s.peer.ID.String())}
	if s.o.Addr != "" {
		fields = append(fields, fld("Addr", s.o.Addr))
		s.log("call-started", fields, fmt.Sprintf("Connection to %s (%s)", s.peer.Name, s.o.Addr))
	} else {
		msg := fmt.Sprintf("Connection with %s", s.peer.Name)
		if s.o.Remote != "" {
			msg += " (" + s.o.Remote + ")"
		}
		s.log("call-started", fields, msg)
	}
	closer := func() {
		if c, ok := s.rw.(io.Closer); ok {
			c.Close()
		} else if d, ok := s.rw.(deadliner); ok {
			d.SetReadDeadline(time.Unix(1, 0))
		}
	}
	// The committer outlives ctx to commit what was complete at the end.
	s.bg.Add(1)
	go func() { defer s.bg.Done(); s.committer(ctx) }()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		// The peer's first INFOs came inside the handshake: handled by
		// the reader while the writer already runs, so that the FREQs
		// go out as they are decided (a thousand INFOs, a log record
		// each, take a while on a busy machine, and the peer hangs up
		// after onlinedeadline seconds without a packet).
		if err := s.handlePayload(first, true); err != nil {
			cancel(err)
			return
		}
		cancel(s.reader(ctx))
	}()
	go func() { defer wg.Done(); cancel(s.writer(ctx)) }()
	go func() { defer wg.Done(); cancel(s.monitor(ctx)) }()
	<-ctx.Done()
	closer()
	wg.Wait()
	s.bg.Wait()
	// The reader may have completed parts after the committer left.
	s.mu.Lock()
	left := s.commitQ
	s.commitQ = nil
	s.mu.Unlock()
	if len(left) > 0 {
		s.commitBatch(left)
	}
	s.mu.Lock()
	for _, j := range append(s.files, s.retired...) {
		j.close()
	}
	for _, r := range s.rx {
		if r.part != nil {
			r.part.Close()
		}
		if r.meter != nil {
			r.meter.Done()
		}
	}
	res := s.result
	s.mu.Unlock()
	res.Peer = s.peer
	res.Duration = time.Since(res.Started)
	res.RxBytes, res.TxBytes = s.rxBytes.get(), s.txBytes.get()
	if err := context.Cause(ctx); !errors.Is(err, errFinished) && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		res.Err = err
	}
	secs := int64(res.Duration.Seconds())
	ff := append(fields, fld("Duration", itoa(secs)),
		fld("RxBytes", itoa(res.RxBytes)), fld("RxSpeed", itoa(speed(res.RxBytes, secs))),
		fld("TxBytes", itoa(res.TxBytes)), fld("TxSpeed", itoa(speed(res.TxBytes, secs))))
	msg := fmt.Sprintf("Finished call with %s (%d:%d:%d): %s received (%s/sec), %s transferred (%s/sec)",
		s.peer.Name, secs/3600, secs/60%60, secs%60, humanSize(res.RxBytes), humanSize(speed(res.RxBytes, secs)),
		humanSize(res.TxBytes), humanSize(speed(res.TxBytes, secs)))
	if res.Err != nil {
		s.logErr("call-finished", ff, res.Err, msg)
	} else {
		s.log("call-finished", ff, msg)
	}
	return &res
}

func speed(n, secs int64) int64 {
	if secs <= 0 {
		return n
	}
	return n / secs
}

// errFinished ends a session cleanly (deadline reached).
var errFinished = errors.New("session finished")

// limiter spaces events to at most rate per second.
type limiter struct {
	every time.Duration
	next  time.Time
}

func newLimiter(rate int) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{every: time.Second / time.Duration(rate)}
}

func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	now := time.Now()
	if l.next.After(now) {
		t := time.NewTimer(l.next.Sub(now))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		now = time.Now()
	}
	l.next = now.Add(l.every)
	return nil
}

func (s *session) reader(ctx context.Context) error {
	lim := newLimiter(pick(s.o.RxRate, s.peer.RxRate))
	buf := make([]byte, 0, wire.MaxNoiseMessage+4)
	// Buffered: an envelope's head and body in one read, often several
	// envelopes. The handshake read exactly its own, so nothing is lost.
	var plain []byte
	br := bufio.NewReaderSize(progressReader{s}, 2*(wire.MaxNoiseMessage+16))
	for {
		msg, err := wire.ReadSPEnvelope(br, buf)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return err
		}
		s.rxBytes.add(envLen(msg))
		plain, err = s.csIn.Decrypt(plain[:0], nil, msg)
		if err != nil {
			return fmt.Errorf("%w: decrypting: %w", ErrProtocol, err)
		}
		if err := s.handlePayload(plain, false); err != nil {
			return err
		}
		if err := lim.wait(ctx); err != nil {
			return err
		}
	}
}

// writer sends control packets first; FILE chunks go, as sp.texi says,
// only when no INFO, FREQ or DONE waits, in messages of their own (so
// that a call moves the bytes NNCP's would, envelope for envelope, when
// it moves one packet each way), each filled up to MaxSPPayload with as
// many FILE packets as fit, most urgent packet first (a dozen small
// packets travel in one message).
func (s *session) writer(ctx context.Context) error {
	lim := newLimiter(pick(s.o.TxRate, s.peer.TxRate))
	chunk := make([]byte, wire.MaxSPChunk)
	var payload, out []byte
	var picks []filePick
	for {
		payload = payload[:0]
		nonPing := false
		s.mu.Lock()
		retired := s.retired
		s.retired = nil
		s.mu.Unlock()
		for _, j := range retired {
			j.close()
		}
		s.mu.Lock()
		for len(s.ctrl) > 0 && len(payload)+s.ctrl[0].Len() <= wire.MaxSPPayload {
			if s.ctrl[0].Type != wire.SPPing {
				nonPing = true
			}
			payload = s.ctrl[0].Append(payload)
			s.ctrl = s.ctrl[1:]
		}
		picks = picks[:0]
		if len(payload) == 0 {
			picks = s.pickChunks(picks, wire.MaxSPPayload)
		}
		s.mu.Unlock()
		used := 0
		for i := range picks {
			pk := &picks[i]
			j := pk.job
			if j.f == nil {
				// Opened only when its turn comes: a thousand FREQs must not
				// hold a thousand descriptors.
				f, err := s.o.Store.OpenTx(s.peer.ID, j.name)
				if err != nil {
					s.logErr("sp-file", []logrec.Field{fld("Node", s.peer.ID.String()), fld("Pkt", j.name)}, err,
						fmt.Sprintf("Packet %s: opening", j.name))
					s.mu.Lock()
					if k := slices.Index(s.files, j); k >= 0 {
						s.files = slices.Delete(s.files, k, k+1)
					}
					s.mu.Unlock()
					pk.n = -1
					continue
				}
				j.f = f
			}
			if j.meter == nil && s.o.Progress != nil {
				j.meter = s.o.Progress(&Event{Peer: s.peer.ID, PeerName: s.peer.Name, XX: "tx", Name: j.name, Size: j.size, Offset: pk.off})
			}
			buf := chunk[used : used+pk.n]
			if pk.n > 0 {
				if _, err := j.f.ReadAt(buf, pk.off); err != nil && !(errors.Is(err, io.EOF) && pk.n == 0) {
					return fmt.Errorf("reading %s: %w", j.name, err)
				}
			}
			used += pk.n
			fp := wire.SPPacket{Type: wire.SPFile, Hash: j.hash, Offset: uint64(pk.off), Chunk: buf}
			payload = fp.Append(payload)
			nonPing = true
			if j.meter != nil {
				j.meter.Add(int64(pk.n))
			}
		}
		if len(picks) > 0 {
			s.mu.Lock()
			for _, pk := range picks {
				j := pk.job
				if pk.n < 0 || j.offset != pk.off {
					continue // not sent, or a new FREQ moved it meanwhile
				}
				j.offset += int64(pk.n)
				if j.offset >= j.size {
					// Last chunk sent: the DONE will remove it from the list.
					if k := slices.Index(s.files, j); k >= 0 {
						s.files = slices.Delete(s.files, k, k+1)
					}
					j.close()
				}
			}
			s.mu.Unlock()
		}
		if len(payload) == 0 {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		var err error
		out, err = s.csOut.Encrypt(out[:0], nil, payload)
		if err != nil {
			return err
		}
		if err := s.writeEnvelope(out); err != nil {
			return err
		}
		s.mu.Lock()
		s.lastOut = time.Now()
		if nonPing {
			s.lastSent = s.lastOut
		}
		s.mu.Unlock()
		if err := lim.wait(ctx); err != nil {
			return err
		}
	}
}

// filePick is a FILE chunk the writer is about to send.
type filePick struct {
	job *sendJob
	off int64
	n   int
}

// minSplit is the smallest piece a packet is cut to so that it fills the
// rest of a message; a smaller rest goes to the next one whole.
const minSplit = 16 << 10

// pickChunks chooses, under s.mu, the FILE chunks that fit in room bytes
// of payload, from the most urgent packet on. Their lengths add up to at
// most MaxSPChunk.
func (s *session) pickChunks(picks []filePick, room int) []filePick {
	for _, j := range s.files {
		avail := room - wire.SPFileOverhead
		if avail < 0 {
			break
		}
		left := j.size - j.offset
		n := int(min(left, int64(avail&^3)))
		if int64(n) < left && n < minSplit {
			break
		}
		picks = append(picks, filePick{job: j, off: j.offset, n: n})
		room -= wire.SPFileOverhead + (n+3)&^3
		if int64(n) < left {
			break
		}
	}
	return picks
}

// monitor rescans the tx queue, pings, and ends the session on its
// deadlines. It wakes when the next of them is due (the idle deadline
// exactly, not on the next tick of a coarse ticker: a call with
// -onlinedeadline 1 hangs up one second after the last packet, not up to
// half a second later).
func (s *session) monitor(ctx context.Context) error {
	od := s.onlineDeadline()
	timer := time.NewTimer(min(RescanInterval, od, s.pingInterval()))
	defer timer.Stop()
	var stop <-chan time.Time
	if m := s.maxOnline(); m > 0 {
		t := time.NewTimer(m)
		defer t.Stop()
		stop = t.C
	}
	lastScan := time.Now()
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-stop:
			return errFinished
		case now := <-timer.C:
			if now.Sub(lastScan) >= RescanInterval {
				lastScan = now
				s.rescan()
			}
			s.mu.Lock()
			idle := now.Sub(s.lastSent) >= od && now.Sub(s.lastRecv) >= od &&
				len(s.ctrl) == 0 && len(s.files) == 0
			busyRx := len(s.commitQ) > 0 || s.committing
			for _, r := range s.rx {
				if r.fetched && !r.done && r.written < r.size {
					busyRx = true
					break
				}
			}
			ping := now.Sub(s.lastOut) >= s.pingInterval()
			idleAt := s.lastSent
			if s.lastRecv.After(idleAt) {
				idleAt = s.lastRecv
			}
			idleAt = idleAt.Add(od)
			pingAt := s.lastOut.Add(s.pingInterval())
			s.mu.Unlock()
			if silent := now.Sub(time.Unix(0, s.lastByte.Load())); silent >= s.silence() {
				return fmt.Errorf("nothing received for %s", silent.Round(time.Second))
			}
			if idle && !busyRx {
				return errFinished
			}
			if ping {
				s.queueCtrl(wire.SPPacket{Type: wire.SPPing})
			}
			// Next: the rescan, the idle deadline, the ping, the silence
			// limit, whichever comes first; not sooner than 10 ms (nor,
			// when the session is idle but a transfer or a commit holds
			// it, than 100 ms).
			next := lastScan.Add(RescanInterval)
			silentAt := time.Unix(0, s.lastByte.Load()).Add(s.silence())
			for _, t := range []time.Time{idleAt, pingAt, silentAt} {
				if t.Before(next) {
					next = t
				}
			}
			d := time.Until(next)
			if idle {
				d = max(d, 100*time.Millisecond)
			}
			timer.Reset(max(d, 10*time.Millisecond))
		}
	}
}

// rescan offers packets queued since the last look.
func (s *session) rescan() {
	pkts, err := s.txList(func(name string) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.offered[name]
		return ok
	})
	if err != nil {
		return
	}
	var add []wire.SPPacket
	s.mu.Lock()
	for _, p := range pkts {
		if _, ok := s.offered[p.Name]; ok {
			continue
		}
		if ip, ok := infoPkt(p); ok {
			s.offered[p.Name] = p
			add = append(add, ip)
		}
	}
	s.mu.Unlock()
	for _, p := range add {
		s.debug("offering new packet %s to %s", node.B32.EncodeToString(p.Hash[:]), s.peer.Name)
		s.queueCtrl(p)
	}
}

func humanSize(n int64) string { return logrec.HumanSize(n) }
