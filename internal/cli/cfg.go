package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"ferry/internal/config"
	"ferry/internal/node"
)

func init() {
	register("cfgnew", &command{summary: "generate a new node: private keys and a config", run: runCfgNew, nncp: true})
	register("cfgmin", &command{summary: "print the config without private keys (for xfer on another machine)", run: runCfgMin, nncp: true})
	register("install-links", &command{summary: "create nncp-* (and sendmail/rmail) symlinks to ferry in a directory", run: runInstallLinks})
}

func runCfgNew(x *ctx, args []string) error {
	fs := x.flags("[options] [-nocomments] > new.hjson")
	noComments := fs.Bool("nocomments", false, "Do not include descriptive comments")
	// nncp-cfgnew's -area and -yggdrasil are not listed until ferry makes
	// those keys; asked for, they get a clear refusal rather than "flag
	// provided but not defined".
	for _, a := range args {
		if a == "--" {
			break
		}
		name := strings.SplitN(strings.TrimLeft(a, "-"), "=", 2)[0]
		if strings.HasPrefix(a, "-") && (name == "area" || name == "yggdrasil") {
			return exitCode(1, fmt.Errorf("-%s is not supported yet: nncp-cfgnew -%s makes those keys", name, name))
		}
	}
	if err := x.parse(fs, args); err != nil {
		return err
	}
	p, err := node.Generate()
	if err != nil {
		return err
	}
	_, err = x.Stdout.Write(config.NewText(p, config.NewOptions{NoComments: *noComments}))
	return err
}

func runCfgMin(x *ctx, args []string) error {
	fs := x.flags("[options] > stripped.hjson")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if err := x.load(); err != nil {
		return err
	}
	// What cfgmin prints is what the neighbours get: the keys must be
	// this node's own (the other commands check a key when they use it).
	if x.cfg.Self != nil {
		if err := x.cfg.Self.Check(); err != nil {
			return fmt.Errorf("config %s: %w", x.cfg.Path, err)
		}
	}
	_, err := x.Stdout.Write(config.MinText(x.cfg))
	return err
}

// linkNames are the names ferry answers to besides "ferry".
func linkNames(withMail bool) []string {
	var names []string
	for n, c := range commands {
		if c.nncp {
			names = append(names, "nncp-"+n)
		}
	}
	if withMail {
		for _, n := range []string{"sendmail", "rmail", "mailq"} {
			if _, ok := commands[n]; ok {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

func runInstallLinks(x *ctx, args []string) error {
	fs := x.flags("[-mail] [-force] DIR")
	withMail := fs.Bool("mail", false, "Also create sendmail, rmail and mailq links")
	force := fs.Bool("force", false, "Replace existing files of the same names")
	target := fs.String("target", "", "Path the links point to (default: this ferry binary)")
	if err := x.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitCode(2, nil)
	}
	dir := fs.Arg(0)
	to := *target
	if to == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		to, err = filepath.EvalSymlinks(exe)
		if err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range linkNames(*withMail) {
		p := filepath.Join(dir, n)
		if cur, err := os.Readlink(p); err == nil && cur == to {
			continue
		}
		if _, err := os.Lstat(p); err == nil {
			if !*force {
				return fmt.Errorf("%s exists (use -force to replace it)", p)
			}
			if err := os.Remove(p); err != nil {
				return err
			}
		}
		if err := os.Symlink(to, p); err != nil {
			return err
		}
		if !x.quiet {
			fmt.Fprintf(x.Stdout, "%s -> %s\n", p, to)
		}
	}
	return nil
}
