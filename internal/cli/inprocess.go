package cli

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"ferry/internal/mail/mta"
	"ferry/internal/mail/submit"
	"ferry/internal/toss"
)

// inProcessHandles lets toss run "ferry rsmtp" itself when an exec handle
// is this very binary's rsmtp with the same config: the same work, one
// process less per mail. Anything else (another program, another config,
// flags it does not know) is started as a command, as nncp-toss would.
func (x *ctx) inProcessHandles() func(*toss.Handle) (bool, error) {
	if x.cfg.Mail == nil {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	self, err := os.Stat(exe)
	if err != nil {
		return nil
	}
	var (
		mu sync.Mutex // guards m: toss calls this from several goroutines
		m  *mta.MTA
	)
	open := func() *mta.MTA {
		mu.Lock()
		defer mu.Unlock()
		if m == nil {
			m, _ = mta.New(x.cfg, x.spool, mailLogger{x})
		}
		return m
	}
	return func(h *toss.Handle) (bool, error) {
		if len(h.Argv) < 2 || h.Argv[1] != "rsmtp" {
			return false, nil
		}
		if fi, err := os.Stat(h.Argv[0]); err != nil || !os.SameFile(fi, self) {
			return false, nil
		}
		// Options come from the handle's config line; the packet's
		// arguments are refused, as "ferry rsmtp" refuses them.
		k, ok := toss.ConfigPart(h.Sender, h.Argv)
		if !ok || k < 2 {
			return false, nil
		}
		if data := h.Argv[k:]; len(data) > 0 {
			err := fmt.Errorf("%w %q: rsmtp takes no arguments from the packet; its options come from the handle's config line",
				submit.ErrPacketArgument, data)
			fmt.Fprintf(h.Output, "ferry rsmtp: %v\n", err)
			return true, err
		}
		queueOnly := false
		args := h.Argv[2:k]
		for i := 0; i < len(args); i++ {
			a := strings.TrimPrefix(args[i], "-")
			switch {
			case a == "odq" || a == "-odq":
				queueOnly = true
			case a == "quiet" || a == "noprogress" || a == "-quiet" || a == "-noprogress":
			case (a == "cfg" || a == "-cfg") && i+1 < len(args):
				i++
				if !sameFile(args[i], x.cfg.Path) {
					return false, nil
				}
			case strings.HasPrefix(a, "cfg=") || strings.HasPrefix(a, "-cfg="):
				if _, v, _ := strings.Cut(a, "="); !sameFile(v, x.cfg.Path) {
					return false, nil
				}
			default:
				return false, nil
			}
		}
		m := open()
		if m == nil {
			return false, nil
		}
		res, err := m.ReceiveBSMTP(h.Stdin, h.Sender, mta.ReceiveOptions{QueueOnly: queueOnly})
		if err != nil {
			fmt.Fprintf(h.Output, "ferry rsmtp: %v\n", err)
			return true, err
		}
		if res.Quarantined != "" {
			fmt.Fprintf(h.Output, "ferry rsmtp: malformed parts kept in %s\n", res.Quarantined)
		}
		return true, nil
	}
}

func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}
