package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The configuration directory layout (cfg/dir.texi, nncp-cfgdir): each
// dictionary is a directory, each string a one-line file, each list of
// strings a file with one entry per line, each true boolean an empty file
// whose presence means true; names starting with "." are skipped. The files
// carry no types, so the loader needs to know which keys are numbers,
// booleans and lists; it rebuilds the same tree hjson-go produces and hands
// it to the ordinary decoder, so both forms get the same checks.

// kind says how to read one entry of the directory layout.
type kind int

const (
	kString kind = iota // a one-line file
	kNumber             // a one-line file holding a whole number
	kFlag               // a file whose presence means true
	kList               // a file with one string per line
	kObject             // a directory of known keys (schema)
	kMapOf              // a directory of arbitrary names, each an elem
	kListOf             // a directory of 0, 1, 2 ... each an elem
)

type schema struct {
	kind   kind
	fields map[string]*schema // kObject
	elem   *schema            // kMapOf, kListOf
}

var (
	sString = &schema{kind: kString}
	sNumber = &schema{kind: kNumber}
	sFlag   = &schema{kind: kFlag}
	sList   = &schema{kind: kList}
)

func object(fields map[string]*schema) *schema { return &schema{kind: kObject, fields: fields} }
func mapOf(elem *schema) *schema               { return &schema{kind: kMapOf, elem: elem} }
func listOf(elem *schema) *schema              { return &schema{kind: kListOf, elem: elem} }

var dirSchema = func() *schema {
	fromTo := object(map[string]*schema{"from": sString, "to": sString})
	call := object(map[string]*schema{
		"cron": sString, "nice": sString, "xx": sString, "addr": sString,
		"rxrate": sNumber, "txrate": sNumber, "onlinedeadline": sNumber, "maxonlinetime": sNumber,
	})
	for _, f := range callFlags(&Call{}) {
		call.fields[f.key] = sFlag
	}
	neigh := object(map[string]*schema{
		"id": sString, "exchpub": sString, "signpub": sString, "noisepub": sString,
		"exec": mapOf(sList), "incoming": sString,
		"freq": object(map[string]*schema{
			"path": sString, "chunked": sNumber, "minsize": sNumber, "maxsize": sNumber,
			"follow-symlinks": sFlag,
		}),
		"exec-maxsize": sNumber, "exec-parallel": sNumber,
		"via": sList, "addrs": mapOf(sString),
		"rxrate": sNumber, "txrate": sNumber, "onlinedeadline": sNumber, "maxonlinetime": sNumber,
		"calls":       listOf(call),
		"sp-deadline": sNumber, "sp-ping": sNumber, "sp-pad": sNumber,
	})
	area := object(map[string]*schema{
		"id": sString, "pub": sString, "prv": sString, "subs": sList,
		"exec": mapOf(sList), "incoming": sString, "allow-unknown": sFlag,
	})
	return object(map[string]*schema{
		"spool": sString, "log": sString, "umask": sString,
		"noprogress": sFlag, "nohdr": sFlag,
		"mcd-listen": sList, "mcd-send": mapOf(sNumber),
		"yggdrasil-aliases": mapOf(sString),
		"self": object(map[string]*schema{
			"id": sString, "exchpub": sString, "exchprv": sString, "signpub": sString,
			"signprv": sString, "noisepub": sString, "noiseprv": sString,
		}),
		"neigh": mapOf(neigh),
		"notify": object(map[string]*schema{
			"file": fromTo, "freq": fromTo, "exec": mapOf(fromTo),
		}),
		"areas": mapOf(area),
		"mail":  mailSchema,
	})
}()

// mailSchema is ferry's mail section (decodeMail); sizes and durations may
// be numbers or strings ("10 MiB", "15m"), which kNumber reads as either.
var mailSchema = object(map[string]*schema{
	"domain": sString, "smarthost": sString, "handle": sString, "mode": sString,
	"queue": sString, "postmaster": sString, "listen": sString, "nice": sString,
	"local-domains": sList, "users": mapOf(sString), "routes": mapOf(sString),
	"relay": object(map[string]*schema{
		"addr": sString, "tls": sString, "username": sString, "password": sString,
		"password-file": sString, "helo": sString, "insecure": sFlag,
	}),
	"limits":   mapOf(object(map[string]*schema{"maxsize": sNumber, "maxqueue": sNumber})),
	"max-rcpt": sNumber,
	"smtpd": object(map[string]*schema{
		"max-conn": sNumber, "max-conn-per-ip": sNumber, "greeting-timeout": sNumber, "timeout": sNumber,
	}),
	"retry": object(map[string]*schema{"interval": sNumber, "giveup": sNumber}),
})

// readDir reads a configuration directory into a tree of hjson-like values.
func readDir(dir string) (any, error) {
	return readEntry(dir, dirSchema)
}

// readEntry reads path as s says. An entry of unknown schema (nil) is read
// as a string if it is a file and as an object if it is a directory.
func readEntry(path string, s *schema) (any, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if s == nil {
		s = sString
		if fi.IsDir() {
			s = mapOf(nil)
		}
	}
	switch s.kind {
	case kFlag:
		return true, nil
	case kObject, kMapOf, kListOf:
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s: want a directory", path)
		}
		return readDirEntries(path, s)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: want a file, found a directory", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	text := strings.TrimRight(string(data), "\n")
	switch s.kind {
	case kNumber:
		if n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64); err == nil {
			return float64(n), nil
		}
		return text, nil // the decoder reports "want a number"
	case kList:
		if text == "" {
			return []any{}, nil
		}
		var l []any
		for _, line := range strings.Split(text, "\n") {
			l = append(l, line)
		}
		return l, nil
	}
	return text, nil
}

func readDirEntries(dir string, s *schema) (any, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	m := make(map[string]any)
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		sub := s.elem
		if s.kind == kObject {
			sub = s.fields[name]
		}
		v, err := readEntry(filepath.Join(dir, name), sub)
		if err != nil {
			return nil, err
		}
		m[name] = v
	}
	if s.kind != kListOf {
		return m, nil
	}
	byIndex := make(map[int]any, len(m))
	idx := make([]int, 0, len(m))
	for name, v := range m {
		i, err := strconv.Atoi(name)
		if _, dup := byIndex[i]; err != nil || i < 0 || dup {
			return nil, fmt.Errorf("%s: want entries named 0, 1, 2 ..., found %q", dir, name)
		}
		byIndex[i] = v
		idx = append(idx, i)
	}
	sort.Ints(idx)
	l := make([]any, 0, len(idx))
	for _, i := range idx {
		l = append(l, byIndex[i])
	}
	return l, nil
}
