package cli

import (
	"errors"
	"fmt"

	"ferry/internal/bundle"
	"ferry/internal/node"
	"ferry/internal/spool"
)

func init() {
	register("bundle", &command{summary: "Create/digest stream of NNCP encrypted packets", run: runBundle, nncp: true})
}

func runBundle(x *ctx, args []string) error {
	fs := x.flags("[options] -tx [-delete] NODE [NODE ...] > ...",
		"[options] -rx -delete [-dryrun] [NODE ...] < ...",
		"[options] -rx [-check] [-dryrun] [NODE ...] < ...")
	niceS := fs.String("nice", "MAX", "Minimal required niceness")
	doRx := fs.Bool("rx", false, "Receive packets")
	doTx := fs.Bool("tx", false, "Transfer packets")
	doDelete := fs.Bool("delete", false, "Delete transferred packets")
	// Packets are always checked against their names on the way in (the
	// hash is computed anyway); -check is accepted for compatibility.
	fs.Bool("check", false, "Check integrity while receiving")
	dryRun := fs.Bool("dryrun", false, "Do no writes")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	nice, err := parseNice("nice", *niceS)
	if err != nil {
		return usageErr("%v", err)
	}
	switch {
	case *doRx && *doTx:
		return exitCode(1, errors.New("-rx and -tx can not be set simultaneously"))
	case !*doRx && !*doTx:
		return exitCode(1, errors.New("at least one of -rx and -tx must be specified"))
	}
	if err := x.setup(); err != nil {
		return err
	}
	self, err := x.self()
	if err != nil {
		return err
	}
	o := bundle.Options{Self: self.ID, MaxNice: nice, Delete: *doDelete, DryRun: *dryRun}
	for _, a := range fs.Args() {
		n, err := x.node(a)
		if err != nil {
			return fmt.Errorf("invalid node specified: %w", err)
		}
		o.Nodes = append(o.Nodes, n.ID)
	}
	var failed int
	if *doTx {
		o.Report = x.reportBundleTx
		failed, err = bundle.Tx(x.spool, x.Stdout, o)
	} else {
		o.Known = func(id node.ID) bool { _, ok := x.cfg.ByID[id]; return ok && id != self.ID }
		o.Report = x.reportBundleRx
		failed, err = bundle.Rx(x.spool, x.Stdin, o)
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return exitCode(1, nil)
	}
	return nil
}

func (x *ctx) reportBundleTx(ev *bundle.Event) {
	name := x.cfg.Name(ev.Node)
	f := []kv{{"XX", "tx"}, {"Node", ev.Node.String()}, {"Pkt", ev.Pkt}}
	switch ev.Kind {
	case bundle.Sent:
		f = append(f, kv{"Size", itoa(ev.Size)})
		x.log.info("bundle-tx", f, fmt.Sprintf("Bundle transfer, sent to node %s %s (%s)", name, ev.Pkt, humanSize(ev.Size)))
	case bundle.Failed:
		if ev.Pkt == "" {
			f = f[:2]
		}
		x.log.fail("bundle-tx", f, ev.Err, fmt.Sprintf("Bundle transfer, sent to node %s %s", name, ev.Pkt))
	case bundle.Skipped:
		x.log.debugf("Bundle transfer %s/tx/%s: %s", ev.Node, ev.Pkt, ev.Skip)
	}
}

func (x *ctx) reportBundleRx(ev *bundle.Event) {
	if ev.XX == spool.TX { // -rx -delete: our own packet came back
		f := []kv{{"XX", "tx"}, {"Node", ev.Node.String()}, {"Pkt", ev.Pkt}}
		where := fmt.Sprintf("Bundle transfer %s/tx/%s", ev.Node, ev.Pkt)
		switch ev.Kind {
		case bundle.Removed:
			x.log.info("bundle-tx-removed", f, where+": removed")
		case bundle.Checked:
			x.log.info("bundle-tx", f, where+": intact (dry run: kept)")
		case bundle.Failed:
			x.log.fail("bundle-tx", f, ev.Err, where)
		case bundle.Skipped:
			x.log.debugf("%s: %s", where, ev.Skip)
		}
		return
	}
	f := []kv{{"XX", "rx"}, {"Node", ev.Node.String()}, {"Pkt", ev.Pkt}, {"FullSize", itoa(ev.FullSize)}}
	where := fmt.Sprintf("Bundle transfer %s/rx/%s", ev.Node, ev.Pkt)
	switch ev.Kind {
	case bundle.Received:
		f = append(f, kv{"Size", itoa(ev.Size)})
		x.log.info("bundle-rx", f, fmt.Sprintf("Bundle transfer, received from %s %s (%s)", ev.Node, ev.Pkt, humanSize(ev.Size)))
	case bundle.Failed:
		x.log.fail("bundle-rx", f, ev.Err, where)
	case bundle.Skipped:
		switch ev.Skip {
		case bundle.SkipExists, bundle.SkipSeen:
			x.log.debugf("%s: %s", where, ev.Skip)
		default:
			x.log.debugf("Bundle transfer rx/%s: %s", ev.Name, ev.Skip)
		}
	}
}
