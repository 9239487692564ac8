package cli

import (
	"bufio"
	"fmt"
	"os"

	"ferry/internal/logrec"
)

func init() {
	register("log", &command{summary: "print the log in short human-readable form", run: runLog, nncp: true})
}

// runLog prints the log as nncp-log does: one line per record, errors
// marked ERROR. The log is $NNCPLOG, -log, or the config's.
func runLog(x *ctx, args []string) error {
	fs := x.flags("[options]")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if err := x.load(); err != nil {
		return err
	}
	f, err := os.Open(x.cfg.Log)
	if err != nil {
		return fmt.Errorf("can not open log: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriter(x.Stdout)
	defer w.Flush()
	for rec, err := range logrec.Read(f) {
		if err != nil {
			w.Flush()
			return fmt.Errorf("can not read log: %w", err)
		}
		if rec.IsDescriptor() {
			continue
		}
		if err := logrec.Format(w, rec, logrec.FormatOptions{Debug: x.debug}); err != nil {
			return err
		}
	}
	return nil
}
