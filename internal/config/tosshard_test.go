package config

import (
	"strings"
	"testing"
)

// exec-maxsize and freq.follow-symlinks are ferry's own neighbour settings.
func TestExecMaxSizeAndFollowSymlinks(t *testing.T) {
	rich := string(readTestdata(t, "rich.hjson"))
	c, err := Parse([]byte(rich), "")
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Neigh["bob"]; n.ExecMaxSize != DefaultExecMaxSize {
		t.Errorf("default exec-maxsize %d", n.ExecMaxSize)
	}
	if c.Neigh["self"].Freq.FollowSymlinks {
		t.Error("follow-symlinks on by default")
	}
	set := strings.Replace(rich, `incoming: "/home/bob in/incoming"`, `incoming: "/home/bob in/incoming"
      exec-maxsize: "2 GiB"`, 1)
	set = strings.Replace(set, `maxsize: 4096}`, `maxsize: 4096, follow-symlinks: true}`, 1)
	c, err = Parse([]byte(set), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Neigh["bob"].ExecMaxSize != 2<<30 || !c.Neigh["self"].Freq.FollowSymlinks {
		t.Fatalf("exec-maxsize %d follow-symlinks %v", c.Neigh["bob"].ExecMaxSize, c.Neigh["self"].Freq.FollowSymlinks)
	}
	back, err := Parse(Marshal(c), "")
	if err != nil || back.Neigh["bob"].ExecMaxSize != 2<<30 || !back.Neigh["self"].Freq.FollowSymlinks {
		t.Fatalf("marshal round trip: %v\n%s", err, Marshal(c))
	}
	for bad, want := range map[string]string{
		`exec-maxsize: 0`:                        "neigh.bob.exec-maxsize: must be greater than zero",
		`exec-maxsize: -5`:                       "neigh.bob.exec-maxsize: must not be negative",
		`exec-maxsize: "lots"`:                   `neigh.bob.exec-maxsize: want a size like`,
		`exec-maxsize: true`:                     "neigh.bob.exec-maxsize: want a number",
		`freq: {path: "/x", follow-symlinks: 1}`: "neigh.bob.freq.follow-symlinks: want true or false",
	} {
		text := strings.Replace(rich, `incoming: "/home/bob in/incoming"`, `incoming: "/home/bob in/incoming"
      `+bad, 1)
		if _, err := Parse([]byte(text), ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", bad, err, want)
		}
	}
}
