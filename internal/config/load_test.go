package config

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hjson/hjson-go/v4"

	"ferry/internal/node"
	"ferry/internal/testnet/refbin"
	"ferry/internal/testnet/vectors"
)

// sharedConfig returns the text of a vector config with /TESTDATA replaced
// by dir.
func sharedConfig(t *testing.T, name, dir string) []byte {
	t.Helper()
	return bytes.ReplaceAll(vectors.Read(t, "configs/"+name+".hjson"), []byte("/TESTDATA"), []byte(dir))
}

func mustParse(t testing.TB, data []byte) *Config {
	t.Helper()
	c, err := Parse(data, "test.hjson")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVectorConfigs(t *testing.T) {
	ids := map[string]string{}
	for _, name := range []string{"sat", "hub", "far"} {
		ids[name] = vectors.Node(t, name).ID.String()
	}
	for _, name := range []string{"sat", "hub", "far"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name+".hjson")
			if err := os.WriteFile(path, sharedConfig(t, name, dir), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			want := vectors.Node(t, name)
			if !reflect.DeepEqual(c.Self, want) {
				t.Errorf("self = %+v, want %+v", c.Self, want)
			}
			if c.Path != path || c.Spool != dir+"/"+name+"/spool" || c.Log != dir+"/"+name+"/log" {
				t.Errorf("path %q spool %q log %q", c.Path, c.Spool, c.Log)
			}
			if c.Self.ID.String() != ids[name] || c.Neigh["self"].ID != c.Self.ID {
				t.Errorf("self id %s, neigh.self id %s, want %s", c.Self.ID, c.Neigh["self"].ID, ids[name])
			}
			if len(c.Neigh) != 3 || len(c.ByID) != 3 {
				t.Fatalf("%d neighbours, %d ids", len(c.Neigh), len(c.ByID))
			}
			if got := c.Neigh["self"].Exec["sendmail"]; !reflect.DeepEqual(got, []string{"/usr/sbin/sendmail"}) {
				t.Errorf("self exec sendmail = %q", got)
			}
			for other, id := range ids {
				if other == name {
					continue
				}
				n, err := c.Node(other)
				if err != nil {
					t.Fatal(err)
				}
				if n.ID.String() != id || n.Name != other || c.ByID[n.ID] != n || c.Name(n.ID) != other {
					t.Errorf("%s: id %s name %q, want %s", other, n.ID, n.Name, id)
				}
				if byID, err := c.Node(id); err != nil || byID != n {
					t.Errorf("Node(%s) = %v, %v", id, byID, err)
				}
				wantExec := map[string][]string{
					"rsmtp": {"/bin/sh", "-c", "cat >> " + dir + "/" + name + "/rsmtp.out"},
					"sink":  {"/bin/sh", "-c", "cat >/dev/null"},
					"cat":   {"/bin/sh", "-c", "cat >> " + dir + "/" + name + "/exec.out"},
				}
				if !reflect.DeepEqual(n.Exec, wantExec) {
					t.Errorf("%s exec = %q", other, n.Exec)
				}
				if n.Incoming != dir+"/"+name+"/incoming" || n.Freq == nil || n.Freq.Path != dir+"/"+name+"/pub" {
					t.Errorf("%s incoming %q freq %+v", other, n.Incoming, n.Freq)
				}
				if n.NoisePub == nil || n.OnlineDeadline != DefaultOnlineDeadline {
					t.Errorf("%s: noisepub %v onlinedeadline %d", other, n.NoisePub, n.OnlineDeadline)
				}
				// sat and far reach each other through hub; hub sees both directly.
				relayed := name != "hub" && other != "hub"
				switch {
				case relayed && !reflect.DeepEqual(n.Via, []node.ID{c.Neigh["hub"].ID}):
					t.Errorf("%s via = %v, want hub", other, n.Via)
				case relayed && n.Addrs != nil:
					t.Errorf("%s addrs = %v, want none", other, n.Addrs)
				case !relayed && (n.Via != nil || len(n.Addrs) != 1 || !strings.HasPrefix(n.Addrs["lo"], "127.0.0.1:")):
					t.Errorf("%s via %v addrs %v", other, n.Via, n.Addrs)
				}
			}
			if _, err := c.Node("nobody"); !errors.Is(err, ErrUnknownNode) {
				t.Errorf("Node(nobody) = %v, want ErrUnknownNode", err)
			}
			var stranger node.ID
			stranger[0] = 1
			if got := c.Name(stranger); got != stranger.String() {
				t.Errorf("Name(stranger) = %q", got)
			}
		})
	}
}

