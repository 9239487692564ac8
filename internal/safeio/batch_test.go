package safeio

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// batchOf stages n files in a batch, file i holding "data i" and going to
// dir/f<i>, and records the outcomes in order.
type outcome struct {
	name   string
	placed bool
	err    error
}

func batchOf(t *testing.T, b *Batch, dir string, n int, got *[]outcome) {
	t.Helper()
	for i := range n {
		f, err := CreateTemp(dir, "x", Options{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "data %d", i)
		name := fmt.Sprintf("f%d", i)
		b.Add(f, filepath.Join(dir, name), true, func(placed bool, err error) {
			*got = append(*got, outcome{name, placed, err})
		})
	}
}

func temps(t *testing.T, dir string) []string {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// A batch places every file, leaves one already there alone, calls the
// done functions in order (Then's too), and every step goes through the
// fault hook: one OpSync per file, one OpSyncDir per directory.
func TestBatchCommit(t *testing.T) {
	for _, n := range []int{1, SyncFSMin - 1, SyncFSMin, 40} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "f0"), []byte("old"), 0o600)
			var mu sync.Mutex
			ops := map[Op]int{}
			defer SetFault(func(op Op, _ string, _ int) error {
				mu.Lock()
				ops[op]++
				mu.Unlock()
				return nil
			})()
			b := &Batch{}
			var got []outcome
			batchOf(t, b, dir, n, &got)
			thenCalled := false
			b.Then(dir, func(err error) {
				thenCalled = err == nil && len(got) == n
			})
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			if len(got) != n || !thenCalled {
				t.Fatalf("%d outcomes, then %v", len(got), thenCalled)
			}
			for i, o := range got {
				if o.name != fmt.Sprintf("f%d", i) || o.err != nil || o.placed != (i != 0) {
					t.Errorf("%d: %+v", i, o)
				}
				data, _ := os.ReadFile(filepath.Join(dir, o.name))
				if want := fmt.Sprintf("data %d", i); i == 0 && string(data) != "old" || i > 0 && string(data) != want {
					t.Errorf("%s: %q", o.name, data)
				}
			}
			if ops[OpSync] != n || ops[OpSyncDir] != 1 || ops[OpLink] != n {
				t.Errorf("ops %v", ops)
			}
			if tt := temps(t, dir); len(tt) != 0 {
				t.Errorf("temporary files left: %v", tt)
			}
			if b.Len() != 0 || b.Commit() != nil {
				t.Error("batch not empty after Commit")
			}
		})
	}
}

// A failing sync fails the whole batch and removes its temporary files;
// a failing link fails that file only; a failing directory fsync fails
// the files placed there (they stay placed: their data is durable).
func TestBatchFaults(t *testing.T) {
	for _, c := range []struct {
		op         Op
		nth        int
		failed     []bool
		placedAnyw []bool // the target exists afterwards
	}{
		{OpSync, 3, []bool{true, true, true, true, true}, []bool{false, false, false, false, false}},
		{OpClose, 2, []bool{false, true, false, false, false}, []bool{true, false, true, true, true}},
		{OpLink, 4, []bool{false, false, false, true, false}, []bool{true, true, true, false, true}},
		{OpSyncDir, 1, []bool{true, true, true, true, true}, []bool{true, true, true, true, true}},
	} {
		t.Run(c.op.String(), func(t *testing.T) {
			dir := t.TempDir()
			defer SetFault(FailNth(c.op, c.nth, syscall.EIO))()
			b := &Batch{}
			var got []outcome
			batchOf(t, b, dir, 5, &got)
			if err := b.Commit(); !errors.Is(err, syscall.EIO) {
				t.Fatalf("Commit: %v", err)
			}
			for i, o := range got {
				if (o.err != nil) != c.failed[i] || o.placed == c.failed[i] {
					t.Errorf("%d: %+v", i, o)
				}
				_, err := os.Stat(filepath.Join(dir, o.name))
				if (err == nil) != c.placedAnyw[i] {
					t.Errorf("%d: target exists %v", i, err == nil)
				}
			}
			if tt := temps(t, dir); len(tt) != 0 {
				t.Errorf("temporary files left: %v", tt)
			}
		})
	}
}

// NoSync skips the syncs, not the placing; Abort drops everything.
func TestBatchNoSyncAndAbort(t *testing.T) {
	dir := t.TempDir()
	defer SetFault(func(op Op, _ string, _ int) error {
		if op == OpSync || op == OpSyncDir {
			return syscall.EIO
		}
		return nil
	})()
	b := &Batch{NoSync: true}
	var got []outcome
	batchOf(t, b, dir, 5, &got)
	if err := b.Commit(); err != nil || len(got) != 5 {
		t.Fatal(err, got)
	}
	b2 := &Batch{}
	var got2 []outcome
	batchOf(t, b2, t.TempDir(), 3, &got2)
	b2.Abort()
	if len(got2) != 0 || b2.Len() != 0 {
		t.Fatal("abort called done or kept files")
	}
}

// Full says when a batch reaches MaxFiles or MaxBytes.
func TestBatchFull(t *testing.T) {
	dir := t.TempDir()
	b := &Batch{MaxFiles: 3, MaxBytes: 1 << 20}
	var got []outcome
	batchOf(t, b, dir, 2, &got)
	if b.Full() {
		t.Fatal("full at 2 of 3")
	}
	batchOf(t, b, dir, 1, &got)
	if !b.Full() {
		t.Fatal("not full at 3")
	}
	b.Abort()
}

// LinkTemp makes a temporary hard link that commits like a written file.
func TestLinkTemp(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("payload"), 0o600)
	f, err := LinkTemp(src, dir, "x", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CommitTo(filepath.Join(dir, "dst")); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(src)
	d, _ := os.Stat(filepath.Join(dir, "dst"))
	if !os.SameFile(a, d) {
		t.Fatal("not the same file")
	}
	if tt := temps(t, dir); len(tt) != 0 {
		t.Errorf("temporary files left: %v", tt)
	}
	if _, err := LinkTemp(filepath.Join(dir, "missing"), dir, "x", Options{}); err == nil {
		t.Fatal("link of a missing file")
	}
}
