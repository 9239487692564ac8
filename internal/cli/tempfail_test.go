package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"ferry/internal/config"
	"ferry/internal/mail/mta"
	"ferry/internal/mail/queue"
	"ferry/internal/node"
	"ferry/internal/spool"
	"ferry/internal/tempfail"
	"ferry/internal/testnet"
)

// TestExitStatus: the one mapping from errors to exit statuses. What a
// retry can cure is 75 (EX_TEMPFAIL: an MTA defers); what is wrong with
// the request is NNCP's status.
func TestExitStatus(t *testing.T) {
	s, err := spool.Open(t.TempDir(), spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var id node.ID
	unlock, err := s.Lock(id, "toss")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, lockErr := s.Lock(id, "toss") // held: contention
	if !errors.Is(lockErr, spool.ErrLocked) {
		t.Fatalf("second lock: %v", lockErr)
	}
	enospc := &fs.PathError{Op: "write", Path: "/spool/tmp/pkt-1", Err: syscall.ENOSPC}
	edquot := &fs.PathError{Op: "write", Path: "/spool/tmp/pkt-1", Err: syscall.EDQUOT}
	eacces := &fs.PathError{Op: "open", Path: "/spool/tmp/pkt-1", Err: syscall.EACCES}
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"disk full", fmt.Errorf("writing: %w", enospc), 75},
		{"quota", edquot, 75},
		{"spool not writable", tempfail.Local(fmt.Errorf("spool tmp: %w", eacces)), 75},
		{"lock held", lockErr, 75},
		{"mail queue limit", fmt.Errorf("%w: 10 bytes wait", mta.ErrQueueFull), 75},
		{"mail queue entry locked", fmt.Errorf("mailq -rm: %w", queue.ErrLocked), 75},
		{"unknown node", fmt.Errorf("%q: %w", "nosuch", config.ErrUnknownNode), 1},
		{"config missing", &config.Error{Path: "/etc/nncp.hjson", Err: &fs.PathError{Op: "stat", Path: "/etc/nncp.hjson", Err: syscall.ENOENT}}, 1},
		{"a source file the user cannot read", eacces, 1},
		{"bad argument", argErr("-nice: invalid niceness"), 1},
		{"usage", usageErr("-rx and -tx are mutually exclusive"), 2},
		{"explicit status wins", exitCode(3, enospc), 3},
	} {
		if got := exitStatus(tc.err); got != tc.want {
			t.Errorf("%s: exitStatus(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestArgExitCodesLikeNNCP: exec, file and freq exit as the real nncp-*
// do when the request itself is wrong.
func TestArgExitCodesLikeNNCP(t *testing.T) {
	net := testnet.New(t, "a", "b")
	a := net.Nodes["a"]
	src := filepath.Join(a.Dir, "src")
	os.WriteFile(src, []byte("x"), 0o644)
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"exec", []string{"b"}, 1},                        // HANDLE missing
		{"exec", []string{"nosuch", "save", "x"}, 1},      // unknown node
		{"exec", []string{"-nice", "QQ", "b", "save"}, 1}, // bad niceness
		{"exec", []string{"-replynice", "QQ", "b", "x"}, 1},
		{"exec", []string{"-badflag", "b", "save"}, 2},
		{"file", []string{src}, 1},
		{"file", []string{src, "nosuch:"}, 1},
		{"file", []string{"-nice", "QQ", src, "b:"}, 1},
		{"file", []string{filepath.Join(a.Dir, "nosuchfile"), "b:"}, 1},
		{"freq", []string{"b"}, 1},
		{"freq", []string{}, 1},
		{"freq", []string{"-nice", "QQ", "b:x"}, 1},
	}
	impls := []testnet.Impl{testnet.Ferry}
	if haveNNCP(t, "exec") {
		impls = append(impls, testnet.NNCP)
	}
	for _, impl := range impls {
		for _, tc := range cases {
			r := a.Run(t, impl, []byte("body"), tc.name, tc.args...)
			if r.Code != tc.want {
				t.Errorf("%s %s %s: exit %d, want %d\n%s", impl, tc.name, strings.Join(tc.args, " "), r.Code, tc.want, r.Stderr)
			}
		}
		// A config that is not there.
		cmd := a.Cmd(t, impl, "exec", "b", "save", "x")
		cmd.Args[2] = filepath.Join(a.Dir, "nosuch.hjson")
		cmd.Stdin = strings.NewReader("body")
		if code := exitOf(t, cmd); code != 1 {
			t.Errorf("%s exec with a missing config: exit %d, want 1", impl, code)
		}
	}
	if n := len(a.TxPackets(t, net.Nodes["b"])); n != 0 {
		t.Errorf("%d packets queued by refused requests", n)
	}
}

// haveNNCP reports whether the real nncp-NAME is installed; under
// FERRY_INTEROP=1 its absence fails the test.
func haveNNCP(t *testing.T, name string) bool {
	if _, err := exec.LookPath("nncp-" + name); err == nil {
		return true
	}
	if os.Getenv("FERRY_INTEROP") == "1" {
		t.Fatalf("nncp-%s is not installed (apt-get install nncp)", name)
	}
	t.Logf("nncp-%s not installed: checking ferry alone (apt-get install nncp to compare)", name)
	return false
}

func exitOf(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Run()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return ee.ExitCode()
}
