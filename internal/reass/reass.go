// Package reass owns reassembling chunked files (nncp-file -chunked):
// FILE.nncp.meta lists the MTH of FILE.nncp.chunk0, chunk1 ...; once
// every chunk is there and matches, they are concatenated into FILE. The
// whole file is written to a temporary file beside the chunks, fsynced
// and renamed (never over an existing file: FILE.0, FILE.1 ... as
// nncp-reass does), and only then are the chunks and the meta removed.
package reass

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"ferry/internal/mth"
	"ferry/internal/progress"
	"ferry/internal/safeio"
	"ferry/internal/wire"
)

// Suffixes of chunked transfers' files.
const (
	MetaSuffix  = ".nncp.meta"
	ChunkSuffix = ".nncp.chunk"
)

// Errors of reassembly.
var (
	ErrNotMeta     = errors.New("not a " + MetaSuffix + " file")
	ErrMissing     = errors.New("chunk missing")
	ErrBadSize     = errors.New("invalid size")
	ErrBadChecksum = errors.New("checksum is bad")
	// ErrIncomplete: some chunk is missing, has the wrong size or the
	// wrong checksum (each was reported).
	ErrIncomplete = errors.New("chunks are missing or damaged")
)

// Kind says what an event is about.
type Kind int

// Kinds of events.
const (
	ChunkMissing Kind = iota + 1 // Chunk is not there
	ChunkBad                     // Chunk has the wrong size or checksum (Err)
	Done                         // the file was reassembled (or, with DryRun, would be)
	// Only for Options.Progress: Chunk (at Path, Size bytes) is about to
	// be read to check it, or to write it into the file.
	Checking
	Reassembling
)

// Event is one thing reassembly found or did.
type Event struct {
	Kind  Kind
	Meta  string // the .nncp.meta path
	Chunk int
	Err   error
	// Dst is where the file was written ("" with DryRun or Stdout).
	Dst string
	// Path and Size are the chunk's (Checking, Reassembling).
	Path string
	Size int64
}

// Options tune one reassembly.
type Options struct {
	// DryRun checks that every chunk is there and intact, and writes and
	// removes nothing.
	DryRun bool
	// Keep leaves the meta and chunk files in place.
	Keep bool
	// Stdout, if set, receives the file instead of a file beside the
	// chunks; every chunk is checked before anything is written to it.
	Stdout io.Writer
	// NoSync skips fsync ($NNCPNOSYNC).
	NoSync bool
	// Report receives events.
	Report func(*Event)
	// Progress, when set, is asked for a meter for each chunk about to be
	// read (a Checking or Reassembling event); nil: none.
	Progress func(ev *Event) progress.Meter
}

func (o *Options) report(ev *Event) {
	if o.Report != nil {
		o.Report(ev)
	}
}

// copyChunk copies chunk i of metaPath (at p, size bytes) from f to w,
// through the meter Progress gives for ev's kind.
func (o *Options) copyChunk(w io.Writer, f io.Reader, kind Kind, metaPath string, i int, p string, size int64) (int64, error) {
	if o.Progress != nil {
		if m := o.Progress(&Event{Kind: kind, Meta: metaPath, Chunk: i, Path: p, Size: size}); m != nil {
			defer m.Done()
			w = progress.Writer(w, m)
		}
	}
	return io.Copy(w, f)
}

