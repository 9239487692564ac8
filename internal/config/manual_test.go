package config

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hjson/hjson-go/v4"

	"ferry/internal/testnet/refbin"
	"ferry/internal/testnet/vectors"
)

var verbatimRe = regexp.MustCompile(`(?s)@verbatim\n(.*?)@end verbatim`)

// manualBlock names one @verbatim block of testdata/manual by file and
// position.
type manualBlock struct {
	file string
	n    int
}

// notConfig are the manual's @verbatim blocks that are not NNCP configs.
var notConfig = map[manualBlock]string{
	{"usecase-multicast.texi", 0}: "a drawing of the flood",
	{"yggdrasil.texi", 0}:         "Yggdrasil's own configuration, which nncp-daemon builds",
}

// Every key the 8.8.2 manual's example configs show is one ferry knows: the
// examples load through checkKeys without an unknown key. (They cannot load
// whole: their keys are shortened to "RKOLY...KAMXQ".)
func TestManualExamplesKnown(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "manual", "*.texi"))
	if err != nil || len(files) < 10 {
		t.Fatalf("manual pages: %v %v", files, err)
	}
	checked := 0
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range verbatimRe.FindAllSubmatch(text, -1) {
			b := manualBlock{filepath.Base(f), i}
			if _, skip := notConfig[b]; skip {
				continue
			}
			tree, err := manualTree(m[1])
			if err != nil {
				t.Errorf("%s block %d: %v\n%s", b.file, i, err, m[1])
				continue
			}
			s, field := dirSchema, ""
			if _, ok := tree["calls"]; ok && len(tree) == 1 {
				s, field = dirSchema.fields["neigh"].elem, "neigh.NAME" // call.texi shows a neighbour's calls
			}
			if err := checkKeys(tree, s, field); err != nil {
				t.Errorf("%s block %d: %v", b.file, i, err)
			}
			checked++
		}
	}
	if checked != 11 {
		t.Errorf("%d example configs checked, want the 11 the pages show", checked)
	}
}

// manualTree decodes a manual example: "[...]" lines (the manual's "and so
// on") and "$ command" lines are dropped, and a closing brace the example
// leaves out is added.
func manualTree(block []byte) (map[string]any, error) {
	var keep [][]byte
	for _, line := range bytes.Split(block, []byte("\n")) {
		l := bytes.TrimSpace(line)
		if string(l) == "[...]" || bytes.HasPrefix(l, []byte("$ ")) {
			continue
		}
		keep = append(keep, line)
	}
	text := bytes.Join(keep, []byte("\n"))
	var tree map[string]any
	err := hjson.Unmarshal(text, &tree)
	if err != nil {
		if err2 := hjson.Unmarshal(append(text, "\n}\n"...), &tree); err2 == nil {
			return tree, nil
		}
	}
	return tree, err
}

var treeLineRe = regexp.MustCompile(`^((?:│   |    )*)(?:├── |└── )(.+)$`)

// The directory layout's example (cfg/dir.texi) names only known keys.
func TestManualDirLayoutKnown(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("testdata", "manual", "dir.texi"))
	if err != nil {
		t.Fatal(err)
	}
	var stack []string
	n := 0
	for _, line := range strings.Split(string(text), "\n") {
		m := treeLineRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		depth := len([]rune(m[1])) / 4
		stack = append(stack[:depth], m[2])
		s := dirSchema
		for i, name := range stack {
			switch s.kind {
			case kObject:
				s = s.fields[name]
			case kMapOf, kListOf:
				s = s.elem
			default:
				s = nil
			}
			if s == nil {
				t.Errorf("dir.texi: %s is not a known key", strings.Join(stack[:i+1], "/"))
				break
			}
		}
		n++
	}
	if n < 80 {
		t.Errorf("only %d entries of the layout read", n)
	}
}

// Every field the nncp-* 8.8.2 binaries decode (their structs' json tags) is
// a key ferry knows.
func TestKeysOfNNCPBinaries(t *testing.T) {
	bin := refbin.NNCP(t, "cfgmin")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	var walk func(s *schema)
	walk = func(s *schema) {
		if s == nil {
			return
		}
		for k, sub := range s.fields {
			known[k] = true
			walk(sub)
		}
		walk(s.elem)
	}
	walk(dirSchema)
	tags := map[string]bool{}
	for _, m := range regexp.MustCompile(`json:"([a-z-]+)[,"]`).FindAllSubmatch(data, -1) {
		tags[string(m[1])] = true
	}
	if len(tags) < 40 {
		t.Fatalf("only %d json tags found in %s", len(tags), bin)
	}
	var missing []string
	for k := range tags {
		if !known[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("nncp-* 8.8.2 decode keys ferry does not know: %v (add them to dirSchema or allowedUnknown)", missing)
	}
}

// The vectors' configs, the configs in testdata and what the real
// nncp-cfgnew writes all load.
func TestEveryShippedConfigLoads(t *testing.T) {
	for _, name := range []string{"sat", "hub", "far"} {
		mustParse(t, sharedConfig(t, name, "/d"))
	}
	vdir := vectors.Dir(t)
	files, _ := filepath.Glob(filepath.Join(vdir, "configs", "*.hjson"))
	if len(files) != 3 {
		t.Errorf("vector configs: %v", files)
	}
	for _, f := range []string{"rich.hjson", "rich.nncp-cfgmin.hjson", "nncp-cfgnew.hjson", "nncp-cfgnew-nocomments.hjson"} {
		mustParse(t, readTestdata(t, f))
	}
	for _, args := range [][]string{nil, {"-nocomments"}} {
		out, err := exec.Command(refbin.NNCP(t, "cfgnew"), args...).Output()
		if err != nil {
			t.Fatal(err)
		}
		mustParse(t, out)
	}
	// nncp-cfgnew -area prints an areas section only.
	out, err := exec.Command(refbin.NNCP(t, "cfgnew"), "-area", "filelists").Output()
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := hjson.Unmarshal(out, &tree); err != nil {
		t.Fatal(err)
	}
	if err := checkKeys(tree, dirSchema, ""); err != nil {
		t.Errorf("nncp-cfgnew -area: %v", err)
	}
}
