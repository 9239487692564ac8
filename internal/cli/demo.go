package cli

import (
	"flag"
	"fmt"
	"os"

	"ferry/internal/demo"
)

func init() {
	register("demo", &command{summary: "build a small network in a temporary directory and carry real packets across it", run: runDemo})
}

// runDemo has only its own flags: the common ones (-cfg, -spool, -log,
// -quiet...) would do nothing, as the demo makes its own configs.
func runDemo(x *ctx, args []string) error {
	fs := flag.NewFlagSet(x.prog, flag.ContinueOnError)
	fs.SetOutput(x.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(x.Stderr, "%s\n\n%s -- %s\n\nUsage: %s [-dir DIR] [-keep]\nOptions:\n", versionLine(), x.prog, commands[x.name].summary, x.prog)
		fs.PrintDefaults()
	}
	dir := fs.String("dir", "", "Build the network in DIR (kept afterwards)")
	keep := fs.Bool("keep", false, "Keep the temporary directory")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitCode(0, nil)
		}
		return exitCode(2, nil)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitCode(2, nil)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return demo.Run(demo.Options{Ferry: exe, Dir: *dir, Keep: *keep, Out: x.Stdout})
}
