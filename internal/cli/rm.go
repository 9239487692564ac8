package cli

import (
	"bufio"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"ferry/internal/node"
	"ferry/internal/spool"
)

func init() {
	register("rm", &command{summary: "remove packet", run: runRm, nncp: true})
}

// errOlder is a malformed -older value.
var errOlder = errors.New("can not parse -older: want an integer and a unit: (s)econds, (m)inutes, (h)ours, (d)ays, e.g. 12h")

var olderRe = regexp.MustCompile(`^(\d+)([smhd])$`)

// parseOlder reads rm's -older (10s, 5m, 12h, 2d); "" is no limit.
func parseOlder(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	m := olderRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q: %w", s, errOlder)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, errOlder)
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	if n > int64(1<<63-1)/int64(unit) {
		return 0, fmt.Errorf("%q: too long ago: %w", s, errOlder)
	}
	return time.Duration(n) * unit, nil
}

func runRm(x *ctx, args []string) error {
	fs := x.flags(
		"[options] [-older X] -tmp",
		"[options] -lock",
		"[options] [-older X] {-all|-node NODE} -part",
		"[options] [-older X] {-all|-node NODE} -seen",
		"[options] [-older X] {-all|-node NODE} -nock",
		"[options] [-older X] {-all|-node NODE} -area",
		"[options] [-older X] {-all|-node NODE} {-rx|-tx} [-hdr]",
		"[options] [-older X] {-all|-node NODE} -pkt < ...",
	)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintln(x.Stderr, "-older option's time units are: (s)econds, (m)inutes, (h)ours, (d)ays")
	}
	all := fs.Bool("all", false, "Process all nodes")
	nodeS := fs.String("node", "", "Process only that node")
	doTmp := fs.Bool("tmp", false, "Remove temporary files")
	doLock := fs.Bool("lock", false, "Remove all lock files")
	dry := fs.Bool("dryrun", false, "Do not actually remove files")
	olderS := fs.String("older", "", "XXX{smhd}: only older than XXX number of time units")
	var w spool.Sweep
	fs.BoolVar(&w.Rx, "rx", false, "Process inbound packets")
	fs.BoolVar(&w.Tx, "tx", false, "Process outbound packets")
	fs.BoolVar(&w.Part, "part", false, "Remove only .part files")
	fs.BoolVar(&w.NoCK, "nock", false, "Remove only .nock files")
	fs.BoolVar(&w.Seen, "seen", false, "Remove only seen/ files")
	fs.BoolVar(&w.Hdr, "hdr", false, "Remove only hdr/ files")
	fs.BoolVar(&w.Area, "area", false, "Remove only area/* seen files")
	doPkt := fs.Bool("pkt", false, "Remove only that packets")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	older, err := parseOlder(*olderS)
	if err != nil {
		return err
	}
	if older > 0 {
		w.Before = time.Now().Add(-older)
	}
	if !*doTmp && !*doLock && *nodeS == "" && !*all {
		// nncp-rm prints its usage and exits 1 when told nothing to do.
		fs.Usage()
		return exitCode(1, nil)
	}
	if err := x.setup(); err != nil {
		return err
	}
	r := &remover{x: x, dry: *dry}
	switch {
	case *doTmp:
		var inc []string // and what killed tosses left in incoming directories
		for _, n := range x.cfg.Neigh {
			if n.Incoming != "" && !slices.Contains(inc, n.Incoming) {
				inc = append(inc, n.Incoming)
			}
		}
		if err := r.do(x.spool.SweepTmp(w.Before, inc...)); err != nil {
			return err
		}
		return r.result()
	case *doLock:
		if err := r.do(x.spool.SweepLocks()); err != nil {
			return err
		}
		return r.result()
	}
	var ids []node.ID
	if *nodeS != "" {
		n, err := x.node(*nodeS)
		if err != nil {
			return fmt.Errorf("invalid -node: %w", err)
		}
		ids = append(ids, n.ID)
	} else {
		for _, name := range x.cfg.Names() {
			ids = append(ids, x.cfg.Neigh[name].ID)
		}
	}
	if *doPkt {
		if w.Pkts, err = readPktNames(x); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if err := r.do(x.spool.SweepNode(id, w)); err != nil {
			return err
		}
	}
	return r.result()
}

// readPktNames reads rm -pkt's stdin: one packet name a line, surrounding
// blanks and any "directories" in front (NODE/PKT) ignored.
func readPktNames(x *ctx) (map[string]bool, error) {
	names := map[string]bool{}
	sc := bufio.NewScanner(x.Stdin)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if i := strings.LastIndexByte(l, '/'); i >= 0 {
			l = l[i+1:]
		}
		if l != "" {
			names[l] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading packet names from stdin: %w", err)
	}
	return names, nil
}

// remover deletes (or, dry, only reports) files, logging each as
// nncp-rm does.
type remover struct {
	x      *ctx
	dry    bool
	failed int
}

func (r *remover) do(ts []spool.Target, err error) error {
	if err != nil {
		return err
	}
	for _, t := range ts {
		f := []kv{{"File", t.Path}}
		msg := fmt.Sprintf("File %s: removed", t.Path)
		if r.dry {
			// nncp-rm -dryrun logs exactly what it would log for real.
			r.x.log.info("rm", f, msg)
			continue
		}
		if err := r.x.spool.RemoveTarget(t); err != nil {
			r.failed++
			r.x.log.fail("rm", f, err, fmt.Sprintf("File %s: removing", t.Path))
			continue
		}
		r.x.log.info("rm", f, msg)
	}
	return nil
}

func (r *remover) result() error {
	if r.failed > 0 {
		return exitCode(1, nil)
	}
	return nil
}
