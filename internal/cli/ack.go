package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/spool"
	"ferry/internal/toss"
	"ferry/internal/tx"
	"ferry/internal/wire"
)

func init() {
	register("ack", &command{summary: "send packet receipt acknowledgement", run: runAck, nncp: true})
	probeFD4()
}

// nncp-ack writes the ACK packets it makes to file descriptor 4 when the
// caller opened it ("nncp-ack ... 4>&1 >&2 | nncp-rm -pkt"). Whether fd 4
// was open is noted when the process starts, before ferry opens files of
// its own that could take that number.
var fd4At struct {
	ok       bool
	dev, ino uint64
}

func probeFD4() {
	var st unix.Stat_t
	if unix.Fstat(4, &st) != nil {
		return
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR:
	default:
		return // an epoll or event fd of the runtime, a directory...
	}
	fl, err := unix.FcntlInt(4, unix.F_GETFL, 0)
	if err != nil || fl&unix.O_ACCMODE == unix.O_RDONLY {
		return // inherited by accident, not opened for us to write to
	}
	fd4At.ok, fd4At.dev, fd4At.ino = true, uint64(st.Dev), st.Ino
}

// ackOutput returns where to list the ACK packets made, or nil. Commands
// run in-process (tests) pass it in Env.ExtraFiles[4].
func (x *ctx) ackOutput() io.Writer {
	if x.ExtraFiles != nil {
		if f := x.ExtraFiles[4]; f != nil {
			return f
		}
		return nil
	}
	if !fd4At.ok {
		return nil
	}
	var st unix.Stat_t
	if unix.Fstat(4, &st) != nil || uint64(st.Dev) != fd4At.dev || st.Ino != fd4At.ino {
		return nil
	}
	return os.NewFile(4, "fd4")
}

func runAck(x *ctx, args []string) error {
	fs := x.flags("[options] -all", "[options] -node NODE[,...]", "[options] -node NODE -pkt PKT")
	all := fs.Bool("all", false, "ACK all rx packet for all nodes")
	nodesS := fs.String("node", "", "ACK rx packets for that node")
	pkt := fs.String("pkt", "", "ACK only that packet")
	minSize := fs.Uint64("minsize", 0, "Minimal required resulting packet size, in KiB")
	niceS := fs.String("nice", "N", "Outbound packet niceness")
	viaS := fs.String("via", "", "Override Via path to destination node (ignored with -all)")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *all == (*nodesS != "") || (*pkt != "" && (*all || strings.Contains(*nodesS, ","))) {
		fs.Usage()
		return exitCode(1, nil)
	}
	nice, err := parseNice("nice", *niceS)
	if err != nil {
		return usageErr("%v", err)
	}
	var pktID [32]byte
	if *pkt != "" {
		b, err := node.B32.DecodeString(*pkt)
		if err != nil || len(b) != len(pktID) {
			return fmt.Errorf("invalid packet id %q: want the Base32 name of a packet", *pkt)
		}
		copy(pktID[:], b)
	}
	if err := x.setup(); err != nil {
		return err
	}
	self, err := x.self()
	if err != nil {
		return err
	}
	var nodes []*config.Neighbour
	o := tx.Options{Nice: nice, MinSize: int64(*minSize) * 1024}
	if *all {
		for _, name := range x.cfg.Names() {
			if n := x.cfg.Neigh[name]; n.ID != self.ID {
				nodes = append(nodes, n)
			}
		}
	} else {
		for _, s := range strings.Split(*nodesS, ",") {
			n, err := x.node(strings.TrimSpace(s))
			if err != nil {
				return err
			}
			nodes = append(nodes, n)
		}
		if o.Via, err = tx.ParseRoute(x.cfg, *viaS); err != nil {
			return err
		}
	}
	out := x.ackOutput()
	failed, acked := 0, 0
	for _, n := range nodes {
		if *pkt != "" {
			if err := x.sendACK(n, *pkt, pktID, o, out); err != nil {
				return err
			}
			continue
		}
		names, err := x.spool.Names(n.ID, spool.RX)
		if err != nil {
			return err
		}
		for _, name := range names {
			f := []kv{{"Node", n.ID.String()}, {"Pkt", name}}
			ph, err := toss.Peek(x.cfg, x.spool.PktPath(n.ID, spool.RX, name))
			if err != nil {
				x.log.fail("ack-read-if-ack", f, err, fmt.Sprintf("ACKing %s/%s", n.Name, name))
				failed++
				continue
			}
			if ph.Type == wire.TypeACK { // an ACK of an ACK would never end
				x.log.info("ack-read-if-ack", f, fmt.Sprintf("ACKing %s/%s: it is ACK, skipping", n.Name, name))
				continue
			}
			var id [32]byte
			b, _ := node.B32.DecodeString(name)
			copy(id[:], b)
			if err := x.sendACK(n, name, id, o, out); err != nil {
				return err
			}
			acked++
		}
	}
	if failed > 0 {
		return exitCode(1, nil)
	}
	// Said to a person at a terminal (who may have followed the wrong
	// order), not to cron, which runs ack with nothing to do all the time.
	if *pkt == "" && acked == 0 && !x.quiet && x.IsTerminal {
		fmt.Fprintf(x.Stderr, "%s: %s\n", x.prog, nothingToACK)
	}
	return nil
}

// nothingToACK says why ack -all after toss does nothing, and what to do.
const nothingToACK = "nothing to acknowledge: no packet waits in rx/. " +
	"Toss removes the packets it processes, so run ack after xfer -rx (or a call) and before toss; " +
	"a packet already tossed is acknowledged with -node NODE -pkt PKT (ferry log shows its Pkt)"

func (x *ctx) sendACK(to *config.Neighbour, name string, id [32]byte, o tx.Options, out io.Writer) error {
	r, err := x.sender().ACK(to, id, o)
	if err != nil {
		return err
	}
	x.log.info("tx", []kv{{"Type", "ack"}, {"Node", to.ID.String()}, {"Nice", itoa(int64(o.Nice))},
		{"Pkt", name}, {"NewPkt", r.Pkt}}, fmt.Sprintf("ACK to %s of %s is sent", to.Name, name))
	if out != nil {
		if _, err := fmt.Fprintf(out, "%s/%s\n", to.ID, r.Pkt); err != nil {
			return fmt.Errorf("writing the ACK list to fd 4: %w", err)
		}
	}
	return nil
}
