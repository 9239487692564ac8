package submit

import (
	"errors"
	"reflect"
	"strings"
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
		{nil, []string{"a@x.example, -oQ/tmp"}},
	}
	for _, c := range bad {
		_, err := ParseHandle("rmail", c.fixed, c.data)
		if !errors.Is(err, ErrPacketArgument) {
			t.Errorf("rmail %q + %q: %v, want ErrPacketArgument", c.fixed, c.data, err)
		}
	}
}

// FuzzParseHandle: whatever the packet's arguments, ParseHandle never
// panics, and what it accepts takes nothing but recipients (and a -f
// sender) from them: the config, the mode and the options stay those of
// the fixed part.
func FuzzParseHandle(f *testing.F) {
	f.Add("-C\x00/etc/a.hjson", "a@x.example\x00b@x.example")
	f.Add("", "-f\x00s@y.example\x00--\x00a@x.example")
	f.Add("-odq", "-C\x00/tmp/x\x00a@x.example")
	f.Add("-f", "s@y.example\x00a@x.example")
	f.Fuzz(func(t *testing.T, fixedS, dataS string) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "\x00")
		}
		fixed, data := split(fixedS), split(dataS)
		inv, err := ParseHandle("rmail", fixed, data)
		if err != nil {
			return
		}
		base, berr := ParseArgs(append([]string{"-i", "-oee"}, append(append([]string(nil), fixed...), "-t")...))
		if berr == nil && (inv.ConfigPath != base.ConfigPath || inv.Mode != base.Mode || inv.DeliveryMode != base.DeliveryMode) {
			t.Fatalf("%q + %q: config %q mode %v/%q, fixed alone %q %v/%q", fixed, data, inv.ConfigPath, inv.Mode, inv.DeliveryMode, base.ConfigPath, base.Mode, base.DeliveryMode)
		}
		for _, r := range inv.Recipients {
			if strings.HasPrefix(r, "-") && !strings.Contains(fixedS, r) {
				t.Fatalf("%q + %q: recipient %q from the packet", fixed, data, r)
			}
		}
	})
}
