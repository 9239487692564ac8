package cli

import (
	"ferry/internal/node"
	"fmt"
	"io"
	"sort"
	"strings"

	"ferry/internal/spool"
)

func init() {
	register("stat", &command{summary: "show queued Rx/Tx stats", run: runStat, nncp: true})
}

func runStat(x *ctx, args []string) error {
	fs := x.flags("[options] [-pkt] [-node NODE]")
	nodeS := fs.String("node", "", "Process only that node")
	showPkt := fs.Bool("pkt", false, "Show packets listing")
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
	for _, name := range names {
		if err := x.statNode(x.Stdout, name, *showPkt); err != nil {
			return err
		}
	}
	return nil
}

// nodeNames is every neighbour's name, "self" included, sorted as
// nncp-stat prints them; or the name of the one -node names.
func (x *ctx) nodeNames(nodeS string) ([]string, error) {
	if nodeS == "" {
		return x.cfg.Names(), nil
	}
	n, err := x.node(nodeS)
	if err != nil {
		return nil, fmt.Errorf("invalid -node: %w", err)
	}
	return []string{n.Name}, nil
}

// niceStat is one niceness row of nncp-stat.
type niceStat struct {
	rxSize, txSize, nockSize int64
	rx, tx, nock             int
}

// statNode prints one node's block as nncp-stat does:
//
//	NAME
//		rx PKT SIZE (nice: N)           (-pkt: whole rx packets, then
//		rx PKT.nock SIZE (nice: N)       .nock, then .part, then whole
//		rx PKT.part SIZE                 tx packets, each in directory
//		tx PKT SIZE (nice: N)            order)
//		part: SIZE, N pkts              (if any .part in rx/)
//		nice: N | Rx: SIZE, N pkts | Tx: SIZE, N pkts [| NoCK: SIZE, N pkts]
//
// Only rx/ has .nock and .part files that count; files whose header
// cannot be read are left out (and said with -debug).
func (x *ctx) statNode(w io.Writer, name string, showPkt bool) error {
	id := x.cfg.Neigh[name].ID
	fmt.Fprintln(w, name)
	rows := map[uint8]*niceStat{}
	row := func(n uint8) *niceStat {
		if rows[n] == nil {
			rows[n] = &niceStat{}
		}
		return rows[n]
	}
	var listing []string
	var partSize int64
	var parts int
	for _, xx := range []spool.XX{spool.RX, spool.TX} {
		ents, err := x.spool.Scan(id, xx, true)
		if err != nil {
			return err
		}
		var pkts, nocks, partL []string
		for i := range ents {
			e := &ents[i]
			if e.Kind != spool.KindPart && e.Header == nil {
				x.log.debugf("stat: %s: %v", e.Path, e.HdrErr)
				continue
			}
			switch {
			case e.Kind == spool.KindPkt:
				r := row(e.Header.Nice)
				if xx == spool.RX {
					r.rx++
					r.rxSize += e.Size
				} else {
					r.tx++
					r.txSize += e.Size
				}
				pkts = append(pkts, fmt.Sprintf("\t%s %s %s (nice: %s)", xx, e.Pkt(), humanSize(e.Size), node.NiceString(e.Header.Nice)))
			case xx != spool.RX:
				// nncp-stat ignores .nock and .part files in tx/.
			case e.Kind == spool.KindNoCK:
				r := row(e.Header.Nice)
				r.nock++
				r.nockSize += e.Size
				nocks = append(nocks, fmt.Sprintf("\t%s %s%s %s (nice: %s)", xx, e.Pkt(), spool.NoCKSuffix, humanSize(e.Size), node.NiceString(e.Header.Nice)))
			case e.Kind == spool.KindPart:
				parts++
				partSize += e.Size
				partL = append(partL, fmt.Sprintf("\t%s %s%s %s", xx, e.Pkt(), spool.PartSuffix, humanSize(e.Size)))
			}
		}
		listing = append(listing, pkts...)
		listing = append(listing, nocks...)
		listing = append(listing, partL...)
	}
	if showPkt {
		for _, l := range listing {
			fmt.Fprintln(w, l)
		}
	}
	if parts > 0 {
		fmt.Fprintf(w, "\tpart: %10s, %3d pkts\n", humanSize(partSize), parts)
	}
	nices := make([]int, 0, len(rows))
	for n := range rows {
		nices = append(nices, int(n))
	}
	sort.Ints(nices)
	for _, n := range nices {
		r := rows[uint8(n)]
		var b strings.Builder
		fmt.Fprintf(&b, "\tnice: %3s | Rx: %10s, %3d pkts | Tx: %10s, %3d pkts",
			node.NiceString(uint8(n)), humanSize(r.rxSize), r.rx, humanSize(r.txSize), r.tx)
		if r.nock > 0 {
			fmt.Fprintf(&b, " | NoCK: %10s, %3d pkts", humanSize(r.nockSize), r.nock)
		}
		fmt.Fprintln(w, b.String())
	}
	return nil
}
