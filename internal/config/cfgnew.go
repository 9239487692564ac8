package config

import (
	"strings"

	"ferry/internal/node"
)

// Defaults nncp-cfgnew writes.
const (
	DefaultSpool = "/var/spool/nncp"
	DefaultLog   = "/var/spool/nncp/log"
)

// NewOptions are the choices `ferry cfgnew` offers.
type NewOptions struct {
	// NoComments leaves out the explanatory comments and the commented-out
	// examples, like nncp-cfgnew -nocomments.
	NoComments bool
	// Spool and Log default to DefaultSpool and DefaultLog.
	Spool, Log string
}

// NewText returns a new node's config for the keys in p, laid out like
// nncp-cfgnew's. Unlike nncp-cfgnew it leaves multicast discovery off: the
// mcd-listen and mcd-send lines are there, commented out, with the reason.
func NewText(p *node.Private, o NewOptions) []byte {
	if o.Spool == "" {
		o.Spool = DefaultSpool
	}
	if o.Log == "" {
		o.Log = DefaultLog
	}
	var noise string
	if p.NoisePub != nil {
		noise = b32(p.NoisePub[:])
	}
	tmpl := newTemplate
	if o.NoComments {
		tmpl = newTemplateNoComments
	}
	return []byte(strings.NewReplacer(
		"@SPOOL@", quoteValue(o.Spool),
		"@LOG@", quoteValue(o.Log),
		"@ID@", p.ID.String(),
		"@EXCHPUB@", b32(p.ExchPub[:]),
		"@EXCHPRV@", b32(p.ExchPrv[:]),
		"@SIGNPUB@", b32(p.SignPub),
		"@SIGNPRV@", b32(p.SignPrv),
		"@NOISEPRV@", b32(p.NoisePrv[:]),
		"@NOISEPUB@", noise,
	).Replace(tmpl))
}

// MinText returns the stripped config nncp-cfgmin prints: spool, log and
// the neighbours' public keys, for nncp-xfer on a machine that must not
// hold private keys. The layout is nncp-cfgmin's, byte for byte, plus a
// final newline.
func MinText(c *Config) []byte {
	w := newWobj()
	w.set("spool", c.Spool)
	w.set("log", c.Log)
	w.set("self", nil)
	neigh := newWobj()
	for _, name := range c.Names() {
		neigh.set(name, publicObj(&c.Neigh[name].Public))
	}
	w.set("neigh", neigh)
	return w.text(false)
}

const newTemplateNoComments = `{
  spool: @SPOOL@
  log: @LOG@

  self: {
    # DO NOT show anyone your private keys!!!
    id: @ID@
    exchpub: @EXCHPUB@
    exchprv: @EXCHPRV@
    signpub: @SIGNPUB@
    signprv: @SIGNPRV@
    noiseprv: @NOISEPRV@
    noisepub: @NOISEPUB@
  }

  neigh: {
    self: {
      id: @ID@
      exchpub: @EXCHPUB@
      signpub: @SIGNPUB@
      noisepub: @NOISEPUB@
      exec: {sendmail: ["/usr/sbin/sendmail"]}
    }
  }
}
`

