package demo

import (
	"bytes"
	"strings"
	"testing"

	"ferry/internal/testnet"
)

// The README's first command works: the network is built, the mail and
// the file arrive, and Run checks the bytes itself.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := Run(Options{Ferry: testnet.FerryBin(t), Dir: t.TempDir(), Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"Delivered-To: admin@hub.example", "Delivered-To: ops@far.example", "incoming/disk-report.txt", "queued"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
