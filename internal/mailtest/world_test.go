package mailtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/internal/config"
	"ferry/internal/testnet"
	"ferry/internal/testnet/refbin"
)

// world is a test network plus what the mail tests need around it: the
// user every process runs as, a bin directory with the nncp-exec,
// sendmail and rmail names linked to ferry, Exim configs.
type world struct {
	t     *testing.T
	net   *testnet.Net
	ferry string // the ferry binary
	bin   string // nncp-exec, sendmail, rmail -> ferry
	as    *runUser
}

// runUser is who the test's processes run as: nil cred means "as the
// test itself" (a developer's own account).
type runUser struct {
	name, group string
	uid, gid    uint32
	switched    bool // the test runs as root and its processes as name
}

var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)

// whoRuns picks the account the processes run as. As root: nncp (the
// Debian package's user, what the recipes say) or else nobody; the
// processes are then started with that uid, and Exim, run by a non-root
// user with -C, takes a config that user owns. Otherwise the test's own
// account.
func whoRuns(t *testing.T) *runUser {
	t.Helper()
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		g, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
		if err != nil {
			t.Fatal(err)
		}
		if !nameRE.MatchString(u.Username) || !nameRE.MatchString(g.Name) {
			refbin.Skip(t, "user %q/group %q cannot be written into an Exim config", u.Username, g.Name)
		}
		return &runUser{name: u.Username, group: g.Name, uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}
	}
	for _, name := range []string{"nncp", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if uid == 0 {
			continue
		}
		return &runUser{name: u.Username, group: g.Name, uid: uint32(uid), gid: uint32(gid), switched: true}
	}
	t.Fatal("running as root and there is neither an nncp nor a nobody user to run Exim and ferry as")
	return nil
}

// newWorld makes a network of the named nodes. Every node gets a mail
// folder (DIR/mail) and an Exim spool (DIR/exim/spool).
func newWorld(t *testing.T, names ...string) *world {
	t.Helper()
	w := &world{t: t, net: testnet.New(t, names...), as: whoRuns(t)}
	w.ferry = testnet.FerryBin(t)
	if w.as.switched {
		// testnet builds ferry in a 0700 temp directory.
		openPath(t, filepath.Dir(w.ferry))
		openPath(t, w.net.Dir)
	}
	w.bin = filepath.Join(w.net.Dir, "bin")
	mkdir(t, w.bin)
	for _, name := range []string{"nncp-exec", "sendmail", "rmail"} {
		if err := os.Symlink(w.ferry, filepath.Join(w.bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, nd := range w.net.Nodes {
		mkdir(t, filepath.Join(nd.Dir, "mail"))
		mkdir(t, filepath.Join(nd.Dir, "exim", "spool"))
	}
	w.write()
	return w
}

// openPath makes dir and its parents searchable by others: t.TempDir
// and os.MkdirTemp make 0700 directories. Only directories under the
// temporary directory are changed; one elsewhere that the run user cannot
// search fails the test.
func openPath(t *testing.T, dir string) {
	t.Helper()
	tmp, err := filepath.EvalSymlinks(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir, err = filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 != 0 {
			continue
		}
		if d == tmp || !strings.HasPrefix(d, tmp+"/") {
			t.Fatalf("%s is not searchable by others: the unprivileged user the tests run Exim and ferry as cannot reach %s", d, dir)
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
			t.Fatal(err)
		}
	}
}

func mkdir(t *testing.T, d string) {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
}

func (w *world) node(name string) *testnet.Node { return w.net.Nodes[name] }

// write rewrites every config and hands the whole tree to the run user.
func (w *world) write() {
	w.t.Helper()
	w.net.Write(w.t)
	w.own(w.net.Dir)
}

// own gives path (recursively) to the run user when the test is root.
func (w *world) own(path string) {
	w.t.Helper()
	if !w.as.switched {
		return
	}
	err := filepath.Walk(path, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(w.as.uid), int(w.as.gid))
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// writeFile writes a file owned by the run user.
func (w *world) writeFile(path string, data []byte) {
	w.t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		w.t.Fatal(err)
	}
	w.own(path)
}

// setMail sets a node's mail section (as the Hjson would have it).
func (w *world) setMail(nd *testnet.Node, raw map[string]any) {
	nd.Cfg.Mail = &config.Mail{Raw: raw}
}

// result is a finished process.
type result struct {
	Stdout, Stderr string
	Code           int
	argv           []string
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.argv, " "), r.Code, r.Stdout, r.Stderr)
}

// raceEnv stops a ferry built with -race from sleeping a second when it
// exits (GORACE's atexit_sleep_ms defaults to 1000): the tests start
// hundreds of them.
func raceEnv() string {
	if g := os.Getenv("GORACE"); g != "" {
		return "GORACE=" + g + " atexit_sleep_ms=0"
	}
	return "GORACE=atexit_sleep_ms=0"
}

// prep makes cmd run as the run user.
func (w *world) prep(cmd *exec.Cmd) *exec.Cmd {
	if w.as.switched {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: w.as.uid, Gid: w.as.gid}}
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, raceEnv())
	return cmd
}

