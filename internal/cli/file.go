package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"ferry/internal/config"
	"ferry/internal/logrec"
	"ferry/internal/tx"
)

func init() {
	register("file", &command{summary: "send a file (or stdin, or a directory as pax) to a node", run: runFile, nncp: true})
}

// splitDest splits NODE:[DST] (or area:AREA:[DST]).
func splitDest(s string) (nodeName, dst string, err error) {
	if strings.HasPrefix(s, "area:") {
		return "", "", errors.New("multicast areas are not supported yet")
	}
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return "", "", argErr("%q: want NODE:[DST]", s)
	}
	return s[:i], s[i+1:], nil
}

func runFile(x *ctx, args []string) error {
	fs := x.flags("[options] [-chunked INT] SRC NODE:[DST]")
	chunked := fs.Int64("chunked", -1, "Split file on specified size chunks, in KiB")
	maxSize := fs.Uint64("maxsize", 0, "Maximal allowable resulting packets size, in KiB")
	minSize := fs.Int64("minsize", -1, "Minimal required resulting packet size, in KiB")
	niceS := fs.String("nice", "B", "Outbound packet niceness")
	viaS := fs.String("via", "", "Override Via path to destination node")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitCode(exitArgs, nil)
	}
	src := fs.Arg(0)
	nodeName, dst, err := splitDest(fs.Arg(1))
	if err != nil {
		return err
	}
	to, o, err := x.destination(nodeName, *niceS, *viaS, *minSize)
	if err != nil {
		return err
	}
	nice := o.Nice

	var body io.Reader
	var size int64 = -1
	srcName := src
	switch {
	case src == "-":
		if dst == "" {
			return argErr("reading stdin: the destination name is required (NODE:DST)")
		}
		body = x.Stdin
	default:
		fi, err := os.Stat(src)
		if err != nil {
			return err
		}
		if dst == "" {
			dst = filepath.Base(src)
		}
		if fi.IsDir() {
			dst += ".tar"
			pr, errc := paxStream(src)
			defer pr.Close()
			body = &errReader{r: pr, errc: errc}
		} else {
			f, err := os.Open(src)
			if err != nil {
				return err
			}
			defer f.Close()
			body, size = f, fi.Size()
		}
	}
	s := x.sender()
	if *chunked <= 0 {
		o.MaxSize = int64(*maxSize) * 1024
	}
	if size >= 0 {
		if err := s.CheckFileSize(to, size, o); err != nil {
			return x.maxSizeErr(err, *maxSize)
		}
	}
	bar := x.newBar(size, "File "+srcName)
	body = bar.reader(body)
	defer bar.finish()
	if *chunked > 0 {
		res, err := s.FileChunked(to, body, dst, *chunked*1024, o, func(i int, r *tx.Result) {
			x.logTx(to, "file", nice, r, []kv{{"Src", srcName}, {"Dst", fmt.Sprintf("%s.nncp.chunk%d", dst, i)}},
				fmt.Sprintf("File %s (%s) is sent to %s:%s.nncp.chunk%d", srcName, humanSize(r.Size), to.Name, dst, i))
		})
		if err != nil {
			return err
		}
		x.logTx(to, "file", nice, res.Meta, []kv{{"Src", srcName}, {"Dst", dst + ".nncp.meta"}},
			fmt.Sprintf("File %s (%s) is sent to %s:%s", srcName, humanSize(res.Size), to.Name, dst))
		return nil
	}
	r, err := s.File(to, body, dst, o)
	if err != nil {
		return x.maxSizeErr(err, *maxSize)
	}
	x.logTx(to, "file", nice, r, []kv{{"Src", srcName}, {"Dst", dst}},
		fmt.Sprintf("File %s (%s) is sent to %s:%s", srcName, humanSize(r.Size), to.Name, dst))
	return nil
}

// maxSizeErr words a tx.SizeError in -maxsize's terms; other errors pass.
func (x *ctx) maxSizeErr(err error, maxKiB uint64) error {
	var se *tx.SizeError
	if !errors.As(err, &se) {
		return err
	}
	if se.Estimated {
		return fmt.Errorf("packet would be %s, over -maxsize %d KiB", humanSize(se.Size), maxKiB)
	}
	return fmt.Errorf("packet is %s, over -maxsize %d KiB: not queued", humanSize(se.Size), maxKiB)
}

// logTx logs a queued packet as NNCP does (Who: tx).
func (x *ctx) logTx(to *config.Neighbour, typ string, nice uint8, r *tx.Result, extra []kv, msg string) {
	f := []kv{{"Type", typ}, {"Node", to.ID.String()}, {"Nice", itoa(int64(nice))}}
	f = append(f, extra...)
	f = append(f, kv{"Size", itoa(r.Size)}, kv{"Pkt", r.Pkt})
	x.log.info("tx", f, msg)
}

// humanSize formats sizes as NNCP's messages do ("279 B", "4.6 KiB").
func humanSize(n int64) string { return logrec.HumanSize(n) }

// errReader returns the producer's error, if any, at EOF.
type errReader struct {
	r    io.Reader
	errc <-chan error
	err  error
	done bool
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && !e.done {
		e.done = true
		if perr := <-e.errc; perr != nil {
			e.err = perr
		}
	}
	if e.err != nil {
		return n, e.err
	}
	return n, err
}
