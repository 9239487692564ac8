package submit

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

var fuzzArgs = [][]string{{"-i", "bob"}, {"-t", "-i"}, {"bob"}, {"-t", "-oi", "carol@x.example"}}

// FuzzPrepare checks, for arbitrary input: no panic; the output header has
// Date, Message-ID and From and no Bcc; Size is the output's length; with
// -i the body after the header is the input's tail, byte for byte.
func FuzzPrepare(f *testing.F) {
	for _, s := range []string{
		"Subject: s\n\nbody\n",
		"From: root (Cron Daemon)\r\nTo: root, Alice <a@x.example>\r\nBcc: b@y\r\n\r\n.\r\n..\r\nend",
		"From root@sat Tue Nov 24\nTo: g: a@b, (c) c@d;\n\tfolded\n\n.\n",
		"no header at all\n\nx",
		"Resent-To: r@x\nTo: t@x\nResent-Bcc: q\n\n",
		"X:" + strings.Repeat("y", 300) + "\n\n\xff\x00",
		".\n",
		"",
	} {
		for i := range fuzzArgs {
			f.Add(s, uint8(i), uint8(i*7))
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in string, argIdx, memLimit uint8) {
		args := fuzzArgs[int(argIdx)%len(fuzzArgs)]
		inv, err := ParseArgs(args)
		if err != nil {
			t.Fatal(err)
		}
		opts := testOpts(dir)
		opts.MemoryLimit = int(memLimit) - 128
		m, err := Prepare(strings.NewReader(in), inv, opts)
		if err != nil {
			return
		}
		defer m.Close()
		out, err := io.ReadAll(m.Reader())
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(out)) != m.Size {
			t.Fatalf("Size %d, output %d bytes", m.Size, len(out))
		}
		names, body, ok := splitMessage(out)
		if !ok {
			t.Fatalf("output header is not header fields then an empty line:\n%q", out)
		}
		for _, want := range []string{"date", "message-id", "from"} {
			if !names[want] {
				t.Fatalf("output has no %s field:\n%q", want, out)
			}
		}
		if names["bcc"] || names["resent-bcc"] {
			t.Fatalf("output keeps a Bcc field:\n%q", out)
		}
		if inv.IgnoreDots && !strings.HasSuffix(in, string(body)) {
			t.Fatalf("body %q is not the input's tail\ninput %q", body, in)
		}
		if !inv.IgnoreDots && !strings.Contains(in, string(body)) {
			t.Fatalf("body %q is not part of the input %q", body, in)
		}
		slowOpts := testOpts(dir)
		slowOpts.MemoryLimit = opts.MemoryLimit
		ms, err := Prepare(iotest.OneByteReader(strings.NewReader(in)), inv, slowOpts)
		if err != nil {
			t.Fatalf("one byte at a time: %v", err)
		}
		defer ms.Close()
		if slow, _ := io.ReadAll(ms.Reader()); !bytes.Equal(slow, out) {
			t.Fatalf("one byte at a time gives %q, all at once %q", slow, out)
		}
	})
}

// splitMessage checks that msg starts with header fields (and their
// continuation lines) ended by an empty line, and returns the field names
// (lower case) and the body.
func splitMessage(msg []byte) (map[string]bool, []byte, bool) {
	names := map[string]bool{}
	for first := true; ; first = false {
		i := bytes.IndexByte(msg, '\n')
		if i < 0 {
			return nil, nil, false
		}
		line := msg[:i+1]
		msg = msg[i+1:]
		switch {
		case string(line) == "\n" || string(line) == "\r\n":
			return names, msg, true
		case line[0] == ' ' || line[0] == '\t':
			if first {
				return nil, nil, false
			}
		default:
			name, ok := fieldName(line)
			if !ok {
				return nil, nil, false
			}
			names[strings.ToLower(name)] = true
		}
	}
}
