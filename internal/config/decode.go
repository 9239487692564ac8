package config

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"math"
	"path/filepath"

	"ferry/internal/cron"
	"ferry/internal/node"
	"ferry/internal/wire"
)

// key reads a required Base32 key of n bytes.
func (o obj) key(name string, n int) ([]byte, error) {
	s, err := o.need(name)
	if err != nil {
		return nil, err
	}
	b, err := node.DecodeKey(s, n)
	if err != nil {
		return nil, wrapField(join(o.field, name), err)
	}
	return b, nil
}

// key32 reads a required 32-byte Base32 key.
func (o obj) key32(name string) (k [32]byte, err error) {
	b, err := o.key(name, 32)
	copy(k[:], b)
	return k, err
}

// optKey32 reads an optional 32-byte Base32 key.
func (o obj) optKey32(name string) (*[32]byte, error) {
	if _, ok := o.get(name); !ok {
		return nil, nil
	}
	k, err := o.key32(name)
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// public reads id, exchpub, signpub and noisepub, and checks that id is the
// hash of signpub. nncp-* 8.8.2 do not check it; a mismatch means a typo
// that would make every packet from that node fail to verify.
func (o obj) public(noiseRequired bool) (node.Public, error) {
	var p node.Public
	id, err := o.key("id", node.IDSize)
	if err != nil {
		return p, err
	}
	copy(p.ID[:], id)
	if p.ExchPub, err = o.key32("exchpub"); err != nil {
		return p, err
	}
	sp, err := o.key("signpub", ed25519.PublicKeySize)
	if err != nil {
		return p, err
	}
	p.SignPub = ed25519.PublicKey(sp)
	if want := node.IDFromSignPub(p.SignPub); want != p.ID {
		return p, fieldErr(join(o.field, "id"), "does not match signpub (BLAKE2b-256 of signpub is %s)", want)
	}
	if noiseRequired {
		k, err := o.key32("noisepub")
		if err != nil {
			return p, err
		}
		p.NoisePub = &k
	} else if p.NoisePub, err = o.optKey32("noisepub"); err != nil {
		return p, err
	}
	return p, nil
}

func decodeSelf(o obj) (*node.Private, error) {
	pub, err := o.public(true)
	if err != nil {
		return nil, err
	}
	p := &node.Private{Public: pub}
	if p.ExchPrv, err = o.key32("exchprv"); err != nil {
		return nil, err
	}
	sp, err := o.key("signprv", ed25519.PrivateKeySize)
	if err != nil {
		return nil, err
	}
	p.SignPrv = ed25519.PrivateKey(sp)
	if p.NoisePrv, err = o.key32("noiseprv"); err != nil {
		return nil, err
	}
	mismatch := func(pubName, prvName string) error {
		return fieldErr(join(o.field, pubName), "does not match %s", prvName)
	}
	// An ed25519 private key carries its public half; deriving it from
	// the seed (ed25519.NewKeyFromSeed) costs about 1.5 ms per process, so
	// the seed is checked only when the key signs (node.CheckSignKey),
	// and the X25519 keys only when they are used (CheckExchKey,
	// CheckNoiseKey; cfgmin checks all).
	if !bytes.Equal(p.SignPrv.Public().(ed25519.PublicKey), p.SignPub) {
		return nil, mismatch("signpub", "signprv")
	}
	return p, nil
}

// intField is a whole-number key, its range and where to store it.
type intField struct {
	key    string
	lo, hi int64
	dst    *int
}

// intInto stores an optional whole number into *f.dst when present.
func (o obj) intInto(f intField) error {
	v, ok, err := o.num(f.key, f.lo, f.hi)
	if ok {
		*f.dst = int(v)
	}
	return err
}

// absPath reads an optional path that must be absolute when present.
func (o obj) absPath(key string) (string, error) {
	s, ok, err := o.str(key)
	if err != nil || !ok {
		return "", err
	}
	if !filepath.IsAbs(s) {
		return "", fieldErr(join(o.field, key), "must be an absolute path, got %q", s)
	}
	return s, nil
}

// decodeNeighbour decodes neigh.NAME. Via is resolved to ids once all
// neighbours are known, so its names are returned alongside.
func decodeNeighbour(neigh obj, name string) (*Neighbour, []string, error) {
	field := join(neigh.field, name)
	o, err := asObj(field, neigh.m[name])
	if err != nil {
		return nil, nil, err
	}
	n := &Neighbour{Name: name, OnlineDeadline: DefaultOnlineDeadline}
	if n.Public, err = o.public(false); err != nil {
		return nil, nil, err
	}
	if n.Exec, err = o.execMap("exec"); err != nil {
		return nil, nil, err
	}
	if n.Incoming, err = o.absPath("incoming"); err != nil {
		return nil, nil, err
	}
	if n.Freq, err = decodeFreq(o); err != nil {
		return nil, nil, err
	}
	if n.ExecMaxSize, err = o.bytes("exec-maxsize"); err != nil {
		return nil, nil, err
	}
	if _, set := o.get("exec-maxsize"); !set {
		n.ExecMaxSize = DefaultExecMaxSize
	} else if n.ExecMaxSize == 0 {
		return nil, nil, fieldErr(join(field, "exec-maxsize"), "must be greater than zero")
	}
	via, err := o.strs("via")
	if err != nil {
		return nil, nil, err
	}
	if n.Addrs, err = o.strMap("addrs"); err != nil {
		return nil, nil, err
	}
	for _, f := range []intField{
		{"rxrate", math.MinInt32, math.MaxInt32, &n.RxRate},
		{"txrate", math.MinInt32, math.MaxInt32, &n.TxRate},
		{"onlinedeadline", 1, math.MaxInt32, &n.OnlineDeadline},
		{"maxonlinetime", 0, math.MaxInt32, &n.MaxOnlineTime},
		{"sp-deadline", 1, math.MaxInt32, &n.SPDeadline},
		{"sp-ping", 1, math.MaxInt32, &n.SPPing},
		{"exec-parallel", 1, 1024, &n.ExecParallel},
	} {
		if err := o.intInto(f); err != nil {
			return nil, nil, err
		}
	}
	if v, ok, err := o.num("sp-pad", 0, wire.MaxSPPayload); err != nil {
		return nil, nil, err
	} else if ok {
		pad := int(v)
		n.SPPad = &pad
	}
	if v, ok := o.get("calls"); ok {
		l, isList := v.([]any)
		if !isList {
			return nil, nil, fieldErr(join(field, "calls"), "want a list of objects, got %s", typeName(v))
		}
		for i, e := range l {
			call, err := decodeCall(fmt.Sprintf("%s.calls[%d]", field, i), e)
			if err != nil {
				return nil, nil, err
			}
			n.Calls = append(n.Calls, call)
		}
	}
	return n, via, nil
}

func decodeFreq(n obj) (*Freq, error) {
	o, ok, err := n.sub("freq")
	if !ok {
		return nil, err
	}
	f := &Freq{}
	if f.Path, err = o.absPath("path"); err != nil {
		return nil, err
	}
	chunked, ok, err := o.num("chunked", 0, math.MaxInt64/1024)
	if err != nil {
		return nil, err
	}
	if ok && chunked == 0 {
		return nil, fieldErr(join(o.field, "chunked"), "must be greater than zero")
	}
	f.Chunked = chunked
	if f.MinSize, _, err = o.num("minsize", 0, math.MaxInt64/1024); err != nil {
		return nil, err
	}
	if f.MaxSize, _, err = o.num("maxsize", 0, math.MaxInt64/1024); err != nil {
		return nil, err
	}
	if f.FollowSymlinks, err = o.flag("follow-symlinks"); err != nil {
		return nil, err
	}
	if f.Path == "" {
		return nil, nil // no freqing allowed: the rest does not matter
	}
	return f, nil
}

func decodeCall(field string, v any) (Call, error) {
	var c Call
	o, err := asObj(field, v)
	if err != nil {
		return c, err
	}
	if c.Cron, err = o.need("cron"); err != nil {
		return c, err
	}
	if c.Cron == "" {
		return c, fieldErr(join(field, "cron"), "must not be empty")
	}
	if _, err := cron.Parse(c.Cron); err != nil {
		return c, wrapField(join(field, "cron"), err)
	}
	if s, ok, err := o.str("nice"); err != nil {
		return c, err
	} else if ok {
		if c.Nice, err = node.ParseNice(s); err != nil {
			return c, wrapField(join(field, "nice"), err)
		}
	}
	if s, ok, err := o.str("xx"); err != nil {
		return c, err
	} else if ok {
		if s != "rx" && s != "tx" {
			return c, fieldErr(join(field, "xx"), "want \"rx\" or \"tx\", got %q", s)
		}
		c.Xx = s
	}
	if c.Addr, _, err = o.str("addr"); err != nil {
		return c, err
	}
	for _, f := range []intField{
		{"rxrate", math.MinInt32, math.MaxInt32, &c.RxRate},
		{"txrate", math.MinInt32, math.MaxInt32, &c.TxRate},
		{"onlinedeadline", 1, math.MaxInt32, &c.OnlineDeadline},
		{"maxonlinetime", 0, math.MaxInt32, &c.MaxOnlineTime},
	} {
		if err := o.intInto(f); err != nil {
			return c, err
		}
	}
	for _, f := range callFlags(&c) {
		if *f.dst, err = o.flag(f.key); err != nil {
			return c, err
		}
	}
	return c, nil
}

// callFlags lists a call's boolean keys in the order nncp-* write them.
// autotoss-noack is ferry's: nncp-* 8.8.2 ignore it.
func callFlags(c *Call) []struct {
	key string
	dst *bool
} {
	return []struct {
		key string
		dst *bool
	}{
		{"when-tx-exists", &c.WhenTxExists},
		{"nock", &c.NoCK},
		{"mcd-ignore", &c.MCDIgnore},
		{"autotoss", &c.AutoToss},
		{"autotoss-doseen", &c.AutoTossDoSeen},
		{"autotoss-nofile", &c.AutoTossNoFile},
		{"autotoss-nofreq", &c.AutoTossNoFreq},
		{"autotoss-noexec", &c.AutoTossNoExec},
		{"autotoss-notrns", &c.AutoTossNoTrns},
		{"autotoss-noarea", &c.AutoTossNoArea},
		{"autotoss-noack", &c.AutoTossNoACK},
	}
}

func decodeAreas(o obj) (map[string]*Area, error) {
	var out map[string]*Area
	for _, name := range sortedKeys(o.m) {
		a, err := asObj(join(o.field, name), o.m[name])
		if err != nil {
			return nil, err
		}
		area := &Area{Name: name}
		id, err := a.key("id", node.IDSize)
		if err != nil {
			return nil, err
		}
		copy(area.ID[:], id)
		if area.Pub, err = a.optKey32("pub"); err != nil {
			return nil, err
		}
		if area.Prv, err = a.optKey32("prv"); err != nil {
			return nil, err
		}
		if area.Prv != nil && area.Pub == nil {
			return nil, fieldErr(join(a.field, "pub"), "missing (prv requires pub)")
		}
		if area.Subs, err = a.strs("subs"); err != nil {
			return nil, err
		}
		if area.Exec, err = a.execMap("exec"); err != nil {
			return nil, err
		}
		// nncp-* do not require an absolute path here.
		if area.Incoming, _, err = a.str("incoming"); err != nil {
			return nil, err
		}
		if area.AllowUnknown, err = a.flag("allow-unknown"); err != nil {
			return nil, err
		}
		if out == nil {
			out = make(map[string]*Area)
		}
		out[name] = area
	}
	return out, nil
}
