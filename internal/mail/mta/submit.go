package mta

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"

	"ferry/internal/config"
	"ferry/internal/mail/bsmtp"
	"ferry/internal/mail/queue"
	"ferry/internal/node"
	"ferry/internal/spool"
	"ferry/internal/tx"
)

// Message is a message with its envelope, to submit or to send on.
type Message struct {
	Env  *bsmtp.Envelope
	Open func() (io.ReadCloser, error)
	Size int64
	// MessageID and Subject are read from the header when empty.
	MessageID, Subject string
}

// SubmitOptions tune a submission.
type SubmitOptions struct {
	// QueueOnly leaves local and SMTP deliveries for the next queue run
	// (sendmail -odq) instead of trying them now.
	QueueOnly bool
}

// Submitted says where a submission went.
type Submitted struct {
	Packets []*queue.Sent // one per neighbour the message went to over NNCP
	Queued  *queue.Entry  // local and SMTP recipients, if any
}

// PermanentError is a submission refused for good (sendmail exit 65, SMTP
// 5xx); other errors are temporary (exit 75, 4xx).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string   { return e.Err.Error() }
func (e *PermanentError) Unwrap() error   { return e.Err }
func (e *PermanentError) Temporary() bool { return false }

// IsPermanent reports whether err is a permanent refusal.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Submit routes a message from this node (sendmail, smtpd): recipients
// for neighbours become one NNCP packet per neighbour; local and SMTP
// recipients go into the mail queue and, unless QueueOnly, are delivered
// now. Every recipient is routed and every limit checked before anything
// is written, so a refused submission leaves nothing behind.
func (m *MTA) Submit(msg *Message, o SubmitOptions) (*Submitted, error) {
	return m.submit(msg, o, false)
}

// submit is Submit; postmaster marks a report to the postmaster, which is
// not reported again if it fails.
func (m *MTA) submit(msg *Message, o SubmitOptions, postmaster bool) (*Submitted, error) {
	if len(msg.Env.To) == 0 {
		return nil, &PermanentError{errors.New("no recipients")}
	}
	dm := *msg
	dm.Env = dedupRcpts(msg.Env)
	msg = &dm
	m.fillHeaderFacts(msg)
	byNode := map[node.ID][]int{}
	var nodes []*config.Neighbour
	var queued []int
	var bad []error
	for i, rcpt := range msg.Env.To {
		r := m.Route(rcpt)
		switch r.Kind {
		case RouteNone:
			bad = append(bad, fmt.Errorf("<%s>: %w", rcpt, r.Err))
		case RouteNode:
			if _, ok := byNode[r.Node.ID]; !ok {
				nodes = append(nodes, r.Node)
			}
			byNode[r.Node.ID] = append(byNode[r.Node.ID], i)
		default:
			queued = append(queued, i)
		}
	}
	if len(bad) > 0 {
		return nil, &PermanentError{errors.Join(bad...)}
	}
	for _, n := range nodes {
		if err := m.checkLimits(n, msg.Size); err != nil {
			return nil, err
		}
	}
	res := &Submitted{}
	for _, n := range nodes {
		s, err := m.sendToNode(n, msg, byNode[n.ID])
		if err != nil {
			return res, fmt.Errorf("queuing for %s: %w", n.Name, err)
		}
		res.Packets = append(res.Packets, s)
	}
	if len(queued) > 0 {
		e := m.newEntry(msg, queued, "", "")
		e.Postmaster = postmaster
		if err := m.handle(e, msg.Open, handleOptions{QueueOnly: o.QueueOnly}); err != nil {
			return res, err
		}
		m.Queue.DropIntents(e)
		res.Queued = e
	}
	return res, nil
}

func rcptAddrs(e *queue.Entry) []string {
	out := make([]string, len(e.Rcpts))
	for i, r := range e.Rcpts {
		out[i] = r.Addr
	}
	return out
}

// checkLimits refuses a message for n that is too big (permanently) or
// that would overfill n's queue (temporarily).
func (m *MTA) checkLimits(n *config.Neighbour, size int64) error {
	lim, ok := m.Mail.Limits[n.Name]
	if !ok {
		return nil
	}
	if lim.MaxSize > 0 && size > lim.MaxSize {
		return &PermanentError{fmt.Errorf("%w: %d bytes, %s takes at most %d", ErrTooBig, size, n.Name, lim.MaxSize)}
	}
	if lim.MaxQueue > 0 {
		hops, err := m.Sender.Hops(n, tx.Route{})
		if err != nil {
			return err
		}
		jobs, _, err := m.Spool.Jobs(hops[0].ID, spool.TX)
		if err != nil {
			return err
		}
		var total int64
		for _, j := range jobs {
			total += j.Size
		}
		if total+size > lim.MaxQueue {
			return fmt.Errorf("%w: %d bytes wait for %s, the limit is %d", ErrQueueFull, total, hops[0].Name, lim.MaxQueue)
		}
	}
	return nil
}

