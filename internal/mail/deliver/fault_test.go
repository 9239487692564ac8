package deliver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/internal/safeio"
)

// deliveryFaults fail each step of a durable write once, or fill the
// disk.
func deliveryFaults() map[string]safeio.Fault {
	out := map[string]safeio.Fault{}
	for _, op := range []safeio.Op{safeio.OpCreate, safeio.OpWrite, safeio.OpSync, safeio.OpClose, safeio.OpLink, safeio.OpSyncDir} {
		out[op.String()] = safeio.FailNth(op, 1, syscall.EIO)
	}
	out["diskfull"] = safeio.DiskFull(100)
	return out
}

// TestMaildirFaults: every failing step of a Maildir delivery is a
// temporary error (4xx, ENOSPC as 452 4.3.1), leaves no temporary file,
// and the retry leaves exactly one copy.
func TestMaildirFaults(t *testing.T) {
	for name, f := range deliveryFaults() {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "Maildir")
			md := Maildir{Path: dir, Create: true, Hostname: "host"}
			msg := bytesMessage("a@sat.example", "Subject: x\n\n"+strings.Repeat("body\n", 100))
			msg.Key, msg.Time = "K-F", time.Unix(1700000000, 0)
			// The directories first: the fault is for the message.
			if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"new", "cur"} {
				os.MkdirAll(filepath.Join(dir, d), 0o700)
			}
			restore := safeio.SetFault(f)
			res := one(t, md, msg, "bob@hub.example")
			restore()
			if res.Err == nil {
				t.Fatal("no error")
			}
			e := wantErr(t, res.Err, true, 0, "")
			if name == "diskfull" && e.Code != 452 {
				t.Errorf("disk full: %d %s", e.Code, e.Enhanced)
			}
			if n := maildirFiles(t, dir, "tmp"); len(n) != 0 {
				t.Errorf("tmp/ holds %v", n)
			}
			msg.Retry = true
			if res := one(t, md, msg, "bob@hub.example"); res.Err != nil {
				t.Fatal(res.Err)
			}
			if n := maildirFiles(t, dir, "new"); len(n) != 1 {
				t.Errorf("new/ %v after the retry, want one copy", n)
			}
		})
	}
}

// TestMboxFaults: a failing fsync, or a journal that cannot record the
// delivery, is a temporary error; the mbox is as it was, and the retry
// appends one copy.
func TestMboxFaults(t *testing.T) {
	faults := map[string]safeio.Fault{"fsync": safeio.FailNth(safeio.OpSync, 1, syscall.EIO)}
	for i := 1; i <= 4; i++ {
		faults[fmt.Sprintf("journal-%d", i)] = nil
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mbox")
			os.WriteFile(path, []byte("From x Thu Jan  1 00:00:00 1970\n\nold\n\n"), 0o600)
			before, _ := os.ReadFile(path)
			j := &failJournal{memJournal: memJournal{}}
			if strings.HasPrefix(name, "journal") {
				fmt.Sscanf(name, "journal-%d", &j.failAt)
			}
			mb := Mbox{Path: path}
			msg := bytesMessage("a@sat.example", "Subject: x\n\nbody\n")
			msg.Key, msg.Time, msg.Journal = "K-M", time.Unix(1700000000, 0), j
			var restore func()
			if f != nil {
				restore = safeio.SetFault(f)
			}
			res := one(t, mb, msg, "bob@hub.example")
			if restore != nil {
				restore()
			}
			if j.failAt == 0 || j.failAt <= 2 { // the two records come before the first byte
				if res.Err == nil {
					t.Fatal("no error")
				}
				wantErr(t, res.Err, true, 0, "")
				if b, _ := os.ReadFile(path); string(b) != string(before) {
					t.Errorf("mbox changed by a failed delivery:\n%s", b)
				}
			}
			j.failAt = 0
			msg.Retry = true
			if res := one(t, mb, msg, "bob@hub.example"); res.Err != nil {
				t.Fatal(res.Err)
			}
			b, _ := os.ReadFile(path)
			if n := strings.Count(string(b), "\nFrom a@sat.example "); n != 1 {
				t.Errorf("%d copies after the retry:\n%s", n, b)
			}
		})
	}
}

// failJournal fails its failAt-th Intent.
type failJournal struct {
	memJournal
	n, failAt int
}

func (j *failJournal) Intent(key string, rec []byte) error {
	j.n++
	if j.n == j.failAt {
		return syscall.ENOSPC
	}
	return j.memJournal.Intent(key, rec)
}
