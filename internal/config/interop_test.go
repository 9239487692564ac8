package config

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ferry/internal/node"
	"ferry/internal/testnet/refbin"
)

// nncpLoad runs the real nncp-cfgmin on the config text: it parses and
// checks the whole config (the same code every nncp-* runs first) without
// touching the spool. It returns what nncp-cfgmin printed and its error.
func nncpLoad(t *testing.T, text []byte) ([]byte, error) {
	t.Helper()
	bin := refbin.NNCP(t, "cfgmin")
	path := filepath.Join(t.TempDir(), "cfg.hjson")
	if err := os.WriteFile(path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-cfg", path)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: stderr.Bytes()}
	}
	return out, nil
}

// cleanEnv drops $NNCP* so that the user's settings do not leak in.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NNCP") {
			env = append(env, kv)
		}
	}
	return env
}

func mustNNCPLoad(t *testing.T, text []byte) []byte {
	t.Helper()
	out, err := nncpLoad(t, text)
	if err != nil {
		t.Fatalf("nncp-cfgmin rejects it: %v: %s\n%s", err, err.(*exec.ExitError).Stderr, text)
	}
	return out
}

func TestInteropNewTextLoadsInNNCP(t *testing.T) {
	p, err := node.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []NewOptions{{}, {NoComments: true}, {Spool: "/srv/nncp spool", Log: "/srv/nncp spool/log"}} {
		text := NewText(p, o)
		out := mustNNCPLoad(t, text)
		// nncp-cfgmin and MinText agree on it, byte for byte.
		if want := MinText(mustParse(t, text)); string(out)+"\n" != string(want) {
			t.Errorf("nncp-cfgmin printed\n%s\nMinText\n%s", out, want)
		}
	}
}

func TestInteropRealCfgnewLoads(t *testing.T) {
	bin := refbin.NNCP(t, "cfgnew")
	for _, args := range [][]string{nil, {"-nocomments"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = cleanEnv()
		real, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		c := mustParse(t, real)
		if c.Self == nil || c.Neigh["self"].ID != c.Self.ID {
			t.Fatalf("%v: self not loaded", args)
		}
		if got, want := NewText(c.Self, NewOptions{NoComments: args != nil}), cfgnewDiffs.Replace(string(real)); string(got) != want {
			t.Errorf("%v: NewText differs from nncp-cfgnew:\n%s\nwant\n%s", args, got, want)
		}
	}
}

func TestInteropMarshalLoadsInNNCP(t *testing.T) {
	texts := map[string][]byte{"rich": readTestdata(t, "rich.hjson")}
	dir := t.TempDir()
	for _, name := range []string{"sat", "hub", "far"} {
		texts[name] = sharedConfig(t, name, dir)
	}
	for name, text := range texts {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, text)
			out := mustNNCPLoad(t, roundTrip(t, c))
			if string(out)+"\n" != string(MinText(c)) {
				t.Errorf("nncp-cfgmin printed\n%s\nMinText\n%s", out, MinText(c))
			}
		})
	}
}

// Every broken config is rejected by nncp-* too, except those ferry rejects
// on purpose (stricterThanNNCP).
func TestInteropStrictness(t *testing.T) {
	rich := string(readTestdata(t, "rich.hjson"))
	mustNNCPLoad(t, []byte(rich))
	for _, tc := range brokenCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nncpLoad(t, tc.apply(t, rich))
			why, stricter := stricterThanNNCP[tc.name]
			switch {
			case err == nil && !stricter:
				t.Errorf("nncp-cfgmin accepts it; add it to stricterThanNNCP if that is intended")
			case err != nil && stricter:
				t.Errorf("nncp-cfgmin rejects it (%s), but stricterThanNNCP says %q", err.(*exec.ExitError).Stderr, why)
			}
		})
	}
}

// A configuration directory written by nncp-cfgdir loads like the file.
func TestInteropCfgdir(t *testing.T) {
	bin := refbin.NNCP(t, "cfgdir")
	src := filepath.Join("testdata", "rich.hjson")
	dir := filepath.Join(t.TempDir(), "cfg")
	cmd := exec.Command(bin, "-cfg", src, "-dump", dir)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nncp-cfgdir: %v: %s", err, out)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := mustParse(t, readTestdata(t, "rich.hjson"))
	// nncp-cfgdir drops what nncp-* do not know: the mail section and
	// autotoss-noack.
	want.Mail = nil
	want.Neigh["bob"].Calls[2].AutoTossNoACK = false
	got.Path, want.Path = "", ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("directory loads as\n%s\nwant\n%s", Marshal(got), Marshal(want))
	}
}

// The manual (cfg/general.texi) allows log: FD:N, but nncp-* 8.8.2 only take
// it from $NNCPLOG and reject it in the file; ferry follows the manual.
func TestInteropLogFD(t *testing.T) {
	p, _ := node.Generate()
	text := NewText(p, NewOptions{Log: "FD:2"})
	if c := mustParse(t, text); c.Log != "FD:2" {
		t.Fatalf("log = %q", c.Log)
	}
	if _, err := nncpLoad(t, text); err == nil {
		t.Error("nncp-cfgmin now accepts log: FD:N; update Marshal's doc comment")
	}
}
