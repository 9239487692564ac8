package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"ferry/internal/node"
)

// Defaults of the mail section.
const (
	DefaultMailHandle    = "rsmtp"
	DefaultMailListen    = "127.0.0.1:2525"
	DefaultRetryInterval = 15 * time.Minute
	DefaultGiveUp        = 5 * 24 * time.Hour
	DefaultMaxRcpt       = 100
	DefaultSMTPDMaxConn  = 100
	DefaultSMTPDGreeting = 30 * time.Second
	DefaultSMTPDTimeout  = 5 * time.Minute
)

func (c *Config) decodeMail(s obj) (*Mail, error) {
	m := &Mail{Raw: s.m, Handle: DefaultMailHandle, Mode: "bsmtp", Nice: node.NicePriority,
		Listen: DefaultMailListen, RetryInterval: DefaultRetryInterval, GiveUp: DefaultGiveUp,
		MaxRcpt: DefaultMaxRcpt, SMTPD: SMTPDLimits{MaxConn: DefaultSMTPDMaxConn,
			GreetingTimeout: DefaultSMTPDGreeting, Timeout: DefaultSMTPDTimeout}}
	var err error
	str := func(key string, dst *string) {
		if err != nil {
			return
		}
		if v, ok, e := s.str(key); e != nil {
			err = e
		} else if ok {
			*dst = v
		}
	}
	str("domain", &m.Domain)
	str("smarthost", &m.Smarthost)
	str("handle", &m.Handle)
	str("mode", &m.Mode)
	str("queue", &m.Queue)
	str("postmaster", &m.Postmaster)
	str("listen", &m.Listen)
	if err != nil {
		return nil, err
	}
	if m.Mode != "bsmtp" && m.Mode != "rmail" {
		return nil, fieldErr(join(s.field, "mode"), "want bsmtp or rmail, got %q", m.Mode)
	}
	if m.Queue != "" && !filepath.IsAbs(m.Queue) {
		return nil, fieldErr(join(s.field, "queue"), "must be an absolute path, got %q", m.Queue)
	}
	if m.Smarthost != "" {
		if _, err := c.Node(m.Smarthost); err != nil {
			return nil, wrapField(join(s.field, "smarthost"), err)
		}
	}
	if v, ok, e := s.str("nice"); e != nil {
		return nil, e
	} else if ok {
		if m.Nice, err = node.ParseNice(v); err != nil {
			return nil, wrapField(join(s.field, "nice"), err)
		}
	}
	if m.LocalDomains, err = s.strs("local-domains"); err != nil {
		return nil, err
	}
	for i, d := range m.LocalDomains {
		m.LocalDomains[i] = strings.ToLower(d)
	}
	if m.Users, err = s.strMap("users"); err != nil {
		return nil, err
	}
	for _, u := range sortedStrKeys(m.Users) {
		if _, _, err := ParseMailTarget(m.Users[u]); err != nil {
			return nil, wrapField(join(join(s.field, "users"), u), err)
		}
	}
	if m.Routes, err = s.strMap("routes"); err != nil {
		return nil, err
	}
	for _, d := range sortedStrKeys(m.Routes) {
		if _, err := c.Node(m.Routes[d]); err != nil {
			return nil, wrapField(join(join(s.field, "routes"), d), err)
		}
	}
	if r, ok, e := s.sub("relay"); e != nil {
		return nil, e
	} else if ok {
		if m.Relay, err = decodeRelay(r); err != nil {
			return nil, err
		}
	}
	if l, ok, e := s.sub("limits"); e != nil {
		return nil, e
	} else if ok {
		m.Limits = map[string]MailLimit{}
		for _, name := range sortedKeys(l.m) {
			f := join(l.field, name)
			if _, err := c.Node(name); err != nil {
				return nil, wrapField(f, err)
			}
			o, err := asObj(f, l.m[name])
			if err != nil {
				return nil, err
			}
			var lim MailLimit
			if lim.MaxSize, err = o.bytes("maxsize"); err != nil {
				return nil, err
			}
			if lim.MaxQueue, err = o.bytes("maxqueue"); err != nil {
				return nil, err
			}
			m.Limits[name] = lim
		}
	}
	if v, ok, e := s.num("max-rcpt", 0, 1<<20); e != nil {
		return nil, e
	} else if ok && v > 0 {
		m.MaxRcpt = int(v)
	}
	if d, ok, e := s.sub("smtpd"); e != nil {
		return nil, e
	} else if ok {
		if err := decodeSMTPD(d, &m.SMTPD); err != nil {
			return nil, err
		}
	}
	if r, ok, e := s.sub("retry"); e != nil {
		return nil, e
	} else if ok {
		if d, ok, err := r.duration("interval"); err != nil {
			return nil, err
		} else if ok {
			m.RetryInterval = d
		}
		if d, ok, err := r.duration("giveup"); err != nil {
			return nil, err
		} else if ok {
			m.GiveUp = d
		}
	}
	return m, nil
}

