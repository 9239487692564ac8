package mailtest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hjson/hjson-go/v4"

	"ferry/internal/testnet"
)

const docsDir = "../../docs"

// fences returns the fenced code blocks of a markdown file with the given
// info string (indented ones too, as in list items, unindented).
func fences(t *testing.T, doc, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(docsDir, doc))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?ms)^( *)```" + regexp.QuoteMeta(lang) + "\n(.*?)^ *```$")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		blk := m[2]
		if ind := m[1]; ind != "" {
			lines := strings.Split(blk, "\n")
			for i, l := range lines {
				lines[i] = strings.TrimPrefix(l, ind)
			}
			blk = strings.Join(lines, "\n")
		}
		out = append(out, blk)
	}
	return out
}

// TestDocsQuoteEximConfigs: docs/exim.md shows each Exim config of
// testdata/exim, which the tests run, verbatim.
func TestDocsQuoteEximConfigs(t *testing.T) {
	blocks := fences(t, "exim.md", "")
	files, _ := filepath.Glob("testdata/exim/*.conf")
	if len(files) == 0 {
		t.Fatal("no testdata/exim/*.conf")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, blk := range blocks {
			found = found || blk == string(b)
		}
		if !found {
			t.Errorf("docs/exim.md does not quote %s verbatim in a ``` block", f)
		}
	}
}

// TestDocsMailSections: every Hjson example in the docs with a "mail:"
// section parses, and ferry loads that section (on a node whose
// neighbours are sat, hub and far).
func TestDocsMailSections(t *testing.T) {
	w := newWorld(t, "here", "sat", "hub", "far")
	sat := w.node("here")
	n := 0
	for _, doc := range []string{"mail.md", "exim.md", "postfix.md", "quickstart.md"} {
		for _, blk := range fences(t, doc, "hjson") {
			if !regexp.MustCompile(`(?m)^mail: \{`).MatchString(blk) {
				continue
			}
			n++
			var top map[string]any
			if err := hjson.Unmarshal([]byte("{\n"+blk+"\n}"), &top); err != nil {
				t.Errorf("%s: example does not parse as Hjson: %v\n%s", doc, err, blk)
				continue
			}
			mail, ok := top["mail"].(map[string]any)
			if !ok {
				t.Errorf("%s: example has no mail object:\n%s", doc, blk)
				continue
			}
			w.setMail(sat, mail)
			w.write()
			if r := w.run(sat, testnet.Ferry, nil, "mailq"); r.Code != 0 {
				t.Errorf("%s: ferry does not load this mail section: %v\n%s", doc, r, blk)
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d mail: examples found in the docs", n)
	}
}
