// Package mth owns Merkle Tree Hashing, NNCP's packet and chunk checksum:
// BLAKE3-256 leaves over 128 KiB blocks, combined pairwise into a root.
//
// Leaves and nodes are keyed BLAKE3-256 with the keys BLAKE3-256("NNCP MTH
// LEAF") and BLAKE3-256("NNCP MTH NODE"). Empty input has one (empty) leaf;
// a single leaf is paired with itself; a leftover hash at the right edge of
// a level is carried up unchanged until it meets a partner on its left.
package mth

import (
	"hash"

	"github.com/zeebo/blake3"
)

// BlockSize is the size of a leaf's data.
const BlockSize = 128 * 1024

// Size is the length of the root hash.
const Size = 32

var (
	leafKey = blake3.Sum256([]byte("NNCP MTH LEAF"))
	nodeKey = blake3.Sum256([]byte("NNCP MTH NODE"))
)

type level struct {
	sum   [Size]byte
	level int
}

// Hasher computes MTH over a stream. It implements hash.Hash; Sum does
// not change the state, so hashing may continue after it.
type Hasher struct {
	leaf  *blake3.Hasher
	node  *blake3.Hasher
	inBuf int // bytes of the current leaf written so far
	stack []level
	n     int64
}

var _ hash.Hash = (*Hasher)(nil)

// New returns a Hasher for an empty stream.
func New() *Hasher {
	l, _ := blake3.NewKeyed(leafKey[:])
	n, _ := blake3.NewKeyed(nodeKey[:])
	return &Hasher{leaf: l, node: n}
}

// Reset empties the hasher.
func (h *Hasher) Reset() {
	h.leaf.Reset()
	h.inBuf, h.stack, h.n = 0, h.stack[:0], 0
}

// Size returns 32.
func (h *Hasher) Size() int { return Size }

// BlockSize returns the leaf size.
func (h *Hasher) BlockSize() int { return BlockSize }

// Len is the number of bytes written.
func (h *Hasher) Len() int64 { return h.n }

func (h *Hasher) pair(l, r *[Size]byte) [Size]byte {
	h.node.Reset()
	h.node.Write(l[:])
	h.node.Write(r[:])
	var out [Size]byte
	h.node.Sum(out[:0])
	return out
}

// push adds a finished leaf and merges equal levels, like a binary counter.
func (h *Hasher) push(sum [Size]byte) {
	cur := level{sum: sum}
	for len(h.stack) > 0 && h.stack[len(h.stack)-1].level == cur.level {
		top := h.stack[len(h.stack)-1]
		h.stack = h.stack[:len(h.stack)-1]
		cur = level{sum: h.pair(&top.sum, &cur.sum), level: cur.level + 1}
	}
	h.stack = append(h.stack, cur)
}

func (h *Hasher) finishLeaf() {
	var s [Size]byte
	h.leaf.Sum(s[:0])
	h.leaf.Reset()
	h.inBuf = 0
	h.push(s)
}

// Write hashes p. It never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	n := len(p)
	h.n += int64(n)
	for len(p) > 0 {
		if h.inBuf == BlockSize {
			h.finishLeaf()
		}
		k := min(BlockSize-h.inBuf, len(p))
		h.leaf.Write(p[:k])
		h.inBuf += k
		p = p[k:]
	}
	return n, nil
}

// Sum appends the root hash to b.
func (h *Hasher) Sum(b []byte) []byte {
	r := h.Root()
	return append(b, r[:]...)
}

// Root returns the root hash of what was written so far.
func (h *Hasher) Root() [Size]byte {
	// The pending leaf is always there: a full one not yet pushed, a
	// partial one, or the empty leaf of empty input.
	var last [Size]byte
	h.leaf.Sum(last[:0])
	if len(h.stack) == 0 {
		return h.pair(&last, &last)
	}
	cur := last
	for i := len(h.stack) - 1; i >= 0; i-- {
		cur = h.pair(&h.stack[i].sum, &cur)
	}
	return cur
}

// Sum256 returns the MTH root of data.
func Sum256(data []byte) [Size]byte {
	h := New()
	h.Write(data)
	return h.Root()
}
