package config

import (
	"strconv"
	"strings"
	"testing"
)

// sp-deadline, sp-ping and sp-pad are ferry's own neighbour settings
// for slow links: absent by default, read, written back, and checked.
func TestSlowLinkKeys(t *testing.T) {
	rich := string(readTestdata(t, "rich.hjson"))
	c, err := Parse([]byte(rich), "")
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Neigh["bob"]; n.SPDeadline != 0 || n.SPPing != 0 || n.SPPad != nil {
		t.Fatalf("defaults: %d %d %v", n.SPDeadline, n.SPPing, n.SPPad)
	}
	at := `incoming: "/home/bob in/incoming"`
	for _, pad := range []int{0, 1000} {
		set := strings.Replace(rich, at, at+"\n      sp-deadline: 300\n      sp-ping: 600\n      sp-pad: "+strconv.Itoa(pad), 1)
		c, err = Parse([]byte(set), "")
		if err != nil {
			t.Fatal(err)
		}
		check := func(c *Config, what string) {
			n := c.Neigh["bob"]
			if n.SPDeadline != 300 || n.SPPing != 600 || n.SPPad == nil || *n.SPPad != pad {
				t.Fatalf("%s: %d %d %v", what, n.SPDeadline, n.SPPing, n.SPPad)
			}
		}
		check(c, "parsed")
		back, err := Parse(Marshal(c), "")
		if err != nil {
			t.Fatal(err)
		}
		check(back, "marshal round trip")
	}
	for bad, want := range map[string]string{
		`sp-deadline: 0`:  "neigh.bob.sp-deadline",
		`sp-ping: -1`:     "neigh.bob.sp-ping",
		`sp-pad: 70000`:   "neigh.bob.sp-pad",
		`sp-pad: -1`:      "neigh.bob.sp-pad",
		`sp-pad: "lots"`:  "neigh.bob.sp-pad",
		`sp-ping: "soon"`: "neigh.bob.sp-ping",
	} {
		text := strings.Replace(rich, at, at+"\n      "+bad, 1)
		if _, err := Parse([]byte(text), ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", bad, err, want)
		}
	}
}
