package toss

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/spool"
	"ferry/internal/testnet"
	"ferry/internal/tx"
	"ferry/internal/wire"
)

// netOf makes the named nodes, opened in-process.
func netOf(t *testing.T, names ...string) map[string]*side {
	t.Helper()
	n := testnet.New(t, names...)
	s := map[string]*side{}
	for _, name := range names {
		s[name] = open(t, n.Nodes[name])
	}
	return s
}

// rendezvous is a handle that announces itself in dir/started and waits
// (up to a minute) until want handles have announced themselves, then
// writes what it saw to dir/NAME: "met" if the others came while it ran,
// "alone" if it gave up. Handles run one at a time can never meet.
func rendezvous(dir string, want int) []string {
	return []string{"/bin/sh", "-c", fmt.Sprintf(`mkdir -p %[1]q/started; : > %[1]q/started/"$1"; cat >/dev/null
i=0; while [ "$(ls %[1]q/started | wc -l)" -lt %[2]d ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done
if [ $i -lt 6000 ]; then echo met > %[1]q/"$1"; else echo alone > %[1]q/"$1"; fi`, dir, want), "rendezvous"}
}

func readAll(t *testing.T, dir string, names []string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		got[n] = strings.TrimSpace(string(b))
	}
	return got
}

// TestParallelSenders: packets from different senders are tossed at the
// same time: two senders' handles meet.
func TestParallelSenders(t *testing.T) {
	s := netOf(t, "a", "c", "b")
	b := s["b"]
	dir := t.TempDir()
	var names []string
	for _, from := range []string{"a", "c"} {
		b.neigh(from).Exec["meet"] = rendezvous(dir, 2)
		name := "from-" + from
		names = append(names, name)
		if _, err := s[from].sender.Exec(s[from].neigh("b"), "meet", []string{name}, strings.NewReader("x"), tx.ExecOptions{Options: tx.Options{Nice: 96}}); err != nil {
			t.Fatal(err)
		}
		carryTo(t, s[from], b)
	}
	evs := b.toss(t, Options{})
	if len(evs) != 2 || evs[0].Outcome != Done || evs[1].Outcome != Done {
		t.Fatalf("events: %+v", evs)
	}
	for n, v := range readAll(t, dir, names) {
		if v != "met" {
			t.Errorf("%s: %s: the two senders' handles did not run at the same time", n, v)
		}
	}
}

// orderHandle appends its argument to dir/order and fails the packet if
// another handle of the same sender runs at the same time.
func orderHandle(dir string) []string {
	return []string{"/bin/sh", "-c", fmt.Sprintf(`cat >/dev/null
mkdir %[1]q/busy 2>/dev/null || { echo "overlap at $1" >> %[1]q/overlap; exit 1; }
echo "$1" >> %[1]q/order; rmdir %[1]q/busy`, dir), "order"}
}

