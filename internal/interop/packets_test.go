package interop

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testnet"
)

const kib = 1024

// The payload sizes the issue names: empty, one byte, around one 128 KiB
// block, and several blocks.
var sizes = []int{0, 1, 128*kib - 1, 128 * kib, 128*kib + 1, 5 * 1024 * kib}

func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPacketsBothWays makes file, exec (zstd) and exec-fat packets of every
// size, with and without -minsize padding, with one implementation, and
// tosses them with the other. Bodies must arrive byte-identical.
func TestPacketsBothWays(t *testing.T) {
	for _, dir := range []struct{ from, to testnet.Impl }{{testnet.Ferry, testnet.NNCP}, {testnet.NNCP, testnet.Ferry}} {
		t.Run(fmt.Sprintf("%s-to-%s", dir.from, dir.to), func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			type want struct {
				path string
				data []byte
			}
			var wants []want
			// minOf maps each packet made to its -minsize in bytes (0: none).
			minOf := map[string]int64{}
			made := func(minBytes int64) {
				t.Helper()
				n := 0
				for _, p := range a.TxPackets(t, b) {
					if _, seen := minOf[p]; !seen {
						minOf[p] = minBytes
						n++
					}
				}
				if n != 1 {
					t.Fatalf("%d new packets in tx/, want 1", n)
				}
			}
			for _, n := range sizes {
				for _, minsize := range []string{"", "300"} {
					tag := fmt.Sprintf("%d-min%s", n, minsize)
					data := payload(n, 7)
					src := filepath.Join(a.Dir, "src-"+tag)
					if err := os.WriteFile(src, data, 0o644); err != nil {
						t.Fatal(err)
					}
					pad, minBytes := []string{}, int64(0)
					if minsize != "" {
						pad, minBytes = []string{"-minsize", minsize}, 300*kib
					}
					args := append([]string{"-noprogress", "-quiet"}, pad...)
					a.Must(t, dir.from, nil, "file", append(args, src, "b:file-"+tag)...)
					made(minBytes)
					wants = append(wants, want{filepath.Join(b.Incoming, "file-"+tag), data})
					a.Must(t, dir.from, data, "exec", append(args, "b", "save", "exec-"+tag)...)
					made(minBytes)
					wants = append(wants, want{filepath.Join(b.ExecDir, "exec-"+tag), data})
					a.Must(t, dir.from, data, "exec", append(args, "-nocompress", "b", "save", "fat-"+tag)...)
					made(minBytes)
					wants = append(wants, want{filepath.Join(b.ExecDir, "fat-"+tag), data})
				}
			}
			// Every packet made with -minsize 300 reaches 300 KiB; the
			// small ones made without it stay far below (so the padding,
			// not the payload, made the others big).
			for p, minBytes := range minOf {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() < minBytes {
					t.Errorf("%s: %d bytes, made with -minsize %d", p, fi.Size(), minBytes)
				}
			}
			small := 0
			for p, minBytes := range minOf {
				if fi, _ := os.Stat(p); minBytes == 0 && fi.Size() < 4*kib {
					small++
				}
			}
			if small < 6 { // file, exec and exec-fat of 0 and 1 bytes
				t.Errorf("only %d unpadded packets under 4 KiB, want 6", small)
			}
			net.Carry(t, a, dir.from, b, dir.to)
			b.Must(t, dir.to, nil, "toss", "-noprogress", "-quiet")
			for _, w := range wants {
				got := readFile(t, w.path)
				if !bytes.Equal(got, w.data) {
					t.Errorf("%s: %d bytes differ from the %d sent", w.path, len(got), len(w.data))
				}
			}
			if left := b.RxPackets(t, a); len(left) != 0 {
				t.Errorf("%d packets left in rx", len(left))
			}
		})
	}
}

