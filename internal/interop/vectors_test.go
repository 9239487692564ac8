package interop

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testnet"
	"ferry/internal/testnet/vectors"
)

// vectorNode sets up one of the vectors' nodes (sat, hub, far) in a temp
// dir, with its stored config and keys.
func vectorNode(t *testing.T, root, name string) string {
	t.Helper()
	d := filepath.Join(root, name)
	for _, sub := range []string{"spool", "incoming", "pub"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := strings.ReplaceAll(string(vectors.Read(t, "configs/"+name+".hjson")), "/TESTDATA", root)
	p := filepath.Join(d, "cfg.hjson")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func ferry(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(testnet.FerryBin(t), args...)
	cmd.Env = append(os.Environ(), "NNCPNOSYNC=1", "GORACE=atexit_sleep_ms=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ferry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestVectorXferTree: the xfer tree the real nncp-xfer wrote on sat is
// taken by ferry on hub, and tossed as the vectors' README says: the file,
// the rsmtp batch, the cat handle's two bodies, the freq answered, the
// onion-routed note relayed to far, and far gets it.
func TestVectorXferTree(t *testing.T) {
	root := t.TempDir()
	hub := vectorNode(t, root, "hub")
	far := vectorNode(t, root, "far")
	sat := vectorNode(t, root, "sat")
	os.WriteFile(filepath.Join(root, "hub", "pub", "song.txt"), vectors.Read(t, "plain/song.txt"), 0o644)
	tree := filepath.Join(root, "xfer")
	if out, err := exec.Command("cp", "-r", filepath.Join(vectors.Dir(t), "xfer"), tree).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	exec.Command("chmod", "-R", "u+w", tree).Run()
	ferry(t, "xfer", "-cfg", hub, "-noprogress", "-quiet", "-rx", tree)
	ferry(t, "toss", "-cfg", hub, "-noprogress", "-quiet")
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(read("hub/incoming/hello.txt"), vectors.Read(t, "plain/hello.txt")) {
		t.Error("hello.txt differs")
	}
	if got := sha(read("hub/rsmtp.out")); got != "2e5b91dfb35b3cfeeac6c200b169028882b4258d1a5de74eb14c2afb1c8d4ced" {
		t.Errorf("rsmtp stdin sha256 %s", got)
	}
	args, fat := vectors.Read(t, "plain/exec-args.txt"), vectors.Read(t, "plain/execfat.txt")
	if got := read("hub/exec.out"); !bytes.Equal(got, append(bytes.Clone(args), fat...)) && !bytes.Equal(got, append(bytes.Clone(fat), args...)) {
		t.Errorf("cat handle got %q", got)
	}
	// hub's answers: the freq reply for sat, the relayed note for far.
	out := filepath.Join(root, "out")
	os.Mkdir(out, 0o755)
	ferry(t, "xfer", "-cfg", hub, "-noprogress", "-quiet", "-mkdir", "-tx", out)
	ferry(t, "xfer", "-cfg", far, "-noprogress", "-quiet", "-rx", out)
	ferry(t, "toss", "-cfg", far, "-noprogress", "-quiet")
	if got := sha(read("far/incoming/note.txt")); got != "5bbf6a54058fc909526654591d232bc1f49d18972e12b9c53e2fe86a42cae322" {
		t.Errorf("note.txt sha256 %s", got)
	}
	ferry(t, "xfer", "-cfg", sat, "-noprogress", "-quiet", "-rx", out)
	ferry(t, "toss", "-cfg", sat, "-noprogress", "-quiet")
	if !bytes.Equal(read("sat/incoming/song-from-hub.txt"), vectors.Read(t, "plain/song.txt")) {
		t.Error("freq answer differs")
	}
}

// TestVectorPackets: the stored packets 08 (ACK) and 09 (freq reply),
// put in sat's rx by hand, toss in ferry.
func TestVectorPackets(t *testing.T) {
	root := t.TempDir()
	sat := vectorNode(t, root, "sat")
	hubID := "5JW27WTD2N3G7TJUZKESIAWWHVA2MD2C7YQ5YDLONQUEV4Z3SBVQ"
	rx := filepath.Join(root, "sat", "spool", hubID, "rx")
	tx := filepath.Join(root, "sat", "spool", hubID, "tx")
	os.MkdirAll(rx, 0o755)
	os.MkdirAll(tx, 0o755)
	for _, p := range vectors.Packets {
		if p.To == "sat" {
			os.WriteFile(filepath.Join(rx, p.ID), vectors.Read(t, "packets/"+p.File), 0o644)
		}
	}
	// The packet 08 acknowledges, as if sat had kept it after xfer -keep.
	acked := filepath.Join(tx, "2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA")
	os.WriteFile(acked, vectors.Read(t, "packets/01-file-sat-to-hub.pkt"), 0o644)
	ferry(t, "toss", "-cfg", sat, "-noprogress", "-quiet")
	if _, err := os.Stat(acked); !os.IsNotExist(err) {
		t.Error("ACKed packet still in tx")
	}
	b, _ := os.ReadFile(filepath.Join(root, "sat", "incoming", "song-from-hub.txt"))
	if !bytes.Equal(b, vectors.Read(t, "plain/song.txt")) {
		t.Error("freq reply differs")
	}
}
