package mta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"ferry/internal/config"
	"ferry/internal/mail/bsmtp"
	"ferry/internal/mail/deliver"
	"ferry/internal/mail/queue"
)

// RunQueue tries every queued message whose time has come. It returns the
// first error that is not about a message (a broken queue directory).
func (m *MTA) RunQueue() error {
	due, err := m.Queue.Due(m.Now())
	if err != nil {
		return err
	}
	ids := make([]string, len(due))
	for i, e := range due {
		ids[i] = e.ID
	}
	return m.DeliverIDs(ids...)
}

// DeliverIDs tries to deliver the given queued messages now, whatever
// their retry time. A message another process is delivering is skipped.
func (m *MTA) DeliverIDs(ids ...string) error {
	for _, id := range ids {
		if err := m.deliverOne(id); err != nil && !errors.Is(err, queue.ErrLocked) && !errors.Is(err, queue.ErrNotFound) {
			return err
		}
	}
	return nil
}

func (m *MTA) deliverOne(id string) error {
	unlock, err := m.Queue.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	e, err := m.Queue.Get(id) // again, under the lock
	if err != nil {
		return err
	}
	open := func() (io.ReadCloser, error) { return m.Queue.Open(id) }
	now := m.Now()
	// An earlier attempt may have been cut short after a delivery and
	// before its record: local deliveries look for their copy first.
	m.attempt(e, open, now, true)
	return m.settle(e, now, open)
}

// opener returns the message a delivery reads.
type opener = func() (io.ReadCloser, error)

// handleOptions tune handle.
type handleOptions struct {
	// QueueOnly puts the message in the queue without a first attempt.
	QueueOnly bool
	// Retry says an earlier attempt at this entry may have delivered
	// some of it (see deliver.Message.Retry).
	Retry bool
}

// handle delivers a new entry now (unless QueueOnly) and makes durable
// what is left: the recipients still pending go into the mail queue (the
// message with them); the rest is recorded in the history. Permanent
// failures are bounced. When it returns nil, every recipient is delivered,
// bounced, or safe in the queue.
func (m *MTA) handle(e *queue.Entry, open opener, o handleOptions) error {
	now := m.Now()
	queueOnly := o.QueueOnly
	if !queueOnly {
		m.attempt(e, open, now, o.Retry)
	}
	pending := false
	for _, r := range e.Rcpts {
		pending = pending || r.State == queue.Pending
	}
	if pending && !queueOnly {
		e.Attempts = 1
		e.NextTry = now.Add(m.backoff(1))
		e.LastErr = firstErr(e)
	}
	m.bounceOrDefer(e, now, open)
	if pending || !e.Done() {
		rc, err := open()
		if err != nil {
			return err
		}
		defer rc.Close()
		if _, err := m.Queue.Accept(e, rc); err != nil && !errors.Is(err, queue.ErrDuplicate) {
			return err
		}
		m.Log.Mail(&Event{What: "queued", ID: e.ID, From: e.From, Rcpts: pendingAddrs(e), Size: e.Size})
		return nil
	}
	e.Finished = now
	if o.Retry && m.Queue.Recorded(e.ID) {
		return nil // recorded by the attempt that was cut short
	}
	return m.Queue.Record(e)
}

func pendingAddrs(e *queue.Entry) []string {
	var out []string
	for _, r := range e.Rcpts {
		if r.State == queue.Pending {
			out = append(out, r.Addr)
		}
	}
	return out
}

// attempt tries every pending recipient of e once: local mailboxes and
// commands, neighbours over NNCP (one packet per neighbour), the SMTP
// relay (one transaction). It only changes e in memory. retry says an
// earlier attempt may have delivered some of it.
func (m *MTA) attempt(e *queue.Entry, open opener, now time.Time, retry bool) {
	msg := &deliver.Message{From: e.From, Size: e.Size, ID: e.ID, Open: open,
		Key: e.ID, Retry: retry, Time: e.Received, Journal: m.Queue}
	relay := []*queue.Rcpt{}
	nodes := map[string][]*queue.Rcpt{}
	var nodeOrder []*config.Neighbour
	for _, r := range e.Rcpts {
		if r.State != queue.Pending {
			continue
		}
		rt := m.Route(r.Addr)
		switch rt.Kind {
		case RouteNone:
			enh := "5.1.2" // bad destination system
			if errors.Is(rt.Err, ErrUnknownUser) {
				enh = "5.1.1" // bad destination mailbox
			}
			m.fail(r, now, rt.Err, 550, enh)
			m.logResult(e.ID, e.From, r, "none")
		case RouteLocal:
			m.local(msg, r, rt.Target, now)
		case RouteRelay:
			relay = append(relay, r)
		case RouteNode:
			if e.Origin == rt.Node.ID.String() {
				m.fail(r, now, fmt.Errorf("%w: would go back to %s, where it came from", ErrLoop, rt.Node.Name), 554, "5.4.6")
				m.logResult(e.ID, e.From, r, "nncp:"+rt.Node.Name)
				continue
			}
			if _, ok := nodes[rt.Node.Name]; !ok {
				nodeOrder = append(nodeOrder, rt.Node)
			}
			nodes[rt.Node.Name] = append(nodes[rt.Node.Name], r)
		}
	}
	for _, n := range nodeOrder {
		m.onward(e, open, n, nodes[n.Name], now)
	}
	if len(relay) > 0 {
		m.smtp(msg, relay, now)
	}
}