func TestRichConfig(t *testing.T) {
	c := mustParse(t, readTestdata(t, "rich.hjson"))
	if c.Umask == nil || *c.Umask != 0o22 || !c.NoProgress || !c.NoHdr {
		t.Errorf("umask %v noprogress %v nohdr %v", c.Umask, c.NoProgress, c.NoHdr)
	}
	if !reflect.DeepEqual(c.MCDListen, []string{"em0", "igb_.*"}) ||
		!reflect.DeepEqual(c.MCDSend, map[string]int{"em0": 60, "igb_.*": 5}) {
		t.Errorf("mcd %v %v", c.MCDListen, c.MCDSend)
	}
	if c.YggdrasilAliases["default-endpoints"] != "tcp://[::1]:2345,alice-endpoint" {
		t.Errorf("yggdrasil-aliases %v", c.YggdrasilAliases)
	}
	wantNotify := &Notify{
		File: &FromTo{"nncp@localhost", "user+file@example.com"},
		Freq: &FromTo{"nncp@localhost", "user+freq@example.com"},
		Exec: map[string]*FromTo{
			"bob.rsmtp": {"nncp+bob@localhost", "postmaster@example.com"},
			"*.cat":     {"nncp@localhost", "user+cat@example.com"},
		},
	}
	if !reflect.DeepEqual(c.Notify, wantNotify) {
		t.Errorf("notify %+v", c.Notify)
	}
	self := c.Neigh["self"]
	if self.Incoming != "/var/spool/nncp/incoming" || !reflect.DeepEqual(self.Freq, &Freq{Path: "/srv/pub", Chunked: 1024, MinSize: 2048, MaxSize: 4096}) {
		t.Errorf("self incoming %q freq %+v", self.Incoming, self.Freq)
	}
	bob := c.Neigh["bob"]
	if bob.RxRate != 10 || bob.TxRate != 20 || bob.OnlineDeadline != 1800 || bob.MaxOnlineTime != 3600 ||
		bob.Incoming != "/home/bob in/incoming" || bob.Addrs["lan"] != "[fe80::1%eth0]:5400" ||
		bob.Addrs["proxied"] != "|ssh bob.example.com nncp-daemon -ucspi" || bob.Freq != nil {
		t.Errorf("bob = %+v", bob)
	}
	wantCalls := []Call{
		{Cron: "*/1 * * * MON-FRI", OnlineDeadline: 3600, Nice: node.NicePriority + 10, AutoToss: true, AutoTossDoSeen: true},
		{Cron: "30 * * * SAT,SUN", OnlineDeadline: 1800, MaxOnlineTime: 1750, Nice: node.NiceNormal, RxRate: 10, TxRate: 20, Xx: "tx"},
		{Cron: "*/5 * * * * * *", Xx: "rx", Addr: "lan", WhenTxExists: true, NoCK: true, MCDIgnore: true,
			AutoToss: true, AutoTossNoFile: true, AutoTossNoFreq: true, AutoTossNoExec: true,
			AutoTossNoTrns: true, AutoTossNoArea: true, AutoTossNoACK: true},
	}
	if !reflect.DeepEqual(bob.Calls, wantCalls) {
		t.Errorf("calls =\n%+v\nwant\n%+v", bob.Calls, wantCalls)
	}
	carol := c.Neigh["carol"]
	if !reflect.DeepEqual(carol.Via, []node.ID{bob.ID}) || carol.NoisePub != nil || carol.OnlineDeadline != 10 {
		t.Errorf("carol = %+v", carol)
	}
	nl, echo := c.Areas["nodelist"], c.Areas["echoarea"]
	if nl == nil || echo == nil || nl.Pub == nil || nl.Prv == nil || echo.Pub != nil ||
		!reflect.DeepEqual(nl.Subs, []string{"bob", "carol"}) || !echo.AllowUnknown ||
		echo.Exec["sendmail"][0] != "/usr/sbin/sendmail" || nl.ID.String() != "OU67K7NA3RPOPFKJWNVBYJ5GPLRBDGHH6DZSSJ32JL7Q3Q76E52A" {
		t.Errorf("areas %+v %+v", nl, echo)
	}
	if c.Mail == nil || c.Mail.Raw["domain"] != "example.com" || c.Mail.Limits["carol"].MaxSize != 10485760 {
		t.Errorf("mail = %+v", c.Mail)
	}
}

