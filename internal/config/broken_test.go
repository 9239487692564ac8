package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"ferry/internal/node"
)

// Keys of testdata/rich.hjson used to break it.
const (
	bobID      = "Z7KXZCW3UNQI37QASQVLUNYMWCEA32APV7DKLKAGYL4AZOBUOPDQ"
	carolID    = "5H3X3GQVYKPVTEGFKOIJUFFUTIPOLQVIIRA6GC74F2LZR2AUI75A"
	carolExch  = "DF4LFVBDP7D6GFSABOQ65MYFBDJBWZFBKVLOJAOLH4BMRVGH24WQ"
	selfExch   = "TPSKUERRN27LPNDAXAQLT32NHOI2C46CEQRLLZZZA3RIVT2C5ZUA"
	selfSign   = "FPDYNP5ZMYOYNK5VLKWGPCFYJZAJ2QKJ3YB64MSXIP2HHI2AJOFQ"
	selfNoiseP = "II2DYYURJCAMMI4XQEVGT77OXUUWVM4ZDNDIXC6FRLGYZ5QDKMRQ"
)

// mailSection is the end of rich.hjson.
const mailSection = `  mail: {
    domain: example.com
    local-domains: ["example.com"]
    users: {"*": "maildir:/var/mail/%u"}
    routes: {".far.example": "carol"}
    limits: {carol: {maxsize: 10485760}}
  }
}
`

var short31 = node.B32.EncodeToString(make([]byte, 31))

type brokenCase struct {
	name     string
	old, new string // replace the first old by new in rich.hjson
	want     string // the error must contain this
}

func (tc brokenCase) apply(t *testing.T, rich string) []byte {
	t.Helper()
	if !strings.Contains(rich, tc.old) {
		t.Fatalf("%q not in rich.hjson", tc.old)
	}
	return []byte(strings.Replace(rich, tc.old, tc.new, 1))
}

// stricterThanNNCP names the cases nncp-cfgmin 8.8.2 accepts: ferry rejects
// them on purpose (TestInteropStrictness checks this list).
var stricterThanNNCP = map[string]string{
	"id mismatch":        "nncp-* never check id against signpub",
	"self id mismatch":   "nncp-* never check id against signpub",
	"neigh.self differs": "nncp-* never compare neigh.self with self",
	"duplicate id":       "nncp-* keep one of the two neighbours at random",
	"mail not object":    "mail is ferry's section, which nncp-* ignore",
	"typo incoming":      "nncp-* ignore unknown keys",
	"typo rxrate":        "nncp-* ignore unknown keys",
}

