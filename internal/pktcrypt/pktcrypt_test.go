package pktcrypt

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/node"
	"ferry/internal/testnet/refbin"
	"ferry/internal/testnet/vectors"
	"ferry/internal/wire"
)

func decrypt(t testing.TB, pkt []byte, self *node.Private, sender *node.Public) ([]byte, error) {
	t.Helper()
	r := bytes.NewReader(pkt)
	h, err := ReadHeader(r)
	if err != nil {
		return nil, err
	}
	d, err := NewDecrypter(r, &h, self, sender)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(d)
}

func TestVectors(t *testing.T) {
	nodes := map[string]*node.Private{}
	for _, n := range []string{"sat", "hub", "far"} {
		nodes[n] = vectors.Node(t, n)
	}
	for _, p := range vectors.Packets {
		t.Run(p.File, func(t *testing.T) {
			pkt := vectors.Read(t, "packets/"+p.File)
			h, err := wire.ParseEncHeader(pkt)
			if err != nil {
				t.Fatal(err)
			}
			if h.Nice != p.EncNice || h.Sender != nodes[p.From].ID || h.Recipient != nodes[p.To].ID {
				t.Fatalf("header %+v", h)
			}
			plain, err := decrypt(t, pkt, nodes[p.To], &nodes[p.From].Public)
			if err != nil {
				t.Fatal(err)
			}
			ph, err := wire.ParsePlainHeader(plain)
			if err != nil {
				t.Fatal(err)
			}
			if uint32(ph.Type) != p.Type || ph.Nice != p.PlainNice {
				t.Fatalf("plain header %+v", ph)
			}
			payload := plain[wire.PlainHeaderSize:]
			switch wire.Type(p.Type) {
			case wire.TypeTrns:
				if !bytes.Equal(ph.Path, nodes["far"].ID[:]) {
					t.Fatal("trns path is not far's id")
				}
				if !bytes.Equal(payload, vectors.Read(t, "packets/07-file-sat-to-far-inner.pkt")) {
					t.Fatal("trns payload is not the inner packet")
				}
			case wire.TypeACK:
				if len(ph.Path) != 32 || len(payload) != 0 {
					t.Fatalf("ack path %d bytes, payload %d", len(ph.Path), len(payload))
				}
			default:
				if string(ph.Path) != p.Path {
					t.Fatalf("path %q, want %q", ph.Path, p.Path)
				}
			}
			if p.PayloadFile != "" && wire.Type(p.Type) != wire.TypeExec {
				if !bytes.Equal(payload, vectors.Read(t, "plain/"+p.PayloadFile)) {
					t.Fatal("payload differs from plain/" + p.PayloadFile)
				}
			}
			// Someone else's keys: refused.
			if _, err := decrypt(t, pkt, nodes["far"], &nodes[p.From].Public); p.To != "far" && !errors.Is(err, ErrNotForUs) {
				t.Fatalf("foreign packet: %v", err)
			}
		})
	}
}

