// Package config owns NNCP's Hjson configuration: parsing it into typed,
// validated structures, and writing new ones (cfgnew, cfgmin). It has no
// side effects: it never creates directories or touches the spool.
//
// Parse and Load accept what nncp-* 8.8.2 accept, with deliberate
// exceptions where nncp-* load a config that cannot work: a key neither
// ferry nor nncp-* know (a typo nncp-* ignore silently; keys.go), a node id
// that is not BLAKE2b-256 of its signpub, self public keys that do not
// match the private ones, a neigh.self that differs from self, and two
// neighbours sharing an id. It also accepts log: FD:N, which the manual
// documents but nncp-* only take from $NNCPLOG.
package config

import (
	"os"
	"time"

	"ferry/internal/node"
)

// Config is a loaded, validated configuration.
type Config struct {
	// Path is the file the config was loaded from ("" if from memory).
	Path string

	Spool      string       // absolute path of the spool directory
	Log        string       // absolute path of the log file, or "FD:N"
	Umask      *os.FileMode // nil when not set
	NoProgress bool
	NoHdr      bool

	Self  *node.Private         // nil for a cfgmin-style config without private keys
	Neigh map[string]*Neighbour // by name; always has "self" when Self != nil
	// ByID indexes Neigh by node id.
	ByID map[node.ID]*Neighbour

	Notify *Notify
	Areas  map[string]*Area

	// MCDListen, MCDSend, YggdrasilAliases are kept so that configs that use
	// them load; ferry does not act on them yet.
	MCDListen        []string
	MCDSend          map[string]int
	YggdrasilAliases map[string]string

	// Mail holds ferry's own mail settings (a top-level "mail" section that
	// nncp-* ignore). Nil when absent.
	Mail *Mail
}

// Neighbour is one entry of the neigh section.
type Neighbour struct {
	Name string
	node.Public

	Exec     map[string][]string // handle -> argv
	Incoming string              // "" forbids file uploads
	Freq     *Freq               // nil forbids file requests
	Via      []node.ID           // relays, first hop first
	Addrs    map[string]string   // name -> "host:port" or "|command"
	RxRate   int
	TxRate   int
	// OnlineDeadline and MaxOnlineTime are in seconds; OnlineDeadline
	// defaults to 10.
	OnlineDeadline int
	MaxOnlineTime  int
	Calls          []Call
	// ExecMaxSize (exec-maxsize, ferry's own) is the most bytes one exec
	// body from this neighbour may decompress to; bigger ones are refused
	// and kept. The loader sets DefaultExecMaxSize when it is absent.
	ExecMaxSize int64
	// Slow links (ferry's own keys; NNCP ignores them and they change
	// nothing on the wire). SPDeadline (sp-deadline, seconds; 0: 10, or
	// $NNCPDEADLINE) bounds the handshake and how long a read or write
	// may make no progress; SPPing (sp-ping, seconds; 0: 60) is the PING
	// interval, and twice it without a byte received ends a call; SPPad
	// (sp-pad, bytes; nil: 65280, as NNCP) is what our first message's
	// payload is padded to, 0 for none.
	SPDeadline int
	SPPing     int
	SPPad      *int
	// ExecParallel (exec-parallel, ferry's own) is how many of this
	// neighbour's exec handles toss may run at once. 0 or 1 (the
	// default): one at a time, in the queue's order, as nncp-toss does.
	ExecParallel int
}

// Freq is a neighbour's freq section. The loader sets Neighbour.Freq only
// when freq.path is set: without a path nothing may be requested, and the
// other fields mean nothing.
type Freq struct {
	Path    string
	Chunked int64 // KiB; 0: not chunked
	MinSize int64 // KiB; 0: no padding
	MaxSize int64 // KiB; 0: no limit on the size of a requested file
	// FollowSymlinks (follow-symlinks, ferry's own) serves files through
	// symbolic links that lead out of Path, as nncp-toss does; by default
	// they are refused.
	FollowSymlinks bool
}

