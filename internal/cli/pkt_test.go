package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"ferry/internal/testnet"
	"ferry/internal/testnet/vectors"
	"ferry/internal/wire"
)

// vectorPayloadSHA256 is the sha256 of each vector packet's plain payload
// (for exec, of the decompressed body), from the vectors' README.
var vectorPayloadSHA256 = map[string]string{
	"01-file-sat-to-hub.pkt":            "2c35d05790f793d4a9679e9e46a9eaf126c4ce825bfe109784e3efabf896a76c",
	"03-exec-rsmtp-sat-to-hub.pkt":      "2e5b91dfb35b3cfeeac6c200b169028882b4258d1a5de74eb14c2afb1c8d4ced",
	"04-exec-args-sat-to-hub.pkt":       "b918365c5e5acdcd0ccd2bf03998e5978f2d6847d196dc1ae2d75ee452b6ba09",
	"05-execfat-sat-to-hub.pkt":         "7b072156c7401f920884689435144deb5fbcafc06c4a3f6b5615e15b042b9a0c",
	"06-trns-sat-to-far-via-hub.pkt":    "3a379bb5f196a8fefa574dcc49602d3a8c30171096976da80b0ba316687f4df3",
	"07-file-sat-to-far-inner.pkt":      "5bbf6a54058fc909526654591d232bc1f49d18972e12b9c53e2fe86a42cae322",
	"09-file-hub-to-sat-freq-reply.pkt": "0cc17530b814fb1435b99fc9d8b482052e1b923dee7f2c3678d4b3aac4e4b615",
	"chunked/meta.pkt":                  "e3a714a3e9720a73c0a4af61debae9a4036647c2b92af76bc16535c21d870e1c",
	"chunked/chunk0.pkt":                "30173741229a7726607895d723c468d17868880205bcaebc057811bbc082d7d0",
	"chunked/chunk3.pkt":                "6b5317b540371fd54a12670f29beee2bc45bda71460781b5fdd1580dee82c18d",
	// freq: the name to save the reply as; ack: nothing.
	"02-freq-sat-to-hub.pkt": hexSHA256([]byte("song-from-hub.txt")),
	"08-ack-hub-to-sat.pkt":  hexSHA256(nil),
}

// randBytes is n pseudo-random bytes from seed.
func randBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestPktVectors decodes every vector packet with its recipient's config:
// the header as nncp-pkt printed it, -dump giving the plain packet the
// README describes, and the plain packet's payload.
func TestPktVectors(t *testing.T) {
	cfgs := map[string]*vnode{}
	for _, n := range []string{"sat", "hub", "far"} {
		cfgs[n] = vectorNode(t, n)
	}
	for _, p := range vectors.Packets {
		t.Run(p.File, func(t *testing.T) {
			cfg := cfgs[p.To].cfg
			pkt := vectors.Read(t, "packets/"+p.File)
			want := vectors.Read(t, "packets/"+strings.TrimSuffix(p.File, ".pkt")+".nncp-pkt.txt")
			if r := runFerry(t, pkt, "pkt", "-cfg", cfg); r.code != 0 || r.stdout != string(want) {
				t.Errorf("header: exit %d\n%s\nwant\n%s%s", r.code, r.stdout, want, r.stderr)
			}
			r := runFerry(t, pkt, "pkt", "-cfg", cfg, "-dump")
			if r.code != 0 {
				t.Fatalf("-dump: exit %d: %s", r.code, r.stderr)
			}
			plain := []byte(r.stdout)
			h, err := wire.ParsePlainHeader(plain)
			if err != nil {
				t.Fatal(err)
			}
			if uint32(h.Type) != p.Type || h.Nice != p.PlainNice {
				t.Errorf("plain header: type %d nice %d, want %d %d", h.Type, h.Nice, p.Type, p.PlainNice)
			}
			switch wire.Type(p.Type) {
			case wire.TypeTrns, wire.TypeACK:
				if len(h.Path) != 32 {
					t.Errorf("path: %d bytes", len(h.Path))
				}
			default:
				if string(h.Path) != p.Path {
					t.Errorf("path %q, want %q", h.Path, p.Path)
				}
			}
			payload := plain[wire.PlainHeaderSize:]
			// The plain packet's own -dump is its payload.
			if r := runFerry(t, plain, "pkt", "-cfg", cfg, "-dump"); r.stdout != string(payload) || r.code != 0 {
				t.Errorf("plain -dump: exit %d, %d bytes, want %d", r.code, len(r.stdout), len(payload))
			}
			if wire.Type(p.Type) == wire.TypeExec {
				// -decompress, from the encrypted and from the plain packet.
				for _, in := range [][]byte{pkt, plain} {
					r := runFerry(t, in, "pkt", "-cfg", cfg, "-dump", "-decompress")
					if r.code != 0 {
						t.Fatalf("-dump -decompress: %s", r.stderr)
					}
					payload = []byte(r.stdout)
				}
			}
			if got := hexSHA256(payload); got != vectorPayloadSHA256[p.File] {
				t.Errorf("payload sha256 %s, want %s", got, vectorPayloadSHA256[p.File])
			}
			if p.PayloadFile != "" && !bytes.Equal(payload, vectors.Read(t, "plain/"+p.PayloadFile)) {
				t.Errorf("payload differs from plain/%s", p.PayloadFile)
			}
			// The plain packet's header as the real nncp-pkt prints it,
			// with the recipient's config and with one that knows nobody.
			for _, c := range []string{cfg, cfgs["far"].cfg} {
				want := runNNCP(t, plain, "pkt", "-cfg", c)
				got := runFerry(t, plain, "pkt", "-cfg", c)
				if got.stdout != want.stdout || got.code != want.code {
					t.Errorf("plain header with %s: exit %d\n%s\nwant exit %d\n%s", filepath.Base(c), got.code, got.stdout, want.code, want.stdout)
				}
			}
		})
	}
}

