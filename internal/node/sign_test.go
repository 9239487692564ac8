package node

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signers are the implementations compared: ferry's by hand, and the
// standard library's.
var signers = map[string]func(p *Private, msg []byte) []byte{
	"hand":   func(p *Private, msg []byte) []byte { return p.signByHand(msg) },
	"stdlib": func(p *Private, msg []byte) []byte { return ed25519.Sign(p.SignPrv, msg) },
	"Sign":   (*Private).Sign,
}

// coldCounts are the numbers of signatures after which a cold process
// reports the time spent signing so far.
var coldCounts = []int{1, 2, 5, 10, 20, 50, 100, 200}

// A fixed key, so that the cold process derives nothing before it signs
// (ed25519.GenerateKey would build the standard library's table).
const coldKey = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60" +
	"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

func TestMain(m *testing.M) {
	if impl := os.Getenv("FERRY_COLD_SIGN"); impl != "" {
		coldSign(impl)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// coldSign signs in a fresh process with impl and prints the time spent
// after each of coldCounts signatures, in ns.
func coldSign(impl string) {
	key, _ := hex.DecodeString(coldKey)
	p := &Private{SignPrv: ed25519.PrivateKey(key)}
	sign := signers[impl]
	msg := make([]byte, 108) // an encrypted header's signed part
	var out []string
	start := time.Now()
	for i, c := 1, 0; c < len(coldCounts); i++ {
		msg[0] = byte(i)
		sign(p, msg)
		if i == coldCounts[c] {
			out = append(out, strconv.FormatInt(int64(time.Since(start)), 10))
			c++
		}
	}
	fmt.Println(strings.Join(out, " "))
}

// BenchmarkColdSign runs a fresh process per iteration and per
// implementation, alternating them, and reports the best time of each to
// make the first N signatures (the first including whatever set-up the
// implementation does once per process): cold-N-us.
func BenchmarkColdSign(b *testing.B) {
	impls := []string{"hand", "stdlib", "Sign"}
	best := map[string][]int64{}
	for b.Loop() {
		for _, impl := range impls {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "FERRY_COLD_SIGN="+impl)
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("%s: %v", impl, err)
			}
			f := strings.Fields(string(out))
			if len(f) != len(coldCounts) {
				b.Fatalf("%s: %q", impl, out)
			}
			if best[impl] == nil {
				best[impl] = make([]int64, len(f))
			}
			for i, s := range f {
				n, _ := strconv.ParseInt(s, 10, 64)
				if best[impl][i] == 0 || n < best[impl][i] {
					best[impl][i] = n
				}
			}
		}
	}
	for _, impl := range impls {
		var line []string
		for i, c := range coldCounts {
			line = append(line, fmt.Sprintf("%d:%.0fus", c, float64(best[impl][i])/1e3))
		}
		b.Logf("%-6s best cold times to make N signatures: %s", impl, strings.Join(line, " "))
	}
	for i, c := range coldCounts {
		b.ReportMetric(float64(best["hand"][i])/float64(best["stdlib"][i]), fmt.Sprintf("hand/stdlib-%d", c))
		b.ReportMetric(float64(best["Sign"][i])/float64(best["stdlib"][i]), fmt.Sprintf("Sign/stdlib-%d", c))
	}
}

// BenchmarkSign is the warm cost of one signature.
func BenchmarkSign(b *testing.B) {
	p, _ := Generate()
	msg := make([]byte, 108)
	for _, impl := range []string{"hand", "stdlib", "Sign"} {
		b.Run(impl, func(b *testing.B) {
			sign := signers[impl]
			for b.Loop() {
				sign(p, msg)
			}
		})
	}
}

// FuzzSign: Sign and signPubFromSeed are crypto/ed25519's, byte for byte,
// for any seed and message, and the signature verifies.
func FuzzSign(f *testing.F) {
	f.Add(make([]byte, 32), []byte(""))
	f.Add(bytes.Repeat([]byte{0xff}, 32), []byte("NNCPE\x00\x00\x06"))
	key, _ := hex.DecodeString(coldKey)
	f.Add(key[:32], []byte{0x72})
	f.Fuzz(func(t *testing.T, seed, msg []byte) {
		if len(seed) != ed25519.SeedSize {
			return
		}
		std := ed25519.NewKeyFromSeed(seed)
		if pub := signPubFromSeed(seed); !bytes.Equal(pub, std[32:]) {
			t.Fatalf("public key of seed %x: %x, want %x", seed, pub, std[32:])
		}
		p := &Private{SignPrv: std}
		want := ed25519.Sign(std, msg)
		for _, impl := range []string{"hand", "Sign"} {
			got := signers[impl](p, msg)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s signature of %x by %x:\n%x\nwant %x", impl, msg, seed, got, want)
			}
			if !ed25519.Verify(std.Public().(ed25519.PublicKey), msg, got) {
				t.Fatalf("%s signature does not verify", impl)
			}
		}
	})
}
