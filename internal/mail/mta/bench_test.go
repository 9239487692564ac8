package mta

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"ferry/internal/config"
	"ferry/internal/mail/bsmtp"
	"ferry/internal/spool"
)

// BenchmarkReceive100: rsmtp's cost per batch of 100 messages delivered
// to Maildirs, with the fsyncs (b.N batches, each new).
func BenchmarkReceive100(b *testing.B) {
	net, _, _ := setup(b)
	cfg, _ := config.Load(net.Nodes["hub"].CfgPath)
	sp, _ := spool.Open(cfg.Spool, spool.Options{})
	synced, err := New(cfg, sp, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var buf bytes.Buffer
		w := bsmtp.NewWriter(&buf, bsmtp.WriterOptions{})
		for j := range 100 {
			msg := fmt.Sprintf("Subject: %d/%d\nMessage-ID: <b-%d-%d@sat>\n\n%s", i, j, i, j, strings.Repeat("body\n", 50))
			w.WriteMessage(&bsmtp.Envelope{From: "root@sat.example", To: []string{"alice@hub.example"}}, strings.NewReader(msg))
		}
		w.Close()
		b.StartTimer()
		if _, err := synced.ReceiveBSMTP(&buf, cfg.Neigh["sat"], ReceiveOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