func newPair(t testing.TB) (*node.Private, *node.Private) {
	a, err := node.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := node.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func encrypt(t testing.TB, a, b *node.Private, stream []byte, pad int64) []byte {
	t.Helper()
	var out bytes.Buffer
	e, err := NewEncrypter(&out, EncryptOptions{Sender: a, Recipient: &b.Public, Nice: 96,
		PadFor: func(int64) int64 { return pad }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Write(stream); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

var edgeSizes = []int{0, 1, 15, 16, 17, BlockSize - 17, BlockSize - 16, BlockSize - 15, BlockSize - 1, BlockSize,
	BlockSize + 1, 2*BlockSize - 16, 2*BlockSize - 1, 2 * BlockSize, 3*BlockSize + 5}

func TestRoundTrip(t *testing.T) {
	a, b := newPair(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range edgeSizes {
		for _, pad := range []int64{0, 1, 100, BlockSize - 1, BlockSize, 3*BlockSize + 7} {
			stream := make([]byte, n)
			for i := range stream {
				stream[i] = byte(rng.Uint32())
			}
			pkt := encrypt(t, a, b, stream, pad)
			if got, want := int64(len(pkt)), EncryptedSize(int64(n), pad); got != want {
				t.Fatalf("n=%d pad=%d: size %d, EncryptedSize says %d", n, pad, got, want)
			}
			got, err := decrypt(t, pkt, b, &a.Public)
			if err != nil {
				t.Fatalf("n=%d pad=%d: %v", n, pad, err)
			}
			if !bytes.Equal(got, stream) {
				t.Fatalf("n=%d pad=%d: stream differs", n, pad)
			}
		}
	}
}

// Every way of damaging a packet is refused, never accepted.
func TestDamage(t *testing.T) {
	a, b := newPair(t)
	stream := bytes.Repeat([]byte{7}, 2*BlockSize+100)
	pkt := encrypt(t, a, b, stream, 1000)
	check := func(name string, p []byte, want error) {
		t.Helper()
		_, err := decrypt(t, p, b, &a.Public)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if want != nil && !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", name, err, want)
		}
	}
	for _, cut := range []int{0, 8, 100, 171, 172, 200, BlockSize, len(pkt) - 1000 - 1, len(pkt) - 1} {
		check("truncated", pkt[:cut], nil)
	}
	for _, off := range []int{9, 20, 50, 80, 120, 200, BlockSize + 300, len(pkt) - 1200, len(pkt) - 1} {
		p := bytes.Clone(pkt)
		p[off] ^= 1
		check("flipped", p, nil)
	}
	check("trailing", append(bytes.Clone(pkt), 0), nil)
	// With outer padding the last block is intact and the extra byte is
	// seen after the padding.
	big := encrypt(t, a, b, stream, 3*BlockSize)
	check("trailing after opad", append(bytes.Clone(big), 0), ErrTrailing)
	c, _ := newPair(t)
	forged := bytes.Clone(pkt)
	copy(forged[12:44], c.ID[:]) // claims to come from c, signed by a
	if _, err := decrypt(t, forged, b, &c.Public); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged sender: %v", err)
	}
	if _, err := decrypt(t, pkt, b, &c.Public); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong sender key: %v", err)
	}
}

func TestPadFor(t *testing.T) {
	for _, wraps := range []int{0, 1, 3} {
		for _, n := range []int64{0, 300, BlockSize, 5 * BlockSize} {
			for _, min := range []int64{0, 1000, 4096, 300 * 1024, 1 << 20} {
				pad := PadFor(n, wraps, min)
				s := EncryptedSize(n, pad)
				for range wraps {
					s = EncryptedSize(wire.PlainHeaderSize+s, 0)
				}
				smaller := EncryptedSize(n, pad-1)
				for range wraps {
					smaller = EncryptedSize(wire.PlainHeaderSize+smaller, 0)
				}
				if s < min || (pad > 0 && smaller >= min) {
					t.Errorf("n=%d wraps=%d min=%d: pad %d gives %d", n, wraps, min, pad, s)
				}
			}
		}
	}
}

// The real nncp-pkt decrypts ferry's packets at the edge sizes.
func TestNNCPReadsOurs(t *testing.T) {
	bin := refbin.NNCP(t, "pkt")
	sat, hub := vectors.Node(t, "sat"), vectors.Node(t, "hub")
	dir := t.TempDir()
	cfg := strings.ReplaceAll(string(vectors.Read(t, "configs/hub.hjson")), "/TESTDATA", dir)
	os.WriteFile(filepath.Join(dir, "hub.hjson"), []byte(cfg), 0o600)
	for _, n := range []int{0, BlockSize - wire.PlainHeaderSize - 16, BlockSize - wire.PlainHeaderSize, BlockSize - wire.PlainHeaderSize - 8, 2*BlockSize + 3} {
		for _, pad := range []int64{0, 5000, BlockSize + 3} {
			ph := wire.PlainHeader{Type: wire.TypeFile, Nice: 224, Path: []byte("x.bin")}
			hb, _ := ph.Marshal()
			payload := bytes.Repeat([]byte{0xA5}, n)
			pkt := encrypt(t, sat, hub, append(hb[:], payload...), pad)
			cmd := exec.Command(bin, "-cfg", filepath.Join(dir, "hub.hjson"), "-dump")
			cmd.Stdin = bytes.NewReader(pkt)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("n=%d pad=%d: nncp-pkt: %v: %s", n, pad, err, stderr.String())
			}
			if !bytes.Equal(out, append(hb[:], payload...)) {
				t.Fatalf("n=%d pad=%d: nncp-pkt -dump gave %d bytes, want %d", n, pad, len(out), wire.PlainHeaderSize+n)
			}
		}
	}
}

func BenchmarkEncrypt(b *testing.B) {
	a, c := newPair(b)
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	e, _ := NewEncrypter(io.Discard, EncryptOptions{Sender: a, Recipient: &c.Public})
	for b.Loop() {
		e.Write(buf)
	}
}

// WriteTo (the pipelined path io.Copy takes) gives the same bytes and
// the same refusals as Read.
func TestWriteTo(t *testing.T) {
	a, b := newPair(t)
	for _, n := range edgeSizes {
		stream := bytes.Repeat([]byte{byte(n)}, n)
		pkt := encrypt(t, a, b, stream, 5000)
		for _, damage := range []int{-1, 200, len(pkt) / 2, len(pkt) - 10} {
			p := bytes.Clone(pkt)
			if damage >= 0 {
				p[damage] ^= 1
			}
			r := bytes.NewReader(p)
			h, err := ReadHeader(r)
			if err != nil {
				t.Fatal(err)
			}
			d, err := NewDecrypter(r, &h, b, &a.Public)
			if err != nil {
				if damage >= 0 {
					continue
				}
				t.Fatal(err)
			}
			var out bytes.Buffer
			_, err = io.Copy(&out, d)
			if damage < 0 && (err != nil || !bytes.Equal(out.Bytes(), stream)) {
				t.Fatalf("n=%d: %v", n, err)
			}
			if damage >= 0 && err == nil {
				t.Fatalf("n=%d: damage at %d accepted", n, damage)
			}
		}
	}
}

// TestLowOrderPoint: an ephemeral key that is a low-order point (the
// shared secret all zeros) is refused even when the header is signed, and
// so is a recipient's.
func TestLowOrderPoint(t *testing.T) {
	a, b := newPair(t)
	h := wire.EncHeader{Nice: 96, Sender: a.ID, Recipient: b.ID} // ExchPub all zeros
	tbs := h.TBS()
	copy(h.Sig[:], a.Sign(tbs[:]))
	if _, err := NewDecrypter(bytes.NewReader(nil), &h, b, &a.Public); !errors.Is(err, ErrAuth) {
		t.Errorf("low-order ephemeral key: %v, want ErrAuth", err)
	}
	zero := b.Public
	zero.ExchPub = [32]byte{}
	if _, err := NewEncrypter(io.Discard, EncryptOptions{Sender: a, Recipient: &zero}); err == nil {
		t.Error("encrypting to a low-order key: no error")
	}
}
