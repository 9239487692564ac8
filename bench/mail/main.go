// Command mail is bench/mail/run's helper: it writes the benchmark's
// messages and checks what arrived in a Maildir. It uses the standard
// library only, so bench/mail/run builds it as a module of its own.
//
//	mail gen -n N -dir DIR
//	    writes DIR/00001.eml ... DIR/0000N.eml (about 4 KiB of text each,
//	    a distinct Subject and body) and DIR/manifest (index and sha256 of
//	    the body, the part after the first empty line).
//	mail verify -sent DIR -maildir MAILDIR
//	    checks that MAILDIR/new and MAILDIR/cur hold every message of the
//	    manifest exactly once with its body unchanged, and nothing else;
//	    prints one line and exits 1 on any difference.
//	mail reap CMD ARGS...
//	    runs CMD and waits for it and for every process it leaves behind
//	    (a child subreaper on Linux), exiting with CMD's status.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const subjectTag = "bench-mail"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mail gen -n N -dir DIR | mail verify -sent DIR -maildir MAILDIR | mail reap CMD ARGS...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		fs := flag.NewFlagSet("gen", flag.ExitOnError)
		n := fs.Int("n", 2000, "number of messages")
		size := fs.Int("size", 4096, "approximate size of each message in bytes")
		dir := fs.String("dir", "", "output directory")
		fs.Parse(os.Args[2:])
		err = gen(*n, *size, *dir)
	case "verify":
		fs := flag.NewFlagSet("verify", flag.ExitOnError)
		sent := fs.String("sent", "", "directory written by gen")
		md := fs.String("maildir", "", "Maildir to check")
		fs.Parse(os.Args[2:])
		err = verify(*sent, *md)
	case "reap":
		err = reap(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mail:", err)
		os.Exit(1)
	}
}

// gen writes n messages like the ones cron mails: a few headers, then lines
// of words. Every body also has the lines sendmail's dot rule and SMTP's
// dot-stuffing are about (a lone ".", lines starting with dots), so a
// submission without -oi or a transfer that does not unstuff shows.
func gen(n, size int, dir string) error {
	if dir == "" || n <= 0 {
		return fmt.Errorf("gen: want -n > 0 and -dir")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(8, 82))
	voc := make([]string, 600)
	for i := range voc {
		b := make([]byte, 2+r.IntN(9))
		for k := range b {
			b[k] = byte('a' + r.IntN(26))
		}
		voc[i] = string(b)
	}
	var man bytes.Buffer
	for i := 1; i <= n; i++ {
		var h, body bytes.Buffer
		fmt.Fprintf(&h, "From: root@sat.example (Cron Daemon)\nTo: alice@hub.example\n")
		fmt.Fprintf(&h, "Subject: %s %05d %s %s\n", subjectTag, i, voc[r.IntN(600)], voc[r.IntN(600)])
		fmt.Fprintf(&h, "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n")
		fmt.Fprintf(&h, "X-Cron-Env: <SHELL=/bin/sh>\nDate: Mon, 2 Nov 2026 %02d:%02d:%02d +0000\n\n", (i/3600)%24, (i/60)%60, i%60)
		fmt.Fprintf(&body, "Output of job %d:\n.\n..two dots\n.leading dot\n", i)
		line := ""
		for h.Len()+body.Len()+len(line) < size-1 {
			w := voc[r.IntN(600)]
			if r.IntN(20) == 0 {
				w = strconv.Itoa(r.IntN(100000))
			}
			if len(line)+len(w)+1 > 72 {
				body.WriteString(line + "\n")
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		body.WriteString(line + "\nend of job " + strconv.Itoa(i) + "\n")
		sum := sha256.Sum256(body.Bytes())
		fmt.Fprintf(&man, "%05d %s\n", i, hex.EncodeToString(sum[:]))
		h.Write(body.Bytes())
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d.eml", i)), h.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "manifest"), man.Bytes(), 0o644)
}

func verify(sent, md string) error {
	if sent == "" || md == "" {
		return fmt.Errorf("verify: want -sent and -maildir")
	}
	want := map[string]string{}
	mf, err := os.ReadFile(filepath.Join(sent, "manifest"))
	if err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimSpace(string(mf)), "\n") {
		if id, sum, ok := strings.Cut(l, " "); ok {
			want[id] = sum
		}
	}
	var files []string
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(md, sub))
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		for _, e := range ents {
			files = append(files, filepath.Join(md, sub, e.Name()))
		}
	}
	tmp, _ := os.ReadDir(filepath.Join(md, "tmp"))
	seen := map[string]int{}
	var bad []string
	crlf := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		id, body, ok := parse(data)
		if !ok {
			bad = append(bad, filepath.Base(f)+": no "+subjectTag+" Subject")
			continue
		}
		seen[id]++
		w, known := want[id]
		switch {
		case !known:
			bad = append(bad, filepath.Base(f)+": unknown message "+id)
		case sha(body) == w:
		case sha(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))) == w:
			crlf++
		default:
			bad = append(bad, filepath.Base(f)+": body of message "+id+" differs from what was sent")
		}
	}
	var missing, dup []string
	for id := range want {
		switch c := seen[id]; {
		case c == 0:
			missing = append(missing, id)
		case c > 1:
			dup = append(dup, fmt.Sprintf("%s x%d", id, c))
		}
	}
	sort.Strings(missing)
	sort.Strings(dup)
	sort.Strings(bad)
	if len(missing)+len(dup)+len(bad) > 0 || len(files) != len(want) {
		var msg []string
		msg = append(msg, fmt.Sprintf("%s: %d files for %d messages", md, len(files), len(want)))
		if len(missing) > 0 {
			msg = append(msg, fmt.Sprintf("%d missing (%s)", len(missing), first(missing)))
		}
		if len(dup) > 0 {
			msg = append(msg, fmt.Sprintf("%d more than once (%s)", len(dup), first(dup)))
		}
		if len(bad) > 0 {
			msg = append(msg, fmt.Sprintf("%d bad (%s)", len(bad), first(bad)))
		}
		return fmt.Errorf("%s", strings.Join(msg, "; "))
	}
	note := ""
	if crlf > 0 {
		note = fmt.Sprintf(" (%d with CRLF line ends)", crlf)
	}
	if len(tmp) > 0 {
		note += fmt.Sprintf(" (%d files left in tmp/)", len(tmp))
	}
	fmt.Printf("%d messages, each exactly once, bodies intact%s\n", len(files), note)
	return nil
}

// parse finds the Subject's message number and the body (after the first
// empty line) of a delivered message.
func parse(data []byte) (id string, body []byte, ok bool) {
	rest := data
	for len(rest) > 0 {
		var l []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		} else {
			l, rest = rest, nil
		}
		s := strings.TrimSuffix(string(l), "\r")
		if s == "" {
			return id, rest, id != ""
		}
		if v, found := strings.CutPrefix(s, "Subject: "+subjectTag+" "); found {
			id, _, _ = strings.Cut(v, " ")
		}
	}
	return id, nil, false
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func first(s []string) string {
	if len(s) > 3 {
		return strings.Join(s[:3], ", ") + ", ..."
	}
	return strings.Join(s, ", ")
}
