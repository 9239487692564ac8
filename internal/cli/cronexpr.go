package cli

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"ferry/internal/cron"
)

func init() {
	register("cronexpr", &command{summary: "cron expression checker", run: runCronExpr, nncp: true})
}

// runCronExpr is nncp-cronexpr: the next -num times of an expression (its
// arguments joined by spaces), computed in local time, printed in UTC.
func runCronExpr(x *ctx, args []string) error {
	fs := flag.NewFlagSet(x.prog, flag.ContinueOnError)
	fs.SetOutput(x.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(x.Stderr, "%s\n\n%s -- %s\n\nUsage: %s [-num XXX] CRON-EXPRESSION\n",
			versionLine(), x.prog, commands[x.name].summary, x.prog)
		fs.PrintDefaults()
	}
	num := fs.Uint("num", 10, "Number of future entries to print")
	fs.BoolVar(&x.version, "version", false, "Print version information")
	fs.BoolVar(&x.warranty, "warranty", false, "Print warranty information")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	expr, err := cron.Parse(strings.Join(fs.Args(), " "))
	if err != nil {
		return err
	}
	now := time.Now()
	fmt.Fprintf(x.Stdout, "Now:\t%s\n", now.UTC().Format(time.RFC3339Nano))
	for i, t := range expr.NextN(now, int(min(*num, 1<<20))) {
		fmt.Fprintf(x.Stdout, "%d:\t%s\n", i, t.UTC().Format(time.RFC3339))
	}
	return nil
}