// Call is one entry of a neighbour's calls list. Fields are kept as
// written; the cron expression has been checked with cron.Parse, as
// nncp-* check it when they load the config.
type Call struct {
	Cron           string
	Nice           uint8 // 0 when unset
	Xx             string
	RxRate         int
	TxRate         int
	Addr           string
	OnlineDeadline int
	MaxOnlineTime  int
	WhenTxExists   bool
	NoCK           bool
	MCDIgnore      bool
	AutoToss       bool
	AutoTossDoSeen bool
	AutoTossNoFile bool
	AutoTossNoFreq bool
	AutoTossNoExec bool
	AutoTossNoTrns bool
	AutoTossNoArea bool
	AutoTossNoACK  bool
}

// Notify is the notify section: who gets mail when packets are tossed.
type Notify struct {
	File *FromTo
	Freq *FromTo
	Exec map[string]*FromTo // "NODE.HANDLE" or "*.HANDLE"
}

// FromTo is one notification's addresses.
type FromTo struct {
	From string
	To   string
}

// Area is one multicast area; ferry loads them but does not process area
// packets yet.
type Area struct {
	Name         string
	ID           node.ID
	Pub          *[32]byte
	Prv          *[32]byte
	Subs         []string
	Exec         map[string][]string
	Incoming     string
	AllowUnknown bool
}

// Mail is ferry's mail section (top-level key "mail", which nncp-*
// ignore). See docs/mail.md for what each field does.
type Mail struct {
	// Raw is the section as written, for Marshal.
	Raw map[string]any

	// Domain qualifies bare local names (root -> root@Domain) and names
	// this node in Received headers and bounces. Default: the host name.
	Domain string
	// Smarthost is the neighbour that gets mail no other rule routes.
	Smarthost string
	// Handle is the exec handle mail is sent to (default "rsmtp").
	Handle string
	// Mode is "bsmtp" (default: one BSMTP batch on the handle's stdin)
	// or "rmail" (the handle gets the recipients as arguments).
	Mode string
	// Nice is the niceness of mail packets (default P, 96).
	Nice uint8
	// Queue is the mail queue directory (default SPOOL/mail).
	Queue string
	// Postmaster gets reports about mail that cannot be bounced.
	Postmaster string

	// LocalDomains are delivered here, through Users.
	LocalDomains []string
	// Users maps a local part (or "*") to a delivery: "maildir:PATH",
	// "mbox:PATH", "pipe:COMMAND ARGS...". %u in a path or command is the
	// local part.
	Users map[string]string
	// Routes maps a domain ("far.example") or a domain and its
	// subdomains (".far.example") to the neighbour that takes its mail.
	Routes map[string]string
	// Relay is the SMTP smarthost for the rest of the world.
	Relay *Relay
	// Limits per neighbour name.
	Limits map[string]MailLimit
	// RetryInterval is the first wait after a temporary failure (it
	// doubles up to 4 hours); GiveUp is how long a message may stay.
	RetryInterval, GiveUp time.Duration
	// Listen is ferry smtpd's address (default 127.0.0.1:2525).
	Listen string
	// MaxRcpt is the most recipients of one SMTP transaction ("max-rcpt",
	// default 100); 0 in the file means the default. It caps received
	// BSMTP transactions too: rsmtp bounces the recipients beyond it.
	MaxRcpt int
	// SMTPD holds ferry smtpd's limits (the "smtpd" subsection).
	SMTPD SMTPDLimits
}

// SMTPDLimits keep a flood of connections from taking ferry smtpd down.
type SMTPDLimits struct {
	// MaxConn is the most connections at once (default 100); beyond it a
	// client gets "421 4.7.0 too many connections".
	MaxConn int
	// MaxConnPerIP is the most from one client address (0: only MaxConn).
	MaxConnPerIP int
	// GreetingTimeout is how long a client has from connecting to its
	// HELO/EHLO (default 30s); Timeout the most it may stay silent after
	// that, between commands or within a message (default 5m).
	GreetingTimeout, Timeout time.Duration
}

// Relay is an SMTP smarthost.
type Relay struct {
	Addr         string // host:port
	TLS          string // "starttls" (default), "tls", "none", "opportunistic"
	Username     string
	Password     string
	PasswordFile string
	Helo         string
	// Insecure skips certificate checks (self-signed test servers).
	Insecure bool
}

// MailLimit keeps a slow link from clogging.
type MailLimit struct {
	MaxSize  int64 // largest message in bytes; 0: no limit
	MaxQueue int64 // most bytes waiting in the neighbour's tx queue; 0: no limit
}
