package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/mail/mta"
)

func runMailq(x *ctx, args []string) error {
	fs := x.flags("[-all] [-rm ID] [-q] [ID]")
	all := fs.Bool("all", false, "Also show delivered and cancelled messages")
	rm := fs.String("rm", "", "Cancel the message ID if it is still on this node")
	run := fs.Bool("q", false, "Run the mail queue: try every message whose retry time has come")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("one message id at most, got %q", fs.Args())
	}
	m, err := x.mailSetup("")
	if err != nil {
		return err
	}
	switch {
	case *rm != "":
		if err := m.Cancel(*rm); err != nil {
			if errors.Is(err, mta.ErrNotCancellable) || errors.Is(err, mta.ErrAlreadyCancelled) || errors.Is(err, mta.ErrUnknownMessage) {
				return fmt.Errorf("%s: %w", *rm, err)
			}
			return err
		}
		fmt.Fprintf(x.Stdout, "%s cancelled\n", *rm)
		return nil
	case *run:
		return mailExit(m.RunQueue())
	case fs.NArg() == 1:
		return x.printMessage(m, fs.Arg(0))
	}
	return x.printQueue(m, *all)
}

// printQueue lists the queue, one line per message, fitted to the
// terminal's width ($COLUMNS, else the terminal's; unlimited when stdout
// is not a terminal): the widest of FROM, TO, VIA and SUBJECT give way
// first. "ferry mailq ID" shows one message in full.
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
	rows := [][]string{{"ID", "STATE", "AGE", "SIZE", "FROM", "TO", "VIA", "SUBJECT"}}
	var reasons []string
	for _, it := range items {
		from := it.From
		if from == "" {
			from = "<>"
		}
		to := ""
		if len(it.To) > 0 {
			to = it.To[0]
			if len(it.To) > 1 {
				to += fmt.Sprintf(" +%d", len(it.To)-1)
			}
		}
		rows = append(rows, []string{it.ID, it.State, age(now.Sub(it.Queued)), humanSize(it.Size), from, to, it.Where, it.Subject})
		reasons = append(reasons, it.Reason)
	}
	width := x.termWidth(x.Stdout)
	widths, fits := fitColumns(rows, width, []int{4, 5, 6, 7})
	if !fits {
		// Too narrow for all eight: VIA goes (the per-id view has it).
		for i, r := range rows {
			rows[i] = append(r[:6:6], r[7])
		}
		widths, _ = fitColumns(rows, width, []int{4, 5, 6})
	}
	for i, r := range rows {
		var b strings.Builder
		for c, cell := range r {
			cell = clip(cell, widths[c])
			b.WriteString(cell)
			if c < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[c]-len([]rune(cell))+2))
			}
		}
		fmt.Fprintln(x.Stdout, strings.TrimRight(b.String(), " "))
		if i > 0 && reasons[i-1] != "" {
			reason := "(" + reasons[i-1] + ")"
			if width > 0 {
				reason = clip(reason, width-4)
			}
			fmt.Fprintf(x.Stdout, "    %s\n", reason)
		}
	}
	return nil
}

// printMessage shows everything mailq knows of message id.
func (x *ctx) printMessage(m *mta.MTA, id string) error {
	items, err := m.List(true)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.ID != id {
			continue
		}
		w := x.Stdout
		line := func(k, v string) {
			if v != "" {
				fmt.Fprintf(w, "%-9s %s\n", k+":", v)
			}
		}
		from := it.From
		if from == "" {
			from = "<>"
		}
		line("ID", it.ID)
		line("State", it.State)
		line("Queued", it.Queued.UTC().Format(time.RFC3339)+" ("+age(m.Now().Sub(it.Queued))+" ago)")
		line("Size", humanSize(it.Size))
		line("From", from)
		for _, to := range it.To {
			line("To", to)
		}
		line("Via", it.Where)
		line("Subject", it.Subject)
		line("Packet", it.Pkt)
		line("Reason", it.Reason)
		return nil
	}
	return fmt.Errorf("%s: %w", id, mta.ErrUnknownMessage)
}

// termWidth is the width to fit lines on w to: $COLUMNS, else the
// terminal's when w is one, else 0 (no limit: a pipe or a file gets it
// all).
func (x *ctx) termWidth(w io.Writer) int {
	if n, err := strconv.Atoi(x.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	return 0
}

// fitColumns returns the width of each column of rows (two spaces apart)
// so that a line fits in width (0: no limit), narrowing the widest of the
// flexible columns one character at a time, none below minFlex, and
// whether that made the line fit.
func fitColumns(rows [][]string, width int, flexible []int) ([]int, bool) {
	const minFlex = 8
	w := make([]int, len(rows[0]))
	for _, r := range rows {
		for c, cell := range r {
			w[c] = max(w[c], len([]rune(cell)))
		}
	}
	if width <= 0 {
		return w, true
	}
	total := func() int {
		n := 2 * (len(w) - 1)
		for _, x := range w {
			n += x
		}
		return n
	}
	for total() > width {
		widest := -1
		for _, c := range flexible {
			if w[c] > minFlex && (widest < 0 || w[c] > w[widest]) {
				widest = c
			}
		}
		if widest < 0 {
			return w, false
		}
		w[widest]--
	}
	return w, true
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
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}
