package sp_test

import (
	"os/exec"
	"strings"
	"testing"

	"ferry/internal/testnet/refbin"
)

// TestNoCrypto: the protocol moves opaque packets; neither it nor
// anything it imports may decrypt them.
func TestNoCrypto(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "ferry/internal/sp").Output()
	if err != nil {
		refbin.Skip(t, "go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "ferry/internal/pktcrypt" || p == "ferry/internal/toss" {
			t.Fatalf("internal/sp depends on %s", p)
		}
	}
}
