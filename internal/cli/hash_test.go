package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/mth"
)

const blk = mth.BlockSize

// TestHashMatchesNNCP compares ferry hash with nncp-hash on files around
// leaf boundaries, read whole, from stdin and with -seek.
func TestHashMatchesNNCP(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(13*blk+2, 7)
	for _, n := range []int{0, 1, blk - 1, blk, blk + 1, 3*blk + 5, 8 * blk, 13*blk + 2} {
		path := filepath.Join(dir, fmt.Sprint(n))
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		want := runNNCP(t, nil, "hash", "-file", path)
		if want.code != 0 || len(want.stdout) != 65 {
			t.Fatalf("nncp-hash: %+v", want)
		}
		if got := runFerry(t, data[:n], "hash"); got.stdout != want.stdout || got.code != 0 {
			t.Errorf("%d bytes from stdin: %q, want %q", n, got.stdout, want.stdout)
		}
		for _, seek := range []int{0, 1, blk, 2*blk + 3, n, n + 1} {
			args := []string{"-file", path, "-seek", fmt.Sprint(seek)}
			if got := runFerry(t, nil, "hash", args...); got.stdout != want.stdout || got.code != 0 {
				t.Errorf("%v: %q, want %q (%s)", args, got.stdout, want.stdout, got.stderr)
			}
		}
	}
}

// TestHashDebug compares -debug's trace with nncp-hash's. nncp-hash
// prints some steps from several goroutines, so on some sizes its output
// varies between runs; ferry's must equal one of them (the sizes here are
// stable ones, and a few tries are allowed).
func TestHashDebug(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(10*blk, 8)
	for _, tc := range []struct{ n, seek int }{
		{0, 0}, {5, 0}, {blk, 0}, {4*blk - 10, 0}, {8 * blk, 0}, {10 * blk, 0}, {4*blk - 10, 2 * blk},
	} {
		path := filepath.Join(dir, fmt.Sprint(tc.n))
		os.WriteFile(path, data[:tc.n], 0o644)
		args := []string{"-file", path, "-debug"}
		if tc.seek > 0 {
			args = append(args, "-seek", fmt.Sprint(tc.seek))
		}
		got := runFerry(t, nil, "hash", args...)
		var want runResult
		for range 10 {
			if want = runNNCP(t, nil, "hash", args...); want.stdout == got.stdout {
				break
			}
		}
		if got.stdout != want.stdout || got.code != 0 {
			t.Errorf("%v:\n%s\nwant\n%s", args, got.stdout, want.stdout)
		}
	}
}

func TestHashErrors(t *testing.T) {
	for _, args := range [][]string{{"-seek", "5"}, {"-file", "/nonexistent"}} {
		want := runNNCP(t, []byte("x"), "hash", args...)
		got := runFerry(t, []byte("x"), "hash", args...)
		if got.code != want.code || got.code == 0 || got.stdout != "" {
			t.Errorf("%v: exit %d, want %d", args, got.code, want.code)
		}
	}
	if r := runFerry(t, nil, "hash", "-debug", "-seek", "1"); !strings.Contains(r.stderr, "-file is required with -seek") {
		t.Errorf("stderr %q", r.stderr)
	}
}
