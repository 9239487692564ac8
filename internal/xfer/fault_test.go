package xfer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"ferry/internal/safeio"
	"ferry/internal/testnet"
	"ferry/internal/tx"
)

func faults() map[string]safeio.Fault {
	f := map[string]safeio.Fault{"disk full": safeio.DiskFull(200 << 10), "disk full 0": safeio.DiskFull(0)}
	for _, op := range []safeio.Op{safeio.OpCreate, safeio.OpWrite, safeio.OpSync, safeio.OpClose, safeio.OpLink, safeio.OpRename, safeio.OpSyncDir} {
		for _, nth := range []int{1, 3} {
			f[fmt.Sprintf("%s #%d", op, nth)] = safeio.FailNth(op, nth, syscall.EIO)
		}
	}
	return f
}

// A failing step of xfer (either way) or a full disk loses nothing: what
// failed is still at its source, and the next run carries it once.
func TestXferFaults(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 150<<10)
	for name, fault := range faults() {
		t.Run(name, func(t *testing.T) {
			net := testnet.New(t, "a", "b")
			a, b := open(t, net.Nodes["a"]), open(t, net.Nodes["b"])
			a.sp.NoSync, b.sp.NoSync = false, false
			for i := range 3 {
				if _, err := a.tx.File(a.cfg.Neigh["b"], bytes.NewReader(data), fmt.Sprint(i), tx.Options{Nice: 224}); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]bool{}
			for _, p := range net.Nodes["a"].TxPackets(t, net.Nodes["b"]) {
				want[filepath.Base(p)] = true
			}
			dir := t.TempDir()
			o := a.opts(nil)
			o.Mkdir = true
			restore := safeio.SetFault(fault)
			Tx(a.sp, dir, o)
			restore()
			check := func(where string) {
				t.Helper()
				got := map[string]int{}
				for _, p := range net.Nodes["a"].TxPackets(t, net.Nodes["b"]) {
					got[filepath.Base(p)]++
				}
				for _, p := range net.Nodes["b"].RxPackets(t, net.Nodes["a"]) {
					got[filepath.Base(p)]++
				}
				sdir := filepath.Join(dir, b.cfg.Self.ID.String(), a.cfg.Self.ID.String())
				ents, _ := os.ReadDir(sdir)
				for _, e := range ents {
					if want[e.Name()] {
						got[e.Name()]++
					}
				}
				for p := range want {
					if got[p] == 0 {
						t.Fatalf("%s: packet %s lost", where, p)
					}
				}
			}
			check("after tx")
			if f, err := Tx(a.sp, dir, o); err != nil || f != 0 {
				t.Fatalf("tx again: %d %v", f, err)
			}
			restore = safeio.SetFault(fault)
			Rx(b.sp, dir, b.opts(nil))
			restore()
			check("after rx")
			if f, err := Rx(b.sp, dir, b.opts(nil)); err != nil || f != 0 {
				t.Fatalf("rx again: %d %v", f, err)
			}
			rx := net.Nodes["b"].RxPackets(t, net.Nodes["a"])
			if len(rx) != len(want) {
				t.Fatalf("%d packets in rx, want %d", len(rx), len(want))
			}
			for _, p := range rx {
				if got, _ := os.ReadFile(p); len(got) < len(data) {
					t.Fatalf("%s: %d bytes", p, len(got))
				}
			}
			if n := len(net.Nodes["a"].TxPackets(t, net.Nodes["b"])); n != 0 {
				t.Errorf("%d packets still in a's tx", n)
			}
			sdir := filepath.Join(dir, b.cfg.Self.ID.String(), a.cfg.Self.ID.String())
			if ents, _ := os.ReadDir(sdir); len(ents) != 0 {
				t.Errorf("stick not emptied: %v", ents)
			}
			if ents, _ := os.ReadDir(b.sp.TmpDir()); len(ents) != 0 {
				t.Errorf("tmp/ not empty: %v", ents)
			}
		})
	}
}