// settle schedules retries, gives up on old messages, bounces failures,
// and finishes queued entries with nothing pending.
func (m *MTA) settle(e *queue.Entry, now time.Time, open opener) error {
	pending := false
	for _, r := range e.Rcpts {
		if r.State == queue.Pending && r.Err != "" {
			pending = true
		}
	}
	if pending {
		e.Attempts++
		if now.Sub(e.Received) > m.Mail.GiveUp {
			for _, r := range e.Rcpts {
				if r.State == queue.Pending {
					r.State = queue.Failed
					r.Err = "retry time exceeded; last error: " + r.Err
					if r.Enhanced == "" || r.Enhanced[0] == '4' {
						r.Enhanced = "4.4.7"
					}
				}
			}
		} else {
			e.NextTry = now.Add(m.backoff(e.Attempts))
			e.LastErr = firstErr(e)
		}
	}
	m.bounceOrDefer(e, now, open)
	for _, r := range e.Rcpts {
		switch {
		case r.State == queue.Pending && r.Err != "":
			m.Log.Mail(&Event{What: "deferred", ID: e.ID, From: e.From, Rcpts: []string{r.Addr}, Via: r.Via, Err: errors.New(r.Err)})
		}
	}
	if e.Done() {
		return m.Queue.Finish(e, now)
	}
	return m.Queue.Update(e)
}

// bounceOrDefer sends the bounces e owes. One that cannot be sent now
// keeps the entry in the queue, tried again with the retry backoff, until
// the give-up time (counted from the failure) is over.
func (m *MTA) bounceOrDefer(e *queue.Entry, now time.Time, open opener) {
	err := m.bounce(e, now, open)
	if err == nil {
		return
	}
	m.Log.Mail(&Event{What: "deferred", ID: e.ID, From: e.From, Err: fmt.Errorf("bounce not sent: %w", err)})
	var gaveUp []*queue.Rcpt
	for _, r := range e.Rcpts {
		if !r.OwesBounce() {
			continue
		}
		r.BounceErr = err.Error()
		if now.Sub(r.Updated) > m.Mail.GiveUp {
			r.BounceGaveUp = true
			gaveUp = append(gaveUp, r)
		}
	}
	if len(gaveUp) > 0 {
		m.Log.Mail(&Event{What: "failed", ID: e.ID, From: e.From, Rcpts: addrs(gaveUp),
			Err: fmt.Errorf("bounce given up after %v: %w", m.Mail.GiveUp, err)})
	}
	if !e.Done() {
		e.Attempts++
		e.NextTry = now.Add(m.backoff(e.Attempts))
		e.LastErr = "bounce not sent: " + err.Error()
	}
}

func firstErr(e *queue.Entry) string {
	for _, r := range e.Rcpts {
		if r.State == queue.Pending && r.Err != "" {
			return r.Err
		}
	}
	return ""
}

// backoff is the wait after the n-th failed attempt: the retry interval,
// doubling, at most 4 hours.
func (m *MTA) backoff(n int) time.Duration {
	d := m.Mail.RetryInterval
	for i := 1; i < n && d < 4*time.Hour; i++ {
		d *= 2
	}
	return min(d, 4*time.Hour)
}

func (m *MTA) ok(r *queue.Rcpt, now time.Time, via string) {
	r.State, r.Via, r.Err, r.Updated = queue.Delivered, via, "", now
}

// fail marks r failed for good (err) or, if err is temporary, leaves it
// pending with the error noted.
func (m *MTA) fail(r *queue.Rcpt, now time.Time, err error, code int, enhanced string) {
	r.Err, r.Updated = err.Error(), now
	r.Code, r.Enhanced = code, enhanced
	r.Diag, r.RemoteMTA = "", ""
	var de *deliver.Error
	if errors.As(err, &de) {
		r.Code, r.Enhanced, r.Diag, r.RemoteMTA = de.Code, de.Enhanced, de.Diagnostic(), de.RemoteMTA
		if de.Temporary() {
			return // stays pending
		}
	} else if code >= 400 && code < 500 {
		return
	}
	r.State = queue.Failed
}

func (m *MTA) result(r *queue.Rcpt, res deliver.Result, now time.Time, via string) {
	r.Via = via
	if res.Err == nil {
		m.ok(r, now, via)
		return
	}
	m.fail(r, now, res.Err, 451, "4.0.0")
}