// A config without self (what nncp-cfgmin prints) loads with Self == nil.
func TestMinConfigLoads(t *testing.T) {
	c := mustParse(t, readTestdata(t, "rich.nncp-cfgmin.hjson"))
	if c.Self != nil || len(c.Neigh) != 3 || c.Neigh["carol"].Via != nil {
		t.Errorf("self %v, %d neighbours", c.Self, len(c.Neigh))
	}
}

// A misspelt key, at any level, is an error naming the file, the field and
// the nearest known key (nncp-* ignore unknown keys; TestInteropStrictness).
func TestUnknownKeys(t *testing.T) {
	rich := string(readTestdata(t, "rich.hjson"))
	for _, tc := range []struct{ old, new, want string }{
		{"  umask:", "  umsak:", "umsak: unknown key (did you mean umask?)"},
		{"  umask:", "  bogus: {x: 1}\n  umask:", "bogus: unknown key (known keys here: areas, log, mail, "},
		{"  umask:", "  incoming: /x\n  umask:", "incoming: unknown key here (incoming is a key of areas.NAME, neigh.NAME)"},
		{"          autotoss-doseen:", "          via: []\n          autotoss-doseen:", "neigh.bob.calls[0].via: unknown key here (via is a key of neigh.NAME)"},
		{`incoming: "/home/bob in`, `incomming: "/home/bob in`, "neigh.bob.incomming: unknown key (did you mean incoming?)"},
		{"      rxrate: 10\n", "      rxrate: 10\n      whatever: [1, 2]\n", "neigh.bob.whatever: unknown key"},
		{"          autotoss-doseen:", "          autotoss-doseeen:", "neigh.bob.calls[0].autotoss-doseeen: unknown key (did you mean autotoss-doseen?)"},
		{"chunked: 1024", "chunkd: 1024", "neigh.self.freq.chunkd: unknown key (did you mean chunked?)"},
		{"    noiseprv:", "    noiseprv: x\n    nosieprv:", "self.nosieprv: unknown key (did you mean noiseprv?)"},
		{"      from: nncp@localhost", "      form: nncp@localhost", "notify.file.form: unknown key (did you mean from?)"},
		{`*.cat: {from:`, `*.cat: {frm:`, "notify.exec.*.cat.frm: unknown key (did you mean from?)"},
		{"  notify: {", "  notify: {\n    files: {}", "notify.files: unknown key (did you mean file?)"},
		{"      allow-unknown:", "      allow-unknow:", "areas.echoarea.allow-unknow: unknown key (did you mean allow-unknown?)"},
		{"    routes:", "    rotues:", "mail.rotues: unknown key (did you mean routes?)"},
		{"{maxsize: 10485760}", "{max-size: 10485760}", "mail.limits.carol.max-size: unknown key (did you mean maxsize?)"},
		{"    domain:", "    relay: {addr: \"x\", passwd: \"y\"}\n    domain:", "mail.relay.passwd: unknown key (did you mean password?)"},
		{"    domain:", "    smtpd: {maxconn: 3}\n    domain:", "mail.smtpd.maxconn: unknown key (did you mean max-conn?)"},
		{"    domain:", "    retry: {give-up: \"5d\"}\n    domain:", "mail.retry.give-up: unknown key (did you mean giveup?)"},
		{"    domain:", "    domian: null\n    domain:", "mail.domian: unknown key (did you mean domain?)"},
	} {
		t.Run(tc.new, func(t *testing.T) {
			if !strings.Contains(rich, tc.old) {
				t.Fatalf("%q not in rich.hjson", tc.old)
			}
			_, err := Parse([]byte(strings.Replace(rich, tc.old, tc.new, 1)), "/etc/nncp/x.hjson")
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), "config /etc/nncp/x.hjson: "+tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// The directory layout is checked as the file is: the error names the
// field the misspelt file stands for.
func TestUnknownKeysDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg")
	cmd := exec.Command(refbin.NNCP(t, "cfgdir"), "-cfg", filepath.Join("testdata", "rich.hjson"), "-dump", dir)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nncp-cfgdir: %v: %s", err, out)
	}
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "neigh", "bob", "incomming"), []byte("/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "config "+dir+": neigh.bob.incomming: unknown key (did you mean incoming?)") {
		t.Fatalf("err = %v", err)
	}
}

