package cli

import (
	"errors"
	"ferry/internal/progress"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
	skipFlags(fs, &o.Skip, "", "", map[wire.Type]string{wire.TypeTrns: "transitional"})
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
	o.Report = x.tossReporter(*dry, x.mailOnToss())
	if x.showProgress() {
		o.Parallel = 1 // one bar at a time
	}
	o.Env = handleEnv(x.cfg.Path)
	o.InProcess = x.inProcessHandles()
	o.Progress = func(ev *toss.Event) progress.Meter {
		if m := x.newMeter(ev.Job.Size, "File "+string(ev.Path)); m != nil {
			return m
		}
		return nil
	}
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

// tossReporter is a toss's Report: it logs each event (reportToss) and,
// for each packet processed, sends the notifications (unless dry, a
// -dryrun) and hands it to after (nil: nothing more).
func (x *ctx) tossReporter(dry bool, after func(*toss.Event)) func(*toss.Event) {
	return func(ev *toss.Event) {
		x.reportToss(ev)
		if ev.Outcome != toss.Done {
			return
		}
		if !dry {
			x.notify(ev)
		}
		if after != nil {
			after(ev)
		}
	}
}

// skipFlags registers -PREFIXnofile ... -PREFIXnoack, each adding its
// packet type to *set. names overrides a type's name in the usage.
func skipFlags(fs *flag.FlagSet, set *toss.Types, prefix, suffix string, names map[wire.Type]string) {
	for _, f := range []struct {
		flag string
		ty   wire.Type
	}{
		{"nofile", wire.TypeFile}, {"nofreq", wire.TypeFreq}, {"noexec", wire.TypeExec},
		{"notrns", wire.TypeTrns}, {"noarea", wire.TypeArea}, {"noack", wire.TypeACK},
	} {
		name := f.ty.String()
		if n, ok := names[f.ty]; ok {
			name = n
		}
		fs.Var(skipFlag{set, f.ty}, prefix+f.flag, fmt.Sprintf("Do not process %q packets%s", name, suffix))
	}
}

// skipFlag is a boolean flag that adds a packet type to a set.
type skipFlag struct {
	set *toss.Types
	ty  wire.Type
}

func (f skipFlag) IsBoolFlag() bool { return true }

func (f skipFlag) String() string {
	if f.set == nil || !f.set.Has(f.ty) {
		return "false"
	}
	return "true"
}

func (f skipFlag) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	if on {
		*f.set |= toss.TypesOf(f.ty)
	} else {
		*f.set &^= toss.TypesOf(f.ty)
	}
	return nil
}

