package cli

import (
	"errors"
	"reflect"
	"testing"

	"ferry/internal/testnet"
)

// splitHandle finds the config line in a trusted config and splits the
// command line after it; a command line no config line starts, one whose
// line does not name the command, or a config of the wrong node give
// errHandleLine.
func TestSplitHandle(t *testing.T) {
	net := testnet.New(t, "sat", "hub", "other")
	sat, hub, other := net.Nodes["sat"], net.Nodes["hub"], net.Nodes["other"]
	hub.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{"/x/ferry", "rsmtp", "-cfg", hub.CfgPath}
	hub.Cfg.Neigh["sat"].Exec["bare"] = []string{"/x/ferry"}
	// other's config lists the same line for sat: it is not hub's.
	other.Cfg.Neigh["sat"].Exec["rsmtp"] = []string{"/x/ferry", "rsmtp", "-cfg", other.CfgPath}
	net.Write(t)
	run := func(env map[string]string, argv ...string) ([]string, []string, error) {
		env["NNCP_SENDER"] = sat.Keys.ID.String()
		x := &ctx{Env: &Env{Getenv: func(k string) string { return env[k] }}, argv: argv, name: "rsmtp"}
		return x.splitHandle(argv[2:], cfgFlagValues)
	}
	self := hub.Keys.ID.String()

	fixed, data, err := run(map[string]string{"NNCP_SELF": self}, "/x/ferry", "rsmtp", "-cfg", hub.CfgPath, "-log", "/tmp/x", "-cfg", other.CfgPath)
	if err != nil || !reflect.DeepEqual(fixed, []string{"-cfg", hub.CfgPath}) || !reflect.DeepEqual(data, []string{"-log", "/tmp/x", "-cfg", other.CfgPath}) {
		t.Errorf("fixed %q data %q err %v", fixed, data, err)
	}
	// The packet names other's config, which has a line that fits: it is
	// not this node's ($NNCP_SELF), so nothing fits.
	if _, _, err := run(map[string]string{"NNCP_SELF": self}, "/x/ferry", "rsmtp", "-cfg", other.CfgPath); !errors.Is(err, errHandleLine) {
		t.Errorf("other's config: %v", err)
	}
	// Without NNCP_SELF (no tosser sets that), a config named on the
	// command line that holds its node's signing key and lists the line
	// is an operator's config: accepted.
	if _, _, err := run(map[string]string{}, "/x/ferry", "rsmtp", "-cfg", other.CfgPath); err != nil {
		t.Errorf("other's own line without NNCP_SELF: %v", err)
	}
	// A line that does not name the command.
	if _, _, err := run(map[string]string{"NNCP_SELF": self, "NNCPCFG": hub.CfgPath}, "/x/ferry", "rsmtp"); !errors.Is(err, errHandleLine) {
		t.Errorf("bare line: %v", err)
	}
	// Started by hand with NNCP_SENDER set, another path.
	if _, _, err := run(map[string]string{"NNCP_SELF": self}, "ferry", "rsmtp", "-cfg", hub.CfgPath); !errors.Is(err, errHandleLine) {
		t.Errorf("no line fits: %v", err)
	}
}

func TestConfigOptionValues(t *testing.T) {
	if got := cfgFlagValues([]string{"-cfg", "/a", "--cfg=/b", "-cfg=/c", "x", "--cfg", "/d", "-log", "/e"}); !reflect.DeepEqual(got, []string{"/a", "/b", "/c", "/d"}) {
		t.Errorf("cfg: %q", got)
	}
	if got := dashCValues([]string{"-C", "/a", "-C/b", "-f", "x", "-C"}); !reflect.DeepEqual(got, []string{"/a", "/b"}) {
		t.Errorf("-C: %q", got)
	}
}
