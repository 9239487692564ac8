package toss

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"ferry/internal/spool"
	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
	"ferry/internal/tx"
)

func content(seed uint64, name string, size int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(len(name))))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return append([]byte(name+":"), b...)
}

// Real `ferry toss` processes killed with SIGKILL at random points while
// saving files from two senders at once (their queues are tossed
// concurrently), then run to completion: every file is in incoming
// exactly once (no NAME.0), whole, and no temporary file is left after
// rm -tmp.
func TestTossKill9(t *testing.T) {
	if testing.Short() && !refbin.Required() {
		t.Skip("kill -9 runs")
	}
	seed := uint64(20261202)
	rng := rand.New(rand.NewPCG(seed, 1))
	s := netOf(t, "a", "c", "b")
	a, c, b := s["a"], s["c"], s["b"]
	carry := func() {
		carryTo(t, a, b)
		carryTo(t, c, b)
	}
	want := map[string][]byte{}
	inc := b.nd.Incoming
	queued := 0
	rx := func() int { return rxCount(t, b, a) + rxCount(t, b, c) }
	progress := func() int {
		ents, _ := os.ReadDir(inc)
		n := 0
		for _, e := range ents {
			if !spool.IsTemp(e.Name()) {
				n++
			}
		}
		return n + queued - rx()
	}
	cmd := func() *exec.Cmd { return testnet.Synced(b.nd.Cmd(t, testnet.Ferry, "toss", "-noprogress", "-quiet")) }
	kills := 0
	// Rounds of 40 files, each tossed by runs killed until one finishes.
	for round := 0; kills < 30 && round < 8; round++ {
		for i := range 40 {
			from := []*side{a, c}[i%2]
			name := fmt.Sprintf("r%d-f%02d", round, i)
			size := []int{0, 100, 5000, 64 << 10, 300 << 10, 1<<20 + 17}[rng.IntN(6)]
			want[name] = content(seed, name, size)
			if _, err := from.sender.File(from.neigh("b"), bytes.NewReader(want[name]), name, tx.Options{Nice: 224}); err != nil {
				t.Fatal(err)
			}
		}
		carry()
		queued = len(want)
		kills += testnet.KillRuns(t, rng, 30-kills, cmd, progress)
	}
	temps := 0
	filepath.Walk(inc, func(p string, fi os.FileInfo, err error) error {
		if err == nil && spool.IsTemp(fi.Name()) {
			temps++
		}
		return nil
	})
	testnet.Backdate(t, b.nd.Dir, ".ferry-")
	b.nd.Must(t, testnet.Ferry, nil, "toss", "-noprogress", "-quiet")
	b.nd.Must(t, testnet.Ferry, nil, "rm", "-tmp", "-quiet")
	ents, _ := os.ReadDir(inc)
	var got []string
	lost, dup := 0, 0
	for _, e := range ents {
		got = append(got, e.Name())
		if _, ok := want[e.Name()]; !ok {
			dup++
		}
	}
	for name, data := range want {
		b, err := os.ReadFile(filepath.Join(inc, name))
		if err != nil || !bytes.Equal(b, data) {
			lost++
		}
	}
	t.Logf("%d kills, %d temporary files left by them; lost %d, duplicated or stray %d", kills, temps, lost, dup)
	if lost > 0 || dup > 0 || len(got) != len(want) {
		sort.Strings(got)
		t.Fatalf("incoming: %s", strings.Join(got, " "))
	}
	if n := rx(); n != 0 {
		t.Fatalf("%d packets left in rx/", n)
	}
	if ents, _ := os.ReadDir(b.spool.TmpDir()); len(ents) != 0 {
		t.Fatalf("tmp/ not empty: %v", ents)
	}
}
