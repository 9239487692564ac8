// Package cli owns ferry's command line: dispatch on the program name
// (nncp-NAME, sendmail, rmail) or the first argument, NNCP's flags and
// environment variables, and everything printed to the terminal. Each
// command parses its flags and calls into the packages that do the work.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"ferry/internal/tempfail"
)

// Version is ferry's version, set at build time with -ldflags.
var Version = "0.1.0-dev"

// NNCPVersion is the NNCP release ferry is compatible with.
const NNCPVersion = "8.8.2"

// Env is what a command sees of the world; tests run commands in-process
// with their own Env.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Extra file descriptors (nncp-ack writes to fd 4), by number.
	ExtraFiles map[int]*os.File
	// IsTerminal reports whether stderr is a terminal (progress bars).
	IsTerminal bool
}

// OSEnv is the process's real environment.
func OSEnv() *Env {
	return &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		IsTerminal: isTerminal(os.Stderr)}
}

// command is one subcommand.
type command struct {
	summary string
	run     func(c *ctx, args []string) error
	// nncp marks commands that also answer to nncp-NAME.
	nncp bool
}

var commands = map[string]*command{}

func register(name string, c *command) { commands[name] = c }

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// exitCode makes an error that exits with code; a nil err prints nothing.
func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

// usageErr formats a command-line mistake.
func usageErr(format string, a ...any) error {
	return exitCode(2, fmt.Errorf(format+"%w", append(a, errSilentUsage)...))
}

var errSilentUsage = errors.New("")

// exitArgs is how nncp-exec, nncp-file and nncp-freq exit on a wrong
// argument (one missing, a bad -nice): 1, as on every failure of theirs
// but flag parsing (2).
const exitArgs = 1

// argErr formats a wrong argument of exec, file or freq (exit exitArgs).
func argErr(format string, a ...any) error {
	return exitCode(exitArgs, fmt.Errorf(format+"%w", append(a, errSilentUsage)...))
}

// exitStatus is the one place an error becomes an exit status: the code
// an exitError carries; else EX_TEMPFAIL (75) when a retry can cure the
// failure (a full disk, a spool this user cannot write, a held lock:
// package tempfail), so that an MTA running ferry defers the message
// instead of bouncing it; else 1, NNCP's status for every other failure.
func exitStatus(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case tempfail.Is(err):
		return tempfail.ExitTempFail
	}
	return 1
}

// Main runs the command named by argv[0] or argv[1] and returns the exit
// status.
func Main(e *Env, argv []string) int {
	prog := filepath.Base(argv[0])
	args := argv[1:]
	name := ""
	switch {
	case strings.HasPrefix(prog, "nncp-"):
		name = strings.TrimPrefix(prog, "nncp-")
		if c, ok := commands[name]; !ok || !c.nncp {
			fmt.Fprintf(e.Stderr, "%s: ferry has no such command %q\n", prog, name)
			return 1
		}
	case prog == "sendmail" || prog == "rmail" || prog == "mailq" || prog == "newaliases":
		name = prog
	default:
		prog = "ferry"
		if len(args) == 0 {
			usage(e.Stderr)
			return 2
		}
		if args[0] == "help" && len(args) > 1 {
			args = []string{args[1], "-h"} // ferry help CMD: CMD's own usage
		}
		switch args[0] {
		case "-h", "-help", "--help", "help":
			usage(e.Stdout)
			return 0
		case "-version", "--version", "version":
			fmt.Fprintln(e.Stdout, versionLine())
			return 0
		}
		name, args = args[0], args[1:]
		prog = "ferry " + name
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.Stderr, "ferry: unknown command %q\nferry: hint: run \"ferry help\" for the list\n", name)
		return 2
	}
	x := &ctx{Env: e, prog: prog, name: name, argv: argv}
	defer x.close()
	err := c.run(x, args)
	if err == nil {
		return 0
	}
	code := exitStatus(err)
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return code
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	msg := err.Error()
	if msg != "" {
		fmt.Fprintf(e.Stderr, "%s: %s\n", prog, msg)
	}
	spoolDir := ""
	if x.cfg != nil {
		spoolDir = x.cfg.Spool
	}
	for _, h := range hints(name, spoolDir, err) {
		fmt.Fprintf(e.Stderr, "%s: hint: %s\n", prog, h)
	}
	return code
}

func versionLine() string {
	return fmt.Sprintf("ferry %s (NNCP %s compatible) built with %s", Version, NNCPVersion, runtime.Version())
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "%s\n\nUsage: ferry COMMAND [options] [args]\n\nCommands:\n", versionLine())
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nEvery command also answers to nncp-COMMAND (a symlink to ferry): see \"ferry install-links\".\nRun \"ferry COMMAND -h\" for a command's options.\n")
}
