package interop

import (
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/testnet"
)

// ferry log and nncp-log print the same thing for a log written by ferry
// (files, exec, relays, a failing handle with its output).
func TestLogBothReaders(t *testing.T) {
	net := testnet.New(t, "a", "b")
	a, b := net.Nodes["a"], net.Nodes["b"]
	src := filepath.Join(a.Dir, "f.txt")
	os.WriteFile(src, []byte("x\n"), 0o644)
	a.Must(t, testnet.Ferry, nil, "file", "-noprogress", src, "b:")
	a.Must(t, testnet.Ferry, []byte("body"), "exec", "-noprogress", "b", "save", "one")
	a.Must(t, testnet.Ferry, []byte("body"), "exec", "-noprogress", "b", "fail")
	net.Carry(t, a, testnet.Ferry, b, testnet.Ferry)
	b.Run(t, testnet.Ferry, nil, "toss", "-noprogress")
	for _, nd := range []*testnet.Node{a, b} {
		ours := nd.Must(t, testnet.Ferry, nil, "log").Stdout
		theirs := nd.Must(t, testnet.NNCP, nil, "log").Stdout
		if ours != theirs || ours == "" {
			t.Errorf("%s: ferry log:\n%s\nnncp-log:\n%s", nd.Name, ours, theirs)
		}
	}
}
