package config

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hjson/hjson-go/v4"

	"ferry/internal/node"
)

// cfgnewDiffs turns real nncp-cfgnew output into what ferry writes: MCD
// commented out with the reason, and two typos fixed.
var cfgnewDiffs = strings.NewReplacer(
	`  # MultiCast Discovery:
  # List of interface regular expressions where to listen for MCD announcements
  mcd-listen: [".*"]
  # Interfaces regular expressions and intervals (in seconds) where to send
  # MCD announcements
  mcd-send: {.*: 10}
`, `  # MultiCast Discovery (MCD) is off. Once enabled, nncp-daemon announces
  # this node on every matching network interface, and nncp-caller calls
  # whichever neighbour announces itself nearby. Enable it only on networks
  # you trust, and name the interfaces rather than ".*".
  # List of interface regular expressions where to listen for MCD announcements
  # mcd-listen: [".*"]
  # Interfaces regular expressions and intervals (in seconds) where to send
  # MCD announcements
  # mcd-send: {.*: 10}
`,
	"minumal", "minimal",
	"Any neighboor's", "Any neighbour's",
)

func TestNewTextMatchesNNCP(t *testing.T) {
	for _, tc := range []struct {
		file string
		opts NewOptions
	}{
		{"nncp-cfgnew-nocomments.hjson", NewOptions{NoComments: true}},
		{"nncp-cfgnew.hjson", NewOptions{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			real := readTestdata(t, tc.file)
			c := mustParse(t, real)
			want := cfgnewDiffs.Replace(string(real))
			if !tc.opts.NoComments && want == string(real) {
				t.Fatal("the MCD block of nncp-cfgnew's output was not found")
			}
			got := NewText(c.Self, tc.opts)
			if string(got) != want {
				t.Errorf("NewText =\n%s\nwant\n%s", got, want)
			}
			if !tc.opts.NoComments && c.MCDListen == nil {
				t.Error("real nncp-cfgnew output should enable MCD (test data changed?)")
			}
		})
	}
}

func TestNewTextLoads(t *testing.T) {
	p, err := node.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []NewOptions{{}, {NoComments: true}, {Spool: "/srv/nncp spool", Log: "/srv/nncp spool/log"}, {Log: "FD:3"}} {
		c := mustParse(t, NewText(p, o))
		if !reflect.DeepEqual(c.Self, p) {
			t.Errorf("%+v: self = %+v, want %+v", o, c.Self, p)
		}
		wantSpool, wantLog := o.Spool, o.Log
		if wantSpool == "" {
			wantSpool = DefaultSpool
		}
		if wantLog == "" {
			wantLog = DefaultLog
		}
		if c.Spool != wantSpool || c.Log != wantLog {
			t.Errorf("%+v: spool %q log %q", o, c.Spool, c.Log)
		}
		if c.MCDListen != nil || c.MCDSend != nil {
			t.Errorf("%+v: multicast discovery is on: %v %v", o, c.MCDListen, c.MCDSend)
		}
		if got := c.Neigh["self"].Exec["sendmail"]; len(got) != 1 || got[0] != "/usr/sbin/sendmail" {
			t.Errorf("%+v: neigh.self.exec = %v", o, c.Neigh["self"].Exec)
		}
	}
}

func TestMinTextMatchesNNCP(t *testing.T) {
	c := mustParse(t, readTestdata(t, "rich.hjson"))
	want := string(readTestdata(t, "rich.nncp-cfgmin.hjson")) + "\n"
	if got := string(MinText(c)); got != want {
		t.Errorf("MinText =\n%s\nwant\n%s", got, want)
	}
	m := mustParse(t, MinText(c))
	if m.Self != nil || len(m.Neigh) != len(c.Neigh) || m.Neigh["bob"].Exec != nil {
		t.Errorf("MinText reloads as %+v", m)
	}
}

// roundTrip checks that Marshal(c) parses back to c and marshals to the same
// bytes, and returns the text.
func roundTrip(t testing.TB, c *Config) []byte {
	t.Helper()
	text := Marshal(c)
	back, err := Parse(text, "marshalled")
	if err != nil {
		t.Fatalf("Marshal output does not parse: %v\n%s", err, text)
	}
	if again := Marshal(back); !bytes.Equal(again, text) {
		t.Fatalf("Marshal is not stable:\n%s\nthen\n%s", text, again)
	}
	back.Path = c.Path
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("Marshal then Parse differs from the original:\n%s", text)
	}
	return text
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, f := range []string{"rich.hjson", "rich.nncp-cfgmin.hjson", "nncp-cfgnew.hjson", "nncp-cfgnew-nocomments.hjson"} {
		t.Run(f, func(t *testing.T) {
			roundTrip(t, mustParse(t, readTestdata(t, f)))
		})
	}
}