// reportToss logs one toss event the way nncp-toss does (CATALOG.md).
func (x *ctx) reportToss(ev *toss.Event) {
	j := ev.Job
	sender := j.Header.Sender
	from := sender.String()
	if ev.Sender != nil {
		from = ev.Sender.Name
	}
	nice := itoa(int64(j.Header.Nice))
	switch ev.Outcome {
	case toss.Skipped:
		x.log.debugf("skipping %s packet %s/%s", ev.Type, from, j.Name)
		return
	case toss.Duplicate:
		x.log.info("rx-seen", []kv{{"Node", sender.String()}, {"Pkt", j.Name}, {"Nice", nice}},
			fmt.Sprintf("Tossing %s/%s: already tossed (seen/), duplicate removed", from, j.Name))
		return
	}
	f := []kv{{"Node", sender.String()}, {"Pkt", j.Name}, {"Nice", nice}}
	if ev.Type != 0 {
		f = append(f, kv{"Size", itoa(ev.Size)}, kv{"Type", ev.Type.String()})
		if ev.Type == wire.TypeFreq {
			f = append(f, kv{"Src", ev.Src})
		}
		if ev.Type == wire.TypeACK {
			f = append(f, kv{"Pkt", ev.Dst})
		} else if ev.Dst != "" {
			f = append(f, kv{"Dst", ev.Dst})
		}
	}
	size := humanSize(ev.Size)
	if ev.Outcome == toss.Failed {
		x.reportTossFailure(ev, f, from, size)
		return
	}
	var msg string
	switch ev.Type {
	case wire.TypeFile:
		msg = fmt.Sprintf("Got file %s (%s) from %s", ev.Dst, size, from)
	case wire.TypeExec, wire.TypeExecFat:
		msg = fmt.Sprintf("Got exec from %s to %s (%s)", from, ev.Dst, size)
	case wire.TypeFreq:
		for _, r := range ev.Reply {
			x.log.info("tx", []kv{{"Type", "file"}, {"Node", sender.String()}, {"Nice", itoa(int64(ev.Nice))},
				{"Src", ev.Saved}, {"Dst", ev.Dst}, {"Size", itoa(r.Size)}, {"Pkt", r.Pkt}},
				fmt.Sprintf("File %s (%s) is sent to %s:%s", ev.Saved, humanSize(r.Size), from, ev.Dst))
		}
		msg = fmt.Sprintf("Got file request %s to %s", ev.Src, from)
	case wire.TypeTrns:
		next := ev.Dst
		if id, err := node.ParseID(ev.Dst); err == nil {
			next = x.cfg.Name(id)
		}
		if ev.Relayed != nil {
			x.log.info("tx", []kv{{"Type", "trns"}, {"Node", ev.Dst}, {"Nice", nice}, {"Size", itoa(ev.Size)}},
				fmt.Sprintf("Transitional packet to %s (%s) (nice %s)", next, size, node.NiceString(j.Header.Nice)))
		}
		msg = fmt.Sprintf("Got transitional packet from %s to %s (%s)", from, next, size)
	case wire.TypeACK:
		msg = fmt.Sprintf("Got ACK packet from %s of %s", from, ev.Dst)
	default:
		msg = fmt.Sprintf("Got %s packet from %s", ev.Type, from)
	}
	x.log.info("rx", f, msg)
}

// reportTossFailure logs a packet left in rx/, with the Who nncp-toss
// uses for the same failure.
func (x *ctx) reportTossFailure(ev *toss.Event, f []kv, from, size string) {
	j := ev.Job
	err := ev.Err
	what := fmt.Sprintf("Tossing %s %s/%s (%s)", ev.Type, from, j.Name, size)
	who, msg := "rx", what
	switch {
	case errors.Is(err, toss.ErrUnknownSender) && ev.Type == 0:
		who, msg = "rx-open", fmt.Sprintf("Tossing %s/%s", from, j.Name)
	case ev.Type == 0:
		who, msg = "rx-unmarshal", fmt.Sprintf("Tossing %s/%s: unmarshal", from, j.Name)
		f = f[:3]
	case errors.Is(err, toss.ErrNoHandle):
		who, msg = "rx-no-handle", what+": "+ev.Dst
	case errors.Is(err, toss.ErrHandleFailed):
		who, msg = "rx-handle", what+": "+ev.Dst+": handling"
		if len(ev.Output) > 0 {
			f = append(f, kv{"Output", strings.Trim(string(ev.Output), "\n")})
		}
	case errors.Is(err, toss.ErrExecTooBig):
		who, msg = "rx-exec-too-big", what+": "+ev.Dst+": body bigger than exec-maxsize, packet kept"
	case errors.Is(err, toss.ErrNoIncoming):
		who, msg = "rx-no-incoming", what+": "+ev.Dst
	case errors.Is(err, toss.ErrNoFreq):
		who, msg = "rx-no-freq", what+": "+ev.Src+" -> "+ev.Dst
	case ev.Type == wire.TypeFreq:
		who, msg = "rx-tx", what+": "+ev.Src+" -> "+ev.Dst+": txing"
	case ev.Type == wire.TypeFile:
		who, msg = "rx-file", what+": "+ev.Dst
	default:
		if ev.Dst != "" {
			msg = what + ": " + ev.Dst
		}
	}
	x.log.fail(who, f, err, msg)
}

// handleEnv is the environment exec handles start with: ours, plus
// NNCPCFG naming the config this toss uses (unless already set), so that
// a handle like "ferry rsmtp" reads the same config.
func handleEnv(cfgPath string) []string {
	env := os.Environ()
	if cfgPath == "" || os.Getenv("NNCPCFG") != "" {
		return env
	}
	if abs, err := filepath.Abs(cfgPath); err == nil {
		cfgPath = abs
	}
	return append(env, "NNCPCFG="+cfgPath)
}
