package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// Progress bars count in NNCP's units (IEC, as the log: "300 MiB"), not SI.
func TestProgressUnitsIEC(t *testing.T) {
	var out bytes.Buffer
	x := &ctx{Env: &Env{Stderr: &out, Getenv: func(string) string { return "" }}, progress: true}
	b := x.newBar(300<<20, "Tx")
	b.add(150 << 20)
	b.finish()
	s := out.String()
	if !strings.Contains(s, "150/300 MiB") || !strings.Contains(s, "iB/s") {
		t.Errorf("bar does not count in MiB:\n%q", s)
	}
	if regexp.MustCompile(`[0-9] [kMG]B\b`).MatchString(s) {
		t.Errorf("bar shows SI units:\n%q", s)
	}
}
