package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testnet"
	"ferry/internal/testnet/vectors"
)

// Helpers shared by the ack, trns, bundle and reass tests (prefix xp).

// xpResult is an in-process command's outcome.
type xpResult struct {
	stdout, stderr string
	code           int
}

// xpRun runs "ferry ARGS..." in-process with $NNCPNOSYNC=1 and nothing
// else from the environment; extra are the file descriptors above 2.
func xpRun(t *testing.T, stdin []byte, extra map[int]*os.File, args ...string) xpResult {
	t.Helper()
	var out, errb bytes.Buffer
	if extra == nil {
		extra = map[int]*os.File{}
	}
	env := &Env{Stdin: bytes.NewReader(stdin), Stdout: &out, Stderr: &errb, ExtraFiles: extra,
		Getenv: func(k string) string {
			if k == "NNCPNOSYNC" {
				return "1"
			}
			return ""
		}}
	code := Main(env, append([]string{"ferry"}, args...))
	return xpResult{out.String(), errb.String(), code}
}

// xpMust is xpRun failing the test on a non-zero exit.
func xpMust(t *testing.T, stdin []byte, args ...string) xpResult {
	t.Helper()
	r := xpRun(t, stdin, nil, args...)
	if r.code != 0 {
		t.Fatalf("ferry %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// xpVec is the test vectors' three nodes with their configs, in a
// temporary directory.
type xpVec struct{ dir string }

const (
	xpSat = "LSA57ADHTM35TSF2XAROSICGTKUQQCALHY4ZEBOOCEZCCZH6H7DA"
	xpHub = "5JW27WTD2N3G7TJUZKESIAWWHVA2MD2C7YQ5YDLONQUEV4Z3SBVQ"
	xpFar = "XC4WFVVSR77AGWGO6ZFOUHFJTAQQV6R6NUTNLQUP3M2PYXEHI33Q"
)

func xpVectors(t *testing.T) *xpVec {
	t.Helper()
	v := &xpVec{dir: t.TempDir()}
	for _, n := range []string{"sat", "hub", "far"} {
		for _, d := range []string{"spool", "incoming", "pub"} {
			if err := os.MkdirAll(filepath.Join(v.dir, n, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cfg := strings.ReplaceAll(string(vectors.Read(t, "configs/"+n+".hjson")), "/TESTDATA", v.dir)
		if err := os.WriteFile(v.cfg(n), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(v.dir, "hub", "pub", "song.txt"), vectors.Read(t, "plain/song.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *xpVec) cfg(n string) string { return filepath.Join(v.dir, n, "cfg.hjson") }
func (v *xpVec) path(n string, rel ...string) string {
	return filepath.Join(append([]string{v.dir, n}, rel...)...)
}

// queue returns SPOOL/PEER/XX of node n.
func (v *xpVec) queue(n, peer, xx string) string { return v.path(n, "spool", peer, xx) }

// put copies a vector packet into a queue under its name.
func (v *xpVec) put(t *testing.T, n, peer, xx, pktFile, name string) {
	t.Helper()
	dir := v.queue(n, peer, xx)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), vectors.Read(t, "packets/"+pktFile), 0o644); err != nil {
		t.Fatal(err)
	}
}

// xpPkts lists the packet names in a queue directory.
func xpPkts(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && len(e.Name()) == 52 {
			out = append(out, e.Name())
		}
	}
	return out
}

func xpEmptyTmp(t *testing.T, spoolDir string) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(spoolDir, "tmp"))
	for _, e := range ents {
		t.Errorf("left in tmp/: %s", e.Name())
	}
}

func xpRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The vector bundles' packets (file under packets/, name).
var xpSatToHub = [][2]string{
	{"06-trns-sat-to-far-via-hub.pkt", "444N2QZFPKDJ43UGGGWPXM7DX5T44B4NCBEAXXJO7ZMARKKMMSIA"},
	{"04-exec-args-sat-to-hub.pkt", "ZPK6KQIYRNG3D2IH6NRAZW56Z3GMH6XYVLS3MTACWJD44OAQ535Q"},
	{"05-execfat-sat-to-hub.pkt", "YQSWPONI6FYSIB32LEWHD5ZNZLNSOJRP23AHW72STOFVTH67SVEA"},
	{"01-file-sat-to-hub.pkt", "2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA"},
	{"02-freq-sat-to-hub.pkt", "RQ52TR4JD3J27PWBPMYMKIFZSJC6HSEYWMXQH4LZIAMZQN3G6TJA"},
	{"03-exec-rsmtp-sat-to-hub.pkt", "7IE5HKF5DFZ43TBGL6O34P6KELFYKC3XKD5YBRK4QSZ3CXK5AZUQ"},
}

// TestBundleVectors loads the vector bundles into ferry spools and tosses
// them: hub gets the file, both exec bodies, answers the freq, relays the
// trns to far; sat gets the freq reply and the ACK removes its kept packet.
func TestBundleVectors(t *testing.T) {
	v := xpVectors(t)
	xpMust(t, vectors.Read(t, "bundle/sat-to-hub.pax"), "bundle", "-cfg", v.cfg("hub"), "-rx", "-quiet")
	if got := xpPkts(t, v.queue("hub", xpSat, "rx")); len(got) != 6 {
		t.Fatalf("hub rx/ has %d packets, want 6", len(got))
	}
	xpMust(t, nil, "toss", "-cfg", v.cfg("hub"), "-quiet")
	if !bytes.Equal(xpRead(t, v.path("hub", "incoming", "hello.txt")), vectors.Read(t, "plain/hello.txt")) {
		t.Error("hub: hello.txt differs")
	}
	if !bytes.Equal(xpRead(t, v.path("hub", "rsmtp.out")), vectors.Read(t, "plain/bsmtp.txt")) {
		t.Error("hub: rsmtp body differs")
	}
	// Both cat bodies, in the order the packets were tossed.
	args, fat := vectors.Read(t, "plain/exec-args.txt"), vectors.Read(t, "plain/execfat.txt")
	if got := xpRead(t, v.path("hub", "exec.out")); !bytes.Equal(got, append(bytes.Clone(args), fat...)) && !bytes.Equal(got, append(bytes.Clone(fat), args...)) {
		t.Errorf("hub: cat bodies differ: %q", got)
	}
	if got := xpPkts(t, v.queue("hub", xpFar, "tx")); len(got) != 1 || got[0] != "V5ZUN74US6ZF5BASCPZPO5USKFLSZG6CO53FB6EVNUEPJJRTU6TA" {
		t.Errorf("hub tx/far: %v, want the relayed packet 07", got)
	}
	if got := xpPkts(t, v.queue("hub", xpSat, "tx")); len(got) != 1 {
		t.Errorf("hub tx/sat: %v, want the freq reply", got)
	}
	xpEmptyTmp(t, v.path("hub", "spool"))

	// sat keeps packet 01 (acknowledged by 08 in the other bundle).
	v.put(t, "sat", xpHub, "tx", "01-file-sat-to-hub.pkt", "2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA")
	xpMust(t, vectors.Read(t, "bundle/hub-to-sat.pax"), "bundle", "-cfg", v.cfg("sat"), "-rx", "-quiet")
	xpMust(t, nil, "toss", "-cfg", v.cfg("sat"), "-quiet")
	if !bytes.Equal(xpRead(t, v.path("sat", "incoming", "song-from-hub.txt")), vectors.Read(t, "plain/song.txt")) {
		t.Error("sat: song-from-hub.txt differs")
	}
	if got := xpPkts(t, v.queue("sat", xpHub, "tx")); len(got) != 0 {
		t.Errorf("sat tx/hub keeps %v after the ACK", got)
	}
}

// TestBundleTxIdentical: ferry and nncp-bundle write the same bytes from
// the same spool, and those are the vector's.
func TestBundleTxIdentical(t *testing.T) {
	v := xpVectors(t)
	for _, p := range xpSatToHub {
		v.put(t, "sat", xpHub, "tx", p[0], p[1])
	}
	f := xpMust(t, nil, "bundle", "-cfg", v.cfg("sat"), "-tx", "-quiet", "hub")
	n := testnet.Node{CfgPath: v.cfg("sat"), Dir: v.dir}
	r := n.Must(t, testnet.NNCP, nil, "bundle", "-tx", "-quiet", "hub")
	if f.stdout != r.Stdout {
		t.Fatalf("ferry's bundle (%d bytes) differs from nncp-bundle's (%d bytes)", len(f.stdout), len(r.Stdout))
	}
	if len(xpPkts(t, v.queue("sat", xpHub, "tx"))) != 6 {
		t.Fatal("-tx without -delete removed packets")
	}
	// The vector was made from a spool filled in the same order, but the
	// order is the directory's, which depends on the filesystem: demand
	// the same bytes only when the order came out the same.
	want := vectors.Read(t, "bundle/sat-to-hub.pax")
	if len(f.stdout) != len(want) {
		t.Errorf("bundle is %d bytes, the vector %d", len(f.stdout), len(want))
	} else if f.stdout != string(want) {
		t.Logf("bundle differs from the vector: the directory order differs here")
	}
	// -delete removes what was written.
	xpMust(t, nil, "bundle", "-cfg", v.cfg("sat"), "-tx", "-delete", "-quiet", "hub")
	if got := xpPkts(t, v.queue("sat", xpHub, "tx")); len(got) != 0 {
		t.Errorf("-tx -delete left %v", got)
	}
}

// TestBundleInterop carries packets both ways between ferry and NNCP
// through bundles, and tosses them with the receiving implementation.
func TestBundleInterop(t *testing.T) {
	for _, dir := range []struct{ from, to testnet.Impl }{{testnet.Ferry, testnet.NNCP}, {testnet.NNCP, testnet.Ferry}} {
		t.Run(string(dir.from)+"-to-"+string(dir.to), func(t *testing.T) {
			t.Parallel()
			net := testnet.New(t, "a", "b")
			a, b := net.Nodes["a"], net.Nodes["b"]
			src := filepath.Join(a.Dir, "payload")
			data := bytes.Repeat([]byte("bundle me\n"), 30000) // 300 kB: several blocks
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			a.Must(t, dir.from, nil, "file", "-noprogress", "-quiet", src, "b:got")
			a.Must(t, dir.from, []byte("exec body"), "exec", "-noprogress", "-quiet", "b", "save", "x")
			tx := a.Must(t, dir.from, nil, "bundle", "-noprogress", "-quiet", "-tx", "b")
			b.Must(t, dir.to, []byte(tx.Stdout), "bundle", "-noprogress", "-quiet", "-rx", "-check")
			if got := b.RxPackets(t, a); len(got) != 2 {
				t.Fatalf("b rx/: %d packets, want 2", len(got))
			}
			b.Must(t, dir.to, nil, "toss", "-noprogress", "-quiet")
			if got, err := os.ReadFile(filepath.Join(b.Incoming, "got")); err != nil || !bytes.Equal(got, data) {
				t.Errorf("file: %v", err)
			}
			if got, err := os.ReadFile(filepath.Join(b.ExecDir, "x")); err != nil || string(got) != "exec body" {
				t.Errorf("exec: %q %v", got, err)
			}
			// The sender checks its own stream back and drops what it
			// carried (-rx -delete).
			if len(a.TxPackets(t, b)) != 2 {
				t.Fatal("packets gone before -rx -delete")
			}
			a.Must(t, dir.from, []byte(tx.Stdout), "bundle", "-noprogress", "-quiet", "-rx", "-delete")
			if got := a.TxPackets(t, b); len(got) != 0 {
				t.Errorf("-rx -delete left %v", got)
			}
		})
	}
}

// TestBundleDamaged: a truncated bundle and one with a corrupted packet
// are refused clearly, and nothing half-written stays in the spool.
func TestBundleDamaged(t *testing.T) {
	good := vectors.Read(t, "bundle/sat-to-hub.pax")
	// The second packet's content starts at 3072 (two 512-byte headers
	// and the first packet's 1015 bytes padded to 1024 before it).
	bad := bytes.Clone(good)
	bad[3072+300] ^= 0xff

	t.Run("corrupted", func(t *testing.T) {
		for _, extra := range [][]string{{"-check"}, {}, {"-check", "-dryrun"}} {
			v := xpVectors(t)
			r := xpRun(t, bad, nil, append([]string{"bundle", "-cfg", v.cfg("hub"), "-rx"}, extra...)...)
			if r.code != 1 || !strings.Contains(r.stderr, "ZPK6KQIYRNG3D2IH6NRAZW56Z3GMH6XYVLS3MTACWJD44OAQ535Q: bad checksum") {
				t.Errorf("%v: exit %d, stderr:\n%s", extra, r.code, r.stderr)
			}
			got := xpPkts(t, v.queue("hub", xpSat, "rx"))
			want := 5
			if len(extra) == 2 {
				want = 0
			}
			if len(got) != want {
				t.Errorf("%v: rx/ has %d packets, want %d", extra, len(got), want)
			}
			for _, p := range got {
				if p == "ZPK6KQIYRNG3D2IH6NRAZW56Z3GMH6XYVLS3MTACWJD44OAQ535Q" {
					t.Errorf("%v: the corrupted packet was stored", extra)
				}
			}
			xpEmptyTmp(t, v.path("hub", "spool"))
		}
	})

	t.Run("truncated", func(t *testing.T) {
		v := xpVectors(t)
		r := xpRun(t, good[:3500], nil, "bundle", "-cfg", v.cfg("hub"), "-rx", "-check")
		if r.code != 1 || !strings.Contains(r.stderr, "truncated") {
			t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
		if got := xpPkts(t, v.queue("hub", xpSat, "rx")); len(got) != 1 || got[0] != xpSatToHub[0][1] {
			t.Errorf("rx/ has %v, want only the whole first packet", got)
		}
		xpEmptyTmp(t, v.path("hub", "spool"))
	})

	t.Run("usage", func(t *testing.T) {
		v := xpVectors(t)
		for _, args := range [][]string{{}, {"-rx", "-tx"}, {"-tx", "nosuch"}} {
			r := xpRun(t, nil, nil, append([]string{"bundle", "-cfg", v.cfg("hub")}, args...)...)
			if r.code != 1 || r.stderr == "" {
				t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
			}
		}
	})
}
