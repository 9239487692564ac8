package cli

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testnet"
)

// random3m regenerates the vectors' random3m.bin: AES-128-CTR keystream,
// key 000102...0f, IV 0, 3158073 bytes (openssl enc ... -in /dev/zero).
func random3m(t *testing.T) []byte {
	t.Helper()
	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	blk, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3158073)
	cipher.NewCTR(blk, make([]byte, 16)).XORKeyStream(b, b)
	if s := sha256.Sum256(b); hex.EncodeToString(s[:]) != "c2d533b8aab9a65928296e58a0b945730185d7436ba3cb78549bb7c4dfa7b605" {
		t.Fatal("random3m.bin regenerated wrong")
	}
	return b
}

var xpChunks = [][2]string{
	{"chunked/meta.pkt", "WDGFCXSGAEHMIUT6EXE2LRQDIGIDJIBUDB67OIYDX3KZ77MMIWKA"},
	{"chunked/chunk0.pkt", "OURHFTNMGASCWNNBVWEGU4VL46NGOKB7O7Y2UJAJ6HPE7LZIYQHQ"},
	{"chunked/chunk1.pkt", "6NQBEBUPTUGTZUI44EPDUVI2RIHYBHV52M66T3MNEJ2MZLC3VXJA"},
	{"chunked/chunk2.pkt", "JPWFDAS2CQYVGPU3WU7GNL5VX6E6JZCT5MHW2563XMQU2YMPUSRQ"},
	{"chunked/chunk3.pkt", "HFBYWD44QQFGNHOC3LFTMLSASOJNOVLEUQF5ROI3A45AXM6AVPDA"},
}

// xpChunkedHub tosses the vector chunks on hub with ferry and returns the
// path of the meta file.
func xpChunkedHub(t *testing.T) (*xpVec, string) {
	t.Helper()
	v := xpVectors(t)
	for _, c := range xpChunks {
		v.put(t, "hub", xpSat, "rx", c[0], c[1])
	}
	xpMust(t, nil, "toss", "-cfg", v.cfg("hub"), "-quiet")
	return v, v.path("hub", "incoming", "random3m.bin.nncp.meta")
}