// A config built in code needs only Self: Marshal adds neigh.self.
func TestMarshalBuiltInCode(t *testing.T) {
	self, _ := node.Generate()
	alice, _ := node.Generate()
	bob, _ := node.Generate()
	umask := os.FileMode(0o7)
	c := &Config{
		Spool: "/s", Log: "/s/log", Umask: &umask, Self: self,
		Neigh: map[string]*Neighbour{
			"alice": {Public: alice.Public, Via: []node.ID{bob.ID}, Calls: []Call{{Cron: "@hourly", Nice: 1}}},
			"bob":   {Public: bob.Public, Exec: map[string][]string{"x": nil}, OnlineDeadline: 5},
		},
		Mail: &Mail{},
	}
	text := Marshal(c)
	back, err := Parse(text, "")
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if back.Neigh["self"] == nil || back.Neigh["self"].ID != self.ID || !reflect.DeepEqual(back.Self, self) {
		t.Error("neigh.self not written from Self")
	}
	if a := back.Neigh["alice"]; a.OnlineDeadline != 10 || a.Via[0] != bob.ID || a.Calls[0].Nice != 1 {
		t.Errorf("alice = %+v", a)
	}
	if b := back.Neigh["bob"]; b.OnlineDeadline != 5 || b.Exec["x"] != nil {
		t.Errorf("bob = %+v", b)
	}
	if *back.Umask != 0o7 || back.Mail == nil || len(back.Mail.Raw) != 0 {
		t.Errorf("umask %v mail %v", back.Umask, back.Mail)
	}
	if !strings.Contains(string(text), `via: ["bob"]`) {
		t.Errorf("via not written by name:\n%s", text)
	}
	roundTrip(t, back)
}

// Strings that need quoting (or not) survive Marshal, as values and keys.
func TestMarshalQuoting(t *testing.T) {
	tricky := []string{
		"", " ", "a b", " lead", "trail ", "#x", "x#y", "//x", "/x//y", "/*x", "x,y", "{", "}x", "[", "x]",
		":x", "x:y", `"x"`, "'x'", "'''", `back\slash`, "true", "false", "null", "true,", "nullx",
		"10", "-1", "1e5", "2E5", "0x10", "022", "1.", ".5", "-", "5JW27WTD2N3G", "line\nbreak",
		"tab\there", "\x00\x01\x7f", "ünïcödé", "\u2028", "\ufeff", "日本", "a=b", "|cmd arg", "%u",
		"x # y", "a, b", "5,abc", "5 ,", "true x", "true #", "null//", "10 20", "1 #", "e", "-x", `x\y`, "a}b",
		"a ]", "0", "00", "-0.5e+3", "1e", "x\u00ady", "é#", "\u0600",
	}
	raw := map[string]any{}
	for i, s := range tricky {
		raw["k"+itoa(i)] = s
		if s != "" {
			raw[s] = float64(i)
		}
	}
	raw["list"] = []any{"a b", "#", "", "true", float64(1.5), true, nil, map[string]any{"x": "y"}, []any{}}
	raw["big"] = 1e21
	self, _ := node.Generate()
	c := &Config{Spool: "/tmp/a b#c//d", Log: "FD:2", Self: self, Mail: &Mail{Raw: raw}}
	c.Neigh = map[string]*Neighbour{"self": {Public: self.Public}}
	for i, s := range tricky {
		p, _ := node.Generate()
		if s == "" {
			continue
		}
		c.Neigh[s] = &Neighbour{Public: p.Public, Incoming: "/" + s, Addrs: map[string]string{s: s}}
		if i%2 == 0 {
			c.Neigh[s].Exec = map[string][]string{s: {s, ""}}
		}
	}
	text := Marshal(c)
	// The mail section's keys are checked, and these are not mail keys:
	// its tree is compared as hjson-go reads it, the rest through Parse.
	var tree map[string]any
	if err := hjson.Unmarshal(text, &tree); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if !reflect.DeepEqual(tree["mail"], raw) {
		for k, v := range tree["mail"].(map[string]any) {
			if !reflect.DeepEqual(v, raw[k]) {
				t.Errorf("mail %q: got %#v, want %#v", k, v, raw[k])
			}
		}
		t.Fatalf("mail section differs:\n%s", text)
	}
	delete(tree, "mail")
	back, err := fromTree(tree, "")
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	// Fill in what Parse adds, then compare.
	c.ByID = back.ByID
	c.Mail = nil
	for name, n := range c.Neigh {
		n.Name = name
		n.OnlineDeadline = DefaultOnlineDeadline
		n.ExecMaxSize = DefaultExecMaxSize
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip differs:\n%s", text)
	}
}

func itoa(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }
