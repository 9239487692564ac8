package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"ferry/internal/cli"
)

// The scripts in testdata/script run ferry in-process under the names a
// user runs it by: "ferry", and the nncp-* symlinks.
func TestMain(m *testing.M) {
	run := func() { os.Exit(cli.Main(cli.OSEnv(), os.Args)) }
	cmds := map[string]func(){"ferry": run}
	for _, n := range []string{"file", "exec", "freq", "toss", "xfer", "cfgnew", "cfgmin", "stat", "rm", "check", "pkt", "log", "hash", "ack", "trns", "bundle", "reass", "caller", "cronexpr"} {
		cmds["nncp-"+n] = run
	}
	cmds["nncp-bogus"] = run
	testscript.Main(m, cmds)
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}
