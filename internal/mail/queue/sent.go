package queue

import (
	"encoding/json"
	"errors"
	"os"
	"sort"
	"time"
)

// Sent is a message this node queued as an NNCP packet: its state is
// the packet's (queued while it waits in tx/, carried once gone, tossed
// once the hub acknowledged it) until a delivery report says more.
type Sent struct {
	ID        string    `json:"id"`
	From      string    `json:"from"`
	To        []string  `json:"to"`
	Node      string    `json:"node"`    // destination node name
	NodeID    string    `json:"node_id"` // destination node id
	Hop       string    `json:"hop"`     // node id whose tx/ holds the packet
	Pkt       string    `json:"pkt"`     // packet name
	Size      int64     `json:"size"`
	MessageID string    `json:"message_id,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Queued    time.Time `json:"queued"`
	Acked     bool      `json:"acked,omitempty"`
	// Report is "delivered" or "bounced" once a DSN about the message
	// came back; ReportText says why.
	Report     string `json:"report,omitempty"`
	ReportText string `json:"report_text,omitempty"`
	Cancelled  bool   `json:"cancelled,omitempty"`
}

// RecordSent stores a Sent record. It is bookkeeping for mailq (the
// packet itself is durable in the spool), so it is written atomically but
// not fsynced.
func (q *Queue) RecordSent(s *Sent) error {
	if s.ID == "" {
		s.ID = NewID(s.Queued)
	}
	return q.write("sent", s.ID, writeJSON(s), false)
}

// GetSent reads one Sent record.
func (q *Queue) GetSent(id string) (*Sent, error) {
	b, err := os.ReadFile(q.path("sent", id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var s Sent
	return &s, json.Unmarshal(b, &s)
}

// ListSent returns all Sent records, oldest first.
func (q *Queue) ListSent() ([]*Sent, error) {
	ents, err := os.ReadDir(q.path("sent", ""))
	if err != nil {
		return nil, err
	}
	var out []*Sent
	for _, de := range ents {
		if s, err := q.GetSent(de.Name()); err == nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queued.Before(out[j].Queued) })
	return out, nil
}

// UpdateSent rewrites a Sent record.
func (q *Queue) UpdateSent(s *Sent) error { return q.write("sent", s.ID, writeJSON(s), false) }
