package submit

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseHandle(t *testing.T) {
	good := []struct {
		name        string
		fixed, data []string
		from        string
		null        bool
		rcpts       []string
		cfg         string
	}{
		{"rmail", nil, []string{"a@x.example", "b@x.example"}, "", false, []string{"a@x.example", "b@x.example"}, ""},
		{"rmail", []string{"-C", "/etc/n.hjson"}, []string{"-f", "s@y.example", "--", "a@x.example"}, "s@y.example", false, []string{"a@x.example"}, "/etc/n.hjson"},
		{"sendmail", []string{"-C/etc/n.hjson", "--"}, []string{"a@x.example"}, "", false, []string{"a@x.example"}, "/etc/n.hjson"},
		{"rmail", nil, []string{"-f", "", "--", "a@x.example"}, "", true, []string{"a@x.example"}, ""},
		{"sendmail", []string{"admin@x.example"}, nil, "", false, []string{"admin@x.example"}, ""},
	}
	for _, c := range good {
		inv, err := ParseHandle(c.name, c.fixed, c.data)
		if err != nil {
			t.Errorf("%s %q + %q: %v", c.name, c.fixed, c.data, err)
			continue
		}
		if inv.From != c.from || inv.NullSender != c.null || !reflect.DeepEqual(inv.Recipients, c.rcpts) || inv.ConfigPath != c.cfg {
			t.Errorf("%s %q + %q: from %q null %v rcpts %q cfg %q", c.name, c.fixed, c.data, inv.From, inv.NullSender, inv.Recipients, inv.ConfigPath)
		}
	}
	bad := []struct {
		fixed, data []string
	}{
		{nil, []string{"-C", "/tmp/other.hjson", "a@x.example"}},
		{nil, []string{"-C/tmp/other.hjson", "a@x.example"}},
		{nil, []string{"-bs"}},
		{nil, []string{"-odq", "a@x.example"}},
		{nil, []string{"--", "a@x.example"}},
		{nil, []string{"--", "-oQ/tmp"}},
		{nil, []string{"a@x.example", "-oQ/tmp"}},
		{nil, []string{"-oQ/tmp"}},
		{nil, []string{"-f", "s@y.example", "a@x.example"}},
		{nil, []string{"-f", "-oQ/tmp", "--", "a@x.example"}},
		{nil, []string{"-fs@y.example", "a@x.example"}},
		{nil, []string{"-t"}},
		{[]string{"-f", "s@y.example"}, []string{"-f", "t@y.example", "--", "a@x.example"}},
		{[]string{"-f"}, []string{"s@y.example", "a@x.example"}},
		{[]string{"-C"}, []string{"/tmp/other.hjson", "a@x.example"}},
		{nil, []string{"a@x.example\n-oQ"}},
		{nil, []string{""}},
	}
	for _, c := range bad {
		_, err := ParseHandle("rmail", c.fixed, c.data)
		if !errors.Is(err, ErrPacketArgument) {
			t.Errorf("rmail %q + %q: %v, want ErrPacketArgument", c.fixed, c.data, err)
		}
	}
}
