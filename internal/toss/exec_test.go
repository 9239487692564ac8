package toss

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"ferry/internal/safeio"
	"ferry/internal/testnet"
	"ferry/internal/tx"
	"ferry/internal/wire"
)

// zeros reads n zero bytes without holding them.
type zeros int64

func (z *zeros) Read(p []byte) (int, error) {
	if *z <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), int64(*z))
	clear(p[:n])
	*z -= zeros(n)
	return int(n), nil
}

// countTmpWrites counts the bytes written through safeio under dir.
func countTmpWrites(t *testing.T, dir string) *atomic.Int64 {
	var n atomic.Int64
	restore := safeio.SetFault(func(op safeio.Op, path string, k int) error {
		if op == safeio.OpWrite && strings.HasPrefix(path, dir+string(os.PathSeparator)) {
			n.Add(int64(k))
		}
		return nil
	})
	t.Cleanup(restore)
	return &n
}

func TestExecBombRefusedAndKept(t *testing.T) {
	for _, fat := range []bool{false, true} {
		t.Run(map[bool]string{false: "zstd", true: "fat"}[fat], func(t *testing.T) {
			a, b, carry := pair(t)
			b.neigh("a").ExecMaxSize = 1 << 20
			size := int64(64 << 20)
			if fat {
				size = 2 << 20 // a fat body is as big as its packet
			}
			body := zeros(size)
			if _, err := a.sender.Exec(a.neigh("b"), "save", []string{"bomb"}, &body,
				tx.ExecOptions{Options: tx.Options{Nice: 96}, NoCompress: fat}); err != nil {
				t.Fatal(err)
			}
			carry()
			pkt := b.nd.RxPackets(t, a.nd)[0]
			fi, _ := os.Stat(pkt)
			written := countTmpWrites(t, b.spool.TmpDir())
			for round := 0; round < 2; round++ {
				// MemLimit 1 KiB: the staged body goes to tmp/.
				ev := only(t, b.toss(t, Options{MemLimit: 1024}))
				if ev.Outcome != Failed || !errors.Is(ev.Err, ErrExecTooBig) {
					t.Fatalf("round %d: %+v", round, ev)
				}
				if rxCount(t, b, a) != 1 {
					t.Fatal("refused packet was removed")
				}
			}
			if _, err := os.Stat(filepath.Join(b.nd.ExecDir, "bomb")); err == nil {
				t.Fatal("the handle ran")
			}
			// Two tosses, each staging at most the packet's bytes.
			if w := written.Load(); w > 2*fi.Size() {
				t.Fatalf("%d bytes written to tmp/ for a %d-byte packet", w, fi.Size())
			}
			t.Logf("packet %d bytes, body %d, %d bytes written to tmp/ in two tosses", fi.Size(), size, written.Load())
			if ents, _ := os.ReadDir(b.spool.TmpDir()); len(ents) != 0 {
				t.Fatalf("tmp/ not empty: %v", ents)
			}
		})
	}
}

func TestExecBigBodyStreamed(t *testing.T) {
	a, b, carry := pair(t)
	data := make([]byte, 3<<20+12345)
	for i := range data {
		data[i] = byte(i * 7 / 13)
	}
	if _, err := a.sender.Exec(a.neigh("b"), "save", []string{"big"}, bytes.NewReader(data), tx.ExecOptions{Options: tx.Options{Nice: 96}}); err != nil {
		t.Fatal(err)
	}
	carry()
	pkt := b.nd.RxPackets(t, a.nd)[0]
	fi, _ := os.Stat(pkt)
	written := countTmpWrites(t, b.spool.TmpDir())
	ev := only(t, b.toss(t, Options{MemLimit: 4096}))
	if ev.Outcome != Done {
		t.Fatalf("%+v", ev)
	}
	got, err := os.ReadFile(filepath.Join(b.nd.ExecDir, "big"))
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("handle got %d bytes (%v), want %d", len(got), err, len(data))
	}
	if w := written.Load(); w > fi.Size() {
		t.Fatalf("%d bytes staged for a %d-byte packet", w, fi.Size())
	}
}

