package caller

import (
	"bytes"
	"testing"

	"ferry/internal/spool"
	"ferry/internal/testnet"
	"ferry/internal/tx"
)

// BenchmarkSpoolQueueTx: the when-tx-exists check on a tx queue of 1000
// packets, none nice enough (the worst case: every header is read).
func BenchmarkSpoolQueueTx(b *testing.B) {
	n := testnet.New(b, "a", "b")
	a := n.Nodes["a"]
	sp, err := spool.Open(a.Spool, spool.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	s := &tx.Sender{Cfg: a.Cfg, Spool: sp}
	for range 1000 {
		if _, err := s.File(a.Cfg.Neigh["b"], bytes.NewReader([]byte("x")), "x", tx.Options{Nice: 200}); err != nil {
			b.Fatal(err)
		}
	}
	q := SpoolQueue{sp}
	id := a.Cfg.Neigh["b"].ID
	b.ResetTimer()
	for b.Loop() {
		if bl, err := q.Tx(id, 100); err != nil || bl.Pkts != 0 {
			b.Fatal(bl, err)
		}
	}
}
