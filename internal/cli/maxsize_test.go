package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testnet"
)

// ferry file -maxsize: a file of known size over the limit is refused
// before it is read, one read from stdin once built; neither is queued.
func TestFileMaxSize(t *testing.T) {
	net := testnet.New(t, "a", "b")
	a, b := net.Nodes["a"], net.Nodes["b"]
	src := filepath.Join(a.Dir, "big")
	body := bytes.Repeat([]byte("m"), 20<<10)
	os.WriteFile(src, body, 0o644)
	r := a.Run(t, testnet.Ferry, nil, "file", "-noprogress", "-maxsize", "10", src, "b:")
	if r.Code != 1 || !strings.Contains(r.Stderr, "would be") || !strings.Contains(r.Stderr, "over -maxsize 10 KiB") {
		t.Errorf("known size: exit %d: %s", r.Code, r.Stderr)
	}
	r = a.Run(t, testnet.Ferry, body, "file", "-noprogress", "-maxsize", "10", "-", "b:big")
	if r.Code != 1 || !strings.Contains(r.Stderr, "over -maxsize 10 KiB: not queued") {
		t.Errorf("stdin: exit %d: %s", r.Code, r.Stderr)
	}
	if n := len(a.TxPackets(t, b)); n != 0 {
		t.Errorf("%d packets queued over -maxsize", n)
	}
	a.Must(t, testnet.Ferry, body, "file", "-noprogress", "-quiet", "-maxsize", "30", "-", "b:big")
	if n := len(a.TxPackets(t, b)); n != 1 {
		t.Errorf("%d packets queued within -maxsize, want 1", n)
	}
}
