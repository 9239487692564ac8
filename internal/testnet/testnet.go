// Package testnet builds throwaway NNCP networks for tests: nodes with
// fresh keys in a temporary directory, configs that both ferry and the
// real nncp-* load, a ferry binary built once per test process, and
// helpers to run either implementation's commands and carry packets
// between nodes through an xfer directory.
package testnet

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"ferry/internal/config"
	"ferry/internal/node"
	"ferry/internal/testnet/refbin"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// FerryBin returns the path of a ferry binary built from this tree, once per
// test process (with -race when the tests run with it). $FERRY_BIN
// overrides it.
func FerryBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("FERRY_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ferry-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "ferry")
		args := []string{"build", "-o", buildPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "ferry/cmd/ferry")
		cmd := exec.Command("go", args...)
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Main runs a package's tests and then removes the ferry binary FerryBin
// built for them. Packages whose tests call FerryBin use it as their
// TestMain: without it every test process leaves a binary in $TMPDIR.
func Main(m interface{ Run() int }) {
	code := m.Run()
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
	os.Exit(code)
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Node is one node of a test network.
type Node struct {
	Name     string
	Dir      string // everything of the node lives under here
	CfgPath  string
	Spool    string
	Log      string
	Incoming string
	Pub      string // its freq.path for every neighbour
	ExecDir  string // where the "save" handle writes bodies
	Keys     *node.Private
	Cfg      *config.Config
	net      *Net
}

// Net is a set of nodes that all know each other.
type Net struct {
	Dir   string
	Nodes map[string]*Node
	order []string
}

// New makes nodes with the given names. Every node has every other as a
// neighbour with incoming, freq and these exec handles:
//
//	save NAME   writes the body to ExecDir/NAME (args after NAME ignored)
//	env NAME    writes NNCP_* variables and arguments to ExecDir/NAME
//	fail        exits 3 after printing to stderr
//
// Call Write after changing configs (Via, Exec...).
func New(t testing.TB, names ...string) *Net {
	t.Helper()
	n := &Net{Dir: t.TempDir(), Nodes: map[string]*Node{}}
	for _, name := range names {
		keys, err := node.Generate()
		if err != nil {
			t.Fatal(err)
		}
		d := filepath.Join(n.Dir, name)
		nd := &Node{Name: name, Dir: d, CfgPath: filepath.Join(d, "cfg.hjson"),
			Spool: filepath.Join(d, "spool"), Log: filepath.Join(d, "log"),
			Incoming: filepath.Join(d, "incoming"), Pub: filepath.Join(d, "pub"),
			ExecDir: filepath.Join(d, "exec"), Keys: keys, net: n}
		for _, p := range []string{nd.Spool, nd.Incoming, nd.Pub, nd.ExecDir} {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		n.Nodes[name] = nd
		n.order = append(n.order, name)
	}
	for _, nd := range n.Nodes {
		c := &config.Config{Spool: nd.Spool, Log: nd.Log, Self: nd.Keys, Neigh: map[string]*config.Neighbour{}}
		for _, other := range n.Nodes {
			name := other.Name
			if other == nd {
				name = "self"
			}
			c.Neigh[name] = &config.Neighbour{
				Name:     name,
				Public:   other.Keys.Public,
				Exec:     handles(nd.ExecDir),
				Incoming: nd.Incoming,
				Freq:     &config.Freq{Path: nd.Pub},
			}
		}
		nd.Cfg = c
	}
	n.Write(t)
	return n
}

func handles(dir string) map[string][]string {
	return map[string][]string{
		"save": {"/bin/sh", "-c", `cat > "` + dir + `/$1"`, "save"},
		"env":  {"/bin/sh", "-c", `{ echo "NNCP_SELF=$NNCP_SELF"; echo "NNCP_SENDER=$NNCP_SENDER"; echo "NNCP_NICE=$NNCP_NICE"; for a in "$@"; do echo "ARG=$a"; done; } > "` + dir + `/$1"; cat >/dev/null`, "env"},
		"fail": {"/bin/sh", "-c", `echo "handle says no" >&2; exit 3`},
	}
}

// Via makes `from` reach `to` through the given relays.
func (n *Net) Via(t testing.TB, from, to string, via ...string) {
	t.Helper()
	var ids []node.ID
	for _, v := range via {
		ids = append(ids, n.Nodes[v].Keys.ID)
	}
	n.Nodes[from].Cfg.Neigh[to].Via = ids
	n.Write(t)
}

// Write (re)writes every node's config file.
func (n *Net) Write(t testing.TB) {
	t.Helper()
	for _, nd := range n.Nodes {
		if err := os.WriteFile(nd.CfgPath, config.Marshal(nd.Cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Result is a finished command.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Impl says which implementation runs a command.
type Impl string

// The two implementations.
const (
	Ferry Impl = "ferry"
	NNCP  Impl = "nncp"
)

// Cmd builds the command for impl's NAME with -cfg set to this node's
// config; args follow.
func (nd *Node) Cmd(t testing.TB, impl Impl, name string, args ...string) *exec.Cmd {
	t.Helper()
	var cmd *exec.Cmd
	full := append([]string{"-cfg", nd.CfgPath}, args...)
	if impl == NNCP {
		cmd = exec.Command(refbin.NNCP(t, name), full...)
	} else {
		cmd = exec.Command(FerryBin(t), append([]string{name}, full...)...)
	}
	// A -race binary sleeps 1 s at exit by default: hundreds of runs.
	cmd.Env = append(os.Environ(), "NNCPNOSYNC=1", "GORACE=atexit_sleep_ms=0")
	cmd.Dir = nd.Dir
	return cmd
}

// Run runs impl's command NAME on this node with stdin and returns its
// result without failing the test.
func (nd *Node) Run(t testing.TB, impl Impl, stdin []byte, name string, args ...string) Result {
	t.Helper()
	cmd := nd.Cmd(t, impl, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.ExitCode()
		} else {
			t.Fatalf("%s %s: %v", impl, name, err)
		}
	}
	return r
}

// Must runs like Run and fails the test on a non-zero exit.
func (nd *Node) Must(t testing.TB, impl Impl, stdin []byte, name string, args ...string) Result {
	t.Helper()
	r := nd.Run(t, impl, stdin, name, args...)
	if r.Code != 0 {
		t.Fatalf("%s: %s-%s %s: exit %d\nstdout: %s\nstderr: %s\nlog:\n%s", nd.Name, impl, name,
			strings.Join(args, " "), r.Code, r.Stdout, r.Stderr, tail(nd.Log, 30))
	}
	return r
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Carry moves every packet `from` has queued into `to`'s spool through a
// fresh xfer directory, each side using its own implementation.
func (n *Net) Carry(t testing.TB, from *Node, fromImpl Impl, to *Node, toImpl Impl) {
	t.Helper()
	dir, err := os.MkdirTemp(n.Dir, "xfer-")
	if err != nil {
		t.Fatal(err)
	}
	from.Must(t, fromImpl, nil, "xfer", "-noprogress", "-mkdir", "-tx", "-node", to.Name, dir)
	to.Must(t, toImpl, nil, "xfer", "-noprogress", "-rx", dir)
	os.RemoveAll(dir)
}

// TxPackets lists the packet files queued in from's spool for to.
func (nd *Node) TxPackets(t testing.TB, to *Node) []string {
	t.Helper()
	return listPkts(t, filepath.Join(nd.Spool, to.Keys.ID.String(), "tx"))
}

// RxPackets lists the packet files waiting in nd's rx/ queue from `from`.
func (nd *Node) RxPackets(t testing.TB, from *Node) []string {
	t.Helper()
	return listPkts(t, filepath.Join(nd.Spool, from.Keys.ID.String(), "rx"))
}

func listPkts(t testing.TB, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && len(e.Name()) == 52 {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}
