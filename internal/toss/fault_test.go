package toss

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"ferry/internal/safeio"
	"ferry/internal/spool"
	"ferry/internal/tx"
)

// Each step of saving a file (and of staging an exec body) failing, or a
// full disk, leaves the packet in rx/ and nothing in incoming; the next
// toss saves the file exactly once.
func TestTossFaultsLoseAndDuplicateNothing(t *testing.T) {
	faults := map[string]safeio.Fault{
		"disk full":   safeio.DiskFull(100 << 10),
		"disk full 0": safeio.DiskFull(0),
	}
	for _, op := range []safeio.Op{safeio.OpCreate, safeio.OpWrite, safeio.OpSync, safeio.OpClose, safeio.OpLink, safeio.OpRename, safeio.OpSyncDir} {
		for _, nth := range []int{1, 2} {
			faults[fmt.Sprintf("%s #%d", op, nth)] = safeio.FailNth(op, nth, syscall.EIO)
		}
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16)
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			a, b, carry := pair(t)
			b.spool.NoSync = false // the fsyncs are steps too
			for i := range 2 {
				if _, err := a.sender.File(a.neigh("b"), bytes.NewReader(data), fmt.Sprintf("f%d", i), tx.Options{Nice: 224}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := a.sender.Exec(a.neigh("b"), "save", []string{"e"}, bytes.NewReader(data), tx.ExecOptions{Options: tx.Options{Nice: 96}}); err != nil {
				t.Fatal(err)
			}
			carry()
			restore := safeio.SetFault(fault)
			evs := b.toss(t, Options{MemLimit: 1024})
			restore()
			for _, ev := range evs {
				if ev.Outcome == Failed && rxHas(b, ev.Job) == false {
					t.Errorf("failed packet %s left rx/", ev.Dst)
				}
			}
			for _, ev := range b.toss(t, Options{MemLimit: 1024}) {
				if ev.Outcome != Done {
					t.Errorf("retry: %+v", ev)
				}
			}
			if n := rxCount(t, b, a); n != 0 {
				t.Fatalf("%d packets left in rx/", n)
			}
			ents, _ := os.ReadDir(b.nd.Incoming)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if strings.Join(names, " ") != "f0 f1" {
				t.Fatalf("incoming: %v (want f0 f1: once each, no temporary file)", names)
			}
			for _, n := range []string{"f0", "f1"} {
				if got, _ := os.ReadFile(filepath.Join(b.nd.Incoming, n)); !bytes.Equal(got, data) {
					t.Errorf("%s: %d bytes", n, len(got))
				}
			}
			if got, _ := os.ReadFile(filepath.Join(b.nd.ExecDir, "e")); !bytes.Equal(got, data) {
				t.Errorf("exec body: %d bytes", len(got))
			}
			if ents, _ := os.ReadDir(b.spool.TmpDir()); len(ents) != 0 {
				t.Errorf("tmp/ not empty: %v", ents)
			}
		})
	}
}

func rxHas(s *side, j spool.Job) bool {
	_, err := os.Stat(j.Path)
	return err == nil
}