// TestPktErrors feeds both implementations broken and foreign input.
func TestPktErrors(t *testing.T) {
	hub, sat := vectorNode(t, "hub"), vectorNode(t, "sat")
	lone := vectorNode(t, "hub")
	// hub knowing nobody but itself: the sender is unknown.
	text, _ := os.ReadFile(lone.cfg)
	s := string(text)
	i, j := strings.Index(s, "    sat: {"), strings.LastIndex(s, "  }\n}")
	os.WriteFile(lone.cfg, []byte(s[:i]+s[j:]), 0o600)

	file := vectors.Read(t, "packets/01-file-sat-to-hub.pkt")
	exec := vectors.Read(t, "packets/03-exec-rsmtp-sat-to-hub.pkt")
	r := runFerry(t, file, "pkt", "-cfg", hub.cfg, "-dump")
	filePlain := []byte(r.stdout)
	r = runFerry(t, exec, "pkt", "-cfg", hub.cfg, "-dump")
	execPlain := []byte(r.stdout)
	flip := func(b []byte, off int) []byte {
		c := bytes.Clone(b)
		c[off] ^= 1
		return c
	}
	old := bytes.Clone(file)
	old[7] = 5
	oldPlain := bytes.Clone(filePlain)
	oldPlain[7] = 2
	garbage := randBytes(1000, 1)
	for _, tc := range []struct {
		name string
		in   []byte
		cfg  string
		args []string
	}{
		{"not for us", file, sat.cfg, nil},
		{"not for us dump", file, sat.cfg, []string{"-dump"}},
		{"unknown sender", file, lone.cfg, nil},
		{"unknown sender dump", file, lone.cfg, []string{"-dump"}},
		{"bad signature", flip(file, 120), hub.cfg, nil},
		{"bad signature dump", flip(file, 120), hub.cfg, []string{"-dump"}},
		{"signed niceness changed dump", flip(file, 11), hub.cfg, []string{"-dump"}},
		{"corrupt block dump", flip(file, 300), hub.cfg, []string{"-dump"}},
		{"garbage", garbage, hub.cfg, nil},
		{"empty", nil, hub.cfg, nil},
		{"short", file[:100], hub.cfg, nil},
		{"header only", file[:172], hub.cfg, nil},
		{"header only dump", file[:172], hub.cfg, []string{"-dump"}},
		{"truncated", file[:300], hub.cfg, nil},
		{"truncated dump", file[:300], hub.cfg, []string{"-dump"}},
		{"old encrypted", old, hub.cfg, nil},
		{"old plain", oldPlain, hub.cfg, nil},
		{"plain short", filePlain[:275], hub.cfg, nil},
		{"plain header only dump", filePlain[:276], hub.cfg, []string{"-dump"}},
		{"file decompress", filePlain, hub.cfg, []string{"-dump", "-decompress"}},
		{"exec truncated decompress", execPlain[:400], hub.cfg, []string{"-dump", "-decompress"}},
		{"decompress without dump", execPlain, hub.cfg, []string{"-decompress"}},
		// Encrypted, not exec: the plain packet, as nncp-pkt writes it.
		{"encrypted file decompress", file, hub.cfg, []string{"-dump", "-decompress"}},
		{"encrypted exec-fat decompress", vectors.Read(t, "packets/05-execfat-sat-to-hub.pkt"), hub.cfg, []string{"-dump", "-decompress"}},
		{"no config", file, "/nonexistent/cfg.hjson", nil},
		{"overheads", nil, hub.cfg, []string{"-overheads"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-cfg", tc.cfg}, tc.args...)
			want := runNNCP(t, tc.in, "pkt", args...)
			got := runFerry(t, tc.in, "pkt", args...)
			if got.code != want.code || got.stdout != want.stdout {
				t.Errorf("exit %d, want %d\nstdout %q\nwant %q\nferry stderr: %s\nnncp stderr: %s",
					got.code, want.code, got.stdout, want.stdout, got.stderr, want.stderr)
			}
		})
	}
}

// TestPktStreams dumps and decompresses a 24 MiB exec packet made by the
// real nncp-exec, and checks that ferry did not hold it in memory.
func TestPktStreams(t *testing.T) {
	net := testnet.New(t, "a", "b")
	a, b := net.Nodes["a"], net.Nodes["b"]
	body := append(randBytes(1<<20, 3), make([]byte, 23<<20)...)
	a.Must(t, testnet.NNCP, body, "exec", "-quiet", "-noprogress", "b", "save", "x")
	pkts := a.TxPackets(t, b)
	if len(pkts) != 1 {
		t.Fatalf("%d packets", len(pkts))
	}
	for _, args := range [][]string{{"-dump"}, {"-dump", "-decompress"}} {
		f, err := os.Open(pkts[0])
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		env := &Env{Stdin: f, Stdout: h, Stderr: io.Discard, Getenv: func(string) string { return "" }}
		code := Main(env, []string{"ferry", "pkt", "-cfg", b.CfgPath, args[0], args[len(args)-1]})
		runtime.ReadMemStats(&after)
		f.Close()
		if code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 12<<20 {
			t.Errorf("%v: allocated %d bytes for a %d-byte body", args, alloc, len(body))
		}
		if len(args) == 2 && hex.EncodeToString(h.Sum(nil)) != hexSHA256(body) {
			t.Errorf("%v: decompressed body differs", args)
		}
	}
}
