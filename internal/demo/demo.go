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
		for _, sub := range []string{"spool", "incoming", "Maildir/new", "Maildir/cur", "Maildir/tmp"} {
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
				Exec:     map[string][]string{"deliver": {"/bin/sh", "-c", deliverScript(filepath.Join(nd.Dir, "Maildir"))}},
			}
			c.Neigh[name] = n
		}
		nd.c = c
	}
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

// deliverScript writes stdin into a Maildir the way Maildir wants it:
// tmp/ first, then a rename into new/.
func deliverScript(md string) string {
	return `f="$(date +%s).$$.demo"; cat > "` + md + `/tmp/$f" && mv "` + md + `/tmp/$f" "` + md + `/new/$f"`
}

// ferry runs a ferry command on node nd, printing it like a shell would.
func (d *run) ferry(nd *Node, stdin []byte, args ...string) error {
	shown := strings.Join(args, " ")
	fmt.Fprintf(d.o.Out, "[%s] $ ferry %s\n", nd.Name, shown)
	full := append([]string{args[0], "-cfg", nd.Cfg, "-quiet"}, args[1:]...)
	cmd := exec.Command(d.o.Ferry, full...)
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
	mail := []byte("From: root@sat\nTo: admin@far\nSubject: cron on sat\n\nThe nightly backup finished.\n")
	fmt.Fprintln(d.o.Out, "1. sat queues a file and a mail for far (encrypted for far, wrapped for hub):")
	rep := filepath.Join(sat.Dir, "disk-report.txt")
	if err := os.WriteFile(rep, report, 0o644); err != nil {
		return err
	}
	if err := d.ferry(sat, nil, "file", rep, "far:"); err != nil {
		return err
	}
	if err := d.ferry(sat, mail, "exec", "far", "deliver"); err != nil {
		return err
	}
	fmt.Fprintln(d.o.Out, "\n2. a USB stick carries them to hub, which relays them unopened:")
	if err := d.carry(sat, hub); err != nil {
		return err
	}
	if err := d.ferry(hub, nil, "toss"); err != nil {
		return err
	}
	fmt.Fprintln(d.o.Out, "\n3. the stick goes on to far, which tosses them:")
	if err := d.carry(hub, far); err != nil {
		return err
	}
	if err := d.ferry(far, nil, "toss"); err != nil {
		return err
	}
	fmt.Fprintln(d.o.Out, "\n4. what arrived on far:")
	got, err := os.ReadFile(filepath.Join(far.Dir, "incoming", "disk-report.txt"))
	if err != nil {
		return fmt.Errorf("the file did not arrive: %w", err)
	}
	fmt.Fprintf(d.o.Out, "  incoming/disk-report.txt: %s", got)
	ents, err := os.ReadDir(filepath.Join(far.Dir, "Maildir", "new"))
	if err != nil || len(ents) != 1 {
		return fmt.Errorf("the mail did not arrive in far's Maildir")
	}
	m, err := os.ReadFile(filepath.Join(far.Dir, "Maildir", "new", ents[0].Name()))
	if err != nil {
		return err
	}
	fmt.Fprintf(d.o.Out, "  Maildir/new/%s:\n", ents[0].Name())
	for _, l := range strings.Split(strings.TrimRight(string(m), "\n"), "\n") {
		fmt.Fprintf(d.o.Out, "    | %s\n", l)
	}
	if !bytes.Equal(got, report) || !bytes.Equal(m, mail) {
		return fmt.Errorf("what arrived differs from what was sent")
	}
	return nil
}
