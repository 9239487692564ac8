package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"ferry/internal/node"
	"ferry/internal/toss"
	"ferry/internal/wire"
)

func init() {
	register("toss", &command{summary: "process inbound packets: save files, run exec handles, answer freqs, relay", run: runToss, nncp: true})
}

func runToss(x *ctx, args []string) error {
	fs := x.flags("[options] [-node NODE] [-dryrun] [-cycle INT] [-seen] [-nofile] [-nofreq] [-noexec] [-notrns] [-noarea]")
	nodeS := fs.String("node", "", "Process only that node")
	dry := fs.Bool("dryrun", false, "Do not actually write any tossed data")
	cycle := fs.Uint("cycle", 0, "Repeat tossing after N seconds in infinite loop")
	seen := fs.Bool("seen", false, "Create seen/ files")
	var o toss.Options
	fs.BoolVar(&o.SkipFile, "nofile", false, `Do not process "file" packets`)
	fs.BoolVar(&o.SkipFreq, "nofreq", false, `Do not process "freq" packets`)
	fs.BoolVar(&o.SkipExec, "noexec", false, `Do not process "exec" packets`)
	fs.BoolVar(&o.SkipTrns, "notrns", false, `Do not process "transitional" packets`)
	fs.BoolVar(&o.SkipArea, "noarea", false, `Do not process "area" packets`)
	fs.BoolVar(&o.SkipACK, "noack", false, `Do not process "ack" packets`)
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitCode(2, nil)
	}
	if err := x.setup(); err != nil {
		return err
	}
	if _, err := x.self(); err != nil {
		return err
	}
	if *nodeS != "" {
		n, err := x.node(*nodeS)
		if err != nil {
			return err
		}
		o.Node = &n.ID
	}
	o.DryRun, o.Seen = *dry, *seen
	o.Report = x.reportToss
	t := &toss.Tosser{Cfg: x.cfg, Spool: x.spool, Sender: x.sender(), Opts: o}
	for {
		failed, err := t.Run()
		if err != nil {
			return err
		}
		if *cycle == 0 {
			if failed > 0 {
				return exitCode(1, nil)
			}
			return nil
		}
		time.Sleep(time.Duration(*cycle) * time.Second)
	}
}

// reportToss logs one toss event the way nncp-toss does.
func (x *ctx) reportToss(ev *toss.Event) {
	j := ev.Job
	from := j.Node.String()
	if ev.Sender != nil {
		from = ev.Sender.Name
	}
	f := []kv{{"Node", j.Node.String()}, {"Pkt", j.Name}, {"Nice", itoa(int64(j.Header.Nice))}}
	if ev.Outcome == toss.Duplicate {
		x.log.info("rx-seen", f, fmt.Sprintf("Tossing %s/%s: already tossed (seen/), duplicate removed", from, j.Name))
		return
	}
	if ev.Outcome == toss.Skipped {
		x.log.debugf("skipping %s packet %s from %s", ev.Type, j.Name, from)
		return
	}
	if ev.Type != 0 {
		f = append(f, kv{"Size", itoa(ev.Size)}, kv{"Type", ev.Type.String()})
	}
	if ev.Dst != "" {
		f = append(f, kv{"Dst", ev.Dst})
	}
	size := humanSize(ev.Size)
	if ev.Outcome == toss.Failed {
		who := "rx"
		if errors.Is(ev.Err, toss.ErrHandleFailed) {
			who = "rx-handle"
			if len(ev.Output) > 0 {
				f = append(f, kv{"Output", strings.TrimRight(string(ev.Output), "\n")})
			}
		}
		msg := fmt.Sprintf("Tossing %s/%s", from, j.Name)
		if ev.Type != 0 {
			msg = fmt.Sprintf("Tossing %s %s/%s (%s)", ev.Type, from, j.Name, size)
		}
		x.log.fail(who, f, ev.Err, msg)
		return
	}
	var msg string
	dry := ""
	if x.cfg != nil && ev.Job.Path != "" {
		if _, err := os.Stat(ev.Job.Path); err == nil {
			dry = " (dry run)"
		}
	}
	switch ev.Type {
	case wire.TypeFile:
		msg = fmt.Sprintf("Got file %s (%s) from %s", ev.Dst, size, from)
	case wire.TypeExec, wire.TypeExecFat:
		msg = fmt.Sprintf("Got exec from %s to %s (%s)", from, ev.Dst, size)
	case wire.TypeFreq:
		msg = fmt.Sprintf("Got file request %s to %s", ev.Dst, from)
		for _, r := range ev.Reply {
			if r != nil {
				x.log.info("tx", []kv{{"Type", "file"}, {"Node", j.Node.String()}, {"Nice", itoa(int64(ev.Nice))},
					{"Src", ev.Dst}, {"Size", itoa(r.Size)}, {"Pkt", r.Pkt}},
					fmt.Sprintf("File %s (%s) is sent to %s", ev.Dst, humanSize(r.Size), from))
			}
		}
	case wire.TypeTrns:
		next := ev.Dst
		if id, err := node.ParseID(ev.Dst); err == nil {
			next = x.cfg.Name(id)
		}
		if ev.Relayed != nil {
			x.log.info("tx", []kv{{"Type", "trns"}, {"Node", ev.Dst}, {"Nice", itoa(int64(j.Header.Nice))},
				{"Size", itoa(ev.Size)}, {"Pkt", ev.Relayed.Pkt}},
				fmt.Sprintf("Transitional packet to %s (%s) (nice %s)", next, size, node.NiceString(j.Header.Nice)))
		}
		msg = fmt.Sprintf("Got transitional packet from %s to %s (%s)", from, next, size)
	case wire.TypeACK:
		msg = fmt.Sprintf("Got ACK packet from %s of %s", from, ev.Dst)
	default:
		msg = fmt.Sprintf("Got %s packet from %s", ev.Type, from)
	}
	x.log.info("rx", f, msg+dry)
}