// TestOneSenderInOrder: by default a sender's packets are tossed one at
// a time, in the queue's order (niceness, then name), as nncp-toss does,
// even with other senders' packets tossed beside them.
func TestOneSenderInOrder(t *testing.T) {
	s := netOf(t, "a", "c", "b")
	a, c, b := s["a"], s["c"], s["b"]
	dir := t.TempDir()
	b.neigh("a").Exec["order"] = orderHandle(dir)
	b.neigh("c").Exec["sink"] = []string{"/bin/sh", "-c", "cat >/dev/null"}
	for i := range 20 {
		nice := uint8(64 + 32*(i%3))
		if _, err := a.sender.Exec(a.neigh("b"), "order", []string{fmt.Sprint(i)}, strings.NewReader("x"), tx.ExecOptions{Options: tx.Options{Nice: nice}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.sender.Exec(c.neigh("b"), "sink", nil, strings.NewReader("y"), tx.ExecOptions{Options: tx.Options{Nice: nice}}); err != nil {
			t.Fatal(err)
		}
	}
	carryTo(t, a, b)
	carryTo(t, c, b)
	jobs, _, err := b.spool.Jobs(a.cfg.Self.ID, spool.RX)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	byName := map[string]string{}
	evs := b.toss(t, Options{Report: nil})
	for _, ev := range evs {
		if ev.Outcome != Done {
			t.Fatalf("%+v", ev)
		}
		if ev.Handle == "order" {
			byName[ev.Job.Name] = strings.TrimPrefix(ev.Dst, "order ")
		}
	}
	for _, j := range jobs {
		want = append(want, byName[j.Name])
	}
	got, _ := os.ReadFile(filepath.Join(dir, "order"))
	if g := strings.Fields(string(got)); strings.Join(g, " ") != strings.Join(want, " ") {
		t.Errorf("handles ran in the order %v, want the queue's %v", g, want)
	}
	if o, err := os.ReadFile(filepath.Join(dir, "overlap")); err == nil {
		t.Errorf("one sender's handles overlapped: %s", o)
	}
}

// TestExecParallel: a sender whose exec-parallel is 3 has three of its
// handles running at once; its packets all leave rx/.
func TestExecParallel(t *testing.T) {
	s := netOf(t, "a", "b")
	a, b := s["a"], s["b"]
	dir := t.TempDir()
	b.neigh("a").Exec["meet"] = rendezvous(dir, 3)
	b.neigh("a").ExecParallel = 3
	var names []string
	for i := range 3 {
		name := fmt.Sprint("p", i)
		names = append(names, name)
		if _, err := a.sender.Exec(a.neigh("b"), "meet", []string{name}, strings.NewReader("x"), tx.ExecOptions{Options: tx.Options{Nice: 96}}); err != nil {
			t.Fatal(err)
		}
	}
	carryTo(t, a, b)
	evs := b.toss(t, Options{})
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	for _, ev := range evs {
		if ev.Outcome != Done {
			t.Fatalf("%+v", ev)
		}
	}
	for n, v := range readAll(t, dir, names) {
		if v != "met" {
			t.Errorf("%s: %s: exec-parallel 3 did not run three handles at once", n, v)
		}
	}
	if n := rxCount(t, b, a); n != 0 {
		t.Errorf("%d packets left in rx/", n)
	}
}

// TestParallelOne: Parallel 1 tosses one packet at a time over all
// senders (two senders' handles never meet).
func TestParallelOne(t *testing.T) {
	s := netOf(t, "a", "c", "b")
	b := s["b"]
	dir := t.TempDir()
	for _, from := range []string{"a", "c"} {
		b.neigh(from).Exec["order"] = orderHandle(dir)
		b.neigh(from).ExecParallel = 4
		for i := range 5 {
			if _, err := s[from].sender.Exec(s[from].neigh("b"), "order", []string{from + fmt.Sprint(i)}, strings.NewReader("x"), tx.ExecOptions{Options: tx.Options{Nice: 96}}); err != nil {
				t.Fatal(err)
			}
		}
		carryTo(t, s[from], b)
	}
	for _, ev := range b.toss(t, Options{Parallel: 1}) {
		if ev.Outcome != Done {
			t.Fatalf("%+v", ev)
		}
	}
	if o, err := os.ReadFile(filepath.Join(dir, "overlap")); err == nil {
		t.Errorf("handles overlapped with Parallel 1: %s", o)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "order"))
	if n := len(strings.Fields(string(got))); n != 10 {
		t.Errorf("%d handles ran, want 10", n)
	}
}

func TestTypes(t *testing.T) {
	s := TypesOf(wire.TypeFile, wire.TypeExec)
	for ty, want := range map[wire.Type]bool{
		wire.TypeFile: true, wire.TypeExec: true, wire.TypeExecFat: true,
		wire.TypeFreq: false, wire.TypeTrns: false, wire.TypeACK: false, wire.TypeArea: false, 200: false,
	} {
		if s.Has(ty) != want {
			t.Errorf("Has(%v) = %v", ty, !want)
		}
	}
	if TypesOf(wire.TypeExecFat) != TypesOf(wire.TypeExec) || TypesOf(200) != 0 {
		t.Error("exec-fat is exec; out-of-range types are no members")
	}
}