func xpDirList(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestReassVectors: the vector chunks tossed by ferry reassemble to
// random3m.bin; -dump prints what nncp-reass -dump prints; -dryrun and
// -keep leave the chunks.
func TestReassVectors(t *testing.T) {
	want := random3m(t)
	v, meta := xpChunkedHub(t)
	inc := v.path("hub", "incoming")
	if got := xpDirList(t, inc); len(got) != 5 {
		t.Fatalf("incoming after toss: %v", got)
	}

	fd := xpMust(t, nil, "reass", "-cfg", v.cfg("hub"), "-dump", meta)
	nd := (&testnet.Node{CfgPath: v.cfg("hub"), Dir: v.dir}).Must(t, testnet.NNCP, nil, "reass", "-dump", meta)
	if fd.stdout != nd.Stdout {
		t.Errorf("-dump:\n%s\nnncp-reass -dump:\n%s", fd.stdout, nd.Stdout)
	}

	xpMust(t, nil, "reass", "-cfg", v.cfg("hub"), "-dryrun", "-quiet", meta)
	if got := xpDirList(t, inc); len(got) != 5 {
		t.Fatalf("-dryrun changed incoming: %v", got)
	}

	r := xpMust(t, nil, "reass", "-cfg", v.cfg("hub"), "-stdout", "-keep", "-quiet", meta)
	if !bytes.Equal([]byte(r.stdout), want) {
		t.Error("-stdout: wrong bytes")
	}
	if got := xpDirList(t, inc); len(got) != 5 {
		t.Fatalf("-keep removed files: %v", got)
	}

	xpMust(t, nil, "reass", "-cfg", v.cfg("hub"), "-keep", "-quiet", meta)
	r = xpMust(t, nil, "reass", "-cfg", v.cfg("hub"), "-all")
	for _, name := range []string{"random3m.bin", "random3m.bin.0"} {
		if !bytes.Equal(xpRead(t, filepath.Join(inc, name)), want) {
			t.Errorf("%s: wrong bytes", name)
		}
	}
	if got := xpDirList(t, inc); strings.Join(got, " ") != "random3m.bin random3m.bin.0" {
		t.Errorf("incoming after reass -all: %v", got)
	}
	if !strings.Contains(r.stderr, `Reassembling chunked file "`+meta+`": done`) {
		t.Errorf("stderr: %s", r.stderr)
	}
}

// TestReassDamaged: a corrupted or missing chunk is reported, and nothing
// is removed or written.
func TestReassDamaged(t *testing.T) {
	v, meta := xpChunkedHub(t)
	inc := v.path("hub", "incoming")
	chunk1 := filepath.Join(inc, "random3m.bin.nncp.chunk1")
	b := xpRead(t, chunk1)
	b[1000] ^= 0xff
	if err := os.WriteFile(chunk1, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{meta}, {"-all"}, {"-node", "sat"}, {"-stdout", meta}, {"-dryrun", meta}} {
		r := xpRun(t, nil, nil, append([]string{"reass", "-cfg", v.cfg("hub")}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "chunk 1: checksum is bad") || r.stdout != "" {
			t.Errorf("%v: exit %d, %d bytes out, stderr:\n%s", args, r.code, len(r.stdout), r.stderr)
		}
		if got := xpDirList(t, inc); len(got) != 5 {
			t.Errorf("%v: incoming is now %v", args, got)
		}
	}
	os.Remove(filepath.Join(inc, "random3m.bin.nncp.chunk2"))
	r := xpRun(t, nil, nil, "reass", "-cfg", v.cfg("hub"), meta)
	if r.code != 1 || !strings.Contains(r.stderr, "chunk 2 missing") {
		t.Errorf("missing chunk: exit %d:\n%s", r.code, r.stderr)
	}
	if got := xpDirList(t, inc); len(got) != 4 {
		t.Errorf("incoming is now %v", got)
	}
	for _, args := range [][]string{{}, {"-all", meta}, {"-all", "-node", "sat"}} {
		if r := xpRun(t, nil, nil, append([]string{"reass", "-cfg", v.cfg("hub")}, args...)...); r.code != 1 {
			t.Errorf("%v: exit %d, want 1", args, r.code)
		}
	}
}

// TestReassInterop: a file sent chunked by one implementation, tossed and
// reassembled by the other.
func TestReassInterop(t *testing.T) {
	for _, c := range []struct{ from, to testnet.Impl }{{testnet.Ferry, testnet.NNCP}, {testnet.NNCP, testnet.Ferry}} {
		t.Run(string(c.from)+"-to-"+string(c.to), func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			data := make([]byte, 200*1024+77)
			rnd := rand.New(rand.NewPCG(1, 2))
			for i := range data {
				data[i] = byte(rnd.Uint32())
			}
			src := filepath.Join(a.Dir, "big")
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			a.Must(t, c.from, nil, "file", "-noprogress", "-quiet", "-chunked", "64", src, "b:big")
			net.Carry(t, a, c.from, b, c.to)
			b.Must(t, c.to, nil, "toss", "-noprogress", "-quiet")
			if got := xpDirList(t, b.Incoming); len(got) != 5 {
				t.Fatalf("incoming after toss: %v", got)
			}
			b.Must(t, c.to, nil, "reass", "-noprogress", "-quiet", "-node", "a")
			if got := xpDirList(t, b.Incoming); len(got) != 1 {
				t.Errorf("incoming after reass: %v", got)
			}
			if got, err := os.ReadFile(filepath.Join(b.Incoming, "big")); err != nil || !bytes.Equal(got, data) {
				t.Errorf("reassembled file differs: %v", err)
			}
		})
	}
}
