package cli

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"ferry/internal/progress"
	"ferry/internal/reass"
	"ferry/internal/wire"
)

func init() {
	register("reass", &command{summary: "reassemble chunked files", run: runReass, nncp: true})
}

func runReass(x *ctx, args []string) error {
	fs := x.flags("[options] [FILE.nncp.meta]")
	all := fs.Bool("all", false, "Process all found chunked files for all nodes")
	nodeS := fs.String("node", "", "Process all found chunked files for that node")
	keep := fs.Bool("keep", false, "Do not remove chunks while assembling")
	dryRun := fs.Bool("dryrun", false, "Do not assemble whole file")
	dump := fs.Bool("dump", false, "Print decoded human-readable FILE.nncp.meta")
	stdout := fs.Bool("stdout", false, "Output reassembled FILE to stdout")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintln(x.Stderr, "\nNeither FILE, nor -node nor -all can be set simultaneously,\nbut at least one of them must be specified.")
	}
	if err := x.parse(fs, args); err != nil {
		return err
	}
	set := 0
	for _, b := range []bool{fs.NArg() > 0, *nodeS != "", *all} {
		if b {
			set++
		}
	}
	if set != 1 || fs.NArg() > 1 {
		fs.Usage()
		return exitCode(1, nil)
	}
	if err := x.setup(); err != nil {
		return err
	}
	o := reass.Options{DryRun: *dryRun, Keep: *keep, NoSync: x.spool.NoSync, Report: func(ev *reass.Event) { x.reportReass(*dryRun, ev) }}
	if *stdout {
		o.Stdout = x.Stdout
	}
	o.Progress = func(ev *reass.Event) progress.Meter {
		label := "check"
		if ev.Kind == reass.Reassembling {
			label = "reass"
		}
		return meter{b: x.newBar(ev.Size, label+" "+ev.Path)}
	}
	var metas []string
	if fs.NArg() == 1 {
		if *dump {
			return x.dumpMeta(fs.Arg(0))
		}
		metas = []string{fs.Arg(0)}
	} else {
		var dirs []string
		if *all {
			seen := map[string]bool{}
			for _, name := range x.cfg.Names() {
				inc := x.cfg.Neigh[name].Incoming
				if inc != "" && !seen[inc] {
					seen[inc] = true
					dirs = append(dirs, inc)
				}
			}
		} else {
			n, err := x.node(*nodeS)
			if err != nil {
				return fmt.Errorf("invalid -node specified: %w", err)
			}
			if n.Incoming == "" {
				return fmt.Errorf("node %s has no incoming directory", n.Name)
			}
			dirs = []string{n.Incoming}
		}
		for _, d := range dirs {
			ms, err := reass.FindMetas(d)
			if err != nil {
				x.log.fail("reass", []kv{{"Path", d}}, err, fmt.Sprintf("Reassembling chunked files in %s", d))
				continue
			}
			metas = append(metas, ms...)
		}
		sort.Strings(metas)
		if *dump {
			for _, m := range metas {
				if err := x.dumpMeta(m); err != nil {
					return err
				}
			}
			return nil
		}
	}
	failed := false
	for _, m := range metas {
		if *dryRun {
			// nncp-reass says which file it checks, with a lowercase key.
			x.log.info("reass", []kv{{"path", m}}, fmt.Sprintf("Reassembling chunked file %q", m))
		}
		err := reass.Reassemble(m, o)
		if err == nil {
			continue
		}
		failed = true
		if !errors.Is(err, reass.ErrIncomplete) {
			x.log.fail("reass", []kv{{"Path", m}}, err, fmt.Sprintf("Reassembling chunked file %q", m))
		}
	}
	if failed {
		return exitCode(1, nil)
	}
	return nil
}

func (x *ctx) reportReass(dryRun bool, ev *reass.Event) {
	f := []kv{{"Path", ev.Meta}}
	what := fmt.Sprintf("Reassembling chunked file %q", ev.Meta)
	switch ev.Kind {
	case reass.ChunkMissing:
		f = append(f, kv{"Chunk", itoa(int64(ev.Chunk))})
		x.log.info("reass-chunk-miss", f, fmt.Sprintf("%s: chunk %d missing", what, ev.Chunk))
	case reass.ChunkBad:
		f = append(f, kv{"Chunk", itoa(int64(ev.Chunk))})
		x.log.fail("reass-chunk", f, ev.Err, fmt.Sprintf("%s: chunk %d", what, ev.Chunk))
	case reass.Done:
		if dryRun {
			return // nncp-reass -dryrun logged the file before checking it
		}
		if ev.Dst != "" {
			x.log.debugf("%s: written to %s", what, ev.Dst)
		}
		x.log.info("reass", f, what+": done")
	}
}

// dumpMeta prints a meta file as nncp-reass -dump does.
func (x *ctx) dumpMeta(path string) error {
	m, err := reass.ReadMeta(path)
	if err != nil {
		return err
	}
	writeDump(x.Stdout, filepath.Base(strings.TrimSuffix(path, reass.MetaSuffix)), m)
	return nil
}

func writeDump(w io.Writer, name string, m *wire.ChunkMeta) {
	fmt.Fprintf(w, "Original filename: %s\n", name)
	fmt.Fprintf(w, "File size: %s (%d bytes)\n", humanSize(int64(m.FileSize)), m.FileSize)
	fmt.Fprintf(w, "Chunk size: %s (%d bytes)\n", humanSize(int64(m.ChunkSize)), m.ChunkSize)
	fmt.Fprintf(w, "Number of chunks: %d\n", len(m.Checksums))
	fmt.Fprintln(w, "Checksums:")
	for i, c := range m.Checksums {
		fmt.Fprintf(w, "\t%d: %s\n", i, hex.EncodeToString(c[:]))
	}
}