// exec runs cmd (as the run user) with stdin.
func (w *world) exec(cmd *exec.Cmd, stdin []byte) result {
	w.t.Helper()
	w.prep(cmd)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String(), argv: cmd.Args}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			w.t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
		}
		r.Code = ee.ExitCode()
	}
	return r
}

// run runs impl's command on nd (-cfg set) without failing.
func (w *world) run(nd *testnet.Node, impl testnet.Impl, stdin []byte, name string, args ...string) result {
	w.t.Helper()
	return w.exec(nd.Cmd(w.t, impl, name, args...), stdin)
}

// do runs impl's command on nd and fails the test on a non-zero exit,
// showing the node's log.
func (w *world) do(nd *testnet.Node, impl testnet.Impl, stdin []byte, name string, args ...string) result {
	w.t.Helper()
	r := w.run(nd, impl, stdin, name, args...)
	if r.Code != 0 {
		w.t.Fatalf("%s on %s: %v\nlog:\n%s", name, nd.Name, r, tail(nd.Log, 40))
	}
	return r
}

// tool runs a program of w.bin (sendmail, rmail, nncp-exec: ferry under
// another name) with env added.
func (w *world) tool(name string, env []string, stdin []byte, args ...string) result {
	w.t.Helper()
	cmd := exec.Command(filepath.Join(w.bin, name), args...)
	cmd.Env = append(append(os.Environ(), "NNCPNOSYNC=1"), env...)
	return w.exec(cmd, stdin)
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// carry moves what from has queued for to through an xfer directory.
func (w *world) carry(from *testnet.Node, fromImpl testnet.Impl, to *testnet.Node, toImpl testnet.Impl) {
	w.t.Helper()
	dir, err := os.MkdirTemp(w.net.Dir, "xfer-")
	if err != nil {
		w.t.Fatal(err)
	}
	w.own(dir)
	w.do(from, fromImpl, nil, "xfer", "-noprogress", "-mkdir", "-tx", "-node", to.Name, dir)
	w.do(to, toImpl, nil, "xfer", "-noprogress", "-rx", dir)
	os.RemoveAll(dir)
}

// toss runs toss on nd and fails on a non-zero exit.
func (w *world) toss(nd *testnet.Node, impl testnet.Impl) result {
	w.t.Helper()
	return w.do(nd, impl, nil, "toss", "-noprogress")
}

// ---------------------------------------------------------------- Exim

// eximConf writes the Exim config testdata/exim/NAME for node nd: the
// recipe's paths and user replaced by the test's. Every replacement must
// apply, so that the recipe and the test cannot drift apart.
func (w *world) eximConf(name string, nd *testnet.Node, extra map[string]string) string {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "exim", name))
	if err != nil {
		w.t.Fatal(err)
	}
	s := string(b)
	repl := map[string]string{
		"/var/spool/exim4-nncp": filepath.Join(nd.Dir, "exim", "spool"),
	}
	for k, v := range extra {
		repl[k] = v
	}
	for from, to := range repl {
		if !strings.Contains(s, from) {
			w.t.Fatalf("testdata/exim/%s has no %q to replace", name, from)
		}
		s = strings.ReplaceAll(s, from, to)
	}
	userRE := regexp.MustCompile(`(?m)^(\s*(?:exim_user|trusted_users|user) = )nncp$`)
	groupRE := regexp.MustCompile(`(?m)^(exim_group = )nncp$`)
	s = userRE.ReplaceAllString(s, "${1}"+w.as.name)
	s = groupRE.ReplaceAllString(s, "${1}"+w.as.group)
	path := filepath.Join(nd.Dir, "exim", strings.TrimSuffix(name, ".conf")+".conf")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		w.t.Fatal(err)
	}
	w.own(filepath.Join(nd.Dir, "exim"))
	return path
}

