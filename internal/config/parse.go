package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hjson/hjson-go/v4"
)

// eblobMagic starts a config encrypted by nncp-cfgenc (doc/eblob.texi); the
// last byte is the format version, so only the first seven are compared.
var eblobMagic = []byte("NNCPB\x00\x00\x03")

// DefaultOnlineDeadline is a neighbour's onlinedeadline when the config does
// not set one, in seconds.
const DefaultOnlineDeadline = 10

// DefaultExecMaxSize is a neighbour's exec-maxsize when the config does not
// set one: room for a mail with big attachments, not for a decompression
// bomb.
const DefaultExecMaxSize = 256 << 20

// Load reads the config at path: an Hjson file, or a directory in NNCP's
// configuration directory layout (nncp-cfgdir).
func Load(path string) (*Config, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	if fi.IsDir() {
		m, err := readDir(path)
		if err != nil {
			return nil, &Error{Path: path, Err: err}
		}
		return fromTree(m, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	return Parse(data, path)
}

// Parse decodes and validates an Hjson config. path is only used in error
// messages and stored in Config.Path.
func Parse(data []byte, path string) (*Config, error) {
	if bytes.HasPrefix(data, eblobMagic[:7]) {
		return nil, &Error{Path: path, Err: ErrEncrypted}
	}
	// Into an ordered map first: decoding into an interface makes hjson
	// encode its tree as JSON and decode that again (a sixth of a small
	// command's config load). Anything but an object at the top (or a
	// syntax error) takes the general way, for its error message.
	var om hjson.OrderedMap
	if err := hjson.Unmarshal(data, &om); err == nil {
		return fromTree(plainTree(&om), path)
	}
	var v any
	if err := hjson.Unmarshal(data, &v); err != nil {
		return nil, &Error{Path: path, Err: fmt.Errorf("hjson: %w", err)}
	}
	if v == nil {
		// An empty file: report what is missing, as for "{}".
		v = map[string]any{}
	}
	return fromTree(v, path)
}

// plainTree turns hjson's ordered maps into the map[string]any that a
// decode into an interface gives, strings included: that way goes
// through JSON, which makes each byte that is not UTF-8 a U+FFFD
// (FuzzPlainTree).
func plainTree(v any) any {
	switch x := v.(type) {
	case *hjson.OrderedMap:
		m := make(map[string]any, len(x.Keys))
		for _, k := range x.Keys { // in order: the last of keys made equal wins, as in JSON
			m[validUTF8(k)] = plainTree(x.Map[k])
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = plainTree(e)
		}
	case string:
		return validUTF8(x)
	}
	return v
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s { // a byte that is not UTF-8 comes as U+FFFD
		b.WriteRune(r)
	}
	return b.String()
}

// fromTree decodes and validates a tree of hjson-decoded values.
func fromTree(v any, path string) (*Config, error) {
	err := checkKeys(v, dirSchema, "")
	var c *Config
	var via map[string][]string
	if err == nil {
		c, via, err = decode(v)
	}
	if err == nil {
		err = c.resolve(via)
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Err: err}
		}
		e.Path = path
		return nil, e
	}
	c.Path = path
	return c, nil
}

// decode builds a Config from the tree without cross-checks. It returns
// each neighbour's via list as written, for resolve.
func decode(v any) (*Config, map[string][]string, error) {
	c, via := &Config{}, make(map[string][]string)
	err := c.decode(v, via)
	return c, via, err
}

