package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/pktcrypt"
	"ferry/internal/spool"
	"ferry/internal/tx"
)

func init() {
	register("trns", &command{summary: "transit existing encrypted packet", run: runTrns, nncp: true})
}

func runTrns(x *ctx, args []string) error {
	fs := x.flags("[options] -via NODEx[,...] NODE:PKT\n       (to transit SPOOL/NODE/tx/PKT)",
		"[options] -via NODEx[,...] /path/to/PKT")
	niceS := fs.String("nice", "B", "Outbound packet niceness")
	viaS := fs.String("via", "", "Override Via path to destination node")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitCode(1, nil)
	}
	nice, err := parseNice("nice", *niceS)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := x.setup(); err != nil {
		return err
	}
	if _, err := x.self(); err != nil {
		return err
	}
	arg := fs.Arg(0)
	path := arg
	var dest *config.Neighbour
	if i := strings.IndexByte(arg, ':'); i > 0 && !strings.Contains(arg[:i], "/") {
		n, err := x.node(arg[:i])
		if err != nil {
			return err
		}
		if !spool.ValidName(arg[i+1:]) {
			return fmt.Errorf("%q: not a packet name", arg[i+1:])
		}
		dest, path = n, x.spool.PktPath(n.ID, spool.TX, arg[i+1:])
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h, err := pktcrypt.ReadHeader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	destID := h.Recipient
	if dest != nil {
		destID = dest.ID
	}
	via, err := tx.ParseRoute(x.cfg, *viaS)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	bar := x.newBar(fi.Size(), "Tx "+path)
	r, err := x.sender().Transit(destID, via, bar.reader(f), tx.Options{Nice: nice})
	bar.finish()
	if errors.Is(err, tx.ErrNoRelays) {
		return errors.New("no relay to transit the packet through: give them with -via NODEx[,...]")
	}
	if err != nil {
		return err
	}
	x.log.info("tx", []kv{{"Type", "trns"}, {"Node", destID.String()}, {"Nice", itoa(int64(nice))},
		{"Size", itoa(fi.Size())}, {"Pkt", r.Pkt}},
		fmt.Sprintf("Transitional packet to %s (%s) (nice %s) is queued for %s: %s",
			x.cfg.Name(destID), humanSize(fi.Size()), node.NiceString(nice), x.cfg.Name(r.Hop), r.Pkt))
	return nil
}