const newTemplate = `{
  # Path to encrypted packets spool directory
  spool: @SPOOL@
  # Path to log file
  log: @LOG@
  # Enforce specified umask usage
  # umask: "022"
  # Omit progress showing by default
  # noprogress: true
  # Do not use hdr/ files
  # nohdr: true

  # MultiCast Discovery (MCD) is off. Once enabled, nncp-daemon announces
  # this node on every matching network interface, and nncp-caller calls
  # whichever neighbour announces itself nearby. Enable it only on networks
  # you trust, and name the interfaces rather than ".*".
  # List of interface regular expressions where to listen for MCD announcements
  # mcd-listen: [".*"]
  # Interfaces regular expressions and intervals (in seconds) where to send
  # MCD announcements
  # mcd-send: {.*: 10}

  # Yggdrasil related aliases:
  # yggdrasil-aliases: {
  #   myprv: 60bb...27aa
  #   bob-pub: 98de...ac19d
  #   alice-endpoint: tcp://example.com:1234?key=689c...13fb
  #   default-endpoints: tcp://[::1]:2345,alice-endpoint
  # }

  # Enable notification email sending
  # notify: {
  #   file: {
  #     from: nncp@localhost
  #     to: user+file@example.com
  #   }
  #   freq: {
  #     from: nncp@localhost
  #     to: user+freq@example.com
  #   }
  #   # Send some exec commands execution notifications
  #   exec: {
  #     # bob neighbour's "somehandle" notification
  #     bob.somehandle: {
  #       from: nncp+bob@localhost
  #       to: user+somehandle@example.com
  #     }
  #     # Any neighbour's "anotherhandle"
  #     *.anotherhandle: {
  #       from: nncp@localhost
  #       to: user+anotherhandle@example.com
  #     }
  #   }
  # }

  self: {
    # DO NOT show anyone your private keys!!!
    id: @ID@
    exchpub: @EXCHPUB@
    exchprv: @EXCHPRV@
    signpub: @SIGNPUB@
    signprv: @SIGNPRV@
    noiseprv: @NOISEPRV@
    noisepub: @NOISEPUB@
  }

  neigh: {
    self: {
      # You should give public keys below to your neighbours
      id: @ID@
      exchpub: @EXCHPUB@
      signpub: @SIGNPUB@
      noisepub: @NOISEPUB@

      exec: {
        # Default self's sendmail command is used for email notifications sending
        sendmail: ["/usr/sbin/sendmail"]
      }
    }

    # Example neighbour, most of fields are optional
    # alice: {
    #   id: XJZBK...65IJQ
    #   exchpub: MJACJ...FAI6A
    #   signpub: T4AFC...N2FRQ
    #   noisepub: UBM5K...VI42A
    #
    #   # He is allowed to send email
    #   # exec: {sendmail: ["/usr/sbin/sendmail"]}
    #
    #   # Allow incoming files saving in that directory
    #   # incoming: "/home/alice/incoming"
    #
    #   # Transitional nodes path
    #   # via: ["bob", "eve"]
    #
    #   # Inactivity timeout when session with remote peer should be terminated
    #   # onlinedeadline: 1800
    #
    #   # Maximal online session lifetime
    #   # maxonlinetime: 3600
    #
    #   # If neither freq section, nor freq.path exist, then no freqing allowed
    #   # freq: {
    #   #   # Allow freqing from that directory
    #   #   path: "/home/bob/pub"
    #   #   # Send freqed files with chunks
    #   #   # chunked: 1024
    #   #   # Send freqed files with minimal chunk size
    #   #   # minsize: 2048
    #   #   # Maximal allowable freqing file size
    #   #   # maxsize: 4096
    #   # }
    #
    #   # Set maximal packets per second receive and transmit rates
    #   # rxrate: 10
    #   # txrate: 20
    #
    #   # Address aliases
    #   # addrs: {
    #   #   lan: "[fe80::1234%igb0]:5400"
    #   #   internet: alice.com:3389
    #   # }
    #
    #   # Calls configuration
    #   # calls: [
    #   #   {
    #   #     cron: "*/2 * * * *"
    #   #     onlinedeadline: 1800
    #   #     maxonlinetime: 1750
    #   #     nice: PRIORITY+10
    #   #     rxrate: 10
    #   #     txrate: 20
    #   #     xx: rx
    #   #     addr: lan
    #   #     when-tx-exists: true
    #   #     nock: true
    #   #     mcd-ignore: true
    #   #
    #   #     autotoss: false
    #   #     autotoss-doseen: true
    #   #     autotoss-nofile: true
    #   #     autotoss-nofreq: true
    #   #     autotoss-noexec: true
    #   #     autotoss-notrns: true
    #   #   }
    #   # ]
    # }
  }
}
`
