package sp

import (
	"testing"

	"ferry/internal/wire"
)

// TestPickChunks: the writer fills a message with whole small packets in
// queue order, cuts a big one to fill the rest only when the piece is
// worth it, and never goes over MaxSPPayload.
func TestPickChunks(t *testing.T) {
	job := func(size, off int64) *sendJob { return &sendJob{size: size, offset: off} }
	full := wire.MaxSPPayload
	cases := []struct {
		name  string
		files []*sendJob
		room  int
		want  []int // chunk lengths
	}{
		{"small ones together", []*sendJob{job(4000, 0), job(5001, 0), job(10, 0)}, full, []int{4000, 5001, 10}},
		{"a big one alone", []*sendJob{job(1<<20, 0)}, full, []int{wire.MaxSPChunk}},
		{"a big one's rest", []*sendJob{job(1<<20, 1<<20-100)}, full, []int{100}},
		{"an empty FILE for offset = size", []*sendJob{job(50, 50), job(7, 0)}, full, []int{0, 7}},
		{"small, then the big one cut to fill", []*sendJob{job(4000, 0), job(1<<20, 0)},
			full, []int{4000, (full - 2*wire.SPFileOverhead - 4000) &^ 3}},
		{"no piece smaller than minSplit", []*sendJob{job(int64(full-wire.SPFileOverhead-minSplit/2), 0), job(1<<20, 0)},
			full, []int{full - wire.SPFileOverhead - minSplit/2}},
		{"after control packets", []*sendJob{job(1<<20, 0)}, full - 1000, []int{(full - 1000 - wire.SPFileOverhead) &^ 3}},
		{"no room", []*sendJob{job(100, 0)}, wire.SPFileOverhead - 1, nil},
		{"many small ones", func() (js []*sendJob) {
			for range 100 {
				js = append(js, job(4500, 0))
			}
			return js
		}(), full, func() (n []int) {
			for range full / (wire.SPFileOverhead + 4500) {
				n = append(n, 4500)
			}
			return n
		}()},
	}
	for _, c := range cases {
		s := &session{files: c.files}
		picks := s.pickChunks(nil, c.room)
		var got []int
		used, sum := 0, 0
		for i, p := range picks {
			if p.job != c.files[i] || p.off != c.files[i].offset {
				t.Fatalf("%s: pick %d is not file %d at its offset", c.name, i, i)
			}
			got = append(got, p.n)
			used += wire.SPFileOverhead + (p.n+3)&^3
			sum += p.n
		}
		if used > c.room || sum > wire.MaxSPChunk {
			t.Fatalf("%s: %d bytes of FILE packets in %d of room", c.name, used, c.room)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s: chunks %v, want %v", c.name, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("%s: chunks %v, want %v", c.name, got, c.want)
			}
		}
	}
}
