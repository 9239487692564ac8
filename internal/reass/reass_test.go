package reass

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"ferry/internal/mth"
	"ferry/internal/progress"
	"ferry/internal/safeio"
	"ferry/internal/wire"
)

// chunked writes data as dir/name.nncp.meta and its chunks, as a tossed
// nncp-file -chunked leaves them.
func chunked(t *testing.T, dir, name string, data []byte, size int) string {
	t.Helper()
	m := wire.ChunkMeta{FileSize: uint64(len(data)), ChunkSize: uint64(size)}
	for i := 0; ; i++ {
		c := data[min(i*size, len(data)):min((i+1)*size, len(data))]
		if i > 0 && len(c) == 0 {
			break
		}
		m.Checksums = append(m.Checksums, mth.Sum256(c))
		if err := os.WriteFile(filepath.Join(dir, name+ChunkSuffix+itoa(i)), c, 0o644); err != nil {
			t.Fatal(err)
		}
		if len(c) < size {
			break
		}
	}
	p := filepath.Join(dir, name+MetaSuffix)
	if err := os.WriteFile(p, m.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func itoa(i int) string { return strconv.Itoa(i) }

func names(t *testing.T, dir string) string {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	return strings.Join(n, " ")
}

func TestReassemble(t *testing.T) {
	for _, c := range []struct {
		name string
		size int
		len  int
	}{{"empty", 10, 0}, {"one", 10, 7}, {"exact", 10, 30}, {"tail", 10, 31}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			data := bytes.Repeat([]byte("0123456789abcdef"), 4)[:c.len]
			meta := chunked(t, dir, "f", data, c.size)
			var evs []*Event
			if err := Reassemble(meta, Options{NoSync: true, Report: func(e *Event) { evs = append(evs, e) }}); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "f"))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%q %v", got, err)
			}
			if n := names(t, dir); n != "f" {
				t.Errorf("left: %s", n)
			}
			if len(evs) != 1 || evs[0].Kind != Done || evs[0].Dst != filepath.Join(dir, "f") {
				t.Errorf("events: %+v", evs)
			}
		})
	}
}

func TestReassembleDamaged(t *testing.T) {
	dir := t.TempDir()
	data := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	meta := chunked(t, dir, "f", data, 10)
	os.WriteFile(filepath.Join(dir, "f.nncp.chunk1"), []byte("XXXXXXXXXX"), 0o644)
	os.WriteFile(filepath.Join(dir, "f.nncp.chunk3"), []byte("short"), 0o644)
	before := names(t, dir)
	var evs []*Event
	o := Options{Report: func(e *Event) { evs = append(evs, e) }}
	if err := Reassemble(meta, o); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("err %v", err)
	}
	if len(evs) != 1 || evs[0].Chunk != 3 || !errors.Is(evs[0].Err, ErrBadSize) {
		t.Errorf("size pass: %+v", evs)
	}
	os.WriteFile(filepath.Join(dir, "f.nncp.chunk3"), []byte("uvwxyz"), 0o644)
	evs = nil
	var out bytes.Buffer
	for _, o := range []Options{o, {Stdout: &out, Report: o.Report}, {DryRun: true, Report: o.Report}} {
		if err := Reassemble(meta, o); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("err %v", err)
		}
	}
	for _, e := range evs {
		if e.Chunk != 1 || !errors.Is(e.Err, ErrBadChecksum) {
			t.Errorf("event %+v", e)
		}
	}
	if out.Len() != 0 || names(t, dir) != before {
		t.Errorf("damaged reassembly wrote %d bytes to stdout, left %s", out.Len(), names(t, dir))
	}
	if _, err := ReadMeta(filepath.Join(dir, "f.nncp.chunk0")); !errors.Is(err, ErrNotMeta) {
		t.Errorf("not a meta: %v", err)
	}
	bad := filepath.Join(dir, "g"+MetaSuffix)
	os.WriteFile(bad, []byte("NNCPM\x00\x00\x02short"), 0o644)
	if err := Reassemble(bad, Options{}); !errors.Is(err, wire.ErrShort) {
		t.Errorf("short meta: %v", err)
	}
}