func decodeSMTPD(d obj, l *SMTPDLimits) error {
	if v, ok, err := d.num("max-conn", 1, 1<<20); err != nil {
		return err
	} else if ok {
		l.MaxConn = int(v)
	}
	if v, ok, err := d.num("max-conn-per-ip", 0, 1<<20); err != nil {
		return err
	} else if ok {
		l.MaxConnPerIP = int(v)
	}
	for key, dst := range map[string]*time.Duration{"greeting-timeout": &l.GreetingTimeout, "timeout": &l.Timeout} {
		if v, ok, err := d.duration(key); err != nil {
			return err
		} else if ok {
			if v <= 0 {
				return fieldErr(join(d.field, key), "must be more than 0")
			}
			*dst = v
		}
	}
	return nil
}

func decodeRelay(r obj) (*Relay, error) {
	rl := &Relay{TLS: "starttls"}
	var err error
	for key, dst := range map[string]*string{"addr": &rl.Addr, "tls": &rl.TLS, "username": &rl.Username,
		"password": &rl.Password, "password-file": &rl.PasswordFile, "helo": &rl.Helo} {
		if v, ok, e := r.str(key); e != nil {
			return nil, e
		} else if ok {
			*dst = v
		}
	}
	if rl.Addr == "" {
		return nil, wrapField(join(r.field, "addr"), ErrMissing)
	}
	if !strings.Contains(rl.Addr, ":") {
		rl.Addr += ":25"
	}
	switch rl.TLS {
	case "starttls", "tls", "none", "opportunistic":
	default:
		return nil, fieldErr(join(r.field, "tls"), "want starttls, tls, opportunistic or none, got %q", rl.TLS)
	}
	if rl.Insecure, err = r.flag("insecure"); err != nil {
		return nil, err
	}
	return rl, nil
}

// bytes reads a size: a number of bytes or a string like "10 MiB".
func (o obj) bytes(key string) (int64, error) {
	v, ok := o.get(key)
	if !ok {
		return 0, nil
	}
	f := join(o.field, key)
	if s, isStr := v.(string); isStr {
		n, err := humanize.ParseBytes(s)
		if err != nil {
			return 0, fieldErr(f, "want a size like 10485760 or \"10 MiB\", got %q", s)
		}
		return int64(n), nil
	}
	return asInt(f, v, 0, 1<<62)
}

// duration reads seconds, or a string like "15m", "4h", "5d".
func (o obj) duration(key string) (time.Duration, bool, error) {
	v, ok := o.get(key)
	if !ok {
		return 0, false, nil
	}
	f := join(o.field, key)
	if s, isStr := v.(string); isStr {
		d, err := ParseDuration(s)
		if err != nil {
			return 0, false, wrapField(f, err)
		}
		return d, true, nil
	}
	n, err := asInt(f, v, 0, 1<<40)
	return time.Duration(n) * time.Second, err == nil, err
}

// ParseDuration reads Go durations plus days: "90s", "15m", "4h", "5d".
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("want a duration like 15m or 5d, got %q", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	dd, err := time.ParseDuration(s)
	if err != nil || dd < 0 {
		return 0, fmt.Errorf("want a duration like 15m or 5d, got %q", s)
	}
	return dd, nil
}

// MailTarget kinds.
const (
	TargetMaildir = "maildir"
	TargetMbox    = "mbox"
	TargetPipe    = "pipe"
)

// ParseMailTarget splits "maildir:PATH", "mbox:PATH" or "pipe:CMD ARGS".
func ParseMailTarget(s string) (kind string, arg string, err error) {
	kind, arg, ok := strings.Cut(s, ":")
	if !ok || arg == "" {
		return "", "", fmt.Errorf("want maildir:PATH, mbox:PATH or pipe:COMMAND, got %q", s)
	}
	switch kind {
	case TargetMaildir, TargetMbox:
		if !filepath.IsAbs(arg) {
			return "", "", fmt.Errorf("%s path must be absolute, got %q", kind, arg)
		}
	case TargetPipe:
		if !filepath.IsAbs(strings.Fields(arg)[0]) {
			return "", "", fmt.Errorf("pipe command must be an absolute path, got %q", arg)
		}
	default:
		return "", "", fmt.Errorf("unknown delivery %q (want maildir, mbox or pipe)", kind)
	}
	return kind, arg, nil
}

func sortedStrKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