// exim runs Exim with its own config as the run user.
func (w *world) exim(conf string, stdin []byte, args ...string) result {
	w.t.Helper()
	cmd := exec.Command(refbin.Path(w.t, "exim4"), append([]string{"-C", conf}, args...)...)
	return w.exec(cmd, stdin)
}

// ---------------------------------------------------------------- mailboxes

// mailbox is where a node's user gets mail in the tests.
func mailbox(nd *testnet.Node, user string) string {
	return filepath.Join(nd.Dir, "mail", user, "Maildir")
}

// delivered is one file of a Maildir's new/.
type delivered struct {
	path   string
	header string // up to the blank line
	body   []byte // after it
}

// field returns the first value of a header field, unfolded.
func (d delivered) field(name string) string {
	var val []string
	in := false
	for _, l := range strings.Split(d.header, "\n") {
		l = strings.TrimSuffix(l, "\r")
		switch {
		case in && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")):
			val = append(val, strings.TrimSpace(l))
		case in:
			return strings.Join(val, " ")
		default:
			k, v, ok := strings.Cut(l, ":")
			if ok && strings.EqualFold(k, name) {
				in, val = true, []string{strings.TrimSpace(v)}
			}
		}
	}
	return strings.Join(val, " ")
}

// count returns how many header lines start with name:.
func (d delivered) count(name string) int {
	n := 0
	for _, l := range strings.Split(d.header, "\n") {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			n++
		}
	}
	return n
}

// readMaildir reads every message in dir/new (none if dir is missing).
func readMaildir(t *testing.T, dir string) []delivered {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "new"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []delivered
	for _, e := range ents {
		p := filepath.Join(dir, "new", e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		d := delivered{path: p, header: string(b)}
		// The header ends at the first empty line (LF or CRLF).
		for i := 0; i < len(b); {
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				break
			}
			line := b[i : i+j]
			if len(line) == 0 || string(line) == "\r" {
				d.header, d.body = string(b[:i]), b[i+j+1:]
				break
			}
			i += j + 1
		}
		out = append(out, d)
	}
	return out
}

// bySubject returns the messages of box with that Subject.
func bySubject(box []delivered, subject string) []delivered {
	var out []delivered
	for _, d := range box {
		if d.field("Subject") == subject {
			out = append(out, d)
		}
	}
	return out
}

// waitMail waits (Exim may deliver in the background) until the Maildirs
// hold at least n messages in all; it does not fail.
func waitMail(t *testing.T, n int, dirs ...string) {
	t.Helper()
	for i := 0; i < 600; i++ {
		total := 0
		for _, d := range dirs {
			ents, _ := os.ReadDir(filepath.Join(d, "new"))
			total += len(ents)
		}
		if total >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
