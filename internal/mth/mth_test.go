package mth

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/node"
	"ferry/internal/testnet/refbin"
	"ferry/internal/testnet/vectors"
)

// The vectors' packets are named by their MTH: Base32 of the root.
func TestVectorNames(t *testing.T) {
	for _, p := range vectors.Packets {
		b := vectors.Read(t, "packets/"+p.File)
		r := Sum256(b)
		if got := node.B32.EncodeToString(r[:]); got != p.ID {
			t.Errorf("%s: MTH %s, want %s", p.File, got, p.ID)
		}
	}
}

func sizes() []int {
	const B = BlockSize
	return []int{0, 1, 63, 64, 65, B - 1, B, B + 1, 2 * B, 3 * B, 3*B + 1, 4 * B, 5*B + 5, 7 * B, 8*B + 1, 11 * B}
}

// Against the real nncp-hash, which prints the root in hex.
func TestAgainstNNCPHash(t *testing.T) {
	bin := refbin.NNCP(t, "hash")
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range sizes() {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		f := filepath.Join(dir, "x")
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-file", f).Output()
		if err != nil {
			t.Fatalf("nncp-hash: %v", err)
		}
		r := Sum256(data)
		if got, want := hex.EncodeToString(r[:]), strings.TrimSpace(string(out)); got != want {
			t.Errorf("size %d: ferry %s, nncp-hash %s", n, got, want)
		}
	}
}

// Writing in odd pieces gives the same root as one write, and Root does
// not disturb the state.
func TestStreaming(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 5*BlockSize/16+7)
	want := Sum256(data)
	h := New()
	for i := 0; i < len(data); {
		k := min(len(data)-i, 1+i%70001)
		h.Write(data[i : i+k])
		h.Root()
		i += k
	}
	if h.Root() != want || h.Len() != int64(len(data)) {
		t.Fatal("piecewise hash differs")
	}
	h.Reset()
	h.Write(data)
	if h.Root() != want {
		t.Fatal("hash after Reset differs")
	}
}

func BenchmarkMTH(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	h := New()
	for b.Loop() {
		h.Write(buf)
	}
}
