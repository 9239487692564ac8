// Package demo owns "ferry demo": it builds a small network in a
// temporary directory (an offline satellite, a hub, a far site reached
// through the hub), sends real packets with ferry's own commands, carries
// them by xfer, tosses them and shows what arrived. It needs nothing but
// the ferry binary.
package demo

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"ferry/internal/config"
	"ferry/internal/node"
)

// Options for a demo run.
type Options struct {
	// Ferry is the path of the ferry binary to run (os.Executable()).
	Ferry string
	// Dir is where the network is built; a new temporary directory when
	// empty.
	Dir string
	// Keep leaves the directory in place for inspection.
	Keep bool
	Out  io.Writer
}

// Node is one demo node.
type Node struct {
	Name, Dir, Cfg string
	Keys           *node.Private
	c              *config.Config
}

// Run builds the network, runs the scenario and reports.
func Run(o Options) error {
	start := time.Now()
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "ferry-demo-")
		if err != nil {
			return err
		}
		dir = d
	}
	if !o.Keep && o.Dir == "" {
		defer os.RemoveAll(dir)
	}
	d := &run{o: o, dir: dir, nodes: map[string]*Node{}}
	fmt.Fprintf(o.Out, "ferry demo: three nodes in %s\n", dir)
	fmt.Fprintf(o.Out, "  sat  an offline satellite: reaches far only through hub\n")
	fmt.Fprintf(o.Out, "  hub  the hub: relays sat's packets for far without being able to read them\n")
	fmt.Fprintf(o.Out, "  far  a far site\n\n")
	if err := d.build(); err != nil {
		return err
	}
	if err := d.scenario(); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "\nDone in %.1fs.", time.Since(start).Seconds())
	if o.Keep || o.Dir != "" {
		fmt.Fprintf(o.Out, " Everything is left in %s (configs, spools, logs).", dir)
	}
	fmt.Fprintln(o.Out)
	return nil
}

type run struct {
	o     Options
	dir   string
	nodes map[string]*Node
}

