package mailtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/internal/mail/bsmtp"
	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
)

// crashMessage is one message of the kill test: its Message-ID and the
// users it goes to.
type crashMessage struct {
	id    string
	users []string
}

// crashBatches makes nb BSMTP batches of per messages each, every message
// with its own Message-ID, to one, two or three of alice, bob and carol,
// some large enough to be staged in a file.
func crashBatches(t *testing.T, rng *rand.Rand, nb, per int) ([][]byte, []crashMessage) {
	t.Helper()
	users := []string{"alice", "bob", "carol"}
	var batches [][]byte
	var all []crashMessage
	for b := range nb {
		var buf bytes.Buffer
		w := bsmtp.NewWriter(&buf, bsmtp.WriterOptions{})
		for i := range per {
			m := crashMessage{id: fmt.Sprintf("<crash-%d-%d@sat.example>", b, i)}
			perm := rng.Perm(3)
			for _, k := range perm[:1+rng.IntN(3)] {
				m.users = append(m.users, users[k])
			}
			var to []string
			for _, u := range m.users {
				to = append(to, u+"@hub.example")
			}
			body := strings.Repeat("line of the message body\n", 1+rng.IntN(40))
			if rng.IntN(50) == 0 {
				body = strings.Repeat("a big message, staged in a file by rsmtp\n", 30000)
			}
			msg := fmt.Sprintf("From: root@sat.example\nTo: %s\nSubject: crash %d/%d\nMessage-ID: %s\n\n%s",
				strings.Join(to, ", "), b, i, m.id, body)
			if err := w.WriteMessage(&bsmtp.Envelope{From: "root@sat.example", To: to}, strings.NewReader(msg)); err != nil {
				t.Fatal(err)
			}
			all = append(all, m)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, buf.Bytes())
	}
	return batches, all
}

// maildirCount counts the files in the new/ and cur/ of the users'
// Maildirs (names only: it is the progress the kill test watches).
func maildirCount(nd *testnet.Node, users ...string) int {
	n := 0
	for _, u := range users {
		for _, sub := range []string{"new", "cur"} {
			d, err := os.Open(filepath.Join(mailbox(nd, u), sub))
			if err != nil {
				continue
			}
			names, _ := d.Readdirnames(-1)
			d.Close()
			n += len(names)
		}
	}
	return n
}

// messageIDs counts every message in a Maildir (new/ and cur/) by its
// Message-ID.
func messageIDs(t *testing.T, dir string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			d := delivered{header: string(b)}
			if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
				d.header = string(b[:i])
			}
			out[d.field("Message-ID")]++
		}
	}
	return out
}

// mboxMessageIDs counts every message in an mbox by its Message-ID (a
// copy cut short still counts if its header made it).
func mboxMessageIDs(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Message-ID: "); ok {
			out[strings.TrimSpace(v)]++
		}
	}
	if n := strings.Count(string(b), "\nFrom root@sat.example ") + bytesPrefix(b, "From root@sat.example "); n != sum(out) {
		t.Errorf("%s: %d From_ lines, %d Message-IDs", path, n, sum(out))
	}
	return out
}

func bytesPrefix(b []byte, p string) int {
	if bytes.HasPrefix(b, []byte(p)) {
		return 1
	}
	return 0
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// crashIterations is how many times each tosser of TestTossKilled is
// killed: $FERRY_CRASH_KILLS, default 12.
func crashIterations(t *testing.T) int {
	if s := os.Getenv("FERRY_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			t.Fatalf("FERRY_CRASH_KILLS=%q: want a number", s)
		}
		return n
	}
	return 12
}

