package mth

import (
	"slices"

	"github.com/zeebo/blake3"
)

// Keys returns the leaf and node keys (what nncp-hash -debug prints first).
func Keys() (leaf, node [Size]byte) { return leafKey, nodeKey }

// Step is one step of a traced hash: Op is "Add" when a hash enters a
// level, "Fold" when two hashes of a level are combined into one of the
// level above. Index is the hash's position within its level.
type Step struct {
	Op    string
	Level int
	Index int64
	Sum   [Size]byte
}

// Tracer computes MTH while reporting each step, in the same order and
// with the same numbering as nncp-hash -debug. Unlike Hasher it takes
// whole leaves by index, so they may come in any order (nncp-hash -seek
// hashes the tail of a file before its head): a leaf or node is folded
// with its sibling as soon as both are there. The result is the same MTH.
//
// Finish settles the right edge: the last leaf of a sequential stream, if
// short, is added there without folding; then, from the lowest level up,
// two leftover hashes of a level are folded, and a lone hash (a fold
// result included) is carried up to the next level that holds a hash. A
// single leaf is paired with itself.
//
// nncp-hash -debug prints these steps from several goroutines, so its
// order and labels vary from run to run on some sizes; the Tracer prints
// one of the variants nncp-hash prints, always the same one.
type Tracer struct {
	levels [][]traced
	report func(Step)
	leaf   *blake3.Hasher
	node   *blake3.Hasher
}

type traced struct {
	idx int64
	sum [Size]byte
}

// NewTracer returns a Tracer that calls report (which may be nil) for
// each step.
func NewTracer(report func(Step)) *Tracer {
	l, _ := blake3.NewKeyed(leafKey[:])
	n, _ := blake3.NewKeyed(nodeKey[:])
	if report == nil {
		report = func(Step) {}
	}
	return &Tracer{report: report, leaf: l, node: n}
}

func (t *Tracer) leafSum(data []byte) [Size]byte {
	t.leaf.Reset()
	t.leaf.Write(data)
	var s [Size]byte
	t.leaf.Sum(s[:0])
	return s
}

func (t *Tracer) pair(l, r *[Size]byte) [Size]byte {
	t.node.Reset()
	t.node.Write(l[:])
	t.node.Write(r[:])
	var s [Size]byte
	t.node.Sum(s[:0])
	return s
}

func (t *Tracer) level(l int) []traced {
	for len(t.levels) <= l {
		t.levels = append(t.levels, nil)
	}
	return t.levels[l]
}

func (t *Tracer) insert(l int, it traced) {
	lv := t.level(l)
	i, _ := slices.BinarySearchFunc(lv, it.idx, func(a traced, idx int64) int {
		switch {
		case a.idx < idx:
			return -1
		case a.idx > idx:
			return 1
		}
		return 0
	})
	t.levels[l] = slices.Insert(lv, i, it)
}

func (t *Tracer) take(l int, idx int64) (traced, bool) {
	for i, it := range t.level(l) {
		if it.idx == idx {
			t.levels[l] = slices.Delete(t.levels[l], i, i+1)
			return it, true
		}
	}
	return traced{}, false
}

// AddLeaf hashes data (at most BlockSize bytes) as leaf idx and folds
// upwards while siblings are present.
func (t *Tracer) AddLeaf(idx int64, data []byte) {
	it := traced{idx: idx, sum: t.leafSum(data)}
	t.report(Step{"Add", 0, idx, it.sum})
	for l := 0; ; l++ {
		sib, ok := t.take(l, it.idx^1)
		if !ok {
			t.insert(l, it)
			return
		}
		left, right := sib, it
		if it.idx < sib.idx {
			left, right = it, sib
		}
		it = traced{idx: it.idx >> 1, sum: t.pair(&left.sum, &right.sum)}
		t.report(Step{"Fold", l + 1, it.idx, it.sum})
	}
}

// AddLast adds the short last leaf of a sequential stream (or the empty
// leaf of empty input) without folding it: Finish does that.
func (t *Tracer) AddLast(idx int64, data []byte) {
	it := traced{idx: idx, sum: t.leafSum(data)}
	t.report(Step{"Add", 0, idx, it.sum})
	t.insert(0, it)
}

// above returns the lowest level over l that holds a hash, or -1.
func (t *Tracer) above(l int) int {
	for u := l + 1; u < len(t.levels); u++ {
		if len(t.levels[u]) > 0 {
			return u
		}
	}
	return -1
}

// Finish settles the right edge and returns the root.
func (t *Tracer) Finish() [Size]byte {
	total := 0
	for _, lv := range t.levels {
		total += len(lv)
	}
	if total == 0 {
		t.AddLast(0, nil)
		total = 1
	}
	if total == 1 && len(t.level(0)) == 1 {
		it := t.levels[0][0]
		t.report(Step{"Add", 0, it.idx + 1, it.sum})
		root := t.pair(&it.sum, &it.sum)
		t.report(Step{"Fold", 1, it.idx >> 1, root})
		return root
	}
	for {
		l := -1
		total = 0
		for i, lv := range t.levels {
			if len(lv) > 0 && l < 0 {
				l = i
			}
			total += len(lv)
		}
		if total == 1 {
			return t.levels[l][0].sum
		}
		lv := t.levels[l]
		up := t.above(l)
		if len(lv) >= 2 {
			a, b := lv[0], lv[1]
			t.levels[l] = slices.Delete(lv, 0, 2)
			it := traced{sum: t.pair(&a.sum, &b.sum), idx: a.idx >> 1}
			t.report(Step{"Fold", l + 1, it.idx, it.sum})
			if up < 0 || up == l+1 {
				t.insert(l+1, it)
				continue
			}
			it.idx = t.levels[up][len(t.levels[up])-1].idx + 1
			t.report(Step{"Add", up, it.idx, it.sum})
			t.insert(up, it)
			continue
		}
		it := lv[0]
		t.levels[l] = lv[:0]
		it.idx = t.levels[up][len(t.levels[up])-1].idx + 1
		t.report(Step{"Add", up, it.idx, it.sum})
		t.insert(up, it)
	}
}