var brokenCases = []brokenCase{
	{"bad base32", carolExch, carolExch[:51] + "1", "neigh.carol.exchpub: not Base32"},
	{"lower case base32", carolExch, strings.ToLower(carolExch), "neigh.carol.exchpub: not Base32"},
	{"short key", carolExch, short31, "neigh.carol.exchpub: decodes to 31 bytes, want 32"},
	{"short signpub", "signpub: N7VOCUVKQVJBIOQF7FH6A3JRKF3QDW4MQIFTSWDEL7B3QX4SOJNQ", "signpub: " + short31, "neigh.carol.signpub: decodes to 31 bytes, want 32"},
	{"short signprv", "signprv: 6C6T", "signprv: " + short31 + "\n    # 6C6T", "self.signprv: decodes to 31 bytes, want 64"},
	{"short id", "id: " + carolID, "id: " + short31, "neigh.carol.id: decodes to 31 bytes"},
	{"id mismatch", "id: " + carolID, "id: " + bobID, "neigh.carol.id: does not match signpub (BLAKE2b-256 of signpub is " + carolID},
	{"self id mismatch", "id: RO6FQ", "id: 5H3X3GQVYKPVTEGFKOIJUFFUTIPOLQVIIRA6GC74F2LZR2AUI75A\n    # RO6FQ", "self.id: does not match signpub"},
	{"neigh.self differs", "      exchpub: " + selfExch, "      exchpub: " + carolExch, "neigh.self.exchpub: differs from self.exchpub"},
	{"neigh.self missing", "    self: {\n      id:", "    notself: {\n      id:", "neigh.self: missing"},
	{"self missing noiseprv", "    noiseprv:", "    noiseprv_:", "self.noiseprv_: unknown key (did you mean noiseprv?)"},
	{"missing signpub", "      signpub: N7VO", "      signpub_: N7VO", "neigh.carol.signpub_: unknown key (did you mean signpub?)"},
	{"duplicate id", "    carol: {", "    dave: {\n      id: " + bobID + "\n      exchpub: " + carolExch + "\n      signpub: V7QZKEHJGCSG6Z5XANO2TIQLKEEQC46LGQWDQOOTJMZYV3IF2CEA\n    }\n    carol: {", `neigh.dave.id: ` + bobID + ` is also the id of neighbour "bob"`},
	{"relative spool", "spool: /var/spool/nncp", "spool: var/spool/nncp", `spool: must be an absolute path, got "var/spool/nncp"`},
	{"missing spool", "  spool: /var/spool/nncp\n", "", "spool: missing"},
	{"relative log", "log: /var/spool/nncp/log", "log: log", `log: must be an absolute path or FD:N, got "log"`},
	{"bad log fd", "log: /var/spool/nncp/log", "log: FD:x", `log: want FD:N`},
	{"relative incoming", `incoming: "/home/bob in/incoming"`, "incoming: in", `neigh.bob.incoming: must be an absolute path`},
	{"empty incoming", `incoming: "/home/bob in/incoming"`, `incoming: ""`, `neigh.bob.incoming: must be an absolute path, got ""`},
	{"relative freq path", `path: "/srv/pub"`, `path: "pub"`, `neigh.self.freq.path: must be an absolute path`},
	{"zero chunked", "chunked: 1024", "chunked: 0", "neigh.self.freq.chunked: must be greater than zero"},
	{"negative minsize", "minsize: 2048", "minsize: -1", "neigh.self.freq.minsize: must not be negative"},
	{"unknown via", `via: ["bob"]`, `via: ["bob", "dave"]`, `neigh.carol.via[1]: "dave": unknown node`},
	{"unknown via id", `via: ["bob"]`, `via: ["` + carolExch + `"]`, `neigh.carol.via[0]: "` + carolExch + `": unknown node`},
	{"unknown area sub", `subs: ["bob", "carol"]`, `subs: ["eve"]`, `areas.nodelist.subs[0]: "eve": unknown node`},
	{"area prv without pub", "      pub: ALCX", "      pub_: ALCX", "areas.nodelist.pub_: unknown key (did you mean pub?)"},
	{"area without id", "      id: CKKJ", "      id_: CKKJ", "areas.echoarea.id_: unknown key (did you mean id?)"},
	{"bad umask", `umask: "022"`, `umask: "08"`, `umask: want an octal number such as "022", got "08"`},
	{"umask too big", `umask: "022"`, `umask: "200000"`, `umask: want an octal number`},
	{"umask number", `umask: "022"`, `umask: 22`, `umask: want a string, got a number (22)`},
	{"bad nice", "nice: PRIORITY+10", "nice: PRIORITY+40", "neigh.bob.calls[0].nice: invalid niceness"},
	{"nice number", "nice: PRIORITY+10", "nice: 64", "neigh.bob.calls[0].nice: want a string, got a number (64)"},
	{"bad xx", "xx: tx", "xx: both", `neigh.bob.calls[1].xx: want "rx" or "tx", got "both"`},
	{"bad cron", `cron: "30 * * * SAT,SUN"`, `cron: "61 * * * SAT,SUN"`, `neigh.bob.calls[1].cron: bad cron expression "61 * * * SAT,SUN": syntax error in minute field: '61'`},
	{"bad cron macro", `cron: "30 * * * SAT,SUN"`, `cron: "@every 5m"`, `neigh.bob.calls[1].cron: bad cron expression "@every 5m"`},
	{"call without cron", `cron: "30 * * * SAT,SUN"`, "", "neigh.bob.calls[1].cron: missing"},
	{"call onlinedeadline 0", "onlinedeadline: 3600", "onlinedeadline: 0", "neigh.bob.calls[0].onlinedeadline: 0 is out of range"},
	{"onlinedeadline 0", "onlinedeadline: 1800\n      maxonlinetime: 3600", "onlinedeadline: 0", "neigh.bob.onlinedeadline: 0 is out of range"},
	{"negative maxonlinetime", "maxonlinetime: 3600", "maxonlinetime: -1", "neigh.bob.maxonlinetime: must not be negative"},
	{"string rate", "rxrate: 10\n      txrate", "rxrate: fast\n      txrate", `neigh.bob.rxrate: want a number, got a string ("fast")`},
	{"fractional rate", "rxrate: 10\n      txrate", "rxrate: 1.5\n      txrate", "neigh.bob.rxrate: want a whole number, got 1.5"},
	{"bool as number", "noprogress: true", "noprogress: 1", "noprogress: want true or false, got a number (1)"},
	{"via as string", `via: ["bob"]`, `via: bob`, `neigh.carol.via: want a list of strings, got a string ("bob")`},
	{"exec as string", `cat: ["/bin/cat"]`, `cat: /bin/cat`, `neigh.bob.exec.cat: want a list of strings`},
	{"exec arg number", `cat: ["/bin/cat"]`, `cat: ["/bin/cat", 1]`, `neigh.bob.exec.cat[1]: want a string, got a number (1)`},
	{"neigh as list", "  neigh: {\n    self: {", "  neigh_: {\n    self: {", "neigh_: unknown key (did you mean neigh?)"},
	{"neighbour as number", "    carol: {", "    eve: 1\n    carol: {", "neigh.eve: want an object, got a number (1)"},
	{"calls as object", `via: ["bob"]`, "via: [\"bob\"]\n      calls: {cron: \"@daily\"}", "neigh.carol.calls: want a list of objects, got an object"},
	{"call as string", "        {\n          cron: \"*/1", "        x\n        {\n          cron: \"*/1", "neigh.bob.calls[0]: want an object, got a string"},
	{"mcd-send string", "mcd-send: {em0: 60", `mcd-send: {em0: "x"`, `mcd-send.em0: want a number, got a string ("x")`},
	{"mail not object", mailSection, "  mail: 1\n}\n", "mail: want an object, got a number (1)"},
	{"typo incoming", `incoming: "/home/bob in`, `incomming: "/home/bob in`, "neigh.bob.incomming: unknown key (did you mean incoming?)"},
	{"typo rxrate", "      rxrate: 10\n", "      rxrates: 10\n", "neigh.bob.rxrates: unknown key (did you mean rxrate?)"},
	{"hjson syntax", "      rxrate: 10\n", "      rxrate: 10\n      ]\n", "hjson: "},
}