// A key on the allowed list loads and is ignored.
func TestUnknownKeysAllowed(t *testing.T) {
	neigh := dirSchema.fields["neigh"].elem
	allowedUnknown[neigh] = map[string]bool{"newer-key": true}
	defer delete(allowedUnknown, neigh)
	data := strings.Replace(string(readTestdata(t, "rich.hjson")), "      rxrate: 10\n", "      rxrate: 10\n      newer-key: {x: 1}\n", 1)
	mustParse(t, []byte(data))
	data = strings.Replace(data, "  umask:", "  newer-key: 1\n  umask:", 1)
	if _, err := Parse([]byte(data), ""); err == nil || !strings.Contains(err.Error(), "newer-key: unknown key") {
		t.Fatalf("allowed in neigh.NAME, not at the top: err = %v", err)
	}
}

func TestNearest(t *testing.T) {
	known := []string{"incoming", "exec", "exec-maxsize", "freq", "via", "id"}
	for k, want := range map[string]string{
		"incomming": "incoming", "Incoming": "incoming", "icnoming": "incoming", "exce": "exec",
		"vai": "via", "ix": "id", "fre": "freq", "exec-maxsze": "exec-maxsize", "zzz": "", "routes": "",
	} {
		if got := nearest(k, known); got != want {
			t.Errorf("nearest(%q) = %q, want %q", k, got, want)
		}
	}
}

func TestEncrypted(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "encrypted.eblob"))
	if !errors.Is(err, ErrEncrypted) || !strings.Contains(err.Error(), "encrypted.eblob") {
		t.Fatalf("err = %v, want ErrEncrypted naming the file", err)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.hjson"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

// writeTree creates files from a map of relative path -> content.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadDir(t *testing.T) {
	want := mustParse(t, readTestdata(t, "rich.hjson"))
	dir := t.TempDir()
	files := map[string]string{
		"spool": "/var/spool/nncp\n", "log": "/var/spool/nncp/log\n", "umask": "022\n",
		"noprogress": "", "nohdr": "", "mcd-listen": "em0\nigb_.*\n",
		"mcd-send/em0": "60\n", "mcd-send/igb_.*": "5\n",
		"yggdrasil-aliases/myprv": "60bb27aa\n", "yggdrasil-aliases/default-endpoints": "tcp://[::1]:2345,alice-endpoint\n",
		"notify/file/from": "nncp@localhost\n", "notify/file/to": "user+file@example.com\n",
		"notify/freq/from": "nncp@localhost\n", "notify/freq/to": "user+freq@example.com\n",
		"notify/exec/bob.rsmtp/from": "nncp+bob@localhost\n", "notify/exec/bob.rsmtp/to": "postmaster@example.com\n",
		"notify/exec/*.cat/from": "nncp@localhost\n", "notify/exec/*.cat/to": "user+cat@example.com\n",
		"neigh/.git/junk": "skipped: names starting with a dot are ignored",
		"mail/domain":     "example.com",
	}
	add := func(prefix string, o *obj, keys ...string) {
		for _, k := range keys {
			if s, ok, _ := o.str(k); ok {
				files[prefix+k] = s + "\n"
			}
		}
	}
	var root any
	if err := hjson.Unmarshal(readTestdata(t, "rich.hjson"), &root); err != nil {
		t.Fatal(err)
	}
	r := obj{m: root.(map[string]any)}
	self, _, _ := r.sub("self")
	add("self/", &self, "id", "exchpub", "exchprv", "signpub", "signprv", "noisepub", "noiseprv")
	for _, name := range want.Names() {
		n := want.Neigh[name]
		p := "neigh/" + name + "/"
		files[p+"id"] = n.ID.String()
		files[p+"exchpub"] = b32(n.ExchPub[:])
		files[p+"signpub"] = b32(n.SignPub)
		if n.NoisePub != nil {
			files[p+"noisepub"] = b32(n.NoisePub[:])
		}
		for h, argv := range n.Exec {
			files[p+"exec/"+h] = strings.Join(argv, "\n") + "\n"
		}
	}
	files["neigh/self/incoming"] = "/var/spool/nncp/incoming"
	files["neigh/self/freq/path"] = "/srv/pub"
	files["neigh/self/freq/chunked"] = "1024"
	files["neigh/self/freq/minsize"] = "2048"
	files["neigh/self/freq/maxsize"] = "4096\n"
	files["neigh/bob/incoming"] = "/home/bob in/incoming\n"
	files["neigh/bob/addrs/lan"] = "[fe80::1%eth0]:5400\n"
	files["neigh/bob/addrs/internet"] = "bob.example.com:5400\n"
	files["neigh/bob/addrs/proxied"] = "|ssh bob.example.com nncp-daemon -ucspi\n"
	files["neigh/bob/rxrate"] = "10\n"
	files["neigh/bob/txrate"] = "20\n"
	files["neigh/bob/onlinedeadline"] = "1800\n"
	files["neigh/bob/maxonlinetime"] = "3600\n"
	call := func(i string, kv map[string]string) {
		for k, v := range kv {
			files["neigh/bob/calls/"+i+"/"+k] = v
		}
	}
	call("0", map[string]string{"cron": "*/1 * * * MON-FRI\n", "onlinedeadline": "3600", "nice": "PRIORITY+10",
		"autotoss": "", "autotoss-doseen": ""})
	call("1", map[string]string{"cron": "30 * * * SAT,SUN", "onlinedeadline": "1800", "maxonlinetime": "1750",
		"nice": "NORMAL", "rxrate": "10", "txrate": "20", "xx": "tx"})
	call("2", map[string]string{"cron": "*/5 * * * * * *", "xx": "rx", "addr": "lan", "when-tx-exists": "",
		"nock": "", "mcd-ignore": "", "autotoss": "", "autotoss-nofile": "", "autotoss-nofreq": "",
		"autotoss-noexec": "", "autotoss-notrns": "", "autotoss-noarea": "", "autotoss-noack": ""})
	files["neigh/carol/via"] = "bob\n"
	files["areas/nodelist/id"] = "OU67K7NA3RPOPFKJWNVBYJ5GPLRBDGHH6DZSSJ32JL7Q3Q76E52A\n"
	files["areas/nodelist/pub"] = "ALCX2NJBANMBNFTQ27C3C6W2WJIXSE74R27TSYZQKMD2UJERCEOQ\n"
	files["areas/nodelist/prv"] = "VQ3B4TLAZZB2G7RS3OSS5NUVKAS44OGY5YMQPMTAHQMZZLNG25MA\n"
	files["areas/nodelist/subs"] = "bob\ncarol\n"
	files["areas/nodelist/incoming"] = "/var/spool/nncp/areas/nodelist\n"
	files["areas/echoarea/id"] = "CKKJ3HOAVOP7VPNCEGZRNDO34MUOOJ4AXHDFCSVSOE647KN5CMIA\n"
	files["areas/echoarea/exec/sendmail"] = "/usr/sbin/sendmail\n"
	files["areas/echoarea/allow-unknown"] = ""
	writeTree(t, dir, files)

	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Path != dir {
		t.Errorf("path %q", got.Path)
	}
	got.Path, want.Path = "", ""
	if got.Mail == nil || !reflect.DeepEqual(got.Mail.Raw, map[string]any{"domain": "example.com"}) || got.Mail.Domain != "example.com" {
		t.Fatalf("mail section %+v", got.Mail)
	}
	want.Mail = got.Mail
	if !bytes.Equal(Marshal(got), Marshal(want)) {
		t.Errorf("directory loads as\n%s\nwant\n%s", Marshal(got), Marshal(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("directory and file load differently")
	}

	// Errors name the directory and the field.
	writeTree(t, dir, map[string]string{"neigh/bob/rxrate": "fast\n"})
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), dir+": neigh.bob.rxrate: want a number") {
		t.Errorf("err = %v", err)
	}
}