// TestExecEnvironment: the handle gets its arguments and NNCP_* variables
// as the real nncp-toss gives them, whoever made the packet.
func TestExecEnvironment(t *testing.T) {
	for _, dir := range []struct{ from, to testnet.Impl }{{testnet.Ferry, testnet.NNCP}, {testnet.NNCP, testnet.Ferry}} {
		t.Run(fmt.Sprintf("%s-to-%s", dir.from, dir.to), func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			a.Must(t, dir.from, []byte("x"), "exec", "-noprogress", "-quiet", "-replynice", "P+3", "b", "env", "out", "two words", "ü")
			net.Carry(t, a, dir.from, b, dir.to)
			b.Must(t, dir.to, nil, "toss", "-noprogress", "-quiet")
			got := string(readFile(t, filepath.Join(b.ExecDir, "out")))
			want := fmt.Sprintf("NNCP_SELF=%s\nNNCP_SENDER=%s\nNNCP_NICE=99\nARG=out\nARG=two words\nARG=ü\n", b.Keys.ID, a.Keys.ID)
			if got != want {
				t.Errorf("handle saw:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestFreqBothWays: a file request made by one implementation is answered
// by the other, and the answer is tossed by the first.
func TestFreqBothWays(t *testing.T) {
	for _, dir := range []struct{ from, to testnet.Impl }{{testnet.Ferry, testnet.NNCP}, {testnet.NNCP, testnet.Ferry}} {
		t.Run(fmt.Sprintf("%s-to-%s", dir.from, dir.to), func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			data := payload(200*kib+3, 9)
			if err := os.MkdirAll(filepath.Join(b.Pub, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(b.Pub, "sub", "song.bin"), data, 0o644)
			a.Must(t, dir.from, nil, "freq", "-noprogress", "-quiet", "b:sub/song.bin", "got.bin")
			net.Carry(t, a, dir.from, b, dir.to)
			b.Must(t, dir.to, nil, "toss", "-noprogress", "-quiet")
			net.Carry(t, b, dir.to, a, dir.from)
			a.Must(t, dir.from, nil, "toss", "-noprogress", "-quiet")
			if got := readFile(t, filepath.Join(a.Incoming, "got.bin")); !bytes.Equal(got, data) {
				t.Errorf("freq answer differs")
			}
		})
	}
}

// TestRelayChains: onion-routed packets through a hub of the other
// implementation: ferry -> nncp hub -> ferry and nncp -> ferry hub -> nncp.
func TestRelayChains(t *testing.T) {
	for _, c := range []struct{ ends, hub testnet.Impl }{{testnet.Ferry, testnet.NNCP}, {testnet.NNCP, testnet.Ferry}} {
		t.Run(fmt.Sprintf("%s-via-%s", c.ends, c.hub), func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "sat", "hub", "far")
			net.Via(t, "sat", "far", "hub")
			net.Via(t, "far", "sat", "hub")
			sat, hub, far := net.Nodes["sat"], net.Nodes["hub"], net.Nodes["far"]
			big := payload(5*1024*kib, 11)
			src := filepath.Join(sat.Dir, "big.bin")
			os.WriteFile(src, big, 0o644)
			sat.Must(t, c.ends, nil, "file", "-noprogress", "-quiet", src, "far:")
			sat.Must(t, c.ends, nil, "file", "-noprogress", "-quiet", "-minsize", "64", src, "far:padded.bin")
			sat.Must(t, c.ends, []byte("via hub\n"), "exec", "-noprogress", "-quiet", "far", "save", "mail")
			// The hub sees only transit packets.
			if n := len(sat.TxPackets(t, hub)); n != 3 {
				t.Fatalf("%d packets queued for hub, want 3", n)
			}
			net.Carry(t, sat, c.ends, hub, c.hub)
			hub.Must(t, c.hub, nil, "toss", "-noprogress", "-quiet")
			if n := len(hub.TxPackets(t, far)); n != 3 {
				t.Fatalf("hub relayed %d packets to far, want 3", n)
			}
			if ents, _ := os.ReadDir(hub.Incoming); len(ents) != 0 {
				t.Fatal("hub kept something in its incoming")
			}
			net.Carry(t, hub, c.hub, far, c.ends)
			far.Must(t, c.ends, nil, "toss", "-noprogress", "-quiet")
			for _, name := range []string{"big.bin", "padded.bin"} {
				if got := readFile(t, filepath.Join(far.Incoming, name)); !bytes.Equal(got, big) {
					t.Errorf("%s differs", name)
				}
			}
			if got := readFile(t, filepath.Join(far.ExecDir, "mail")); string(got) != "via hub\n" {
				t.Errorf("exec via hub: %q", got)
			}
		})
	}
}

// TestViaOverride: -via sends through a relay the config does not name,
// and -via - sends directly although the config names one.
func TestViaOverride(t *testing.T) {
	net := testnet.New(t, "sat", "hub", "far")
	sat, hub, far := net.Nodes["sat"], net.Nodes["hub"], net.Nodes["far"]
	sat.Must(t, testnet.Ferry, []byte("x"), "exec", "-quiet", "-via", "hub", "far", "save", "one")
	if len(sat.TxPackets(t, hub)) != 1 || len(sat.TxPackets(t, far)) != 0 {
		t.Fatal("-via hub did not queue for hub")
	}
	net.Via(t, "sat", "far", "hub")
	sat.Must(t, testnet.Ferry, []byte("x"), "exec", "-quiet", "-via", "-", "far", "save", "two")
	if len(sat.TxPackets(t, far)) != 1 {
		t.Fatal("-via - did not queue directly for far")
	}
	_ = strings.TrimSpace
}
