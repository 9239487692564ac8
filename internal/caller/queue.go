package caller

import (
	"sort"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/spool"
)

// Backlog is what waits in a node's tx queue.
type Backlog struct {
	Pkts int
	Size int64 // bytes
}

// Queue tells what is queued for a node at a niceness or nicer.
type Queue interface {
	Tx(id node.ID, nice uint8) (Backlog, error)
}

// SpoolQueue is the Queue of a spool: whole packets in NODE/tx (not .part
// or .nock files) whose header says nice <= the niceness asked for, as
// nncp-call sends them.
type SpoolQueue struct{ Spool *spool.Spool }

// Tx counts id's tx packets at nice or nicer.
func (q SpoolQueue) Tx(id node.ID, nice uint8) (Backlog, error) {
	jobs, _, err := q.Spool.Jobs(id, spool.TX)
	if err != nil {
		return Backlog{}, err
	}
	var b Backlog
	for _, j := range jobs {
		if j.Header.Nice <= nice {
			b.Pkts++
			b.Size += j.Size
		}
	}
	return b, nil
}

// Pending is a neighbour with packets to send.
type Pending struct {
	Node *config.Neighbour
	Backlog
}

// WithTx returns, in name order, the neighbours that have tx packets at
// nice or nicer (numerically <=, as -nice means for nncp-call) and can be
// called online (they have a noisepub). Self is never among them. A
// neighbour without addrs is included: calling it needs an address given
// by hand. This is the selection of "call every neighbour that has
// something queued, one after another".
func WithTx(cfg *config.Config, q Queue, nice uint8) ([]Pending, error) {
	var self node.ID
	if cfg.Self != nil {
		self = cfg.Self.ID
	}
	names := make([]string, 0, len(cfg.Neigh))
	for name, n := range cfg.Neigh {
		if name == "self" || (cfg.Self != nil && n.ID == self) || n.NoisePub == nil {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var out []Pending
	for _, name := range names {
		n := cfg.Neigh[name]
		b, err := q.Tx(n.ID, nice)
		if err != nil {
			return nil, err
		}
		if b.Pkts > 0 {
			out = append(out, Pending{n, b})
		}
	}
	return out, nil
}