func TestBrokenConfigs(t *testing.T) {
	rich := string(readTestdata(t, "rich.hjson"))
	for _, tc := range brokenCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.apply(t, rich), "/etc/nncp.hjson")
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "config /etc/nncp.hjson: ") {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Path != "/etc/nncp.hjson" {
				t.Errorf("error %T %+v is not an *Error with the path", err, e)
			}
		})
	}
}

// TestSelfKeyMismatch: a self public key that is not its private key's
// loads (commands that do not use the key need not pay for the check),
// and is reported by the check its user runs.
func TestSelfKeyMismatch(t *testing.T) {
	rich := string(readTestdata(t, "rich.hjson"))
	for _, tc := range []struct {
		name, old, new string
		check          func(*node.Private) error
		want           error
	}{
		{"exch", "exchpub: " + selfExch, "exchpub: " + carolExch, (*node.Private).CheckExchKey, node.ErrBadExchKey},
		{"noise", "noisepub: " + selfNoiseP, "noisepub: " + carolExch, (*node.Private).CheckNoiseKey, node.ErrBadNoiseKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// In self and in neigh.self alike: the public half is
			// consistent, only not the private key's.
			c, err := Parse([]byte(strings.ReplaceAll(rich, tc.old, tc.new)), "/etc/nncp.hjson")
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.check(c.Self); !errors.Is(err, tc.want) {
				t.Errorf("check: %v, want %v", err, tc.want)
			}
			if err := c.Self.Check(); !errors.Is(err, tc.want) {
				t.Errorf("Check: %v, want %v", err, tc.want)
			}
		})
	}
	c, err := Parse([]byte(rich), "/etc/nncp.hjson")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Self.Check(); err != nil {
		t.Errorf("Check of a sound config: %v", err)
	}
}

func TestSyntaxErrorLine(t *testing.T) {
	data := bytes.Replace(readTestdata(t, "rich.hjson"), []byte("      rxrate: 10\n"), []byte("      rxrate: 10\n      ]\n"), 1)
	line := bytes.Count(data[:bytes.Index(data, []byte("      ]\n"))], []byte("\n")) + 1
	_, err := Parse(data, "x.hjson")
	if err == nil || !strings.Contains(err.Error(), "at line "+itoaDec(line)+",") {
		t.Fatalf("err = %v, want line %d", err, line)
	}
}

func TestParseOddInputs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "spool: missing"},
		{"[]", "want an object at the top level, got a list"},
		{"1", "want an object at the top level, got a number"},
		{"{spool: /x\nlog: /y\n}", "neigh.self: missing"},
		{"NNCPB\x00\x00\x04rest", "encrypted config is not supported yet"},
	} {
		_, err := Parse([]byte(tc.in), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "config: ") {
			t.Errorf("Parse(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func itoaDec(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoaDec(n/10) + string(rune('0'+n%10))
}
