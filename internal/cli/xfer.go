package cli

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"

	"ferry/internal/node"
	"ferry/internal/pktcrypt"
	"ferry/internal/progress"
	"ferry/internal/spool"
	"ferry/internal/wire"
	"ferry/internal/xfer"
)

func init() {
	register("xfer", &command{summary: "carry packets through a directory (USB stick, shared folder)", run: runXfer, nncp: true})
}

func runXfer(x *ctx, args []string) error {
	fs := x.flags("[options] [-node NODE] [-mkdir] [-keep] [-rx|-tx] DIR")
	nodeS := fs.String("node", "", "Process only that node")
	mkdir := fs.Bool("mkdir", false, "Create necessary outbound directories")
	keep := fs.Bool("keep", false, "Do not delete transferred packets")
	rxOnly := fs.Bool("rx", false, "Only receive packets")
	txOnly := fs.Bool("tx", false, "Only transfer packets")
	niceS := fs.String("nice", "MAX", "Minimal required niceness")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitCode(2, nil)
	}
	if *rxOnly && *txOnly {
		return usageErr("-rx and -tx are mutually exclusive")
	}
	nice, err := parseNice("nice", *niceS)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := x.setup(); err != nil {
		return err
	}
	self, err := x.self()
	if err != nil {
		return err
	}
	dir := fs.Arg(0)
	if _, err := os.Stat(dir); *rxOnly && errors.Is(err, iofs.ErrNotExist) && !x.quiet {
		// nncp-xfer -rx is silent here (a debug record): a mistyped mount
		// point would look like an empty stick.
		fmt.Fprintf(x.Stderr, "%s: note: %s does not exist: nothing received (is the stick mounted?)\n", x.prog, dir)
	}
	o := xfer.Options{Self: self.ID, MaxNice: nice, Keep: *keep, Mkdir: *mkdir}
	if *nodeS != "" {
		n, err := x.node(*nodeS)
		if err != nil {
			return err
		}
		o.Nodes = []node.ID{n.ID}
	} else {
		for id := range x.cfg.ByID {
			o.Nodes = append(o.Nodes, id)
		}
	}
	o.Known = func(id node.ID) bool { _, ok := x.cfg.ByID[id]; return ok }
	o.Verify = func(h *wire.EncHeader) error {
		n, ok := x.cfg.ByID[h.Sender]
		if !ok {
			return xfer.ErrUnknownSigner
		}
		return pktcrypt.Verify(h, &n.Public)
	}
	o.Report = func(ev *xfer.Event) { x.reportXfer(dir, ev) }
	o.Progress = func(ev *xfer.Event) progress.Meter {
		desc := "Rx " + ev.Pkt
		if ev.XX == spool.TX {
			desc = "Tx " + ev.Pkt
		}
		if m := x.newMeter(ev.Size, desc); m != nil {
			return m
		}
		return nil
	}
	failed := 0
	if !*txOnly {
		f, err := xfer.Rx(x.spool, dir, o)
		if err != nil {
			return err
		}
		failed += f
	}
	if !*rxOnly {
		f, err := xfer.Tx(x.spool, dir, o)
		if err != nil {
			return err
		}
		failed += f
	}
	if failed > 0 {
		return exitCode(1, nil)
	}
	return nil
}

func (x *ctx) reportXfer(dir string, ev *xfer.Event) {
	name := x.cfg.Name(ev.Node)
	if ev.XX == spool.RX {
		f := []kv{{"XX", "rx"}, {"Dir", ev.Dir}, {"Node", ev.Node.String()}, {"File", ev.Path}, {"Size", itoa(ev.Size)}}
		switch {
		case ev.Err != nil:
			x.log.fail("xfer-rx", f, ev.Err, fmt.Sprintf("Packet transfer, received from %s: %s", name, ev.Path))
		case ev.Skip == "already seen":
			x.log.info("xfer-rx-seen", f[:4], fmt.Sprintf("Packet transfer, received from %s: %s: packet already seen", name, ev.Path))
		case ev.Skip != "":
			x.log.debugf("xfer rx %s: skipped: %s", ev.Path, ev.Skip)
		default:
			x.log.info("xfer-rx", f, fmt.Sprintf("Packet transfer, received from %s: %s (%s)", name, ev.Path, humanSize(ev.Size)))
		}
		return
	}
	f := []kv{{"XX", "tx"}, {"Node", ev.Node.String()}, {"Pkt", ev.Pkt}, {"Size", itoa(ev.Size)}}
	switch {
	case ev.Err != nil && ev.Pkt == "":
		x.log.fail("xfer-tx-mkdir", []kv{{"XX", "tx"}, {"Node", ev.Node.String()}, {"Dir", ev.Dir}}, ev.Err,
			fmt.Sprintf("Packet transfer, sent to %s: directory %s", name, ev.Dir))
	case ev.Err != nil:
		x.log.fail("xfer-tx", f, ev.Err, fmt.Sprintf("Packet transfer, sent to %s: %s", name, ev.Pkt))
	case ev.Skip != "":
		x.log.debugf("xfer tx %s %s: skipped: %s", ev.Dir, ev.Pkt, ev.Skip)
	default:
		x.log.info("xfer-tx", f, fmt.Sprintf("Packet transfer, sent to %s: %s (%s)", name, ev.Pkt, humanSize(ev.Size)))
	}
}
