package mta

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"ferry/internal/mail/bsmtp"
)

// A batch whose stdin fails part-way (toss's exec-maxsize cap hit while
// it feeds the in-process rsmtp, a read error) is not accepted at all,
// not even the whole transactions before the failure: the packet stays,
// and its next toss must not deliver them twice.
func TestBatchCutByReadErrorAcceptsNothing(t *testing.T) {
	_, ms, _ := setup(t)
	hub := ms["hub"]
	var batch bytes.Buffer
	w := bsmtp.NewWriter(&batch, bsmtp.WriterOptions{})
	for i := 0; i < 3; i++ {
		m := message("root@sat.example", []string{"alice@hub.example"}, fmt.Sprintf("message %d\n", i))
		rc, _ := m.Open()
		w.WriteMessage(m.Env, rc)
	}
	w.Close()
	cut := errors.New("exec body: bigger than the sender's exec-maxsize")
	in := io.MultiReader(bytes.NewReader(batch.Bytes()[:batch.Len()*2/3]), iotestErr{cut})
	res, err := hub.ReceiveBSMTP(in, hub.Cfg.Neigh["sat"], ReceiveOptions{})
	if !errors.Is(err, cut) {
		t.Fatalf("err %v, want the read error", err)
	}
	if res != nil && len(res.Accepted) > 0 {
		t.Fatalf("%d transactions accepted from a cut batch", len(res.Accepted))
	}
	// The whole batch later: all three, once.
	res, err = hub.ReceiveBSMTP(bytes.NewReader(batch.Bytes()), hub.Cfg.Neigh["sat"], ReceiveOptions{})
	if err != nil || len(res.Accepted) != 3 || res.Duplicates != 0 {
		t.Fatalf("whole batch: %v, %+v", err, res)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }
