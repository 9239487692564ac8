package cli

import (
	"bytes"
	"crypto/rand"
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

// nobody is the uid the root tests hand spools to.
const nobody = 65534

// asUser makes cmd run as uid:gid (root only).
func asUser(cmd *exec.Cmd, uid, gid int) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	return cmd
}

// openUp lets other users reach dir: t.TempDir and os.MkdirTemp make
// 0700 directories, up to (not including) the system's temp directory.
func openUp(t *testing.T, dirs ...string) {
	t.Helper()
	tmp, _ := filepath.EvalSymlinks(os.TempDir())
	for _, dir := range dirs {
		dir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			t.Fatal(err)
		}
		for d := dir; strings.HasPrefix(d, tmp+"/"); d = filepath.Dir(d) {
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(d, fi.Mode().Perm()|0o055); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// run runs cmd with stdin and returns its exit status and stderr.
func run(t *testing.T, cmd *exec.Cmd, stdin []byte) (int, string) {
	t.Helper()
	var errb bytes.Buffer
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stderr = &errb
	return exitOf(t, cmd), errb.String()
}

// TestTempFailSpoolNotWritable: the case. The spool's tmp/ is
// not writable by the user the MTA runs ferry as (a command once run as
// root made it): exec, file, freq and sendmail exit 75 (EX_TEMPFAIL, the
// MTA defers), not 1 (the MTA bounces). Once the spool is fixed, the same
// commands queue their packets.
func TestTempFailSpoolNotWritable(t *testing.T) {
	net := testnet.New(t, "sat", "hub")
	sat, hub := net.Nodes["sat"], net.Nodes["hub"]
	sat.Cfg.Mail = &config.Mail{Raw: map[string]any{"domain": "sat.example", "smarthost": "hub"}}
	net.Write(t)
	src := filepath.Join(sat.Dir, "report")
	os.WriteFile(src, []byte("report\n"), 0o644)
	tmp := filepath.Join(sat.Spool, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	// as sets who runs ferry: nobody when the test is root (root may
	// write anywhere), else the test's own user with tmp/ made 0555.
	as := func(cmd *exec.Cmd) *exec.Cmd { return cmd }
	fix := func() { os.Chmod(tmp, 0o755) }
	if os.Geteuid() == 0 {
		openUp(t, sat.Dir, filepath.Dir(testnet.FerryBin(t)))
		for _, p := range []string{sat.Dir, sat.Spool, sat.CfgPath} {
			os.Chown(p, nobody, nobody)
		}
		// tmp/ stays root's, 0755: what "ferry exec" run once by root made.
		as = func(cmd *exec.Cmd) *exec.Cmd { return asUser(cmd, nobody, nobody) }
		fix = func() { os.Chown(tmp, nobody, nobody) }
	} else {
		os.Chmod(tmp, 0o555)
		defer os.Chmod(tmp, 0o755)
	}
	sendmail := func() *exec.Cmd {
		cmd := exec.Command(testnet.FerryBin(t), "sendmail", "-C", sat.CfgPath, "-oi", "-f", "root@sat.example", "admin@hub.example")
		cmd.Env = append(os.Environ(), "NNCPNOSYNC=1", "GORACE=atexit_sleep_ms=0")
		return cmd
	}
	mail := []byte("Subject: disk 91% full\n\nsee df\n")
	type step struct {
		name string
		cmd  func() *exec.Cmd
	}
	steps := []step{
		{"exec", func() *exec.Cmd {
			return sat.Cmd(t, testnet.Ferry, "exec", "-noprogress", "-quiet", "hub", "save", "x")
		}},
		{"file", func() *exec.Cmd { return sat.Cmd(t, testnet.Ferry, "file", "-noprogress", "-quiet", src, "hub:") }},
		{"freq", func() *exec.Cmd { return sat.Cmd(t, testnet.Ferry, "freq", "-quiet", "hub:pub/x") }},
		{"sendmail", sendmail},
	}
	for _, s := range steps {
		code, stderr := run(t, as(s.cmd()), mail)
		if code != 75 {
			t.Errorf("%s with spool/tmp not writable: exit %d, want 75 (EX_TEMPFAIL)\n%s", s.name, code, stderr)
		}
		if !strings.Contains(stderr, "permission denied") {
			t.Errorf("%s: stderr does not say what failed:\n%s", s.name, stderr)
		}
		// The hint names who owns what this user may not write.
		if !strings.Contains(stderr, "hint: "+tmp+" belongs to ") {
			t.Errorf("%s: no hint naming the owner of %s:\n%s", s.name, tmp, stderr)
		}
	}
	// A spool that is not there and cannot be made (its file system not
	// mounted yet, say) is temporary too, for sendmail as for exec: 75,
	// not sendmail's EX_CONFIG (78), which MTAs bounce.
	for _, name := range []string{"sendmail", "exec"} {
		cmd := sendmail()
		if name == "exec" {
			cmd = steps[0].cmd()
		}
		cmd.Env = append(cmd.Env, "NNCPSPOOL="+filepath.Join(tmp, "missing", "spool"))
		if code, stderr := run(t, as(cmd), mail); code != 75 {
			t.Errorf("%s with a spool it cannot create: exit %d, want 75\n%s", name, code, stderr)
		}
	}
	if n := len(sat.TxPackets(t, hub)); n != 0 {
		t.Fatalf("%d packets queued while the spool was not writable", n)
	}
	fix()
	for _, s := range steps {
		if code, stderr := run(t, as(s.cmd()), mail); code != 0 {
			t.Errorf("%s once the spool is fixed: exit %d\n%s", s.name, code, stderr)
		}
	}
	if n := len(sat.TxPackets(t, hub)); n != len(steps) {
		t.Errorf("%d packets queued once the spool is fixed, want %d", n, len(steps))
	}
}

// TestTempFailDiskFull: a spool on a full file system (a 64 KiB tmpfs)
// makes exec exit 75 and leaves no temporary file behind (the real
// nncp-exec exits 1 and leaves its partial file in tmp/).
func TestTempFailDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		refbin.Skip(t, "mounting a small tmpfs needs root (the tests run as root in CI)")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput(); err != nil {
		refbin.Skip(t, "cannot mount a tmpfs here (%v: %s): the classification of ENOSPC is covered by TestExitStatus", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	net := testnet.New(t, "sat", "hub")
	sat := net.Nodes["sat"]
	body := make([]byte, 256<<10)
	rand.Read(body)
	cmd := sat.Cmd(t, testnet.Ferry, "exec", "-nocompress", "-noprogress", "-quiet", "hub", "save", "x")
	cmd.Env = append(cmd.Env, "NNCPSPOOL="+filepath.Join(mnt, "spool"))
	code, stderr := run(t, cmd, body)
	if code != 75 || !strings.Contains(stderr, "no space left on device") {
		t.Fatalf("exec into a full spool: exit %d, want 75\n%s", code, stderr)
	}
	ents, err := os.ReadDir(filepath.Join(mnt, "spool", "tmp"))
	if err != nil || len(ents) != 0 {
		t.Errorf("tmp/ after the failure: %v %v", ents, err)
	}
}
