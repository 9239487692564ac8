package mta

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"ferry/internal/mail/bsmtp"
	"ferry/internal/mail/dsn"
	"ferry/internal/mail/queue"
	"ferry/internal/node"
)

// bounce sends one delivery status notification (RFC 3464) for the
// recipients of e that failed for good and were not reported yet, to the
// envelope sender: back over NNCP to the node the message came from, or,
// for mail submitted here, routed like any other message. Mail from the
// null sender is never bounced (it is a bounce itself): its failures are
// only logged.
func (m *MTA) bounce(e *queue.Entry, now time.Time, open opener) error {
	var failed []*queue.Rcpt
	for _, r := range e.Rcpts {
		if r.State == queue.Failed && !r.Bounced {
			failed = append(failed, r)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	mark := func() {
		for _, r := range failed {
			r.Bounced = true
		}
	}
	if e.From == "" {
		// A bounce that cannot be delivered: to the postmaster, if there
		// is one (once: the postmaster's own failures stop here).
		mark()
		if m.Mail.Postmaster == "" || e.Postmaster {
			m.Log.Mail(&Event{What: "failed", ID: e.ID, Rcpts: addrs(failed), Err: errors.New("a bounce that cannot be delivered is dropped (no mail.postmaster)")})
			return nil
		}
		return m.doubleBounce(e, failed, now, open)
	}
	opts := dsn.Options{
		ReportingMTA: m.Domain(),
		Now:          now,
		Sender:       e.From,
		Ret:          e.Ret,
		Arrival:      e.Received,
		QueueID:      e.ID,
		Original:     open,
	}
	if e.EnvID != "" {
		opts.EnvID, _ = dsn.DecodeXtext(e.EnvID)
	}
	for _, r := range failed {
		rec := dsn.Recipient{Final: r.Addr, Action: dsn.Failed, Status: r.Enhanced, LastAttempt: r.Updated}
		if rec.Status == "" || rec.Status[0] != '5' && rec.Status[0] != '4' {
			rec.Status = "5.0.0"
		}
		if rec.Status[0] == '4' {
			rec.Status = "5" + rec.Status[1:] // given up: the final status is permanent
		}
		rec.Diagnostic, rec.RemoteMTA = r.Diag, r.RemoteMTA
		if rec.Diagnostic == "" {
			rec.Diagnostic = "x-unix; " + oneLine(r.Err)
		}
		if r.ORcpt != "" {
			rec.Original, _ = dsn.DecodeXtext(afterSemicolon(r.ORcpt))
		}
		opts.Recipients = append(opts.Recipients, rec)
	}
	report, err := dsn.Build(opts)
	if err != nil {
		return fmt.Errorf("building the bounce: %w", err)
	}
	b := &Message{Env: &bsmtp.Envelope{From: "", To: []string{e.From}}, Size: int64(len(report)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(report)), nil }}
	via := ""
	if e.Origin != "" {
		// Back to the node it came from, whose rsmtp knows the sender.
		id, err := node.ParseID(e.Origin)
		if err != nil {
			return err
		}
		n, ok := m.Cfg.ByID[id]
		if !ok {
			return fmt.Errorf("origin %s is no longer a neighbour", e.Origin)
		}
		r, err := m.sendEnvelope(n, b.Env, b)
		if err != nil {
			return err
		}
		via = "nncp:" + n.Name + " " + r.Pkt
	} else {
		if _, err := m.Submit(b, SubmitOptions{}); err != nil {
			return err
		}
		via = "submitted"
	}
	mark()
	m.Log.Mail(&Event{What: "bounced", ID: e.ID, From: e.From, Rcpts: addrs(failed), Via: via})
	return nil
}

func addrs(rs []*queue.Rcpt) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Addr
	}
	return out
}

func afterSemicolon(s string) string {
	if _, v, ok := strings.Cut(s, ";"); ok {
		return v
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// noteDSN looks at a message from the null sender: if it is a delivery
// report about a message this node sent, mailq learns the outcome.
func (m *MTA) noteDSN(open func() (io.ReadCloser, error)) {
	rc, err := open()
	if err != nil {
		return
	}
	defer rc.Close()
	rep, err := dsn.ParseDSN(bufio.NewReader(io.LimitReader(rc, 1<<20)))
	if err != nil || len(rep.Recipients) == 0 {
		return
	}
	action := string(rep.Recipients[0].Action)
	var why []string
	for _, r := range rep.Recipients {
		if r.Action == dsn.Failed {
			action = string(dsn.Failed)
		}
		why = append(why, fmt.Sprintf("%s: %s %s", r.Final, r.Status, r.Diagnostic))
	}
	m.NoteReport(rep.MessageID, action, strings.Join(why, "; "))
}

// doubleBounce reports a bounce that could not be delivered to the
// postmaster, with the bounce itself attached.
func (m *MTA) doubleBounce(e *queue.Entry, failed []*queue.Rcpt, now time.Time, open opener) error {
	opts := dsn.Options{ReportingMTA: m.Domain(), Now: now, Sender: m.Mail.Postmaster, Ret: "FULL",
		Arrival: e.Received, QueueID: e.ID, Original: open}
	for _, r := range failed {
		opts.Recipients = append(opts.Recipients, dsn.Recipient{Final: r.Addr, Action: dsn.Failed,
			Status: "5.0.0", Diagnostic: "x-unix; " + oneLine(r.Err), LastAttempt: r.Updated})
	}
	report, err := dsn.Build(opts)
	if err != nil {
		return err
	}
	msg := &Message{Env: &bsmtp.Envelope{From: "", To: []string{m.Mail.Postmaster}}, Size: int64(len(report)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(report)), nil }}
	// Marked as a postmaster report: if it fails too, it must not report
	// itself to the postmaster again.
	if _, err := m.submit(msg, SubmitOptions{}, true); err != nil {
		return err
	}
	m.Log.Mail(&Event{What: "bounced", ID: e.ID, Rcpts: addrs(failed), Via: "postmaster " + m.Mail.Postmaster})
	return nil
}
