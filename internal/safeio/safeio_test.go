package safeio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestPlaceNoClobber(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "f.txt")
	for i, want := range []string{"f.txt", "f.txt.0", "f.txt.1"} {
		tmp := filepath.Join(dir, ".tmp")
		os.WriteFile(tmp, []byte{byte('a' + i)}, 0o644)
		got, err := PlaceNoClobber(tmp, dst)
		if err != nil || filepath.Base(got) != want {
			t.Fatalf("%d: %s %v, want %s", i, got, err, want)
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Fatal("temporary file left")
		}
	}
	if b, _ := os.ReadFile(dst); string(b) != "a" {
		t.Fatal("the first file was overwritten")
	}
}

func TestCommit(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "a")
	os.WriteFile(dst, []byte("old"), 0o644)
	f, err := Create(dst, Options{Perm: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new"))
	if b, _ := os.ReadFile(dst); string(b) != "old" {
		t.Fatal("target changed before Commit")
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "new" {
		t.Fatalf("target %q after Commit", b)
	}
	assertOnly(t, dir, "a")
}

// Every step of a write, failed in turn, leaves the old file and no
// temporary file.
func TestFaultsLeaveOldFile(t *testing.T) {
	for _, op := range []Op{OpCreate, OpWrite, OpSync, OpClose, OpRename} {
		t.Run(op.String(), func(t *testing.T) {
			dir := t.TempDir()
			dst := filepath.Join(dir, "a")
			os.WriteFile(dst, []byte("old"), 0o644)
			defer SetFault(FailNth(op, 1, syscall.EIO))()
			err := WriteFile(dst, []byte("new"), Options{})
			if !errors.Is(err, syscall.EIO) {
				t.Fatalf("err %v, want EIO", err)
			}
			if b, _ := os.ReadFile(dst); string(b) != "old" {
				t.Fatalf("target %q", b)
			}
			assertOnly(t, dir, "a")
		})
	}
}

// A failed directory fsync is reported; the file is in place (the
// rename happened), which the caller must treat as not durable.
func TestFaultSyncDir(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "a")
	defer SetFault(FailNth(OpSyncDir, 1, syscall.EIO))()
	if err := WriteFile(dst, []byte("new"), Options{}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("err %v", err)
	}
	assertOnly(t, dir, "a")
}

func TestNoSyncSkipsFsync(t *testing.T) {
	dir := t.TempDir()
	defer SetFault(func(op Op, _ string, _ int) error {
		if op == OpSync || op == OpSyncDir {
			return syscall.EIO
		}
		return nil
	})()
	if err := WriteFile(filepath.Join(dir, "a"), []byte("x"), Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
}

func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	defer SetFault(DiskFull(10))()
	if err := WriteFile(filepath.Join(dir, "a"), []byte("0123456789"), Options{}); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(filepath.Join(dir, "b"), []byte("x"), Options{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err %v, want ENOSPC", err)
	}
	assertOnly(t, dir, "a")
}

// Targets with names up to 255 bytes get temporary files within the
// limit too.
func TestLongNames(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{1, 200, 233, 240, 255} {
		name := strings.Repeat("é", n/2) + strings.Repeat("x", n%2)
		f, err := Create(filepath.Join(dir, name), Options{})
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if len(filepath.Base(f.Name())) > 255 || !strings.HasPrefix(filepath.Base(f.Name()), TempPrefix) || !strings.HasSuffix(f.Name(), TempSuffix) {
			t.Fatalf("temp name %q", f.Name())
		}
		if err := f.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCommitIfAbsent(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "p")
	for i, want := range []bool{true, false} {
		f, err := CreateTemp(dir, "p", Options{})
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte{byte('a' + i)})
		placed, err := f.CommitIfAbsent(dst)
		if err != nil || placed != want {
			t.Fatalf("%d: placed %v %v", i, placed, err)
		}
	}
	if b, _ := os.ReadFile(dst); string(b) != "a" {
		t.Fatal("overwritten")
	}
	assertOnly(t, dir, "p")
}

func TestPerm(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dst := filepath.Join(dir, "a")
	if err := WriteFile(dst, nil, Options{Perm: 0o666}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dst); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", st.Mode())
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}