// ReadMeta reads and parses a .nncp.meta file.
func ReadMeta(path string) (*wire.ChunkMeta, error) {
	if !strings.HasSuffix(path, MetaSuffix) {
		return nil, fmt.Errorf("%s: %w", path, ErrNotMeta)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := wire.ParseChunkMeta(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ChunkPath is the path of chunk i of the file whose meta is metaPath.
func ChunkPath(metaPath string, i int) string {
	return strings.TrimSuffix(metaPath, MetaSuffix) + ChunkSuffix + strconv.Itoa(i)
}

// FindMetas lists the .nncp.meta files directly in dir (not below).
func FindMetas(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), MetaSuffix) && len(e.Name()) > len(MetaSuffix) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// Reassemble rebuilds the file described by metaPath. Missing or damaged
// chunks are reported one by one and make it return ErrIncomplete with
// nothing written or removed.
func Reassemble(metaPath string, o Options) error {
	m, err := ReadMeta(metaPath)
	if err != nil {
		return err
	}
	n := len(m.Checksums)
	sizes := make([]int64, n)
	bad := false
	for i := range n {
		want := int64(m.ChunkSize)
		if i == n-1 {
			want = int64(m.FileSize) - int64(m.ChunkSize)*int64(n-1)
		}
		sizes[i] = want
		fi, err := os.Stat(ChunkPath(metaPath, i))
		if err != nil {
			o.report(&Event{Kind: ChunkMissing, Meta: metaPath, Chunk: i, Err: ErrMissing})
			bad = true
			continue
		}
		if !fi.Mode().IsRegular() || fi.Size() != want {
			o.report(&Event{Kind: ChunkBad, Meta: metaPath, Chunk: i, Err: ErrBadSize})
			bad = true
		}
	}
	if bad {
		return ErrIncomplete
	}
	switch {
	case o.DryRun:
		if err := verify(metaPath, m, sizes, nil, &o); err != nil {
			return err
		}
		o.report(&Event{Kind: Done, Meta: metaPath})
		return nil
	case o.Stdout != nil:
		// Nothing may reach stdout before every chunk is known good.
		if err := verify(metaPath, m, sizes, nil, &o); err != nil {
			return err
		}
		if err := concat(metaPath, n, sizes, o.Stdout, &o); err != nil {
			return err
		}
		o.removeAll(metaPath, n)
		o.report(&Event{Kind: Done, Meta: metaPath})
		return nil
	}
	// One pass: check each chunk while copying it into a temporary file.
	dir := filepath.Dir(metaPath)
	final := strings.TrimSuffix(metaPath, MetaSuffix)
	tmp, err := safeio.CreateTemp(dir, "reass-"+filepath.Base(final), safeio.Options{Perm: safeio.PermShared, NoSync: o.NoSync})
	if err != nil {
		return err
	}
	defer tmp.Abort()
	if err := verify(metaPath, m, sizes, tmp, &o); err != nil {
		return err
	}
	dst, err := tmp.CommitNoClobber(final)
	if err != nil {
		return err
	}
	o.removeAll(metaPath, n)
	o.report(&Event{Kind: Done, Meta: metaPath, Dst: dst})
	return nil
}

// verify checks every chunk's MTH, copying the chunks to w when it is
// not nil. It reports every bad chunk, and returns ErrIncomplete if there
// was one.
func verify(metaPath string, m *wire.ChunkMeta, sizes []int64, w io.Writer, o *Options) error {
	kind := Checking
	if w != nil {
		kind = Reassembling
	}
	bad := false
	for i, sum := range m.Checksums {
		p := ChunkPath(metaPath, i)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		h := mth.New()
		var dst io.Writer = h
		if w != nil && !bad {
			dst = io.MultiWriter(w, h)
		}
		n, err := o.copyChunk(dst, f, kind, metaPath, i, p, sizes[i])
		f.Close()
		if err != nil {
			return err
		}
		if n != sizes[i] {
			o.report(&Event{Kind: ChunkBad, Meta: metaPath, Chunk: i, Err: ErrBadSize})
			bad = true
			continue
		}
		if h.Root() != sum {
			o.report(&Event{Kind: ChunkBad, Meta: metaPath, Chunk: i, Err: ErrBadChecksum})
			bad = true
		}
	}
	if bad {
		return ErrIncomplete
	}
	return nil
}

// concat writes the chunks to w (they were verified just before).
func concat(metaPath string, n int, sizes []int64, w io.Writer, o *Options) error {
	for i := range n {
		p := ChunkPath(metaPath, i)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		k, err := o.copyChunk(w, f, Reassembling, metaPath, i, p, sizes[i])
		f.Close()
		if err != nil {
			return err
		}
		if k != sizes[i] {
			return fmt.Errorf("%s: changed during reassembly: %w", p, ErrBadSize)
		}
	}
	return nil
}

func (o *Options) removeAll(metaPath string, n int) {
	if o.Keep {
		return
	}
	for i := range n {
		os.Remove(ChunkPath(metaPath, i))
	}
	os.Remove(metaPath)
	if !o.NoSync {
		safeio.SyncDir(filepath.Dir(metaPath))
	}
}
