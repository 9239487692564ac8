package toss

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"ferry/internal/testnet/refbin"
	"ferry/internal/tx"
)

func TestFreqRefusesNonRegularAndEscapingLinks(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(t *testing.T, pub string) // in b's freq.path
		src    string
		follow bool
		want   error // nil: served
	}{
		{"regular", func(t *testing.T, pub string) { os.WriteFile(filepath.Join(pub, "f.txt"), []byte("hello"), 0o644) }, "f.txt", false, nil},
		{"fifo", func(t *testing.T, pub string) {
			if err := syscall.Mkfifo(filepath.Join(pub, "fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "fifo", false, ErrNotRegular},
		{"fifo, links followed", func(t *testing.T, pub string) { syscall.Mkfifo(filepath.Join(pub, "fifo"), 0o644) }, "fifo", true, ErrNotRegular},
		{"device", func(t *testing.T, pub string) {
			if err := syscall.Mknod(filepath.Join(pub, "null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
				refbin.Skip(t, "mknod: %v (needs root)", err)
			}
		}, "null", false, ErrNotRegular},
		{"link to a device, followed", func(t *testing.T, pub string) { os.Symlink("/dev/zero", filepath.Join(pub, "zero")) }, "zero", true, ErrNotRegular},
		{"directory", func(t *testing.T, pub string) { os.Mkdir(filepath.Join(pub, "d"), 0o755) }, "d", false, ErrNotRegular},
		{"link inside", func(t *testing.T, pub string) {
			os.MkdirAll(filepath.Join(pub, "sub"), 0o755)
			os.WriteFile(filepath.Join(pub, "sub", "real.txt"), []byte("inside"), 0o644)
			os.Symlink("sub/real.txt", filepath.Join(pub, "l"))
		}, "l", false, nil},
		{"link out to the config", func(t *testing.T, pub string) { os.Symlink("../cfg.hjson", filepath.Join(pub, "cfg")) }, "cfg", false, ErrBadPath},
		{"link to .., then the config", func(t *testing.T, pub string) { os.Symlink("..", filepath.Join(pub, "up")) }, "up/cfg.hjson", false, ErrBadPath},
		{"link out, followed as NNCP does", func(t *testing.T, pub string) { os.Symlink("../cfg.hjson", filepath.Join(pub, "cfg")) }, "cfg", true, nil},
		{"dot-dot path", func(t *testing.T, pub string) {}, "../cfg.hjson", false, ErrBadPath},
		{"dot-dot inside the path", func(t *testing.T, pub string) { os.Mkdir(filepath.Join(pub, "d"), 0o755) }, "d/../../cfg.hjson", true, ErrBadPath},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b, carry := pair(t)
			c.setup(t, b.nd.Pub)
			b.neigh("a").Freq.FollowSymlinks = c.follow
			if _, err := a.sender.Freq(a.neigh("b"), c.src, "got", 224, tx.Options{Nice: 160}); err != nil {
				t.Fatal(err)
			}
			carry()
			done := make(chan []*Event, 1)
			go func() { done <- b.toss(t, Options{}) }()
			var evs []*Event
			select {
			case evs = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("toss blocked")
			}
			ev := only(t, evs)
			answers := len(b.nd.TxPackets(t, a.nd))
			if c.want == nil {
				if ev.Outcome != Done || answers != 1 {
					t.Fatalf("not served: %+v, %d answers", ev, answers)
				}
				return
			}
			if ev.Outcome != Failed || !errors.Is(ev.Err, c.want) || answers != 0 {
				t.Fatalf("%+v (%d answers), want %v", ev, answers, c.want)
			}
			if rxCount(t, b, a) != 1 {
				t.Fatal("refused freq removed")
			}
		})
	}
}
