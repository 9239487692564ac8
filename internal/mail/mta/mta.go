// Package mta owns what ferry does with mail: where each recipient goes
// (a local mailbox, a neighbour over NNCP, an SMTP smarthost), submission
// from sendmail and smtpd, reception of BSMTP batches and rmail calls from
// neighbours, the delivery runner with its retries, and bounces.
package mta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ferry/internal/config"
	"ferry/internal/mail/queue"
	"ferry/internal/spool"
	"ferry/internal/tempfail"
	"ferry/internal/tx"
)

// Errors of routing and submission.
var (
	ErrNoMailConfig = errors.New("the config has no mail section")
	ErrNoRoute      = errors.New("no route to the recipient's domain")
	ErrUnknownUser  = errors.New("no such local user")
	ErrTooBig       = errors.New("message is larger than the destination accepts")
	ErrQueueFull    = tempfail.New("the destination's queue is full") // temporary: the queue drains
	ErrLoop         = errors.New("mail loop")
)

// Logger receives what the MTA does; cli turns it into log records.
type Logger interface {
	Mail(ev *Event)
}

// Event is one thing that happened to a message.
type Event struct {
	What  string // "submitted", "queued", "received", "delivered", "deferred", "failed", "bounced", "duplicate", "quarantined"
	ID    string // queue or sent id
	From  string
	Rcpts []string
	Via   string // "maildir:...", "nncp:far", "smtp:host:port"
	Pkt   string // NNCP packet, when one was made
	Size  int64
	Err   error
}

// MTA is a node's mail system.
type MTA struct {
	Cfg    *config.Config
	Mail   *config.Mail
	Spool  *spool.Spool
	Sender *tx.Sender
	Queue  *queue.Queue
	Log    Logger
	Now    func() time.Time
	// Hostname names this host in Received headers when Mail.Domain is
	// unset.
	Hostname string
}

// New opens the mail system of a node. The config must have a mail
// section; the queue lives in mail.queue or SPOOL/mail.
func New(cfg *config.Config, sp *spool.Spool, log Logger) (*MTA, error) {
	if cfg.Mail == nil {
		return nil, ErrNoMailConfig
	}
	dir := cfg.Mail.Queue
	if dir == "" {
		dir = filepath.Join(sp.Dir, "mail")
	}
	q, err := queue.Open(dir, sp.NoSync)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	if log == nil {
		log = nopLogger{}
	}
	return &MTA{Cfg: cfg, Mail: cfg.Mail, Spool: sp, Sender: &tx.Sender{Cfg: cfg, Spool: sp},
		Queue: q, Log: log, Now: time.Now, Hostname: host}, nil
}

type nopLogger struct{}

func (nopLogger) Mail(*Event) {}

// Domain is the mail domain of this node.
func (m *MTA) Domain() string {
	if m.Mail.Domain != "" {
		return m.Mail.Domain
	}
	if m.Hostname != "" {
		return m.Hostname
	}
	return "localhost"
}

// Qualify adds the node's domain to a bare local name.
func (m *MTA) Qualify(addr string) string {
	if addr == "" || strings.Contains(addr, "@") {
		return addr
	}
	return addr + "@" + m.Domain()
}

// RouteKind says where a recipient goes.
type RouteKind int

// Route kinds.
const (
	RouteNone  RouteKind = iota
	RouteLocal           // a mailbox or command on this node
	RouteNode            // a neighbour over NNCP
	RouteRelay           // the SMTP smarthost
)

// Route is where one recipient goes.
type Route struct {
	Kind   RouteKind
	Node   *config.Neighbour // RouteNode
	Target string            // RouteLocal: "maildir:/...", "mbox:...", "pipe:..."
	Err    error             // RouteNone: why
}

// Via describes the route for logs and mailq.
func (r Route) Via() string {
	switch r.Kind {
	case RouteLocal:
		return r.Target
	case RouteNode:
		return "nncp:" + r.Node.Name
	case RouteRelay:
		return "smtp"
	}
	return "none"
}

// Route decides where rcpt goes: this node's domain and local-domains go
// to the users table; a domain in routes (exactly, or under ".parent") to
// that neighbour; anything else to the SMTP relay, or failing that to the
// smarthost neighbour.
func (m *MTA) Route(rcpt string) Route {
	local, domain := rcpt, m.Domain()
	if at := strings.LastIndexByte(rcpt, '@'); at >= 0 {
		local, domain = rcpt[:at], rcpt[at+1:] // "x@y"@domain: the last @
	}
	local = unquoteLocal(local)
	domain = strings.ToLower(domain)
	if m.isLocal(domain) {
		return m.localRoute(local, rcpt)
	}
	if name, ok := m.matchRoute(domain); ok {
		n, err := m.Cfg.Node(name)
		if err != nil {
			return Route{Err: err}
		}
		if n.ID == m.Cfg.Self.ID {
			return m.localRoute(local, rcpt)
		}
		return Route{Kind: RouteNode, Node: n}
	}
	if m.Mail.Relay != nil {
		return Route{Kind: RouteRelay}
	}
	if m.Mail.Smarthost != "" {
		n, err := m.Cfg.Node(m.Mail.Smarthost)
		if err != nil {
			return Route{Err: err}
		}
		return Route{Kind: RouteNode, Node: n}
	}
	return Route{Err: fmt.Errorf("%w %q (no route, relay or smarthost in the mail section)", ErrNoRoute, domain)}
}

func (m *MTA) isLocal(domain string) bool {
	if strings.EqualFold(domain, m.Domain()) {
		return true
	}
	for _, d := range m.Mail.LocalDomains {
		if d == domain {
			return true
		}
	}
	return false
}

func (m *MTA) matchRoute(domain string) (string, bool) {
	if n, ok := m.Mail.Routes[domain]; ok {
		return n, true
	}
	for d := domain; ; {
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return "", false
		}
		d = d[i+1:]
		if n, ok := m.Mail.Routes["."+d]; ok {
			return n, true
		}
	}
}

// unquoteLocal turns a quoted local part ("alice", "a\"b") into what it
// stands for, so that "alice"@domain is alice; anything else is returned
// as it is.
func unquoteLocal(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '\\' && i+1 < len(s)-1 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// safeLocal is what a local part may be to be put in a path or command.
func safeLocal(s string) bool {
	if s == "" || s[0] == '.' || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-+=", c)) {
			return false
		}
	}
	return true
}

func (m *MTA) localRoute(local, rcpt string) Route {
	lp := strings.ToLower(local)
	if base, _, ok := strings.Cut(lp, "+"); ok && m.Mail.Users[lp] == "" {
		lp = base // user+tag goes to user
	}
	t, ok := m.Mail.Users[lp]
	if !ok {
		if t, ok = m.Mail.Users["*"]; !ok {
			return Route{Err: fmt.Errorf("%w: %s", ErrUnknownUser, rcpt)}
		}
	}
	if strings.Contains(t, "%u") {
		if !safeLocal(lp) {
			return Route{Err: fmt.Errorf("%w: %q cannot be used in a path", ErrUnknownUser, local)}
		}
		t = strings.ReplaceAll(t, "%u", lp)
	}
	return Route{Kind: RouteLocal, Target: t}
}
