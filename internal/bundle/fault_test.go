package bundle

import (
	"bytes"
	"os"
	"syscall"
	"testing"

	"ferry/internal/safeio"
	"ferry/internal/spool"
	"ferry/internal/testnet/vectors"
)

// A failing step or a full disk while a bundle is received stores no
// half packet; reading the bundle again stores every packet once.
func TestRxFaults(t *testing.T) {
	sat, hub := ids(t)
	s2h := vectors.Read(t, "bundle/sat-to-hub.pax")
	faults := map[string]safeio.Fault{"disk full": safeio.DiskFull(4 << 10), "disk full 0": safeio.DiskFull(0)}
	for _, op := range []safeio.Op{safeio.OpCreate, safeio.OpWrite, safeio.OpSync, safeio.OpClose, safeio.OpLink, safeio.OpSyncDir} {
		for _, nth := range []int{1, 3} {
			faults[op.String()+string(rune('0'+nth))] = safeio.FailNth(op, nth, syscall.EIO)
		}
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			s := newSpool(t)
			s.NoSync = false
			o := Options{Self: hub}
			restore := safeio.SetFault(fault)
			Rx(s, bytes.NewReader(s2h), o)
			restore()
			if failed, err := Rx(s, bytes.NewReader(s2h), o); err != nil || failed != 0 {
				t.Fatalf("again: %d failed, %v", failed, err)
			}
			for _, p := range satToHub {
				b, err := os.ReadFile(s.PktPath(sat, spool.RX, p.id))
				if err != nil || !bytes.Equal(b, vectors.Read(t, "packets/"+p.file)) {
					t.Errorf("%s: %v", p.id, err)
				}
			}
			if ents, _ := os.ReadDir(s.QueueDir(sat, spool.RX)); len(ents) != len(satToHub) {
				t.Errorf("%d entries in rx/, want %d", len(ents), len(satToHub))
			}
			tmpEmpty(t, s)
		})
	}
}
