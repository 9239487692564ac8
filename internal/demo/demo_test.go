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
	// The last step's mailq shows both messages tossed at hub.
	_, last, _ := strings.Cut(out.String(), "\n5. ")
	if n := strings.Count(last, "  tossed  "); n != 2 {
		t.Errorf("the demo's last mailq shows %d messages tossed, want 2:\n%s", n, last)
	}
}