// local delivers to a mailbox or command on this node.
func (m *MTA) local(msg *deliver.Message, r *queue.Rcpt, target string, now time.Time) {
	kind, arg, err := config.ParseMailTarget(target)
	if err != nil {
		m.fail(r, now, err, 550, "5.3.5")
		return
	}
	var t deliver.Transport
	switch kind {
	case config.TargetMaildir:
		t = deliver.Maildir{Path: arg, Create: true, NoSync: m.Queue.NoSync}
	case config.TargetMbox:
		t = deliver.Mbox{Path: arg}
	case config.TargetPipe:
		t = deliver.Pipe{Argv: strings.Fields(arg)}
	}
	m.result(r, t.Deliver(context.Background(), msg, []string{r.Addr})[0], now, target)
	m.logResult(msg.ID, msg.From, r, target)
}

func (m *MTA) logResult(id, from string, r *queue.Rcpt, via string) {
	switch r.State {
	case queue.Delivered:
		m.Log.Mail(&Event{What: "delivered", ID: id, From: from, Rcpts: []string{r.Addr}, Via: via})
	case queue.Failed:
		m.Log.Mail(&Event{What: "failed", ID: id, From: from, Rcpts: []string{r.Addr}, Via: via, Err: errors.New(r.Err)})
	}
}

// smtp hands the recipients to the SMTP smarthost in one transaction.
func (m *MTA) smtp(msg *deliver.Message, rcpts []*queue.Rcpt, now time.Time) {
	rl := m.Mail.Relay
	pw := rl.Password
	if rl.PasswordFile != "" {
		b, err := os.ReadFile(rl.PasswordFile)
		if err != nil {
			for _, r := range rcpts {
				m.fail(r, now, fmt.Errorf("relay password: %w", err), 451, "4.3.5")
			}
			return
		}
		pw = strings.TrimSpace(string(b))
	}
	s := deliver.SMTP{Addr: rl.Addr, Username: rl.Username, Password: pw, Helo: rl.Helo}
	if s.Helo == "" {
		s.Helo = m.Domain()
	}
	switch rl.TLS {
	case "none":
		s.TLS = deliver.TLSNone
	case "tls":
		s.TLS = deliver.TLSImplicit
	case "opportunistic":
		s.TLS = deliver.TLSOpportunistic
	default:
		s.TLS = deliver.TLSStartTLS
	}
	if rl.Insecure {
		s.TLSConfig = insecureTLS()
	}
	addrs := make([]string, len(rcpts))
	for i, r := range rcpts {
		addrs[i] = r.Addr
	}
	via := "smtp:" + rl.Addr
	for i, res := range s.Deliver(context.Background(), msg, addrs) {
		m.result(rcpts[i], res, now, via)
		m.logResult(msg.ID, msg.From, rcpts[i], via)
	}
}

// onward sends the recipients on to neighbour n over NNCP, as a new
// packet (onion-routed by n's via; relays never see inside).
func (m *MTA) onward(e *queue.Entry, open opener, n *config.Neighbour, rcpts []*queue.Rcpt, now time.Time) {
	env := &bsmtp.Envelope{From: e.From}
	if e.EnvID != "" {
		env.Params = append(env.Params, bsmtp.Param{Key: "ENVID", Value: e.EnvID})
	}
	if e.Ret != "" {
		env.Params = append(env.Params, bsmtp.Param{Key: "RET", Value: e.Ret})
	}
	if e.Body != "" {
		env.Params = append(env.Params, bsmtp.Param{Key: "BODY", Value: e.Body})
	}
	for _, r := range rcpts {
		env.To = append(env.To, r.Addr)
		var ps []bsmtp.Param
		if r.Notify != "" {
			ps = append(ps, bsmtp.Param{Key: "NOTIFY", Value: r.Notify})
		}
		if r.ORcpt != "" {
			ps = append(ps, bsmtp.Param{Key: "ORCPT", Value: r.ORcpt})
		}
		env.RcptParams = append(env.RcptParams, ps)
	}
	via := "nncp:" + n.Name
	if err := m.checkLimits(n, e.Size); err != nil {
		for _, r := range rcpts {
			code, enh := 452, "4.3.1"
			if IsPermanent(err) {
				code, enh = 552, "5.3.4"
			}
			m.fail(r, now, err, code, enh)
			r.Via = via
			m.logResult(e.ID, e.From, r, via)
		}
		return
	}
	msg := &Message{Env: env, Size: e.Size, Open: open}
	res, err := m.sendEnvelope(n, env, msg)
	for _, r := range rcpts {
		if err != nil {
			m.fail(r, now, err, 451, "4.3.0")
			r.Via = via
			continue
		}
		m.ok(r, now, via)
	}
	if err == nil {
		m.Log.Mail(&Event{What: "delivered", ID: e.ID, From: e.From, Rcpts: env.To, Via: via, Pkt: res.Pkt, Size: e.Size})
	}
}