func (c *Config) decode(v any, via map[string][]string) error {
	root, err := asObj("", v)
	if err != nil {
		return &Error{Err: fmt.Errorf("want an object at the top level, got %s", typeName(v))}
	}
	if c.Spool, err = root.need("spool"); err != nil {
		return err
	}
	if !filepath.IsAbs(c.Spool) {
		return fieldErr("spool", "must be an absolute path, got %q", c.Spool)
	}
	if c.Log, err = root.need("log"); err != nil {
		return err
	}
	if err := checkLog(c.Log); err != nil {
		return wrapField("log", err)
	}
	if s, ok, err := root.str("umask"); err != nil {
		return err
	} else if ok {
		// nncp-* parse it as a 16-bit octal number.
		u, err := strconv.ParseUint(s, 8, 16)
		if err != nil {
			return fieldErr("umask", "want an octal number such as \"022\", got %q", s)
		}
		m := os.FileMode(u)
		c.Umask = &m
	}
	if c.NoProgress, err = root.flag("noprogress"); err != nil {
		return err
	}
	if c.NoHdr, err = root.flag("nohdr"); err != nil {
		return err
	}
	if c.MCDListen, err = root.strs("mcd-listen"); err != nil {
		return err
	}
	if c.MCDSend, err = decodeMCDSend(root); err != nil {
		return err
	}
	if c.YggdrasilAliases, err = root.strMap("yggdrasil-aliases"); err != nil {
		return err
	}
	if s, ok, err := root.sub("self"); err != nil {
		return err
	} else if ok {
		if c.Self, err = decodeSelf(s); err != nil {
			return err
		}
	}
	neigh, ok, err := root.sub("neigh")
	if err != nil {
		return err
	}
	if !ok || neigh.m["self"] == nil {
		return fieldErr("neigh.self", "%w (every config needs the node's own public keys there)", ErrMissing)
	}
	c.Neigh = make(map[string]*Neighbour)
	for _, name := range sortedKeys(neigh.m) {
		n, v, err := decodeNeighbour(neigh, name)
		if err != nil {
			return err
		}
		c.Neigh[name] = n
		via[name] = v
	}
	if s, ok, err := root.sub("notify"); err != nil {
		return err
	} else if ok {
		if c.Notify, err = decodeNotify(s); err != nil {
			return err
		}
	}
	if s, ok, err := root.sub("areas"); err != nil {
		return err
	} else if ok {
		if c.Areas, err = decodeAreas(s); err != nil {
			return err
		}
	}
	if s, ok, err := root.sub("mail"); err != nil {
		return err
	} else if ok {
		if c.Mail, err = c.decodeMail(s); err != nil {
			return err
		}
	}
	// Unknown keys were refused by checkKeys (nncp-* ignore them).
	return nil
}

// checkLog accepts an absolute path or FD:N (general.texi). nncp-* 8.8.2
// only accept FD:N from $NNCPLOG and reject it in the config file.
func checkLog(s string) error {
	if fd, ok := strings.CutPrefix(s, "FD:"); ok {
		if n, err := strconv.Atoi(fd); err != nil || n < 0 {
			return fmt.Errorf("want FD:N with a decimal file descriptor, got %q", s)
		}
		return nil
	}
	if !filepath.IsAbs(s) {
		return fmt.Errorf("must be an absolute path or FD:N, got %q", s)
	}
	return nil
}

func decodeMCDSend(root obj) (map[string]int, error) {
	s, ok, err := root.sub("mcd-send")
	if !ok {
		return nil, err
	}
	var out map[string]int
	for _, k := range sortedKeys(s.m) {
		n, err := asInt(join(s.field, k), s.m[k], math.MinInt32, math.MaxInt32)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = make(map[string]int)
		}
		out[k] = int(n)
	}
	return out, nil
}

func decodeNotify(o obj) (*Notify, error) {
	n := &Notify{}
	var err error
	if n.File, err = decodeFromTo(o, "file"); err != nil {
		return nil, err
	}
	if n.Freq, err = decodeFromTo(o, "freq"); err != nil {
		return nil, err
	}
	ex, ok, err := o.sub("exec")
	if err != nil {
		return nil, err
	}
	if ok {
		for _, k := range sortedKeys(ex.m) {
			ft, err := decodeFromTo(ex, k)
			if err != nil {
				return nil, err
			}
			if n.Exec == nil {
				n.Exec = make(map[string]*FromTo)
			}
			n.Exec[k] = ft
		}
	}
	return n, nil
}

func decodeFromTo(o obj, key string) (*FromTo, error) {
	s, ok, err := o.sub(key)
	if !ok {
		return nil, err
	}
	ft := &FromTo{}
	if ft.From, _, err = s.str("from"); err != nil {
		return nil, err
	}
	if ft.To, _, err = s.str("to"); err != nil {
		return nil, err
	}
	return ft, nil
}
