package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testnet"
)

// TestTossedFileModes: with the config's umask 027, a file tossed into
// incoming is 0640 (0666 less the umask), by ferry as by the real
// nncp-toss, and so is what ferry reass puts together: one rule, NNCP's.
func TestTossedFileModes(t *testing.T) {
	t.Parallel()
	net := testnet.New(t, "a", "b")
	a, b := net.Nodes["a"], net.Nodes["b"]
	umask := os.FileMode(0o027)
	b.Cfg.Umask = &umask
	net.Write(t)
	send := func(name string, args ...string) {
		t.Helper()
		src := filepath.Join(a.Dir, name)
		if err := os.WriteFile(src, []byte(strings.Repeat(name, 1000)), 0o600); err != nil {
			t.Fatal(err)
		}
		a.Must(t, testnet.Ferry, nil, "file", append(append([]string{"-noprogress", "-quiet"}, args...), src, "b:")...)
		net.Carry(t, a, testnet.Ferry, b, testnet.Ferry)
	}
	send("by-nncp")
	b.Must(t, testnet.NNCP, nil, "toss", "-noprogress", "-quiet")
	send("by-ferry")
	b.Must(t, testnet.Ferry, nil, "toss", "-noprogress", "-quiet")
	send("chunked", "-chunked", "1")
	b.Must(t, testnet.Ferry, nil, "toss", "-noprogress", "-quiet")
	b.Must(t, testnet.Ferry, nil, "reass", "-noprogress", "-quiet", "-all")
	for _, name := range []string{"by-nncp", "by-ferry", "chunked"} {
		fi, err := os.Stat(filepath.Join(b.Incoming, name))
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o640 {
			t.Errorf("%s: mode %04o, want 0640", name, m)
		}
	}
}

// TestTossRefusalSaysWhat: a file refused for want of an incoming
// directory is logged with its real size and name, as nncp-toss logs it
// ("(13 B): b.txt: ..."), Dst included.
func TestTossRefusalSaysWhat(t *testing.T) {
	t.Parallel()
	net := testnet.New(t, "a", "b")
	a, b := net.Nodes["a"], net.Nodes["b"]
	b.Cfg.Neigh["a"].Incoming = ""
	net.Write(t)
	src := filepath.Join(a.Dir, "b.txt")
	if err := os.WriteFile(src, []byte("hello world\n!"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.Must(t, testnet.Ferry, nil, "file", "-noprogress", "-quiet", src, "b:")
	net.Carry(t, a, testnet.Ferry, b, testnet.Ferry)
	r := b.Run(t, testnet.Ferry, nil, "toss", "-noprogress")
	if r.Code != 1 {
		t.Fatalf("toss: exit %d, want 1: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, " (13 B): b.txt: ") || strings.Contains(r.Stderr, ": :") {
		t.Errorf("message: %s", r.Stderr)
	}
	log, err := os.ReadFile(b.Log)
	if err != nil {
		t.Fatal(err)
	}
	rec := string(log)
	rec = rec[strings.LastIndex(rec, "Who: rx-no-incoming"):]
	for _, f := range []string{"\nSize: 13\n", "\nDst: b.txt\n", "\nType: file\n"} {
		if !strings.Contains(rec, f) {
			t.Errorf("record lacks %q:\n%s", f, rec)
		}
	}
	if n := len(b.RxPackets(t, a)); n != 1 {
		t.Errorf("%d packets in rx/, want the refused one kept", n)
	}
}
