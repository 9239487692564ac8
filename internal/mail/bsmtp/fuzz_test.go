package bsmtp

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ferry/internal/testnet/vectors"
)

// FuzzReader checks, for arbitrary input: no panic; no message is handed
// out whole from a cut batch (every prefix of the input yields a prefix of
// the input's whole messages); what parses, written again by the Writer,
// parses to the same envelopes and bodies.
func FuzzReader(f *testing.F) {
	for _, rel := range []string{"gen/exim-bsmtp-sample.txt", "plain/bsmtp.txt"} {
		b, err := os.ReadFile(filepath.Join(vectors.Root(), rel))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(okTx + okTx + "QUIT\n"))
	f.Add([]byte("EHLO x\r\nMAIL FROM:<> SIZE=3 BODY=8BITMIME\r\nRCPT TO:<a@b> NOTIFY=NEVER\r\nDATA\r\n..\r\n.x\r\n.\r\n"))
	f.Add([]byte("mail from:<a@b> ret=full envid=a+2Bb\nrcpt to:<\"q d\"@[1.2.3.4]> orcpt=rfc822;x\ndata\n\xff\x00\r\n.\n"))
	f.Add([]byte("MAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\nhalf"))
	f.Add([]byte("DATA\nMAIL FROM:<a@b>\n.\nRSET\nNOOP\n" + okTx))
	var envs []*Envelope
	for i, b := range roundTripBodies {
		envs = append(envs, &Envelope{From: "s@sat.example", To: []string{"r@hub.example"}})
		var out bytes.Buffer
		w := NewWriter(&out, WriterOptions{CRLF: i%2 == 1, Helo: "h", Quit: i%3 == 0})
		w.WriteMessage(envs[i], strings.NewReader(b))
		w.Close()
		f.Add(out.Bytes())
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		whole := complete(t, in)

		// Prefixes: every cut point for small inputs, a spread and the
		// last few bytes for large ones.
		var cuts []int
		step := 1
		if len(in) > 128 {
			step = len(in) / 128
			cuts = append(cuts, len(in)-3, len(in)-2, len(in)-1)
		}
		for cut := 0; cut < len(in); cut += step {
			cuts = append(cuts, cut)
		}
		for _, cut := range cuts {
			part := complete(t, in[:cut])
			if len(part) > len(whole) || len(part) > 0 && !reflect.DeepEqual(part, whole[:len(part)]) {
				t.Fatalf("input cut at %d gives messages %+v, whole input %+v", cut, part, whole)
			}
		}

		if len(whole) == 0 {
			return
		}
		var out bytes.Buffer
		w := NewWriter(&out, WriterOptions{})
		for _, it := range whole {
			if err := w.WriteMessage(it.env, strings.NewReader(it.body)); err != nil {
				t.Fatalf("writer refuses what the reader accepted: %v\n%+v", err, it.env)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		again := complete(t, out.Bytes())
		if len(again) != len(whole) {
			t.Fatalf("re-serialized batch has %d messages, want %d\n%q", len(again), len(whole), out.Bytes())
		}
		for i := range whole {
			want := whole[i].body
			if want != "" && !strings.HasSuffix(want, "\n") {
				want += "\n"
			}
			if !reflect.DeepEqual(again[i].env, whole[i].env) || again[i].body != want {
				t.Fatalf("message %d: re-read %+v %q, want %+v %q", i, again[i].env, again[i].body, whole[i].env, want)
			}
		}
	})
}

// complete returns the whole messages of a batch, envelopes without Line
// and Helo (which re-serialization changes).
func complete(t *testing.T, in []byte) []item {
	var out []item
	for _, it := range readBatch(t, NewReader(bytes.NewReader(in))) {
		if it.err == nil {
			it.env.Line, it.env.Helo = 0, ""
			out = append(out, it)
		}
	}
	return out
}
