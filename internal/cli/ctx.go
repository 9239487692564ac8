package cli

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/spool"
	"ferry/internal/tx"
)

// DefaultCfgPath is where NNCP 8.8.2 as packaged by Debian looks for its
// configuration.
const DefaultCfgPath = "/etc/nncp.hjson"

// ctx is one command invocation: its flags, config, spool and log.
type ctx struct {
	*Env
	prog, name string
	// argv is the whole command line, the program's path first.
	argv []string

	// common flags
	cfgPath, spoolPath, logPath string
	quiet, debug                bool
	progress, noProgress        bool
	version, warranty           bool

	cfg   *config.Config
	spool *spool.Spool
	log   *logger
}

func (x *ctx) close() {
	if x.log != nil {
		x.log.Close()
	}
}

// flags makes a FlagSet with NNCP's common options. usageLine is printed
// in -h output after "Usage: ".
func (x *ctx) flags(usageLines ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(x.prog, flag.ContinueOnError)
	fs.SetOutput(x.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(x.Stderr, "%s\n\n%s -- %s\n\n", versionLine(), x.prog, commands[x.name].summary)
		for i, l := range usageLines {
			if i == 0 {
				fmt.Fprintf(x.Stderr, "Usage: %s %s\n", x.prog, l)
			} else {
				fmt.Fprintf(x.Stderr, "       %s %s\n", x.prog, l)
			}
		}
		fmt.Fprintln(x.Stderr, "Options:")
		fs.PrintDefaults()
	}
	fs.StringVar(&x.cfgPath, "cfg", DefaultCfgPath, "Path to configuration file (overridden by $NNCPCFG)")
	fs.StringVar(&x.spoolPath, "spool", "", "Override path to spool (overridden by $NNCPSPOOL)")
	fs.StringVar(&x.logPath, "log", "", "Override path to logfile (overridden by $NNCPLOG)")
	fs.BoolVar(&x.quiet, "quiet", false, "Print only errors")
	fs.BoolVar(&x.debug, "debug", false, "Print debug messages")
	fs.BoolVar(&x.progress, "progress", false, "Force progress showing")
	fs.BoolVar(&x.noProgress, "noprogress", false, "Omit progress showing")
	fs.BoolVar(&x.version, "version", false, "Print version information")
	fs.BoolVar(&x.warranty, "warranty", false, "Print warranty information")
	return fs
}

// parse parses args; it returns errDone when -version or -warranty was
// handled.
func (x *ctx) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitCode(0, nil)
		}
		return exitCode(2, nil)
	}
	if x.version {
		fmt.Fprintln(x.Stdout, versionLine())
		return exitCode(0, nil)
	}
	if x.warranty {
		fmt.Fprintln(x.Stdout, "ferry is free software; there is NO WARRANTY, to the extent permitted by law.")
		return exitCode(0, nil)
	}
	return nil
}

// load reads the config ($NNCPCFG beats -cfg, as in NNCP), applies the
// spool and log overrides ($NNCPSPOOL beats -spool, $NNCPLOG beats -log),
// the umask, and opens the log.
func (x *ctx) load() error {
	path := x.cfgPath
	if v := x.Getenv("NNCPCFG"); v != "" {
		path = v
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if v := x.Getenv("NNCPSPOOL"); v != "" {
		cfg.Spool = v
	} else if x.spoolPath != "" {
		cfg.Spool = x.spoolPath
	}
	if v := x.Getenv("NNCPLOG"); v != "" {
		cfg.Log = v
	} else if x.logPath != "" {
		cfg.Log = x.logPath
	}
	if cfg.Umask != nil {
		syscall.Umask(int(*cfg.Umask))
	}
	x.cfg = cfg
	l, err := newLogger(x, cfg.Log)
	if err != nil {
		return err
	}
	if x.log != nil {
		x.log.Close()
	}
	x.log = l
	return nil
}

// openSpool opens the configured spool.
func (x *ctx) openSpool() error {
	s, err := spool.Open(x.cfg.Spool, spool.Options{
		NoSync: x.Getenv("NNCPNOSYNC") == "1",
		NoHdr:  x.cfg.NoHdr,
	})
	if err != nil {
		return err
	}
	x.spool = s
	return nil
}

// setup is load + openSpool.
func (x *ctx) setup() error {
	if err := x.load(); err != nil {
		return err
	}
	return x.openSpool()
}

func (x *ctx) sender() *tx.Sender { return &tx.Sender{Cfg: x.cfg, Spool: x.spool} }

// showProgress decides whether progress bars are drawn: -progress forces
// them, -noprogress, -quiet or the config's noprogress disable them, and
// otherwise they are drawn only on a terminal.
func (x *ctx) showProgress() bool {
	switch {
	case x.progress:
		return true
	case x.noProgress || x.quiet || (x.cfg != nil && x.cfg.NoProgress):
		return false
	}
	return x.IsTerminal
}

// self returns our node's keys or an error if the config has none.
func (x *ctx) self() (*node.Private, error) {
	if x.cfg.Self == nil {
		return nil, tx.ErrNoSelf
	}
	return x.cfg.Self, nil
}

// node resolves a neighbour by name or id.
func (x *ctx) node(s string) (*config.Neighbour, error) {
	return x.cfg.Node(s)
}

// parseNice reads a -nice style flag value.
func parseNice(flagName, s string) (uint8, error) {
	n, err := node.ParseNice(s)
	if err != nil {
		return 0, fmt.Errorf("-%s: %w", flagName, err)
	}
	return n, nil
}

// kib converts a KiB flag value (negative: unset) to bytes.
func kib(v int64) int64 {
	if v <= 0 {
		return 0
	}
	return v * 1024
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// destination is what file, exec and freq do first: read -nice (a usage
// error if bad), load the config and spool, find the node and read -via.
func (x *ctx) destination(nodeName, niceS, viaS string, minSizeKiB int64) (*config.Neighbour, tx.Options, error) {
	nice, err := parseNice("nice", niceS)
	if err != nil {
		return nil, tx.Options{}, argErr("%v", err)
	}
	if err := x.setup(); err != nil {
		return nil, tx.Options{}, err
	}
	to, err := x.node(nodeName)
	if err != nil {
		return nil, tx.Options{}, err
	}
	via, err := tx.ParseRoute(x.cfg, viaS)
	if err != nil {
		return nil, tx.Options{}, err
	}
	return to, tx.Options{Nice: nice, MinSize: kib(minSizeKiB), Via: via}, nil
}
