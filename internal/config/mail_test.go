package config

import (
	"strings"
	"testing"
	"time"

	"ferry/internal/node"
)

func mailCfg(t *testing.T, mail string) (*Config, error) {
	t.Helper()
	self, _ := node.Generate()
	hub, _ := node.Generate()
	c := &Config{Spool: "/s", Log: "/l", Self: self, Neigh: map[string]*Neighbour{"hub": {Public: hub.Public}}}
	text := strings.Replace(string(Marshal(c)), "{\n", "{\n  mail: "+mail+"\n", 1)
	return Parse([]byte(text), "/etc/test.hjson")
}

func TestMailSection(t *testing.T) {
	c, err := mailCfg(t, `{
    domain: sat.example
    smarthost: hub
    nice: P+1
    local-domains: ["SAT.example", "localhost"]
    users: {root: "maildir:/var/mail/root", "*": "mbox:/var/mail/%u", list: "pipe:/usr/bin/list -x"}
    routes: {far.example: "hub", .far.example: "hub"}
    relay: {addr: "smtp.example.com", username: "u", password-file: "/etc/pw"}
    limits: {hub: {maxsize: "10 MiB", maxqueue: 104857600}}
    retry: {interval: "10m", giveup: "2d"}
    max-rcpt: 20
  }`)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Mail
	if m.Domain != "sat.example" || m.Smarthost != "hub" || m.Nice != 97 || m.Handle != "rsmtp" || m.Mode != "bsmtp" {
		t.Errorf("%+v", m)
	}
	if m.LocalDomains[0] != "sat.example" || m.Users["*"] != "mbox:/var/mail/%u" || m.Routes[".far.example"] != "hub" {
		t.Errorf("%+v", m)
	}
	if m.Relay.Addr != "smtp.example.com:25" || m.Relay.TLS != "starttls" || m.Relay.PasswordFile != "/etc/pw" {
		t.Errorf("relay %+v", m.Relay)
	}
	if l := m.Limits["hub"]; l.MaxSize != 10<<20 || l.MaxQueue != 100<<20 {
		t.Errorf("limits %+v", l)
	}
	if m.RetryInterval != 10*time.Minute || m.GiveUp != 48*time.Hour {
		t.Errorf("retry %v %v", m.RetryInterval, m.GiveUp)
	}
	if m.MaxRcpt != 20 {
		t.Errorf("max-rcpt %d", m.MaxRcpt)
	}
}

func TestMailSectionErrors(t *testing.T) {
	for mail, want := range map[string]string{
		`{smarthost: "nobody"}`:                 "mail.smarthost: \"nobody\": unknown node",
		`{mode: "uucp"}`:                        "mail.mode: want bsmtp or rmail",
		`{users: {a: "maildir:relative"}}`:      "mail.users.a: maildir path must be absolute",
		`{users: {a: "imap:/x"}}`:               "mail.users.a: unknown delivery",
		`{routes: {x.example: "nobody"}}`:       "mail.routes.x.example: \"nobody\": unknown node",
		`{relay: {tls: "starttls"}}`:            "mail.relay.addr: missing",
		`{relay: {addr: "x", tls: "maybe"}}`:    "mail.relay.tls: want starttls",
		`{limits: {hub: {maxsize: "lots"}}}`:    "mail.limits.hub.maxsize: want a size",
		`{retry: {giveup: "soon"}}`:             "mail.retry.giveup: want a duration",
		`{nice: "Z"}`:                           "mail.nice: invalid niceness",
		`{queue: "relative/dir"}`:               "mail.queue: must be an absolute path",
		`{limits: {nobody: {maxsize: 1}}}`:      "mail.limits.nobody: \"nobody\": unknown node",
		`{users: {a: "pipe:bin/x"}}`:            "pipe command must be an absolute path",
		`{local-domains: "not a list"}`:         "mail.local-domains: want a list",
		`{retry: {interval: -5}}`:               "must not be negative",
		`{users: {a: "maildir:"}}`:              "want maildir:PATH",
		`{relay: {addr: "x", insecure: "yes"}}`: "mail.relay.insecure: want true or false",
		`{limits: {hub: {maxqueue: "-3 MB"}}}`:  "want a size",
	} {
		_, err := mailCfg(t, mail)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "/etc/test.hjson") {
			t.Errorf("%s: %v, want %q", mail, err, want)
		}
	}
}

func TestMailSMTPDLimits(t *testing.T) {
	c, err := mailCfg(t, `{domain: "a.example"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := SMTPDLimits{MaxConn: 100, GreetingTimeout: 30 * time.Second, Timeout: 5 * time.Minute}
	if c.Mail.SMTPD != want || c.Mail.MaxRcpt != 100 {
		t.Errorf("defaults: %+v max-rcpt %d", c.Mail.SMTPD, c.Mail.MaxRcpt)
	}
	c, err = mailCfg(t, `{
    max-rcpt: 7
    smtpd: {
      max-conn: 5
      max-conn-per-ip: 2
      greeting-timeout: "2s"
      timeout: 60
    }
  }`)
	if err != nil {
		t.Fatal(err)
	}
	want = SMTPDLimits{MaxConn: 5, MaxConnPerIP: 2, GreetingTimeout: 2 * time.Second, Timeout: time.Minute}
	if c.Mail.SMTPD != want || c.Mail.MaxRcpt != 7 {
		t.Errorf("set: %+v max-rcpt %d", c.Mail.SMTPD, c.Mail.MaxRcpt)
	}
	for _, bad := range []string{`{smtpd: {max-conn: 0}}`, `{smtpd: {timeout: 0}}`, `{smtpd: {greeting-timeout: "x"}}`, `{max-rcpt: -1}`, `{smtpd: 5}`} {
		if _, err := mailCfg(t, bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