func TestNoClobber(t *testing.T) {
	dir := t.TempDir()
	data := []byte("abc")
	for i, want := range []string{"f", "f.0", "f.1"} {
		meta := chunked(t, dir, "f", data, 10)
		if err := Reassemble(meta, Options{NoSync: true}); err != nil {
			t.Fatal(i, err)
		}
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("round %d: %v", i, err)
		}
	}
	if n := names(t, dir); n != "f f.0 f.1" {
		t.Errorf("dir: %s", n)
	}
	metas, err := FindMetas(dir)
	if err != nil || len(metas) != 0 {
		t.Errorf("FindMetas: %v %v", metas, err)
	}
}

// A failure at any step of writing the reassembled file keeps every chunk
// and the meta file, and leaves no temporary file; a later run succeeds.
func TestReassembleFaults(t *testing.T) {
	for _, c := range []struct {
		op  safeio.Op
		err error
	}{{safeio.OpCreate, syscall.EACCES}, {safeio.OpWrite, syscall.ENOSPC}, {safeio.OpSync, syscall.EIO}, {safeio.OpLink, syscall.EIO}, {safeio.OpSyncDir, syscall.EIO}} {
		t.Run(c.op.String(), func(t *testing.T) {
			dir := t.TempDir()
			data := bytes.Repeat([]byte("0123456789abcdef"), 4)
			meta := chunked(t, dir, "f", data, 10)
			before := names(t, dir)
			restore := safeio.SetFault(safeio.FailNth(c.op, 1, c.err))
			err := Reassemble(meta, Options{})
			restore()
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			left := names(t, dir)
			if c.op == safeio.OpSyncDir {
				// The file was placed but is not known durable: the
				// chunks stay, and the next run places a second copy
				// rather than lose the only one.
				before = "f " + before
			}
			if left != before {
				t.Fatalf("left %q, want %q", left, before)
			}
			if c.op == safeio.OpSyncDir {
				return
			}
			if err := Reassemble(meta, Options{}); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "f")); !bytes.Equal(got, data) || names(t, dir) != "f" {
				t.Fatalf("after retry: %q, %s", got, names(t, dir))
			}
		})
	}
}

// countMeter is a progress.Meter that counts.
type countMeter struct {
	n     int64
	dones *int
}

func (m *countMeter) Add(n int64) { m.n += n }
func (m *countMeter) Done()       { *m.dones++ }

// Progress is asked for a meter per chunk read, with the chunk's path and
// size; each meter sees the chunk's bytes and is done once.
func TestReassembleProgress(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("0123456789abcdef"), 4)[:25]
	meta := chunked(t, dir, "f", data, 10)
	var got []string
	var meters []*countMeter
	dones := 0
	o := Options{NoSync: true, Progress: func(ev *Event) progress.Meter {
		got = append(got, fmt.Sprintf("%d %s %d", ev.Kind, filepath.Base(ev.Path), ev.Size))
		m := &countMeter{dones: &dones}
		meters = append(meters, m)
		return m
	}}
	if err := Reassemble(meta, o); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, k := range []Kind{Checking, Reassembling} {
		for i, size := range []int{10, 10, 5} {
			want = append(want, fmt.Sprintf("%d f.nncp.chunk%d %d", k, i, size))
		}
	}
	// Reassemble checks every chunk, then writes them (or checks and
	// writes in one pass): either way each chunk's meter sees its size.
	for i, m := range meters {
		if fmt.Sprint(m.n) != strings.Fields(got[i])[2] {
			t.Errorf("meter %d (%s) counted %d", i, got[i], m.n)
		}
	}
	if dones != len(meters) || len(got) == 0 {
		t.Errorf("%d meters, %d done", len(meters), dones)
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("progress event %q, want among %q", g, want)
		}
	}
}