func (d *run) build() error {
	for _, name := range []string{"sat", "hub", "far"} {
		k, err := node.Generate()
		if err != nil {
			return err
		}
		nd := &Node{Name: name, Dir: filepath.Join(d.dir, name), Keys: k}
		nd.Cfg = filepath.Join(nd.Dir, "cfg.hjson")
		for _, sub := range []string{"spool", "incoming"} {
			if err := os.MkdirAll(filepath.Join(nd.Dir, sub), 0o755); err != nil {
				return err
			}
		}
		d.nodes[name] = nd
	}
	for _, nd := range d.nodes {
		c := &config.Config{
			Spool: filepath.Join(nd.Dir, "spool"), Log: filepath.Join(nd.Dir, "log"),
			NoProgress: true, Self: nd.Keys, Neigh: map[string]*config.Neighbour{},
		}
		for _, other := range d.nodes {
			name := other.Name
			if other == nd {
				name = "self"
			}
			n := &config.Neighbour{Name: name, Public: other.Keys.Public,
				Incoming: filepath.Join(nd.Dir, "incoming"),
				Exec:     map[string][]string{"rsmtp": {d.o.Ferry, "rsmtp"}},
			}
			c.Neigh[name] = n
		}
		nd.c = c
	}
	md := func(nd *Node) string { return "maildir:" + filepath.Join(nd.Dir, "Maildir") }
	// sat has no mailboxes: everything goes to hub, except far.example,
	// which goes straight to far (through hub, which cannot read it).
	d.nodes["sat"].c.Mail = &config.Mail{Raw: map[string]any{
		"domain": "sat.example", "smarthost": "hub",
		"routes": map[string]any{"far.example": "far"},
	}}
	d.nodes["hub"].c.Mail = &config.Mail{Raw: map[string]any{
		"domain": "hub.example",
		"users":  map[string]any{"admin": md(d.nodes["hub"])},
		"routes": map[string]any{"far.example": "far", "sat.example": "sat"},
	}}
	d.nodes["far"].c.Mail = &config.Mail{Raw: map[string]any{
		"domain": "far.example", "smarthost": "hub",
		"users": map[string]any{"ops": md(d.nodes["far"])},
	}}
	// sat and far only know each other through hub.
	d.nodes["sat"].c.Neigh["far"].Via = []node.ID{d.nodes["hub"].Keys.ID}
	d.nodes["far"].c.Neigh["sat"].Via = []node.ID{d.nodes["hub"].Keys.ID}
	for _, nd := range d.nodes {
		if err := os.WriteFile(nd.Cfg, config.Marshal(nd.c), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// ferry runs a ferry command on node nd, printing it like a shell would.
func (d *run) ferry(nd *Node, stdin []byte, args ...string) error {
	shown := strings.Join(args, " ")
	fmt.Fprintf(d.o.Out, "[%s] $ ferry %s\n", nd.Name, shown)
	full := args
	if args[0] != "sendmail" && args[0] != "mailq" {
		full = append([]string{args[0], "-quiet"}, args[1:]...)
	}
	cmd := exec.Command(d.o.Ferry, full...)
	cmd.Env = append(os.Environ(), "NNCPCFG="+nd.Cfg)
	cmd.Dir = nd.Dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if len(out) > 0 {
		for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			fmt.Fprintf(d.o.Out, "    %s\n", l)
		}
	}
	if err != nil {
		return fmt.Errorf("ferry %s on %s: %w", shown, nd.Name, err)
	}
	return nil
}

// carry moves packets from one node to another through a directory, as a
// USB stick would.
func (d *run) carry(from, to *Node) error {
	stick := filepath.Join(d.dir, "usb-stick")
	if err := os.MkdirAll(stick, 0o755); err != nil {
		return err
	}
	if err := d.ferry(from, nil, "xfer", "-mkdir", "-tx", "-node", to.Name, stick); err != nil {
		return err
	}
	return d.ferry(to, nil, "xfer", "-rx", stick)
}

func (d *run) scenario() error {
	sat, hub, far := d.nodes["sat"], d.nodes["hub"], d.nodes["far"]
	report := []byte("Disk /dev/sda1 is 91% full on sat.\n")
	cron := []byte("From: root@sat.example\nTo: admin@hub.example\nSubject: cron: backup done on sat\n\nThe nightly backup finished.\n.\nA line with only a dot above: sent with -i, so it stays.\n")
	ops := []byte("To: ops@far.example\nSubject: disk report from sat\n\nsda1 at 91%, see the attached report.\n")
	fmt.Fprintln(d.o.Out, "1. On sat, cron mails the admin at hub, a script mails ops at far, and a file goes to far:")
	if err := d.ferry(sat, cron, "sendmail", "-i", "-t"); err != nil {
		return err
	}
	if err := d.ferry(sat, ops, "sendmail", "-i", "-f", "root@sat.example", "ops@far.example"); err != nil {
		return err
	}
	rep := filepath.Join(sat.Dir, "disk-report.txt")
	if err := os.WriteFile(rep, report, 0o644); err != nil {
		return err
	}
	if err := d.ferry(sat, nil, "file", rep, "far:"); err != nil {
		return err
	}
	if err := d.ferry(sat, nil, "mailq"); err != nil {
		return err
	}
	fmt.Fprintln(d.o.Out, "\n2. A USB stick carries sat's packets to hub; hub delivers its mail and relays far's unopened:")
	if err := d.carry(sat, hub); err != nil {
		return err
	}
	// Receipts for sat first: toss removes what it takes from rx/.
	if err := d.ferry(hub, nil, "ack", "-all"); err != nil {
		return err
	}
	if err := d.ferry(hub, nil, "toss"); err != nil {
		return err
	}
	fmt.Fprintln(d.o.Out, "\n3. The stick goes on to far, which tosses what came for it:")
	if err := d.carry(hub, far); err != nil {
		return err
	}
	if err := d.ferry(far, nil, "toss"); err != nil {
		return err
	}
	fmt.Fprintln(d.o.Out, "\n4. What arrived:")
	got, err := os.ReadFile(filepath.Join(far.Dir, "incoming", "disk-report.txt"))
	if err != nil {
		return fmt.Errorf("the file did not arrive: %w", err)
	}
	fmt.Fprintf(d.o.Out, "  far: incoming/disk-report.txt: %s", got)
	if !bytes.Equal(got, report) {
		return fmt.Errorf("the file differs from what was sent")
	}
	for _, box := range []struct {
		nd   *Node
		body []byte
	}{{hub, cron}, {far, ops}} {
		if err := d.showMaildir(box.nd, box.body); err != nil {
			return err
		}
	}
	fmt.Fprintln(d.o.Out, "\n5. The stick comes back to sat with hub's receipts (ACKs); sat's mailq shows its mail tossed at hub:")
	if err := d.carry(hub, sat); err != nil {
		return err
	}
	if err := d.ferry(sat, nil, "toss"); err != nil {
		return err
	}
	return d.ferry(sat, nil, "mailq")
}

// showMaildir prints the one message in nd's Maildir and checks that its
// body is what was sent.
func (d *run) showMaildir(nd *Node, sent []byte) error {
	dir := filepath.Join(nd.Dir, "Maildir", "new")
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 {
		return fmt.Errorf("the mail did not arrive in %s's Maildir (see %s/log)", nd.Name, nd.Dir)
	}
	m, err := os.ReadFile(filepath.Join(dir, ents[0].Name()))
	if err != nil {
		return err
	}
	fmt.Fprintf(d.o.Out, "  %s: Maildir/new/%s\n", nd.Name, ents[0].Name())
	for _, l := range strings.Split(strings.TrimRight(string(m), "\n"), "\n") {
		fmt.Fprintf(d.o.Out, "    | %s\n", l)
	}
	_, body, _ := bytes.Cut(sent, []byte("\n\n"))
	if !bytes.HasSuffix(m, body) {
		return fmt.Errorf("the mail in %s's Maildir differs from what was sent", nd.Name)
	}
	return nil
}
