package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"ferry/internal/node"
	"ferry/internal/spool"
)

func init() {
	register("check", &command{summary: "verify Rx/Tx packets checksum", run: runCheck, nncp: true})
}

// errBad is what nncp-check logs (Err: bad) for a packet whose MTH is not
// its name.
var errBad = errors.New("bad")

func runCheck(x *ctx, args []string) error {
	fs := x.flags("[-nock] [options]")
	nock := fs.Bool("nock", false, "Process .nock files")
	cycle := fs.Uint("cycle", 0, "Repeat check after N seconds in infinite loop")
	nodeS := fs.String("node", "", "Process only that node")
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
	names, err := x.nodeNames(*nodeS)
	if err != nil {
		return err
	}
	for {
		bad := 0
		for _, name := range names {
			n, err := x.checkNode(x.cfg.Neigh[name].ID, *nock)
			if err != nil {
				return err
			}
			bad += n
		}
		if *cycle == 0 {
			if bad > 0 {
				return exitCode(1, nil)
			}
			return nil
		}
		time.Sleep(time.Duration(*cycle) * time.Second)
	}
}

// checkNode verifies one node's packets and returns how many are bad.
// Plain mode hashes every whole packet of rx/ and tx/; -nock hashes the
// .nock files of rx/ and renames the good ones to whole packets. Bad
// files are reported and left where they are, never removed: rm -pkt or
// rm -nock do that.
//
// nncp-check stops at the first bad .nock file and skips a node's tx/
// when its rx/ has a bad packet; ferry goes on and reports them all.
func (x *ctx) checkNode(id node.ID, nock bool) (int, error) {
	bad := 0
	queues := []spool.XX{spool.RX, spool.TX}
	if nock {
		queues = queues[:1]
	}
	for _, xx := range queues {
		// Like nncp-check, plain mode reads (and caches in hdr/) every
		// header; -nock reads none.
		ents, err := x.spool.Scan(id, xx, !nock)
		if err != nil {
			return bad, err
		}
		for i := range ents {
			e := &ents[i]
			if (nock && e.Kind != spool.KindNoCK) || (!nock && e.Kind != spool.KindPkt) {
				continue
			}
			ok, err := x.checkOne(e)
			where := fmt.Sprintf("%s/%s/%s", id, xx, e.File)
			f := []kv{{"XX", string(xx)}, {"Node", id.String()}, {"Pkt", e.File}, {"FullSize", itoa(e.Size)}}
			switch {
			case err != nil:
				bad++
				x.log.fail("checking", f, err, "Checking: "+where)
			case !ok && nock:
				bad++
				x.log.fail("checking", f, spool.ErrChecksum, "Checking: "+where)
			case !ok:
				bad++
				x.log.fail("checking", f, errBad, "Checking: "+where)
			case nock:
				if err := x.spool.PromoteNoCK(id, xx, e); err != nil {
					bad++
					x.log.fail("checking", f, err, "Checking: "+where)
					continue
				}
				x.log.debugf("check: %s: good, renamed to %s", where, e.Pkt())
			default:
				x.log.debugf("check: %s: good", where)
			}
		}
	}
	return bad, nil
}

// checkOne hashes one file, with a progress bar when progress is shown.
func (x *ctx) checkOne(e *spool.Entry) (bool, error) {
	b := x.newBar(e.Size, "check "+e.File)
	defer b.finish()
	return x.spool.Verify(e, func(r io.Reader) io.Reader { return b.reader(r) })
}
