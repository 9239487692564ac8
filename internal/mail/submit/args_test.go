package submit

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseArgsRealWorld(t *testing.T) {
	tests := []struct {
		name string
		args string // split on spaces; "|" inside an argument stands for a space
		want Invocation
	}{
		{"cronie", "-FCronDaemon -i -odi -oem -oi -t -f root",
			Invocation{FullName: "CronDaemon", IgnoreDots: true, DeliveryMode: "i", ErrorMode: "m", ExtractRecipients: true, From: "root"}},
		{"debian cron", "-FCronDaemon -i -B8BITMIME -oem root",
			Invocation{FullName: "CronDaemon", IgnoreDots: true, Body: "8BITMIME", ErrorMode: "m", Recipients: []string{"root"}}},
		{"bsd-mailx", "-i -- alice@x.example bob",
			Invocation{IgnoreDots: true, Recipients: []string{"alice@x.example", "bob"}}},
		{"mutt with dsn", "-oem -oi -N success,failure -R hdrs -V id42 -- a@b.example c@d.example",
			Invocation{ErrorMode: "m", IgnoreDots: true, Notify: "SUCCESS,FAILURE", Return: "HDRS", EnvID: "id42", Recipients: []string{"a@b.example", "c@d.example"}}},
		{"git send-email", "-i -f me@x.example -- to@y.example",
			Invocation{IgnoreDots: true, From: "me@x.example", Recipients: []string{"to@y.example"}}},
		{"logwatch", "-t", Invocation{ExtractRecipients: true}},
		{"php and smartd", "-t -i", Invocation{ExtractRecipients: true, IgnoreDots: true}},
		{"sendmail -t -oi", "-t -oi", Invocation{ExtractRecipients: true, IgnoreDots: true}},
		{"cluster -ti", "-ti", Invocation{ExtractRecipients: true, IgnoreDots: true}},
		{"cluster with value", "-tif me@x.example", Invocation{ExtractRecipients: true, IgnoreDots: true, From: "me@x.example"}},
		{"postfix pipe", "-G -i -f sender@x.example -- rcpt@y.example",
			Invocation{IgnoreDots: true, From: "sender@x.example", Recipients: []string{"rcpt@y.example"}, Ignored: []string{"-G"}}},
		{"smtp on stdin", "-bs", Invocation{Mode: ModeSMTP}},
		{"bsmtp with exim -oM", "-oMr nncp -oMas root@sat.example -bS",
			Invocation{Mode: ModeBSMTP, Ignored: []string{"-oMr", "nncp", "-oMas", "root@sat.example"}}},
		{"mailq", "-bp", Invocation{Mode: ModeListQueue}},
		{"queue run", "-q15m", Invocation{Mode: ModeQueueRun, QueueRun: "15m"}},
		{"queue run plain", "-q", Invocation{Mode: ModeQueueRun}},
		{"newaliases", "-bi", Invocation{Mode: ModeNewAliases}},
		{"version", "--version", Invocation{Mode: ModeVersion}},
		{"all delivery modes", "-odb -odq -odf -odi root", Invocation{DeliveryMode: "i", Recipients: []string{"root"}}},
		{"all error modes", "-oee -oep -oeq -oew -em root", Invocation{ErrorMode: "m", Recipients: []string{"root"}}},
		{"joined and -r", "-rme@x.example -FJörg|M. root", Invocation{From: "me@x.example", FullName: "Jörg M.", Recipients: []string{"root"}}},
		{"null sender", "-f <> root", Invocation{NullSender: true, Recipients: []string{"root"}}},
		{"empty sender", "-f  root", Invocation{NullSender: true, Recipients: []string{"root"}}},
		{"sender in brackets", "-f <a@b.example> root", Invocation{From: "a@b.example", Recipients: []string{"root"}}},
		{"notify never", "-N NEVER root", Invocation{Notify: "NEVER", Recipients: []string{"root"}}},
		{"misc accepted", "-v -L mylabel -X /tmp/log -O DeliveryMode=b -C /etc/ferry.hjson -h 5 -n -m -U -Am -oL9 -o7 -pUUCP:hub root",
			Invocation{Verbose: true, Label: "mylabel", LogFile: "/tmp/log", ConfigPath: "/etc/ferry.hjson", Recipients: []string{"root"},
				Ignored: []string{"-ODeliveryMode=b", "-h5", "-n", "-m", "-U", "-Am", "-oL9", "-o7", "-pUUCP:hub"}}},
		{"list in one argument", "Alice|<alice@x.example>,|bob@y.example|(Bob) root",
			Invocation{Recipients: []string{"alice@x.example", "bob@y.example", "root"}}},
		{"address after --", "-i -- -weird@x.example", Invocation{IgnoreDots: true, Recipients: []string{"-weird@x.example"}}},
		{"quoted local part", `"john|doe"@x.example`, Invocation{Recipients: []string{`"john doe"@x.example`}}},
		{"-o value in next argument", "-o i root", Invocation{IgnoreDots: true, Recipients: []string{"root"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := ParseArgs(splitArgs(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*inv, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *inv, tt.want)
			}
		})
	}
}

func splitArgs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, " ") {
		out = append(out, strings.ReplaceAll(a, "|", " "))
	}
	return out
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Invocation
	}{
		{"/usr/bin/mailq", nil, Invocation{Mode: ModeListQueue}},
		{"newaliases", nil, Invocation{Mode: ModeNewAliases}},
		{"/usr/sbin/rsmtp", nil, Invocation{Mode: ModeBSMTP}},
		{"runq", nil, Invocation{Mode: ModeQueueRun}},
		{"rmail", []string{"hub!alice"}, Invocation{IgnoreDots: true, ErrorMode: "e", Recipients: []string{"hub!alice"}}},
		{"/usr/sbin/sendmail", []string{"-t"}, Invocation{ExtractRecipients: true}},
	}
	for _, tt := range tests {
		inv, err := ParseCommand(tt.name, tt.args)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !reflect.DeepEqual(*inv, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, *inv, tt.want)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		args    []string
		want    error
		mention string // the error names it
	}{
		{[]string{"-x", "root"}, ErrUsage, "-x"},
		{[]string{"-tZ", "root"}, ErrUsage, "-Z"},
		{[]string{"--frobnicate", "root"}, ErrUsage, "--frobnicate"},
		{[]string{"-bv", "root"}, ErrUnsupported, "-bv"},
		{[]string{"-bt"}, ErrUnsupported, "-bt"},
		{[]string{"-bd"}, ErrUnsupported, "-bd"},
		{[]string{"-f"}, ErrUsage, "-f"},
		{[]string{"root", "-f"}, ErrUsage, "-f"},
		{[]string{"-N", "sometimes", "root"}, ErrUsage, "-N"},
		{[]string{"-N", "never,success", "root"}, ErrUsage, "-N"},
		{[]string{"-R", "all", "root"}, ErrUsage, "-R"},
		{[]string{"-B", "9BIT", "root"}, ErrUsage, "-B"},
		{[]string{"-V", "has space", "root"}, ErrUsage, "-V"},
		{[]string{"-oex", "root"}, ErrUsage, "-oex"},
		{[]string{"-odz", "root"}, ErrUsage, "-odz"},
		{[]string{"-ex", "root"}, ErrUsage, "-ex"},
		{[]string{"-h", "many", "root"}, ErrUsage, "-h"},
		{[]string{"-i"}, ErrUsage, "no recipients"},
		{[]string{}, ErrUsage, "no recipients"},
		{[]string{"bob", "-f", "me"}, ErrUsage, "-f"},
		{[]string{"-"}, ErrUsage, `"-"`},
		{[]string{"a b"}, ErrUsage, "a b"},
		{[]string{""}, ErrUsage, "no address"},
		{[]string{"a@"}, ErrUsage, "a@"},
		{[]string{"-f", "a@b.example,c@d.example", "root"}, ErrUsage, "one address"},
		{[]string{"-f", "bad address@", "root"}, ErrUsage, "-f"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := ParseArgs(tt.args)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			if ExitCode(err) != ExitUsage {
				t.Errorf("exit code %d, want %d", ExitCode(err), ExitUsage)
			}
		})
	}
}

func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"-FCronDaemon\x00-i\x00-odi\x00-oem\x00-oi\x00-t\x00-f\x00root",
		"-i\x00--\x00alice@x\x00bob",
		"-oMr\x00nncp\x00-bS",
		"-tif\x00me@x",
		"-N\x00success,delay\x00-R\x00hdrs\x00-V\x00x\x00root",
		"Alice <alice@x>, (c) bob, g: c@d;\x00-",
		"-f\x00<>\x00\"q\\\"x\"@y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\x00")
		inv, err := ParseArgs(args)
		if err != nil {
			if ExitCode(err) != ExitUsage {
				t.Fatalf("ParseArgs error %v has exit code %d", err, ExitCode(err))
			}
			return
		}
		for _, r := range inv.Recipients {
			if err := checkAddress(r); err != nil {
				t.Fatalf("accepted recipient %q: %v", r, err)
			}
		}
		if inv.From != "" {
			if err := checkAddress(inv.From); err != nil {
				t.Fatalf("accepted sender %q: %v", inv.From, err)
			}
		}
	})
}
