package mta

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"ferry/internal/mail/queue"
	"ferry/internal/node"
	"ferry/internal/spool"
)

// Item is one line of mailq: a message this node queued for a neighbour,
// or one it holds in its mail queue (or held: the history).
type Item struct {
	ID      string
	State   string // queued, carried, tossed, delivered, bounced, deferred, partly bounced, cancelled
	Queued  time.Time
	From    string
	To      []string
	Subject string
	Size    int64
	Where   string // the neighbour, or the routes taken
	Reason  string // last error or bounce reason
	Pkt     string
	// Sent: true for packets this node made; false for its mail queue.
	Sent bool
}

// List returns everything mailq shows, oldest first: messages sent as
// packets (queued while the packet waits in tx/, carried once gone,
// tossed once acknowledged, bounced or delivered once a report came
// back), the mail queue and, with history, finished messages.
func (m *MTA) List(history bool) ([]*Item, error) {
	var out []*Item
	sent, err := m.Queue.ListSent()
	if err != nil {
		return nil, err
	}
	for _, s := range sent {
		it := &Item{ID: s.ID, Queued: s.Queued, From: s.From, To: s.To, Subject: s.Subject, Size: s.Size,
			Where: "nncp:" + s.Node, Pkt: s.Pkt, Sent: true, Reason: s.ReportText}
		it.State = m.sentState(s)
		if !history && !shownByDefault(it.State) {
			continue
		}
		out = append(out, it)
	}
	entries, err := m.Queue.List()
	if err != nil {
		return nil, err
	}
	done, err := m.Queue.History()
	if err != nil {
		return nil, err
	}
	for _, e := range done {
		// Without history, finished mail shows only if it bounced: the
		// sender needs to see that it did not arrive.
		if st := e.State(); history || (shownByDefault(st) && !allCancelled(e)) {
			entries = append(entries, e)
		}
	}
	for _, e := range entries {
		it := &Item{ID: e.ID, State: e.State(), Queued: e.Received, From: e.From, Subject: e.Subject, Size: e.Size}
		var vias, reasons []string
		for _, r := range e.Rcpts {
			it.To = append(it.To, r.Addr)
			if r.Via != "" && !contains(vias, r.Via) {
				vias = append(vias, r.Via)
			}
			if r.Err != "" && r.State != queue.Delivered {
				reasons = append(reasons, r.Addr+": "+r.Err)
			}
		}
		if !e.Finished.IsZero() && e.State() == "bounced" && allCancelled(e) {
			it.State = "cancelled"
		}
		it.Where = strings.Join(vias, ", ")
		it.Reason = strings.Join(reasons, "; ")
		out = append(out, it)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Queued.Before(out[j].Queued) })
	return out, nil
}

// shownByDefault reports whether mailq without -all lists a message in
// state st: everything but delivered and cancelled mail.
func shownByDefault(st string) bool {
	return st != "delivered" && st != "cancelled"
}

func allCancelled(e *queue.Entry) bool {
	for _, r := range e.Rcpts {
		if r.Err != "cancelled by the administrator" {
			return false
		}
	}
	return true
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (m *MTA) sentState(s *queue.Sent) string {
	switch {
	case s.Cancelled:
		return "cancelled"
	case s.Report != "":
		return s.Report
	}
	hop, err := node.ParseID(s.Hop)
	if err == nil {
		if _, err := os.Stat(m.Spool.PktPath(hop, spool.TX, s.Pkt)); err == nil {
			return "queued"
		}
	}
	if s.Acked {
		return "tossed"
	}
	return "carried"
}

// Errors of Cancel: the three cases mailq -rm tells apart.
var (
	// ErrNotCancellable is returned for a message that has left this node
	// (or finished here: delivered, bounced); the error names its state.
	ErrNotCancellable = errors.New("message has left this node: it can no longer be cancelled")
	// ErrAlreadyCancelled is returned for a message cancelled before.
	ErrAlreadyCancelled = errors.New("message was already cancelled")
	// ErrUnknownMessage is returned for an id this node has no record of.
	ErrUnknownMessage = errors.New("no message with this id on this node")
)

// Cancel removes a message that is still here: a packet still waiting in
// tx/, or an entry of the mail queue.
func (m *MTA) Cancel(id string) error {
	if s, err := m.Queue.GetSent(id); err == nil {
		switch st := m.sentState(s); st {
		case "queued":
		case "cancelled":
			return ErrAlreadyCancelled
		default:
			return fmt.Errorf("%w (%s)", ErrNotCancellable, st)
		}
		hop, err := node.ParseID(s.Hop)
		if err != nil {
			return err
		}
		if err := m.Spool.Remove(hop, spool.TX, s.Pkt); err != nil {
			return err
		}
		return m.Queue.MarkCancelled(s.ID)
	} else if !errors.Is(err, queue.ErrNotFound) {
		return err
	}
	err := m.Queue.Remove(id)
	if !errors.Is(err, queue.ErrNotFound) {
		return err
	}
	done, herr := m.Queue.History()
	if herr != nil {
		return herr
	}
	for _, e := range done {
		if e.ID != id {
			continue
		}
		if allCancelled(e) {
			return ErrAlreadyCancelled
		}
		return fmt.Errorf("%w (%s)", ErrNotCancellable, e.State())
	}
	return ErrUnknownMessage
}

// FirstThrough reports whether this is the first time the note that s's
// hop is not reachable is given (and remembers that it was).
func (m *MTA) FirstThrough(s *queue.Sent) bool { return m.Queue.FirstNote(s.Hop) }

// NoteACK records that the neighbour acknowledged packet pkt: a message
// sent in it is "tossed" there.
func (m *MTA) NoteACK(pkt string) {
	if s, err := m.Queue.SentByPkt(pkt); err == nil && s != nil && !s.Acked {
		m.Queue.MarkAcked(s.ID)
	}
}

// NoteReport records a delivery report (a DSN that came back) about a
// message this node sent, found by its Message-ID.
func (m *MTA) NoteReport(messageID, action, text string) bool {
	if messageID == "" {
		return false
	}
	s, err := m.Queue.SentByMessageID(messageID)
	if err != nil || s == nil {
		return false
	}
	switch action {
	case "failed":
		m.Queue.SetReport(s.ID, "bounced", text)
	case "delivered", "relayed", "expanded":
		m.Queue.SetReport(s.ID, "delivered", text)
	}
	return true
}