// subEnvelope keeps the recipients idx of env (and their parameters).
func subEnvelope(env *bsmtp.Envelope, idx []int) *bsmtp.Envelope {
	out := &bsmtp.Envelope{From: env.From, Params: env.Params}
	for _, i := range idx {
		out.To = append(out.To, env.To[i])
		if env.RcptParams != nil {
			out.RcptParams = append(out.RcptParams, env.RcptParams[i])
		}
	}
	if out.RcptParams != nil {
		has := false
		for _, p := range out.RcptParams {
			has = has || p != nil
		}
		if !has {
			out.RcptParams = nil
		}
	}
	return out
}

// sendToNode queues the message for the recipients idx as one exec packet
// for neighbour n's mail handle, and records it for mailq.
func (m *MTA) sendToNode(n *config.Neighbour, msg *Message, idx []int) (*queue.Sent, error) {
	env := subEnvelope(msg.Env, idx)
	sent := &queue.Sent{From: env.From, To: env.To, Node: n.Name, NodeID: n.ID.String(), Size: msg.Size,
		MessageID: msg.MessageID, Subject: msg.Subject, Queued: m.Now()}
	sent.ID = queue.NewID(sent.Queued)
	r, err := m.sendEnvelope(n, env, msg)
	if err != nil {
		return nil, err
	}
	sent.Hop, sent.Pkt = r.Hop.String(), r.Pkt
	if err := m.Queue.RecordSent(sent); err != nil {
		// Never a packet without its record: the caller is told to try
		// again, and a retry must not find a copy already queued.
		m.Spool.Remove(r.Hop, spool.TX, r.Pkt)
		return nil, err
	}
	m.Log.Mail(&Event{What: "submitted", ID: sent.ID, From: env.From, Rcpts: env.To, Via: "nncp:" + n.Name, Pkt: r.Pkt, Size: msg.Size})
	return sent, nil
}

// sendEnvelope queues an exec packet carrying msg with env for n: a BSMTP
// batch on the handle's stdin, or in rmail mode the raw message with
// "-f SENDER RCPT..." as arguments.
//
// The batch carries no ESMTP parameters (SIZE, BODY, ENVID, NOTIFY...):
// Exim's -bS, the usual receiver, refuses every one of them with "501
// malformed address", as its own pipe transport never writes them.
func (m *MTA) sendEnvelope(n *config.Neighbour, env *bsmtp.Envelope, msg *Message) (*tx.Result, error) {
	env = &bsmtp.Envelope{From: env.From, To: env.To}
	rc, err := msg.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var body io.Reader
	var args []string
	if m.Mail.Mode == "rmail" {
		from := env.From
		if from == "" {
			from = "<>"
		}
		args = append([]string{"-f", from, "--"}, env.To...)
		body = rc
	} else {
		pr, pw := io.Pipe()
		go func() {
			w := bsmtp.NewWriter(pw, bsmtp.WriterOptions{})
			err := w.WriteMessage(env, rc)
			if err == nil {
				err = w.Close()
			}
			pw.CloseWithError(err)
		}()
		defer pr.Close()
		body = pr
	}
	return m.Sender.Exec(n, m.Mail.Handle, args, body, tx.ExecOptions{
		Options:   tx.Options{Nice: m.Mail.Nice},
		ReplyNice: node.NiceBulk,
	})
}

// newEntry makes the queue entry (in memory) of msg for the recipients
// idx.
func (m *MTA) newEntry(msg *Message, idx []int, origin, key string) *queue.Entry {
	env := msg.Env
	e := &queue.Entry{From: env.From, Origin: origin, Received: m.Now(), Key: key,
		MessageID: msg.MessageID, Subject: msg.Subject, Size: msg.Size}
	if key != "" {
		e.ID = queue.KeyID(key)
	} else {
		e.ID = queue.NewID(e.Received)
	}
	e.EnvID, _ = env.Param("ENVID")
	e.Ret, _ = env.Param("RET")
	e.Body, _ = env.Param("BODY")
	for _, i := range idx {
		r := &queue.Rcpt{Addr: env.To[i], Updated: e.Received}
		if env.RcptParams != nil {
			for _, p := range env.RcptParams[i] {
				switch p.Key {
				case "NOTIFY":
					r.Notify = p.Value
				case "ORCPT":
					r.ORcpt = p.Value
				}
			}
		}
		r.State = queue.Pending
		e.Rcpts = append(e.Rcpts, r)
	}
	return e
}

// fillHeaderFacts reads Message-ID and Subject from the header for mailq.
func (m *MTA) fillHeaderFacts(msg *Message) {
	if msg.MessageID != "" || msg.Subject != "" {
		return
	}
	rc, err := msg.Open()
	if err != nil {
		return
	}
	defer rc.Close()
	h, err := mail.ReadMessage(bufio.NewReader(io.LimitReader(rc, 256<<10)))
	if err != nil {
		return
	}
	msg.MessageID = strings.TrimSpace(h.Header.Get("Message-Id"))
	subj := h.Header.Get("Subject")
	if dec, err := new(mime.WordDecoder).DecodeHeader(subj); err == nil {
		subj = dec
	}
	msg.Subject = strings.TrimSpace(subj)
}
