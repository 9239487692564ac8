package cli

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"ferry/internal/config"
	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
)

// TestRootRunKeepsSpoolOwner: the hub's spool, log directory, incoming
// and Maildir belong to nobody (standing for nncp). ferry run there as
// root (xfer, exec, file, sendmail's mail tossed through rsmtp, toss
// -seen, stat) must leave everything it creates in the spool and the log
// owned by nobody, and give back a tmp/ an older root run left as root's.
// Then the same commands run as nobody must work.
func TestRootRunKeepsSpoolOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		refbin.Skip(t, "needs root: it checks what a root run creates in a spool another user owns (the tests run as root in CI)")
	}
	ferry := testnet.FerryBin(t)
	net := testnet.New(t, "sat", "hub")
	sat, hub := net.Nodes["sat"], net.Nodes["hub"]
	maildir := filepath.Join(hub.Dir, "Maildir")
	for _, d := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(maildir, d), 0o755)
	}
	sat.Cfg.Mail = &config.Mail{Raw: map[string]any{"domain": "sat.example", "smarthost": "hub"}}
	hub.Cfg.Mail = &config.Mail{Raw: map[string]any{"domain": "hub.example",
		"users": map[string]any{"alice": "maildir:" + maildir}}}
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{ferry, "rsmtp"}
	net.Write(t)
	// An older run as root left tmp/ root's.
	os.Mkdir(filepath.Join(hub.Spool, "tmp"), 0o755)
	openUp(t, hub.Dir, filepath.Dir(ferry))
	err := filepath.WalkDir(hub.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == filepath.Join(hub.Spool, "tmp") {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(sat.Dir, "report")
	os.WriteFile(src, []byte("report\n"), 0o644)
	hsrc := filepath.Join(hub.Dir, "answer")
	os.WriteFile(hsrc, []byte("answer\n"), 0o644)
	os.Chown(hsrc, nobody, nobody)

	// sat (all root's) sends a file, an exec and a mail.
	satSends := func(tag string) {
		sat.Must(t, testnet.Ferry, nil, "file", "-noprogress", "-quiet", src, "hub:report-"+tag)
		sat.Must(t, testnet.Ferry, []byte("exec "+tag), "exec", "-noprogress", "-quiet", "hub", "save", "exec-"+tag)
		cmd := exec.Command(ferry, "sendmail", "-C", sat.CfgPath, "-oi", "-f", "root@sat.example", "alice@hub.example")
		cmd.Env = append(os.Environ(), "NNCPNOSYNC=1", "GORACE=atexit_sleep_ms=0")
		if code, stderr := run(t, cmd, []byte("Subject: "+tag+"\n\nmail "+tag+"\n")); code != 0 {
			t.Fatalf("sendmail: exit %d\n%s", code, stderr)
		}
	}
	// carry moves sat's packets to hub, hub's side run by as.
	carry := func(as func(*exec.Cmd) *exec.Cmd) {
		dir, err := os.MkdirTemp(net.Dir, "xfer-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		sat.Must(t, testnet.Ferry, nil, "xfer", "-noprogress", "-mkdir", "-tx", "-node", "hub", dir)
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil {
				os.Lchown(p, nobody, nobody)
			}
			return err
		})
		hubRun(t, as, nil, hub, "xfer", "-noprogress", "-rx", dir)
	}
	asRoot := func(cmd *exec.Cmd) *exec.Cmd { return cmd }
	asNobody := func(cmd *exec.Cmd) *exec.Cmd { return asUser(cmd, nobody, nobody) }

	satSends("1")
	carry(asRoot)
	hubRun(t, asRoot, []byte("reply"), hub, "exec", "-noprogress", "-quiet", "sat", "save", "reply-1")
	hubRun(t, asRoot, nil, hub, "file", "-noprogress", "-quiet", hsrc, "sat:answer-1")
	hubRun(t, asRoot, nil, hub, "toss", "-noprogress", "-quiet", "-seen")
	hubRun(t, asRoot, nil, hub, "stat", "-noprogress")
	checkTossed(t, hub, maildir, "1", 1)

	var wrong []string
	var n int
	check := func(p string) {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Error(err)
			return
		}
		n++
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody || st.Gid != nobody {
			wrong = append(wrong, fmt.Sprintf("%d:%d %s", st.Uid, st.Gid, p))
		}
	}
	filepath.WalkDir(hub.Spool, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			check(p)
		}
		return err
	})
	check(hub.Log)
	check(hub.Log + ".lock")
	for _, must := range []string{"tmp", "sat", filepath.Join("mail", "msg"), filepath.Join(sat.Keys.ID.String(), "rx", "seen"),
		filepath.Join(sat.Keys.ID.String(), "tx", "hdr"), filepath.Join(sat.Keys.ID.String(), "toss.lock")} {
		if _, err := os.Lstat(filepath.Join(hub.Spool, must)); err != nil {
			t.Errorf("the root run made no %s: %v", must, err)
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%d of %d files in the spool and log are not nobody's after the root run:\n%s", len(wrong), n, strings.Join(wrong, "\n"))
	}

	// And now as nobody, as an MTA's pipe or cron would run it.
	satSends("2")
	carry(asNobody)
	hubRun(t, asNobody, []byte("reply"), hub, "exec", "-noprogress", "-quiet", "sat", "save", "reply-2")
	hubRun(t, asNobody, nil, hub, "file", "-noprogress", "-quiet", hsrc, "sat:answer-2")
	hubRun(t, asNobody, nil, hub, "toss", "-noprogress", "-quiet", "-seen")
	checkTossed(t, hub, maildir, "2", 2)
	if got := len(hub.TxPackets(t, sat)); got != 4 {
		t.Errorf("hub queued %d packets for sat, want 4", got)
	}
}

// hubRun runs ferry's NAME on nd through as and fails on a non-zero exit.
func hubRun(t *testing.T, as func(*exec.Cmd) *exec.Cmd, stdin []byte, nd *testnet.Node, name string, args ...string) {
	t.Helper()
	if code, stderr := run(t, as(nd.Cmd(t, testnet.Ferry, name, args...)), stdin); code != 0 {
		t.Fatalf("%s %s: exit %d\n%s\nlog:\n%s", name, strings.Join(args, " "), code, stderr, tailFile(nd.Log, 20))
	}
}

// checkTossed checks that round tag's file, exec body and mail arrived.
func checkTossed(t *testing.T, hub *testnet.Node, maildir, tag string, mails int) {
	t.Helper()
	for _, p := range []string{filepath.Join(hub.Incoming, "report-"+tag), filepath.Join(hub.ExecDir, "exec-"+tag)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("round %s: %v", tag, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(maildir, "new")); len(ents) != mails {
		t.Errorf("round %s: %d mails in the Maildir, want %d", tag, len(ents), mails)
	}
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
