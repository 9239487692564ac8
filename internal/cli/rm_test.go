package cli

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// rmLines is what rm said: console lines without their time stamp.
func rmLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if i := strings.IndexByte(l, ' '); i > 0 && strings.HasPrefix(l, "20") {
			out = append(out, l[i+1:])
		}
	}
	return out
}

var whenRe = regexp.MustCompile(`(?m)^When: .*\n`)

// logRecords is the log file without its When lines.
func logRecords(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return whenRe.ReplaceAllString(string(b), "")
}

// TestRmMatchesNNCP runs each form of rm with the real nncp-rm and with
// ferry on identical spools, and compares what each said, logged, left
// behind and returned.
func TestRmMatchesNNCP(t *testing.T) {
	const pkts = "OTM4WHTZ44WBQRCEAUHFNW7225Z5PF74PHZW35S6ODKENJIV5D5Q\n  " + satID +
		"/2SUDIMZ5O2BDRYV3N5T23Z5BCYTDD5ECM25GYEVVW2CJVCQSKVBA \njunk\nNOPE\nV5ZUN74US6ZF5BASCPZPO5USKFLSZG6CO53FB6EVNUEPJJRTU6TA"
	for _, tc := range []struct {
		args  string
		stdin string
	}{
		{"-tmp", ""}, {"-tmp -older 1h", ""}, {"-lock", ""}, {"-lock -older 2d", ""},
		{"-node sat -part", ""}, {"-node sat -nock", ""}, {"-node sat -tx -part", ""},
		{"-node sat -rx -tx -part -nock", ""}, {"-node sat -seen", ""}, {"-node sat -tx -seen", ""},
		{"-node sat -area", ""}, {"-node sat -rx", ""}, {"-node sat -tx", ""}, {"-node sat -rx -tx", ""},
		{"-node sat -rx -hdr", ""}, {"-node sat -hdr", ""}, {"-node sat -tx -hdr", ""}, {"-node sat -rx -tx -hdr", ""}, {"-node sat -seen -part -hdr -tx -area", ""},
		{"-node sat -rx -older 2h", ""}, {"-node sat -rx -older 4h", ""}, {"-node " + satID + " -rx -dryrun", ""},
		{"-node sat -pkt", pkts}, {"-node sat -pkt -dryrun", pkts}, {"-node far -pkt", pkts},
		{"-node sat", ""}, {"-node far -tx", ""},
		// Failures: nothing to do, bad -older, unknown node.
		{"", ""}, {"-rx", ""}, {"-node sat -rx -older 5x", ""}, {"-node sat -rx -older 1.5h", ""},
		{"-tmp -older 10", ""}, {"-node nobody -rx", ""},
	} {
		t.Run(strings.ReplaceAll(tc.args, " ", "_"), func(t *testing.T) {
			t.Parallel()
			args := strings.Fields(tc.args)
			want, wantV := runRmOn(t, runNNCP, tc.stdin, args)
			got, gotV := runRmOn(t, runFerry, tc.stdin, args)
			if got.code != want.code {
				t.Errorf("exit %d, want %d\nferry: %s\nnncp: %s", got.code, want.code, got.stderr, want.stderr)
			}
			if g, w := strings.Join(rmLines(got.stderr), "\n"), strings.Join(rmLines(want.stderr), "\n"); relSpool(g, gotV) != relSpool(w, wantV) {
				t.Errorf("said\n%s\nwant\n%s", relSpool(g, gotV), relSpool(w, wantV))
			}
			if g, w := relSpool(logRecords(t, gotV.log), gotV), relSpool(logRecords(t, wantV.log), wantV); g != w {
				t.Errorf("logged\n%s\nwant\n%s", g, w)
			}
			if g, w := strings.Join(tree(t, gotV.spool), "\n"), strings.Join(tree(t, wantV.spool), "\n"); g != w {
				t.Errorf("left\n%s\nwant\n%s", g, w)
			}
		})
	}
}

type runner func(t *testing.T, stdin []byte, name string, args ...string) runResult

func runRmOn(t *testing.T, run runner, stdin string, args []string) (runResult, *vnode) {
	v := hubSpool(t)
	// hdr/ files for every whole packet, in both queues.
	if r := runFerry(t, nil, "stat", "-cfg", v.cfg); r.code != 0 {
		t.Fatal(r.stderr)
	}
	return run(t, []byte(stdin), "rm", append([]string{"-cfg", v.cfg}, args...)...), v
}

func relSpool(s string, v *vnode) string { return strings.ReplaceAll(s, v.spool, "SPOOL") }

// TestRmAll checks -all: every node, self included. nncp-rm visits nodes
// in random order, so the lines are compared as sets.
func TestRmAll(t *testing.T) {
	for _, args := range [][]string{{"-all", "-tx"}, {"-all", "-rx", "-tx", "-dryrun"}} {
		want, wantV := runRmOn(t, runNNCP, "", args)
		got, gotV := runRmOn(t, runFerry, "", args)
		w, g := rmLines(want.stderr), rmLines(got.stderr)
		sort.Strings(w)
		sort.Strings(g)
		if relSpool(strings.Join(g, "\n"), gotV) != relSpool(strings.Join(w, "\n"), wantV) || got.code != want.code {
			t.Errorf("%v: exit %d (want %d)\n%s\nwant\n%s", args, got.code, want.code, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
		if g, w := strings.Join(tree(t, gotV.spool), "\n"), strings.Join(tree(t, wantV.spool), "\n"); g != w {
			t.Errorf("%v: left\n%s\nwant\n%s", args, g, w)
		}
	}
}

func TestParseOlder(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"": 0, "0s": 0, "10s": 10 * time.Second, "5m": 5 * time.Minute, "12h": 12 * time.Hour, "2d": 48 * time.Hour,
	} {
		if got, err := parseOlder(s); err != nil || got != want {
			t.Errorf("parseOlder(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"5", "5x", "-1h", "1.5h", "h", "1H", " 1h", "99999999999999999999d", "200000000d"} {
		if _, err := parseOlder(s); !errors.Is(err, errOlder) {
			t.Errorf("parseOlder(%q): %v, want errOlder", s, err)
		}
	}
}

// TestRmKeepsDirsAndHdr checks what rm -rx leaves: the queue directory,
// its hdr/ directory (emptied of the removed packets' files) and seen/.
func TestRmKeepsDirsAndHdr(t *testing.T) {
	v := hubSpool(t)
	if r := runFerry(t, nil, "stat", "-cfg", v.cfg); r.code != 0 { // writes hdr/
		t.Fatal(r.stderr)
	}
	os.WriteFile(filepath.Join(v.spool, satID, "rx", "hdr", "stray"), nil, 0o644)
	if r := runFerry(t, nil, "rm", "-cfg", v.cfg, "-node", "sat", "-rx", "-quiet"); r.code != 0 || r.stderr != "" {
		t.Fatalf("rm: %+v", r)
	}
	rx := filepath.Join(v.spool, satID, "rx")
	if got := strings.Join(tree(t, rx), " "); got != "hdr/ hdr/stray seen/ seen/A seen/B" {
		t.Errorf("rx/ holds %q", got)
	}
}
