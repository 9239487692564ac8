package testnet

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// KillRuns runs cmd() again and again, killing each run with SIGKILL at
// a point chosen by rng from what progress() reports: once it has grown
// by a random step (0 to 2) since the run started, after a random number
// of further polls (0 to 40, 20 µs apart, so that kills land inside a
// file as well as between files). It stops when a run finishes by itself
// (which must be with exit status 0) or after max kills, and returns the
// number of kills. The caller then runs the command to completion.
func KillRuns(t testing.TB, rng *rand.Rand, max int, cmd func() *exec.Cmd, progress func() int) (kills int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for kills < max {
		c := cmd()
		var errb bytes.Buffer
		c.Stderr = &errb
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		start, step, spin := progress(), rng.IntN(3), rng.IntN(41)
		killed := false
		for !killed {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run %d ended by itself: %v\n%s", kills+1, err, errb.String())
				}
				return kills
			default:
			}
			if time.Now().After(deadline) {
				c.Process.Kill()
				<-done
				t.Fatal("kill loop: deadline")
			}
			if progress() >= start+step {
				if spin == 0 {
					c.Process.Kill()
					<-done
					kills++
					killed = true
					continue
				}
				spin--
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	return kills
}

// Synced is cmd with the fsyncs on ($NNCPNOSYNC removed): slower, and
// the real thing.
func Synced(cmd *exec.Cmd) *exec.Cmd {
	env := cmd.Env[:0:0]
	for _, e := range cmd.Env {
		if e != "NNCPNOSYNC=1" {
			env = append(env, e)
		}
	}
	cmd.Env = env
	return cmd
}

// Backdate sets the times of every file under dir whose name starts
// with prefix an hour back, as if the kills were long ago (sweeps of
// leftovers want them old).
func Backdate(t testing.TB, dir, prefix string) {
	old := time.Now().Add(-time.Hour)
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && len(fi.Name()) >= len(prefix) && fi.Name()[:len(prefix)] == prefix {
			os.Chtimes(p, old, old)
		}
		return nil
	})
}
