package caller

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/config"
)

func writeFile(path, s string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(s), 0o755)
}

func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never written", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The program gets the prefix arguments then nncp-call's; when the
// context ends it gets SIGTERM and Dial returns once it has exited.
func TestExecDialer(t *testing.T) {
	dir := t.TempDir()
	stub := filepath.Join(dir, "call")
	if err := writeFile(stub, `#!/bin/sh
trap 'echo term > `+dir+`/term.tmp; mv `+dir+`/term.tmp `+dir+`/term; exit 0' TERM
echo "$@" > `+dir+`/args.tmp && mv `+dir+`/args.tmp `+dir+`/args
[ "$3" = "hold" ] || exit 0
while :; do sleep 0.05; done
`); err != nil {
		t.Fatal(err)
	}
	b := &config.Neighbour{Name: "b", Calls: []config.Call{{Cron: "@daily", Nice: 64, Xx: "rx"}}}
	d := &ExecDialer{Path: stub, Args: []string{"call", "-cfg", "/x.hjson"}}
	if err := d.Dial(context.Background(), Spec(b, 0, AutoToss{})); err != nil {
		t.Fatal(err)
	}
	if got := waitFile(t, dir+"/args"); got != "call -cfg /x.hjson -nice 64 -rx b\n" {
		t.Errorf("args %q", got)
	}

	d.Args = []string{"call", "-cfg", "hold"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	os.Remove(dir + "/args")
	go func() { done <- d.Dial(ctx, Spec(b, 0, AutoToss{})) }()
	waitFile(t, dir+"/args")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Dial after SIGTERM: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Dial did not return after cancel")
	}
	if got := waitFile(t, dir+"/term"); got != "term\n" {
		t.Errorf("term file %q", got)
	}

	d.Path = filepath.Join(dir, "missing")
	log := newRecLog()
	d.Log = log
	if err := d.Dial(context.Background(), Spec(b, 0, AutoToss{})); err == nil {
		t.Error("Dial of a missing program succeeded")
	}
	if got := log.msgs(WhoCalling); len(got) != 1 || got[0] != "Calling b" {
		t.Errorf("calling records %q", got)
	}
}
