package cli

import (
	"fmt"
	"strings"

	"ferry/internal/tx"
)

func init() {
	register("exec", &command{summary: "queue a remote command (mail!) for a node, body from stdin", run: runExec, nncp: true})
	register("freq", &command{summary: "request a file from a node", run: runFreq, nncp: true})
}

func runExec(x *ctx, args []string) error {
	fs := x.flags("[options] NODE HANDLE [ARG0 ARG1 ...]")
	maxSize := fs.Uint64("maxsize", 0, "Maximal allowable resulting packet size, in KiB")
	minSize := fs.Int64("minsize", 0, "Minimal required resulting packet size, in KiB")
	niceS := fs.String("nice", "P", "Outbound packet niceness")
	replyS := fs.String("replynice", "B", "Possible reply packet niceness")
	noCompress := fs.Bool("nocompress", false, "Do not compress input data")
	fs.Bool("use-tmp", false, "Accepted for compatibility: ferry always streams stdin")
	viaS := fs.String("via", "", "Override Via path to destination node")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		fs.Usage()
		return exitCode(exitArgs, nil)
	}
	reply, err := parseNice("replynice", *replyS)
	if err != nil {
		return argErr("%v", err)
	}
	if strings.HasPrefix(fs.Arg(0), "area:") {
		return errAreaDest
	}
	to, o, err := x.destination(fs.Arg(0), *niceS, *viaS, *minSize)
	if err != nil {
		return err
	}
	nice := o.Nice
	handle, hargs := fs.Arg(1), fs.Args()[2:]
	r, err := x.sender().Exec(to, handle, hargs, x.Stdin, tx.ExecOptions{
		Options:    o,
		ReplyNice:  reply,
		NoCompress: *noCompress,
	})
	if err != nil {
		return err
	}
	if *maxSize > 0 && r.PktSize > int64(*maxSize)*1024 {
		x.spool.Remove(r.Hop, "tx", r.Pkt)
		return fmt.Errorf("packet is %s, over -maxsize %d KiB: removed", humanSize(r.PktSize), *maxSize)
	}
	typ := "exec"
	if *noCompress {
		typ = "exec-fat"
	}
	dst := strings.Join(append([]string{handle}, hargs...), " ")
	x.logTx(to, typ, nice, r, []kv{{"ReplyNice", itoa(int64(reply))}, {"Dst", dst}},
		fmt.Sprintf("Exec is sent to %s@%s (%s)", to.Name, dst, humanSize(r.Size)))
	return nil
}

func runFreq(x *ctx, args []string) error {
	fs := x.flags("[options] NODE:SRC [DST]")
	minSize := fs.Int64("minsize", 0, "Minimal required resulting packet size, in KiB")
	niceS := fs.String("nice", "N", "Outbound packet niceness")
	replyS := fs.String("replynice", "B", "Reply file packet niceness")
	viaS := fs.String("via", "", "Override Via path to destination node")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return exitCode(exitArgs, nil)
	}
	if !strings.Contains(fs.Arg(0), ":") {
		return argErr("%q: want NODE:SRC, the file's path in the node's freq.path after the colon (e.g. %s:pub/file)", fs.Arg(0), fs.Arg(0))
	}
	nodeName, src, err := splitDest(fs.Arg(0))
	if err != nil {
		return err
	}
	if src == "" {
		return argErr("%q: want NODE:SRC, the file's path in the node's freq.path after the colon", fs.Arg(0))
	}
	dst := fs.Arg(1)
	if dst == "" {
		dst = src[strings.LastIndexByte(src, '/')+1:]
	}
	reply, err := parseNice("replynice", *replyS)
	if err != nil {
		return argErr("%v", err)
	}
	to, o, err := x.destination(nodeName, *niceS, *viaS, *minSize)
	if err != nil {
		return err
	}
	nice := o.Nice
	r, err := x.sender().Freq(to, src, dst, reply, o)
	if err != nil {
		return err
	}
	x.log.info("tx", []kv{{"Type", "freq"}, {"Node", to.ID.String()}, {"Nice", itoa(int64(nice))},
		{"ReplyNice", itoa(int64(reply))}, {"Src", src}, {"Dst", dst}, {"Pkt", r.Pkt}},
		fmt.Sprintf("File request from %s:%s to %s is sent", to.Name, src, dst))
	return nil
}