// A body that fails while it is being fed (the cap hit mid-stream, a read
// error) kills the handle: it never sees the cut body end as if whole.
func TestRunFedKillsOnBodyError(t *testing.T) {
	dir := t.TempDir()
	out, done := filepath.Join(dir, "out"), filepath.Join(dir, "done")
	cmd := exec.Command("/bin/sh", "-c", `cat > "$0" && echo whole > "$1"`, out, done)
	body := io.MultiReader(bytes.NewReader(make([]byte, 300<<10)), capReader(&eofless{}, 10))
	err := runFed(cmd, body)
	var be *bodyError
	if !errors.As(err, &be) || !errors.Is(err, ErrExecTooBig) {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(done); err == nil {
		t.Fatal("the handle took the cut body as whole")
	}
	// And a handle that stops reading early is not an error.
	if err := runFed(exec.Command("/bin/true"), bytes.NewReader(make([]byte, 1<<20))); err != nil {
		t.Fatalf("early exit: %v", err)
	}
}

type eofless struct{}

func (eofless) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// `ferry toss` logs a refused bomb with its own Who and keeps it.
func TestExecTooBigLogged(t *testing.T) {
	net := testnet.New(t, "a", "b")
	na, nb := net.Nodes["a"], net.Nodes["b"]
	nb.Cfg.Neigh["a"].ExecMaxSize = 1 << 20
	net.Write(t)
	body := zeros(8 << 20)
	a := open(t, na)
	if _, err := a.sender.Exec(a.neigh("b"), "save", []string{"bomb"}, &body, tx.ExecOptions{Options: tx.Options{Nice: 96}}); err != nil {
		t.Fatal(err)
	}
	net.Carry(t, na, testnet.Ferry, nb, testnet.Ferry)
	if r := nb.Run(t, testnet.Ferry, nil, "toss", "-noprogress"); r.Code != 1 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	log, _ := os.ReadFile(nb.Log)
	for _, want := range []string{"Who: rx-exec-too-big", "Err: exec body: bigger than the sender's exec-maxsize (1048576 bytes)", "Dst: save bomb"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if len(nb.RxPackets(t, na)) != 1 {
		t.Error("bomb not kept")
	}
}

// rleBomb writes a zstd frame of n zero bytes (n a multiple of 128 KiB)
// made of RLE blocks: 4 bytes per 128 KiB, as a hostile neighbour would
// craft it without compressing anything.
func rleBomb(w io.Writer, n int64) error {
	const block = 128 << 10
	hdr := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3} // magic, no content size, 128 KiB window
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	buf := make([]byte, 0, 4*1024)
	for left := n / block; left > 0; left-- {
		h := uint32(1<<1 | block<<3) // RLE
		if left == 1 {
			h |= 1 // last block
		}
		buf = append(buf, byte(h), byte(h>>8), byte(h>>16), 0)
		if len(buf) == cap(buf) || left == 1 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}

// A real bomb: 10 GiB of zeros in a packet of a third of a MiB, against
// the default exec-maxsize. Refused after 256 MiB of decompression, with
// nothing (or at most the packet's size) written to tmp/.
func TestExecRealBombDefaultCap(t *testing.T) {
	a, b, carry := pair(t)
	ph := wire.PlainHeader{Type: wire.TypeExec, Nice: 96, Path: []byte("save\x00bomb")}
	if _, err := a.sender.Send(a.neigh("b"), ph, tx.Options{Nice: 96}, func(w io.Writer) error { return rleBomb(w, 10<<30) }); err != nil {
		t.Fatal(err)
	}
	carry()
	pkt := b.nd.RxPackets(t, a.nd)[0]
	fi, _ := os.Stat(pkt)
	for _, mem := range []int64{4096} { // staged in tmp/ beyond 4 KiB
		written := countTmpWrites(t, b.spool.TmpDir())
		ev := only(t, b.toss(t, Options{MemLimit: mem}))
		if ev.Outcome != Failed || !errors.Is(ev.Err, ErrExecTooBig) {
			t.Fatalf("%+v", ev)
		}
		if w := written.Load(); w > fi.Size() {
			t.Fatalf("%d bytes written to tmp/ for a %d-byte packet", w, fi.Size())
		}
		t.Logf("MemLimit %d: packet %d bytes (10 GiB of zeros), %d bytes written to tmp/", mem, fi.Size(), written.Load())
	}
	if _, err := os.Stat(filepath.Join(b.nd.ExecDir, "bomb")); err == nil || rxCount(t, b, a) != 1 {
		t.Fatal("handle ran, or bomb not kept")
	}
	// The same bomb under a cap above its size would be taken: the frame
	// is well-formed (8 MiB here, to keep the test short).
	a2, b2, carry2 := pair(t)
	if _, err := a2.sender.Send(a2.neigh("b"), ph, tx.Options{Nice: 96}, func(w io.Writer) error { return rleBomb(w, 8<<20) }); err != nil {
		t.Fatal(err)
	}
	carry2()
	if ev := only(t, b2.toss(t, Options{})); ev.Outcome != Done {
		t.Fatalf("well-formed 8 MiB body: %+v", ev)
	}
	if fi, err := os.Stat(filepath.Join(b2.nd.ExecDir, "bomb")); err != nil || fi.Size() != 8<<20 {
		t.Fatalf("handle got %v %v", fi, err)
	}
}
