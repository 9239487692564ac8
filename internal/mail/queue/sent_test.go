package queue

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func sent(i int) *Sent {
	return &Sent{From: "root@sat.example", To: []string{"alice@hub.example"}, Node: "hub", NodeID: "HUBID", Hop: "HUBID",
		Pkt: fmt.Sprintf("PKT%05d", i), MessageID: fmt.Sprintf("<%d@sat.example>", i), Queued: t0.Add(time.Duration(i) * time.Second)}
}

func TestSentJournal(t *testing.T) {
	q := open(t)
	var ids []string
	for i := range 5 {
		s := sent(i)
		if err := q.RecordSent(s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	q.MarkAcked(ids[1])
	q.MarkCancelled(ids[2])
	q.SetReport(ids[3], "bounced", "550 no such user")
	q.SetReport(ids[3], "delivered", "250 ok") // a later success does not hide the bounce
	q.SetReport(ids[4], "delivered", "250 ok")
	q.MarkAcked("NO-SUCH-ID") // a change of nothing known is ignored

	// A second queue (another process) sees it all.
	q2, err := Open(q.Dir, false)
	if err != nil {
		t.Fatal(err)
	}
	all, err := q2.ListSent()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Fatalf("%d records, want 5", len(all))
	}
	for i, s := range all {
		if s.ID != ids[i] || s.Pkt != fmt.Sprintf("PKT%05d", i) {
			t.Errorf("record %d: %s %s, want %s (oldest first)", i, s.ID, s.Pkt, ids[i])
		}
	}
	if !all[1].Acked || all[0].Acked {
		t.Errorf("acked: %v %v, want only the second", all[0].Acked, all[1].Acked)
	}
	if !all[2].Cancelled {
		t.Error("the third is not cancelled")
	}
	if all[3].Report != "bounced" || all[3].ReportText != "550 no such user" {
		t.Errorf("report of the fourth: %q %q, want the bounce", all[3].Report, all[3].ReportText)
	}
	if all[4].Report != "delivered" {
		t.Errorf("report of the fifth: %q", all[4].Report)
	}
	if s, err := q2.GetSent(ids[1]); err != nil || !s.Acked {
		t.Errorf("GetSent: %+v %v", s, err)
	}
	if _, err := q2.GetSent("NO-SUCH-ID"); err != ErrNotFound {
		t.Errorf("GetSent of an unknown id: %v, want ErrNotFound", err)
	}
}

// TestSentIndexTails: a queue that has read the journal sees what others
// append later (by packet and by Message-ID), also across a rotation.
func TestSentIndexTails(t *testing.T) {
	q := open(t)
	other, err := Open(q.Dir, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		other.RecordSent(sent(i))
	}
	if s, err := q.SentByPkt("PKT00001"); err != nil || s == nil || s.MessageID != "<1@sat.example>" {
		t.Fatalf("SentByPkt: %+v %v", s, err)
	}
	other.RecordSent(sent(3))
	s, _ := q.SentByPkt("PKT00003")
	if s == nil {
		t.Fatal("a record appended after the first read is not found")
	}
	other.MarkAcked(s.ID)
	if s, _ := q.SentByPkt("PKT00003"); s == nil || !s.Acked {
		t.Fatalf("the ACK appended by another queue is not seen: %+v", s)
	}
	if s, _ := q.SentByMessageID("<2@sat.example>"); s == nil || s.Pkt != "PKT00002" {
		t.Fatalf("SentByMessageID: %+v", s)
	}
	if s, _ := q.SentByPkt("PKT99999"); s != nil {
		t.Fatalf("an unknown packet found: %+v", s)
	}

	// Rotation: the journal becomes sent.log.old; both are read.
	old := sentLogMax
	sentLogMax = 1
	defer func() { sentLogMax = old }()
	other.RecordSent(sent(4))
	if _, err := os.Stat(q.sentLog() + ".old"); err != nil {
		t.Fatalf("no rotation: %v", err)
	}
	sentLogMax = old
	if s, _ := q.SentByPkt("PKT00004"); s == nil {
		t.Fatal("the record appended after the rotation is not found")
	}
	if s, _ := q.SentByPkt("PKT00001"); s == nil {
		t.Fatal("a record of the older generation is lost")
	}
	if all, _ := q.ListSent(); len(all) != 5 {
		t.Errorf("%d records after the rotation, want 5", len(all))
	}
}

// TestSentTornLine: a line cut short by a crash is skipped, and the next
// append does not run into it.
func TestSentTornLine(t *testing.T) {
	q := open(t)
	q.RecordSent(sent(0))
	f, err := os.OpenFile(q.sentLog(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"TORN","from":"roo`)
	f.Close()
	if all, _ := q.ListSent(); len(all) != 1 {
		t.Fatalf("%d records with a torn line at the end, want 1", len(all))
	}
	q.RecordSent(sent(1))
	all, _ := q.ListSent()
	if len(all) != 2 || all[1].Pkt != "PKT00001" {
		t.Fatalf("after the torn line: %d records %+v, want 2", len(all), all)
	}
}

// TestSentLegacyFiles: records of older versions (a file each in sent/)
// are read, and the journal's changes apply to them.
func TestSentLegacyFiles(t *testing.T) {
	q := open(t)
	s := sent(7)
	s.ID = NewID(s.Queued)
	b, _ := json.MarshalIndent(s, "", "  ")
	os.MkdirAll(filepath.Join(q.Dir, "sent"), 0o700)
	if err := os.WriteFile(filepath.Join(q.Dir, "sent", s.ID), b, 0o600); err != nil {
		t.Fatal(err)
	}
	q.RecordSent(sent(8))
	q.MarkAcked(s.ID)
	all, err := q.ListSent()
	if err != nil || len(all) != 2 {
		t.Fatalf("ListSent: %d %v", len(all), err)
	}
	if all[0].ID != s.ID || !all[0].Acked {
		t.Errorf("the old record: %+v", all[0])
	}
	if got, _ := q.SentByPkt("PKT00007"); got == nil || got.ID != s.ID {
		t.Errorf("SentByPkt of the old record: %+v", got)
	}
}

// TestSentConcurrentAppends: processes appending at once, one of them
// rotating the journal, lose no line and tear none.
func TestSentConcurrentAppends(t *testing.T) {
	if dir := os.Getenv("SENT_HELPER"); dir != "" {
		sentLogMax, _ = strconv.ParseInt(os.Getenv("SENT_HELPER_MAX"), 10, 64)
		q, err := Open(dir, true)
		if err != nil {
			t.Fatal(err)
		}
		base, _ := strconv.Atoi(os.Getenv("SENT_HELPER_BASE"))
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 100 {
					if err := q.RecordSent(sent(base + g*100 + i)); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		return
	}
	q := open(t)
	// The first writer past 60% of all the records rotates, once.
	s := sent(0)
	s.ID = NewID(s.Queued)
	one, _ := json.Marshal(s)
	max := 1200 * (len(one) + 1) * 6 / 10
	var wg sync.WaitGroup
	outs := make([][]byte, 3)
	errs := make([]error, 3)
	for p := range 3 {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSentConcurrentAppends$")
			cmd.Env = append(os.Environ(), "SENT_HELPER="+q.Dir, "SENT_HELPER_BASE="+strconv.Itoa(p*1000), "SENT_HELPER_MAX="+strconv.Itoa(max))
			outs[p], errs[p] = cmd.CombinedOutput()
		})
	}
	wg.Wait()
	for p := range 3 {
		if errs[p] != nil {
			t.Fatalf("helper %d: %v\n%s", p, errs[p], outs[p])
		}
	}
	all, err := q.ListSent()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1200 {
		t.Errorf("%d records, want 1200", len(all))
	}
	if _, err := os.Stat(q.sentLog() + ".old"); err != nil {
		t.Errorf("the journal was not rotated: %v", err)
	}
	for _, f := range []string{q.sentLog() + ".old", q.sentLog()} {
		b, _ := os.ReadFile(f)
		x := newSentSet()
		if n := x.parse(b); n != len(b) {
			t.Errorf("%s: %d of %d bytes are whole lines", f, n, len(b))
		}
	}
}

func TestFirstNote(t *testing.T) {
	q := open(t)
	if !q.FirstNote("HUB") || q.FirstNote("HUB") || q.FirstNote("HUB") {
		t.Error("FirstNote: want true once, then false")
	}
	if !q.FirstNote("OTHER") {
		t.Error("FirstNote of another hop: want true")
	}
}

// BenchmarkRecordSent: the cost of a submission's record, with 0 or
// 20,000 records before it (it must not grow).
func BenchmarkRecordSent(b *testing.B) {
	for _, n := range []int{0, 20000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			q, err := Open(filepath.Join(b.TempDir(), "queue"), true)
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				q.RecordSent(sent(i))
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := q.RecordSent(sent(n + i)); err != nil {
					b.Fatal(err)
				}
				q.FirstNote("HUBID")
			}
		})
	}
}
