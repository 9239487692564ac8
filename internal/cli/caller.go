package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"ferry/internal/caller"
	"ferry/internal/config"
)

func init() {
	register("caller", &command{summary: "croned NNCP TCP daemon caller", run: runCaller, nncp: true})
}

// autoTossFlags are nncp-call's and nncp-caller's -autotoss* options.
func autoTossFlags(fs interface {
	BoolVar(p *bool, name string, value bool, usage string)
}, a *caller.AutoToss) {
	fs.BoolVar(&a.Enabled, "autotoss", false, "Toss after call is finished")
	fs.BoolVar(&a.NoACK, "autotoss-noack", false, `Do not process "ack" packets during tossing`)
	fs.BoolVar(&a.NoArea, "autotoss-noarea", false, `Do not process "area" packets during tossing`)
	fs.BoolVar(&a.NoExec, "autotoss-noexec", false, `Do not process "exec" packets during tossing`)
	fs.BoolVar(&a.NoFile, "autotoss-nofile", false, `Do not process "file" packets during tossing`)
	fs.BoolVar(&a.NoFreq, "autotoss-nofreq", false, `Do not process "freq" packets during tossing`)
	fs.BoolVar(&a.NoTrns, "autotoss-notrns", false, `Do not process "trns" packets during tossing`)
	fs.BoolVar(&a.DoSeen, "autotoss-seen", false, "Create seen/ files during tossing")
}

// runCaller is nncp-caller: it runs the calls of every neighbour (or of
// those named) until SIGTERM or SIGINT. Each call is a child process with
// nncp-call's command line: this binary's "call" command, or -call-cmd.
//
// Once "ferry call" is a package function (internal/sp), the Dialer built
// here is the place to call it in-process instead of starting a child.
func runCaller(x *ctx, args []string) error {
	fs := x.flags("[options] [NODE ...]")
	var at caller.AutoToss
	autoTossFlags(fs, &at)
	callCmd := fs.String("call-cmd", "", "Program that makes each call, given nncp-call's options and NODE[:ADDR] [FORCEADDR]\n(ferry's own; default: this binary's call command; e.g. /usr/bin/nncp-call)")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if err := x.setup(); err != nil {
		return err
	}
	nodes, err := x.callerNodes(fs.Args())
	if err != nil {
		return err
	}
	d := &caller.ExecDialer{Path: *callCmd, Stdout: x.Stdout, Stderr: x.Stderr, Log: x.log.l}
	if d.Path == "" && commands["call"] == nil && slices.ContainsFunc(nodes, func(n *config.Neighbour) bool { return len(n.Calls) > 0 }) {
		return errNoCallCommand
	}
	if d.Path == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("can not find this program to run its call command: %w", err)
		}
		d.Path, d.Args = self, []string{"call"}
	}
	d.Args = append(d.Args, x.childFlags()...)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return caller.Run(ctx, caller.Options{
		Nodes:    nodes,
		Dial:     d.Dial,
		Queue:    caller.SpoolQueue{Spool: x.spool},
		Log:      x.log.l,
		AutoToss: at,
	})
}

// errNoCallCommand: this build has no "ferry call" to run.
var errNoCallCommand = errors.New("this ferry has no call command to make the calls with")

// callerNodes is the neighbours named (each once), or every neighbour by
// name, self included (nncp-caller logs it as having no calls).
func (x *ctx) callerNodes(names []string) ([]*config.Neighbour, error) {
	if len(names) == 0 {
		names = x.cfg.Names()
	}
	var out []*config.Neighbour
	seen := map[*config.Neighbour]bool{}
	for _, s := range names {
		n, err := x.node(s)
		if err != nil {
			return nil, fmt.Errorf("invalid NODE specified: %w", err)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no neighbours in the config")
	}
	return out, nil
}

// childFlags are the common options a child command gets so that it runs
// on the same config, spool and log, and prints as this one does.
func (x *ctx) childFlags() []string {
	var a []string
	if x.cfg.Path != "" {
		a = append(a, "-cfg", x.cfg.Path)
	}
	a = append(a, "-spool", x.cfg.Spool)
	if x.cfg.Log != "" {
		a = append(a, "-log", x.cfg.Log)
	}
	for _, f := range []struct {
		name string
		on   bool
	}{{"-quiet", x.quiet}, {"-debug", x.debug}, {"-progress", x.progress}, {"-noprogress", x.noProgress}} {
		if f.on {
			a = append(a, f.name)
		}
	}
	return a
}
