package toss

import (
	"testing"

	"ferry/internal/config"
)

func TestConfigPart(t *testing.T) {
	n := &config.Neighbour{Exec: map[string][]string{
		"rsmtp":  {"/usr/bin/ferry", "rsmtp", "-cfg", "/etc/a.hjson"},
		"rsmtpq": {"/usr/bin/ferry", "rsmtp", "-cfg", "/etc/a.hjson", "-odq"},
		"rmail":  {"/usr/bin/rmail"},
		"empty":  {},
	}}
	for _, c := range []struct {
		argv []string
		want int
		ok   bool
	}{
		{[]string{"/usr/bin/ferry", "rsmtp", "-cfg", "/etc/a.hjson"}, 4, true},
		{[]string{"/usr/bin/ferry", "rsmtp", "-cfg", "/etc/a.hjson", "-log", "/x"}, 4, true},
		{[]string{"/usr/bin/ferry", "rsmtp", "-cfg", "/etc/a.hjson", "-odq", "-log", "/x"}, 5, true},
		{[]string{"/usr/bin/rmail", "-C", "/x", "a@b"}, 1, true},
		{[]string{"/usr/bin/ferry", "rsmtp", "-cfg", "/etc/b.hjson"}, 0, false},
		{[]string{"/usr/bin/ferry", "rsmtp"}, 0, false},
		{[]string{"ferry", "rsmtp", "-cfg", "/etc/a.hjson"}, 0, false},
		{nil, 0, false},
	} {
		got, ok := ConfigPart(n, c.argv)
		if got != c.want || ok != c.ok {
			t.Errorf("%q: %d %v, want %d %v", c.argv, got, ok, c.want, c.ok)
		}
	}
	if _, ok := ConfigPart(nil, []string{"x"}); ok {
		t.Error("nil neighbour matched")
	}
}
