package cli

import (
	"sync"
	"time"

	"ferry/internal/node"
	"ferry/internal/sp"
)

// tossLoop is -autotoss while calls run: every second it tosses the
// neighbours that packets arrived from since its last round, as
// nncp-call and nncp-daemon do, so that mail is delivered and answers
// (freq, ack) are queued while the call goes on, in time to leave by it.
// All tosses go through the loop, one at a time: two tosses of one node
// would contend for its lock.
type tossLoop struct {
	x     *ctx
	at    autoTossOpts
	mu    sync.Mutex
	dirty map[node.ID]bool
	kick  chan struct{}
	stop  chan bool // true: a last round first
	wg    sync.WaitGroup
}

// startTossLoop starts the loop; nil when -autotoss is off.
func (x *ctx) startTossLoop(at autoTossOpts) *tossLoop {
	if !at.on {
		return nil
	}
	l := &tossLoop{x: x, at: at, dirty: map[node.ID]bool{}, kick: make(chan struct{}, 1), stop: make(chan bool)}
	l.wg.Add(1)
	go l.run()
	return l
}

// onEvent marks the sender of each packet received.
func (l *tossLoop) onEvent(e sp.Event) {
	if l == nil || e.XX != "rx" {
		return
	}
	l.mark(e.Peer)
}

func (l *tossLoop) mark(id node.ID) {
	l.mu.Lock()
	l.dirty[id] = true
	l.mu.Unlock()
}

// now has id tossed at once (a session with it ended).
func (l *tossLoop) now(id node.ID) {
	if l == nil {
		return
	}
	l.mark(id)
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *tossLoop) run() {
	defer l.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case final := <-l.stop:
			if final {
				l.round()
			}
			return
		case <-t.C:
		case <-l.kick:
		}
		l.round()
	}
}

// round tosses each marked neighbour once.
func (l *tossLoop) round() {
	l.mu.Lock()
	ids := make([]node.ID, 0, len(l.dirty))
	for id := range l.dirty {
		ids = append(ids, id)
	}
	clear(l.dirty)
	l.mu.Unlock()
	for _, id := range ids {
		l.x.autoToss(id, l.at)
	}
}

// close stops the loop after the round it may be in, and after one
// more round for what is still marked when final is set.
func (l *tossLoop) close(final bool) {
	if l == nil {
		return
	}
	l.stop <- final
	l.wg.Wait()
}
