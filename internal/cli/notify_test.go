package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/config"
	"ferry/internal/testnet"
)

// The notify section mails, through neigh.self.exec.sendmail, a note for
// each tossed file and for exec handles named in it, with their output.
func TestNotify(t *testing.T) {
	net := testnet.New(t, "a", "b")
	a, b := net.Nodes["a"], net.Nodes["b"]
	out := filepath.Join(b.Dir, "notes")
	os.Mkdir(out, 0o755)
	b.Cfg.Neigh["self"].Exec["sendmail"] = []string{"/bin/sh", "-c", `cat > "` + out + `/$1.$$"`, "sendmail"}
	b.Cfg.Neigh["a"].Exec["hello"] = []string{"/bin/sh", "-c", "echo handle said hi; cat >/dev/null"}
	b.Cfg.Notify = &config.Notify{
		File: &config.FromTo{From: "nncp@b", To: "files@b"},
		Exec: map[string]*config.FromTo{"a.hello": {From: "nncp@b", To: "ops@b"}},
	}
	net.Write(t)
	src := filepath.Join(a.Dir, "report.txt")
	os.WriteFile(src, []byte("x"), 0o644)
	a.Must(t, testnet.Ferry, nil, "file", "-quiet", src, "b:")
	a.Must(t, testnet.Ferry, []byte("x"), "exec", "-quiet", "b", "hello")
	a.Must(t, testnet.Ferry, []byte("x"), "exec", "-quiet", "b", "save", "quiet") // not in notify.exec
	net.Carry(t, a, testnet.Ferry, b, testnet.Ferry)
	b.Must(t, testnet.Ferry, nil, "toss", "-quiet")
	notes, _ := os.ReadDir(out)
	var files, ops int
	for _, n := range notes {
		body, _ := os.ReadFile(filepath.Join(out, n.Name()))
		switch {
		case strings.HasPrefix(n.Name(), "files@b"):
			files++
			if !strings.Contains(string(body), "Subject: File from a: report.txt") {
				t.Errorf("file note:\n%s", body)
			}
		case strings.HasPrefix(n.Name(), "ops@b"):
			ops++
			if !strings.Contains(string(body), "handle said hi") {
				t.Errorf("exec note lacks the handle's output:\n%s", body)
			}
		default:
			t.Errorf("unexpected note %s", n.Name())
		}
	}
	if files != 1 || ops != 1 {
		t.Fatalf("%d file notes, %d exec notes", files, ops)
	}
}
