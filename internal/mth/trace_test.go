package mth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// traceAll hashes data leaf by leaf, starting at leaf skip (as
// nncp-hash -seek does) or sequentially when skip is 0.
func traceAll(data []byte, skip int, report func(Step)) [Size]byte {
	t := NewTracer(report)
	n := (len(data) + BlockSize - 1) / BlockSize
	leaf := func(i int) []byte { return data[i*BlockSize : min((i+1)*BlockSize, len(data))] }
	if skip == 0 {
		for i := range n {
			if l := leaf(i); len(l) == BlockSize {
				t.AddLeaf(int64(i), l)
			} else {
				t.AddLast(int64(i), l)
			}
		}
		return t.Finish()
	}
	for i := skip; i < n; i++ {
		t.AddLeaf(int64(i), leaf(i))
	}
	for i := 0; i < min(skip, n); i++ {
		t.AddLeaf(int64(i), leaf(i))
	}
	return t.Finish()
}

// TestTracerRoot: whatever the order leaves come in, the root is MTH.
func TestTracerRoot(t *testing.T) {
	data := make([]byte, 19*BlockSize+7)
	rand.NewChaCha8([32]byte{1}).Read(data)
	for _, n := range []int{0, 1, BlockSize - 1, BlockSize, BlockSize + 1, 2 * BlockSize, 3*BlockSize + 5,
		4 * BlockSize, 5*BlockSize + 1, 7 * BlockSize, 8*BlockSize + 3, 13*BlockSize + 2, len(data)} {
		want := Sum256(data[:n])
		for skip := 0; skip <= n/BlockSize+2; skip++ {
			if got := traceAll(data[:n], skip, nil); got != want {
				t.Errorf("%d bytes, from leaf %d: %x, want %x", n, skip, got, want)
			}
		}
	}
}

func trace(data []byte, skip int) string {
	var b strings.Builder
	traceAll(data, skip, func(s Step) { fmt.Fprintf(&b, "%s %d %d %x\n", s.Op, s.Level, s.Index, s.Sum[:2]) })
	return b.String()
}

// TestTracerSteps pins the steps' order and numbering, as nncp-hash
// -debug prints them (hashes cut to two bytes).
func TestTracerSteps(t *testing.T) {
	data := make([]byte, 7*BlockSize+5)
	for i := range data {
		data[i] = byte(i / BlockSize)
	}
	steps := func(s string) string { // keep Op Level Index
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			f := strings.Fields(l)
			out = append(out, strings.Join(f[:3], " "))
		}
		return strings.Join(out, "|")
	}
	for _, tc := range []struct {
		n, skip int
		want    string
	}{
		{0, 0, "Add 0 0|Add 0 1|Fold 1 0"},
		{5, 0, "Add 0 0|Add 0 1|Fold 1 0"},
		{2 * BlockSize, 0, "Add 0 0|Add 0 1|Fold 1 0"},
		// Four leaves, the last short.
		{3*BlockSize + 5, 0, "Add 0 0|Add 0 1|Fold 1 0|Add 0 2|Add 0 3|Fold 1 1|Fold 2 0"},
		// Six leaves: the last pair is folded, then carried to level 2.
		{5*BlockSize + 5, 0, "Add 0 0|Add 0 1|Fold 1 0|Add 0 2|Add 0 3|Fold 1 1|Fold 2 0|Add 0 4|Add 0 5|Fold 1 2|Add 2 1|Fold 3 0"},
		// Seven leaves: the lone last one is carried to level 1.
		{6*BlockSize + 5, 0, "Add 0 0|Add 0 1|Fold 1 0|Add 0 2|Add 0 3|Fold 1 1|Fold 2 0|Add 0 4|Add 0 5|Fold 1 2|Add 0 6|Add 1 3|Fold 2 1|Fold 3 0"},
		// -seek: the tail first, then the head.
		{3*BlockSize + 5, 2, "Add 0 2|Add 0 3|Fold 1 1|Add 0 0|Add 0 1|Fold 1 0|Fold 2 0"},
		{6*BlockSize + 5, 2, "Add 0 2|Add 0 3|Fold 1 1|Add 0 4|Add 0 5|Fold 1 2|Add 0 6|Add 0 0|Add 0 1|Fold 1 0|Fold 2 0|Add 1 3|Fold 2 1|Fold 3 0"},
	} {
		if got := steps(trace(data[:tc.n], tc.skip)); got != tc.want {
			t.Errorf("%d bytes from leaf %d:\n%s\nwant\n%s", tc.n, tc.skip, got, tc.want)
		}
	}
}
