package logrec

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestFormatEdge runs every hand-made log of testdata/edge through Read and
// Format and compares with what the real nncp-log printed (gen-edge.sh).
func TestFormatEdge(t *testing.T) {
	logs, _ := filepath.Glob("testdata/edge/*.log")
	if len(logs) < 50 {
		t.Fatalf("only %d edge cases found", len(logs))
	}
	for _, path := range logs {
		base := strings.TrimSuffix(path, ".log")
		t.Run(filepath.Base(base), func(t *testing.T) {
			in := mustRead(t, path)
			errFile := string(mustRead(t, base+".err"))
			rc, stderr, _ := strings.Cut(errFile, "\n")
			for _, c := range []struct {
				want string
				opts FormatOptions
			}{{base + ".out", FormatOptions{}}, {base + ".debug.out", FormatOptions{Debug: true}}} {
				got, err := formatAll(t, in, c.opts)
				if want := string(mustRead(t, c.want)); got != want {
					t.Errorf("%s:\n%q\nwant\n%q", filepath.Base(c.want), got, want)
				}
				switch rc {
				case "rc=0":
					if err != nil {
						t.Errorf("reader failed: %v; nncp-log did not", err)
					}
				case "rc=1":
					_, msg, _ := strings.Cut(strings.TrimSpace(stderr), "Can not read log: ")
					var se *SyntaxError
					if !errors.As(err, &se) || se.Err.Error() != msg {
						t.Errorf("reader error %v, nncp-log said %q", err, msg)
					}
				default:
					t.Fatalf("unexpected %s", rc)
				}
			}
		})
	}
}

// TestFormatNNCPLogs: our rendering of logs the real NNCP wrote equals
// nncp-log's, plain and -debug.
func TestFormatNNCPLogs(t *testing.T) {
	for _, name := range []string{"sat", "hub"} {
		in := mustRead(t, "testdata/nncp/"+name+".log")
		for suffix, opts := range map[string]FormatOptions{".out": {}, ".debug.out": {Debug: true}} {
			got, err := formatAll(t, in, opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := string(mustRead(t, "testdata/nncp/"+name+".log"+suffix)); got != want {
				t.Errorf("%s%s:\n%s\nwant\n%s", name, suffix, got, want)
			}
		}
	}
}

// TestRoundTrip: everything the reader accepts re-serializes to records
// that read back equal; NNCP's own logs re-serialize byte for byte.
func TestRoundTrip(t *testing.T) {
	paths, _ := filepath.Glob("testdata/edge/*.log")
	paths = append(paths, "testdata/nncp/sat.log", "testdata/nncp/hub.log")
	for _, path := range paths {
		in := mustRead(t, path)
		recs, _ := readAll(in) // records before an error count too
		var out []byte
		for _, r := range recs {
			var err error
			if out, err = AppendRecord(out, r); err != nil {
				t.Fatalf("%s: %v: %v", path, r, err)
			}
		}
		back, err := readAll(out)
		if err != nil {
			t.Fatalf("%s: re-read: %v\n%q", path, err, out)
		}
		if !reflect.DeepEqual(norm(back), norm(recs)) {
			t.Errorf("%s:\n%q\nread back as\n%q", path, recs, back)
		}
		if strings.HasPrefix(path, "testdata/nncp/") && !bytes.Equal(out, in) {
			t.Errorf("%s: re-serialized bytes differ", path)
		}
	}
}

func norm(rs []Record) []Record {
	if len(rs) == 0 {
		return nil
	}
	return rs
}

func TestReaderDetails(t *testing.T) {
	in := "# head\n%rec: Log\n\nWhen: x\nMsg: a\n+ b\n+\n+  c\n#mid\nFoo Bar:\tv\\\n w\n\n\n\nWhen: y\r\nMsg: z"
	want := []Record{
		{{"%rec", "Log"}},
		{{"When", "x"}, {"Msg", "a\nb\n\n c"}, {"Bar", "v w"}},
		{{"When", "y"}, {"Msg", "z"}},
	}
	got, err := readAll([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if !got[0].IsDescriptor() || got[1].IsDescriptor() {
		t.Errorf("IsDescriptor wrong")
	}
	if v, _ := got[1].Get("Msg"); v != "a\nb\n\n c" {
		t.Errorf("Get = %q", v)
	}
}

func TestReaderErrors(t *testing.T) {
	for in, want := range map[string]*SyntaxError{
		"\nWhen: x\nMsg: m\n  bad\n":            {Line: 4, Err: ErrFieldFormat},
		"\nWhen: x\n\nMsg: m \\":                {Line: 4, Err: ErrLeftContinuation},
		"When: x\n\nWhen: y\n12: z\n":           {Line: 4, Err: ErrFieldFormat},
		"When: x\nMsg: \xc3\xa4\n\xc3\xa4: z\n": {Line: 3, Err: ErrFieldFormat},
	} {
		rd := NewReader(strings.NewReader(in))
		var err error
		for err == nil {
			_, err = rd.Next()
		}
		var se *SyntaxError
		if !errors.As(err, &se) || *se != *want {
			t.Errorf("%q: err %v, want %v", in, err, want)
		}
		if _, again := rd.Next(); again != err {
			t.Errorf("%q: error not sticky", in)
		}
	}
	rd := NewReader(strings.NewReader(""))
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("empty input: %v", err)
	}
}

// matchField must do what the regexp nncp-log's reader behaves like does.
func TestMatchFieldRegexp(t *testing.T) {
	re := regexp.MustCompile(`([a-zA-Z%][a-zA-Z0-9_]*):\s*(.*)`)
	for _, line := range []string{"Msg: x", "Foo Bar: x", " Foo: x", "1abc: x", "Foo-bar: x", "a%b: y",
		"ab%: z", "%%: z", "Foo!: x", "!!Foo: z", "Foo :x", "Foo:: x", "Msg:\t\f\r x ", "x", "",
		"\xc3\x84Foo: z", "Foo\xc3\x84: z", "aaaa bbbb cccc:", "a_1:2:3", "%rec: Log", ": x", "Msg:\v y"} {
		name, value, ok := matchField(line)
		m := re.FindStringSubmatch(line)
		if ok != (m != nil) || (ok && (name != m[1] || value != m[2])) {
			t.Errorf("%q: got (%q, %q, %v), regexp %q", line, name, value, ok, m)
		}
	}
}

func TestMatchFieldLinear(t *testing.T) {
	line := strings.Repeat("a", 1<<20) + " x"
	if _, _, ok := matchField(line); ok {
		t.Fatal("matched")
	}
}