// TestTossKilled is the guarantee "a batch tossed twice delivers nothing
// twice" under kill -9: hundreds of messages in a few BSMTP exec packets
// are tossed into Maildirs by a tosser killed with SIGKILL at points
// chosen by watching the Maildirs fill (a seeded RNG picks how many files
// to let appear, and sometimes kills before the first one), then tossed
// again, and killed again, until the spool is empty. Every message must
// be in every recipient's Maildir exactly once, counted by Message-ID.
// Tossers: ferry toss running rsmtp in-process; ferry toss starting
// `ferry rsmtp` as a command (killed alone, so that the handle lives on
// with its stdin cut, or with its whole process group); the real
// nncp-toss, which streams the batch into `ferry rsmtp` as it decrypts.
// The -parallel tossers have the sender's exec-parallel at 3: its
// batches are handled at once, and a kill cuts several of them.
func TestTossKilled(t *testing.T) {
	t.Parallel()
	kills := crashIterations(t)
	type tosser struct {
		name     string
		impl     testnet.Impl
		handle   func(w *world, cfg string) []string
		orphans  bool // kill toss alone: its handle lives on
		parallel int  // the sender's exec-parallel
	}
	tossers := []tosser{
		{name: "ferry-inprocess", impl: testnet.Ferry, handle: func(w *world, cfg string) []string {
			return []string{w.ferry, "rsmtp", "-cfg", cfg}
		}},
		{name: "ferry-external", impl: testnet.Ferry, orphans: true, handle: func(w *world, cfg string) []string {
			return []string{ferryCopy(w), "rsmtp", "-cfg", cfg}
		}},
		{name: "ferry-external-group", impl: testnet.Ferry, handle: func(w *world, cfg string) []string {
			return []string{ferryCopy(w), "rsmtp", "-cfg", cfg}
		}},
		{name: "nncp-toss", impl: testnet.NNCP, orphans: true, handle: func(w *world, cfg string) []string {
			return []string{w.ferry, "rsmtp", "-cfg", cfg}
		}},
		{name: "ferry-inprocess-parallel", impl: testnet.Ferry, parallel: 3, handle: func(w *world, cfg string) []string {
			return []string{w.ferry, "rsmtp", "-cfg", cfg}
		}},
		{name: "ferry-external-parallel", impl: testnet.Ferry, orphans: true, parallel: 3, handle: func(w *world, cfg string) []string {
			return []string{ferryCopy(w), "rsmtp", "-cfg", cfg}
		}},
		{name: "ferry-external-group-parallel", impl: testnet.Ferry, parallel: 3, handle: func(w *world, cfg string) []string {
			return []string{ferryCopy(w), "rsmtp", "-cfg", cfg}
		}},
	}
	for i, ts := range tossers {
		t.Run(ts.name, func(t *testing.T) {
			if ts.impl == testnet.NNCP {
				refbin.NNCP(t, "toss")
			}
			rng := rand.New(rand.NewPCG(uint64(i)+1, 88))
			w, sat, hub := hubNet(t)
			hub.Cfg.Neigh["sat"].Exec["rsmtp"] = ts.handle(w, hub.CfgPath)
			hub.Cfg.Neigh["sat"].ExecParallel = ts.parallel
			// carol reads mail from an mbox: keyed appends, checked on retry.
			carolMbox := filepath.Join(hub.Dir, "mail", "carol.mbox")
			hub.Cfg.Mail.Raw["users"].(map[string]any)["carol"] = "mbox:" + carolMbox
			w.write()
			batches, msgs := crashBatches(t, rng, 3, 100)
			for _, b := range batches {
				w.do(sat, testnet.Ferry, b, "exec", "-noprogress", "-quiet", "hub", "rsmtp")
			}
			w.carry(sat, testnet.Ferry, hub, testnet.Ferry)
			if n := len(hub.RxPackets(t, sat)); n != len(batches) {
				t.Fatalf("%d packets in hub's rx/, want %d", n, len(batches))
			}
			want := 0
			for _, m := range msgs {
				want += len(m.users)
			}
			users := []string{"alice", "bob", "carol"} // carol: an mbox
			killed := 0
			for run := 0; len(hub.RxPackets(t, sat)) > 0; run++ {
				if run > kills+20 {
					t.Fatalf("the spool is not empty after %d tosses; log:\n%s", run, tail(hub.Log, 30))
				}
				cmd := w.prep(hub.Cmd(t, ts.impl, "toss", "-noprogress", "-quiet"))
				cmd.SysProcAttr = withPgid(cmd.SysProcAttr)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				pgid := cmd.Process.Pid
				t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				if run < kills {
					// Let a random number of new files appear (none: kill
					// during the decryption of the first packet).
					start := maildirCount(hub, users...)
					target := start + rng.IntN(want/kills+2)
					killed++
					tick := time.NewTicker(time.Millisecond)
				watch:
					for {
						select {
						case err := <-done:
							done <- err
							break watch
						case <-tick.C:
							if maildirCount(hub, users...) >= target {
								break watch
							}
						}
					}
					tick.Stop()
					if ts.orphans {
						cmd.Process.Signal(syscall.SIGKILL)
					} else {
						syscall.Kill(-pgid, syscall.SIGKILL)
					}
				}
				select {
				case err := <-done:
					if err != nil && run >= kills {
						t.Logf("toss: %v\n%s", err, out.String())
					}
				case <-time.After(60 * time.Second):
					syscall.Kill(-pgid, syscall.SIGQUIT) // a stack dump in out
					<-done
					t.Fatalf("toss %d still running after 60 s:\n%s", run, out.String())
				}
				// A handle that outlived its toss finishes (its stdin is
				// cut) before the next toss is counted.
				waitGroupGone(t, pgid)
			}
			got := map[string]map[string]int{}
			for _, u := range users[:2] {
				got[u] = messageIDs(t, mailbox(hub, u))
			}
			got["carol"] = mboxMessageIDs(t, carolMbox)
			dup, lost := 0, 0
			for _, m := range msgs {
				for _, u := range m.users {
					switch n := got[u][m.id]; {
					case n == 0:
						lost++
						if lost <= 5 {
							t.Errorf("%s lost in %s's Maildir", m.id, u)
						}
					case n > 1:
						dup += n - 1
						if dup <= 5 {
							t.Errorf("%s delivered %d times to %s", m.id, n, u)
						}
					}
					delete(got[u], m.id)
				}
			}
			for _, u := range users {
				for id, n := range got[u] {
					t.Errorf("%s: unexpected message %q (%d times)", u, id, n)
				}
			}
			t.Logf("%s: %d messages, %d copies, %d kills: %d duplicated, %d lost", ts.name, len(msgs), want, killed, dup, lost)
			if dup > 0 || lost > 0 {
				t.Errorf("%d copies duplicated and %d lost over %d kills (log:\n%s)", dup, lost, killed, tail(hub.Log, 20))
			}
		})
	}
}

// ferryCopy is a copy of the ferry binary (not a link): ferry toss runs
// a handle that is its own binary in-process, and this one must be a
// command of its own.
func ferryCopy(w *world) string {
	w.t.Helper()
	dst := filepath.Join(w.bin, "ferry-copy")
	if _, err := os.Stat(dst); err == nil {
		return dst
	}
	b, err := os.ReadFile(w.ferry)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		w.t.Fatal(err)
	}
	return dst
}

func withPgid(a *syscall.SysProcAttr) *syscall.SysProcAttr {
	if a == nil {
		a = &syscall.SysProcAttr{}
	}
	a.Setpgid = true
	return a
}

// waitGroupGone waits until no live process of group pgid is left (a
// handle that outlived its toss ends when its stdin does). Zombies do
// not count: whoever reaps orphans here may take its time.
func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for groupAlive(pgid) {
		if time.Now().After(deadline) {
			syscall.Kill(-pgid, syscall.SIGKILL)
			t.Fatalf("process group %d still running after 30 s", pgid)
		}
		time.Sleep(time.Millisecond) // polling for the condition, not waiting for time
	}
}

// groupAlive reports whether a process of group pgid is running (not a
// zombie), from /proc/PID/stat: "pid (comm) state ppid pgrp ...".
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}
