package mta

import (
	"fmt"
	"strings"

	"ferry/internal/config"
	"ferry/internal/mail/bsmtp"
	"ferry/internal/mail/queue"
)

// rcptKey is what makes two recipients the same: the local part exactly
// (RFC 5321 leaves its case to the receiving host), the domain in any
// case.
func rcptKey(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	return addr[:at] + "@" + strings.ToLower(addr[at+1:])
}

// dedupRcpts returns env with every recipient once, in the order of their
// first RCPT (with that RCPT's parameters), as sendmail does; env itself
// when nothing repeats.
func dedupRcpts(env *bsmtp.Envelope) *bsmtp.Envelope {
	seen := make(map[string]bool, len(env.To))
	dup := false
	for _, t := range env.To {
		k := rcptKey(t)
		if seen[k] {
			dup = true
			break
		}
		seen[k] = true
	}
	if !dup {
		return env
	}
	out := *env
	out.To, out.RcptParams = nil, nil
	clear(seen)
	for i, t := range env.To {
		k := rcptKey(t)
		if seen[k] {
			continue
		}
		seen[k] = true
		out.To = append(out.To, t)
		if env.RcptParams != nil {
			out.RcptParams = append(out.RcptParams, env.RcptParams[i])
		}
	}
	return &out
}

// maxRcpt is the most recipients a received transaction may have.
func (m *MTA) maxRcpt() int {
	if m.Mail.MaxRcpt > 0 {
		return m.Mail.MaxRcpt
	}
	return config.DefaultMaxRcpt
}

// capRcpts fails for good, before any attempt, the recipients of e beyond
// the limit: they are bounced ("too many recipients", 5.5.3), the others
// delivered.
func (m *MTA) capRcpts(e *queue.Entry) {
	limit := m.maxRcpt()
	if len(e.Rcpts) <= limit {
		return
	}
	err := fmt.Sprintf("too many recipients: more than %d in one transaction (mail.max-rcpt)", limit)
	for _, r := range e.Rcpts[limit:] {
		r.State, r.Err, r.Code, r.Enhanced = queue.Failed, err, 550, "5.5.3"
		r.Diag = "x-unix; " + err
	}
	m.Log.Mail(&Event{What: "failed", ID: e.ID, From: e.From, Rcpts: addrs(e.Rcpts[limit:]), Err: fmt.Errorf("%s", err)})
}
