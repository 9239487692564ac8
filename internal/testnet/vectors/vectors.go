// Package vectors gives tests the NNCP 8.8.2 test vectors made by the real
// binaries (shared/testdata/nncp-8.8.2): the throwaway node keys and the
// packets, with what each one must decode to.
package vectors

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"ferry/internal/node"
)

// Root is where the vectors are: testdata/nncp-8.8.2 beside this file (a
// copy of shared/testdata/nncp-8.8.2 committed with the code, so that a
// fresh clone has them), or $FERRY_TESTDATA when set.
func Root() string {
	if v := os.Getenv("FERRY_TESTDATA"); v != "" {
		return v
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "nncp-8.8.2")
}

// Dir returns the test vector directory. They are committed, so a missing
// directory is a broken checkout or a wrong $FERRY_TESTDATA: the test
// fails (it never skips).
func Dir(t testing.TB) string {
	t.Helper()
	d := Root()
	if _, err := os.Stat(filepath.Join(d, "README.md")); err != nil {
		t.Fatalf("NNCP test vectors not found at %s (a broken checkout, or a wrong $FERRY_TESTDATA): %v", d, err)
	}
	return d
}

// Read returns the bytes of a file under the vector directory.
func Read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var keyRe = regexp.MustCompile(`(?m)^\s*(id|exchpub|exchprv|signpub|signprv|noiseprv|noisepub):\s*(\S+)`)

// Node returns the private keys of the throwaway node "sat", "hub" or
// "far", read from its config's self section without the config package
// (so that low-level packages can test against the vectors).
func Node(t testing.TB, name string) *node.Private {
	t.Helper()
	cfg := Read(t, "configs/"+name+".hjson")
	m := map[string]string{}
	for _, g := range keyRe.FindAllSubmatch(cfg, -1) {
		k := string(g[1])
		if _, seen := m[k]; !seen {
			m[k] = string(g[2])
		}
	}
	dec := func(k string, n int) []byte {
		b, err := node.DecodeKey(m[k], n)
		if err != nil {
			t.Fatalf("%s %s: %v", name, k, err)
		}
		return b
	}
	var p node.Private
	copy(p.ExchPrv[:], dec("exchprv", 32))
	copy(p.ExchPub[:], dec("exchpub", 32))
	p.SignPrv = ed25519.PrivateKey(dec("signprv", 64))
	p.SignPub = ed25519.PublicKey(dec("signpub", 32))
	copy(p.NoisePrv[:], dec("noiseprv", 32))
	p.NoisePub = new([32]byte)
	copy(p.NoisePub[:], dec("noisepub", 32))
	p.ID = node.IDFromSignPub(p.SignPub)
	if p.ID.String() != m["id"] {
		t.Fatalf("%s: id %s != BLAKE2b(signpub) %s", name, m["id"], p.ID)
	}
	return &p
}

// Packet is one encrypted packet of the vectors.
type Packet struct {
	File               string // under packets/
	From, To           string // node names
	ID                 string // Base32 MTH name in the sender's spool
	Type               uint32 // plain packet type
	PlainNice, EncNice uint8
	Path               string // plain header path (NUL-separated for exec)
	// PayloadFile is the plain/ file the payload (or, for exec, the
	// decompressed body) equals; "" when not applicable.
	PayloadFile string
}

// Packets lists the vectors' packets (README.md).
var Packets = []Packet{
	{"01-file-sat-to-hub.pkt", "sat", "hub", "2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA", 1, 224, 224, "hello.txt", "hello.txt"},
	{"02-freq-sat-to-hub.pkt", "sat", "hub", "RQ52TR4JD3J27PWBPMYMKIFZSJC6HSEYWMXQH4LZIAMZQN3G6TJA", 2, 224, 160, "song.txt", ""},
	{"03-exec-rsmtp-sat-to-hub.pkt", "sat", "hub", "7IE5HKF5DFZ43TBGL6O34P6KELFYKC3XKD5YBRK4QSZ3CXK5AZUQ", 3, 224, 96, "rsmtp", "bsmtp.txt"},
	{"04-exec-args-sat-to-hub.pkt", "sat", "hub", "ZPK6KQIYRNG3D2IH6NRAZW56Z3GMH6XYVLS3MTACWJD44OAQ535Q", 3, 224, 96, "cat\x00arg1\x00two words", "exec-args.txt"},
	{"05-execfat-sat-to-hub.pkt", "sat", "hub", "YQSWPONI6FYSIB32LEWHD5ZNZLNSOJRP23AHW72STOFVTH67SVEA", 5, 224, 96, "cat\x00fat", "execfat.txt"},
	{"06-trns-sat-to-far-via-hub.pkt", "sat", "hub", "444N2QZFPKDJ43UGGGWPXM7DX5T44B4NCBEAXXJO7ZMARKKMMSIA", 4, 0, 224, "", ""},
	{"07-file-sat-to-far-inner.pkt", "sat", "far", "V5ZUN74US6ZF5BASCPZPO5USKFLSZG6CO53FB6EVNUEPJJRTU6TA", 1, 224, 224, "note.txt", "note.txt"},
	{"08-ack-hub-to-sat.pkt", "hub", "sat", "AHIKFS4OKLBPV2XIA2UNQKE2TTCMAATROGYAIPBJBK44DTTNR5PQ", 7, 160, 160, "", ""},
	{"09-file-hub-to-sat-freq-reply.pkt", "hub", "sat", "OTM4WHTZ44WBQRCEAUHFNW7225Z5PF74PHZW35S6ODKENJIV5D5Q", 1, 224, 224, "song-from-hub.txt", "song.txt"},
	{"chunked/meta.pkt", "sat", "hub", "WDGFCXSGAEHMIUT6EXE2LRQDIGIDJIBUDB67OIYDX3KZ77MMIWKA", 1, 224, 224, "random3m.bin.nncp.meta", ""},
	{"chunked/chunk0.pkt", "sat", "hub", "OURHFTNMGASCWNNBVWEGU4VL46NGOKB7O7Y2UJAJ6HPE7LZIYQHQ", 1, 224, 224, "random3m.bin.nncp.chunk0", ""},
	{"chunked/chunk3.pkt", "sat", "hub", "HFBYWD44QQFGNHOC3LFTMLSASOJNOVLEUQF5ROI3A45AXM6AVPDA", 1, 224, 224, "random3m.bin.nncp.chunk3", ""},
}
