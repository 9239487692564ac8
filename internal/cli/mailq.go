package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"ferry/internal/mail/mta"
)

func runMailq(x *ctx, args []string) error {
	fs := x.flags("[-all] [-rm ID] [-q]")
	all := fs.Bool("all", false, "Also show delivered, bounced and cancelled messages")
	rm := fs.String("rm", "", "Cancel the message ID if it is still on this node")
	run := fs.Bool("q", false, "Run the mail queue: try every message whose retry time has come")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	m, err := x.mailSetup("")
	if err != nil {
		return err
	}
	switch {
	case *rm != "":
		if err := m.Cancel(*rm); err != nil {
			if errors.Is(err, mta.ErrNotCancellable) {
				return fmt.Errorf("%s: %w", *rm, err)
			}
			return err
		}
		fmt.Fprintf(x.Stdout, "%s cancelled\n", *rm)
		return nil
	case *run:
		return mailExit(m.RunQueue())
	}
	return x.printQueue(m, *all)
}

func (x *ctx) printQueue(m *mta.MTA, all bool) error {
	items, err := m.List(all)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		fmt.Fprintln(x.Stdout, "Mail queue is empty")
		return nil
	}
	now := m.Now()
	tw := tabwriter.NewWriter(x.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tAGE\tSIZE\tFROM\tTO\tVIA\tSUBJECT")
	for _, it := range items {
		from := it.From
		if from == "" {
			from = "<>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, it.State, age(now.Sub(it.Queued)),
			humanSize(it.Size), from, strings.Join(it.To, ","), it.Where, clip(it.Subject, 40))
		if it.Reason != "" {
			fmt.Fprintf(tw, "\t\t\t\t\t(%s)\t\t\n", clip(it.Reason, 120))
		}
	}
	return tw.Flush()
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
