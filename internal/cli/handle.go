package cli

import (
	"errors"
	"fmt"
	"strings"

	"ferry/internal/config"
	"ferry/internal/toss"
)

// exNoPerm (EX_NOPERM) is the exit status of a handle that refuses what
// the packet asked for: the tosser keeps the packet.
const exNoPerm = 77

// errHandleLine: ferry runs as an exec handle (NNCP_SENDER is set) but
// its command line is not one of the sender's exec lines in the config.
var errHandleLine = errors.New("not started from an exec handle line of the sender")

// inHandle reports whether the command runs as an exec handle: a tosser
// (ferry toss or nncp-toss) sets NNCP_SENDER, and a neighbour cannot
// change the environment.
func (x *ctx) inHandle() bool { return x.Getenv("NNCP_SENDER") != "" }

// splitHandle tells, for a command run as an exec handle, the arguments
// that come from the handle's config line (options, fixed by the
// operator) from those the exec packet added (data, chosen by the
// neighbour): a tosser starts the config line with the packet's arguments
// appended, and nothing else marks where one ends.
//
// The config line is found in a trusted config: $NNCPCFG, else the
// default path, else a config named on the command line (cfgOpt finds
// those) that holds this node's private signing key, so that the packet
// cannot name a config of its own making. In it, the longest of
// NNCP_SENDER's exec lines that the command line starts with is the
// config's part (toss.ConfigPart); it must name the command itself.
func (x *ctx) splitHandle(args []string, cfgOpt func([]string) []string) (fixed, data []string, err error) {
	cmdEnd := len(x.argv) - len(args)
	if cmdEnd < 1 || cmdEnd > len(x.argv) {
		return nil, nil, exitCode(exSoftware, errors.New("cannot tell the command from its arguments"))
	}
	sender, self := x.Getenv("NNCP_SENDER"), x.Getenv("NNCP_SELF")
	type candidate struct {
		path    string
		trusted bool
	}
	var cands []candidate
	if v := x.Getenv("NNCPCFG"); v != "" {
		cands = append(cands, candidate{v, true})
	} else {
		cands = append(cands, candidate{DefaultCfgPath, true})
		for _, p := range cfgOpt(args) {
			cands = append(cands, candidate{p, false})
		}
	}
	var tried []string
	for _, c := range cands {
		tried = append(tried, c.path)
		cfg, err := config.Load(c.path)
		if err != nil || cfg.Self == nil {
			continue
		}
		if self != "" && cfg.Self.ID.String() != self {
			continue
		}
		if !c.trusted && cfg.Self.CheckSignKey() != nil {
			continue
		}
		n, err := cfg.Node(sender)
		if err != nil {
			continue
		}
		k, ok := toss.ConfigPart(n, x.argv)
		if !ok {
			continue
		}
		if k < cmdEnd {
			return nil, nil, exitCode(exNoPerm, fmt.Errorf("%w: the exec line %q of %s in %s does not name the command: the packet would choose it",
				errHandleLine, x.argv[:k], n.Name, c.path))
		}
		return args[:k-cmdEnd], args[k-cmdEnd:], nil
	}
	return nil, nil, exitCode(exNoPerm, fmt.Errorf("%w %s (looked in %s): refusing to take options from a packet; run by hand without NNCP_SENDER, or give the handle line its -cfg",
		errHandleLine, sender, strings.Join(tried, ", ")))
}

// cfgFlagValues finds the values of -cfg (NNCP's flag syntax) in args.
func cfgFlagValues(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a, ok := strings.CutPrefix(args[i], "-")
		if !ok {
			continue
		}
		a = strings.TrimPrefix(a, "-")
		if a == "cfg" && i+1 < len(args) {
			out = append(out, args[i+1])
			i++
		} else if v, ok := strings.CutPrefix(a, "cfg="); ok {
			out = append(out, v)
		}
	}
	return out
}

// dashCValues finds the values of sendmail's -C in args ("-C FILE",
// "-CFILE").
func dashCValues(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		v, ok := strings.CutPrefix(args[i], "-C")
		switch {
		case !ok:
		case v == "" && i+1 < len(args):
			out = append(out, args[i+1])
			i++
		case v != "":
			out = append(out, v)
		}
	}
	return out
}
