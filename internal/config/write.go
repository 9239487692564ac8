package config

import (
	"fmt"
	"sort"

	"github.com/hjson/hjson-go/v4"

	"ferry/internal/node"
)

// Marshal writes the whole config as Hjson: every field that is set, keys in
// the order nncp-* use, neighbours and other tables by name. Via hops are
// written as neighbour names. If Self is set and Neigh has no "self" entry,
// one is written from Self's public keys, so that a config built in code
// only needs Self.
//
// The result loads in ferry and in nncp-* 8.8.2, with two exceptions that
// are ferry extensions: a Log of FD:N (nncp-* only take that from $NNCPLOG)
// and the mail section and autotoss-noack, which nncp-* ignore.
func Marshal(c *Config) []byte {
	w := newWobj()
	w.set("spool", c.Spool)
	w.set("log", c.Log)
	if c.Umask != nil {
		w.set("umask", fmt.Sprintf("%03o", uint32(*c.Umask)))
	}
	w.flag("noprogress", c.NoProgress)
	w.flag("nohdr", c.NoHdr)
	if len(c.MCDListen) > 0 {
		w.list("mcd-listen", c.MCDListen)
	}
	if len(c.MCDSend) > 0 {
		m := newWobj()
		for _, k := range sortedKeysOf(c.MCDSend) {
			m.set(k, int64(c.MCDSend[k]))
		}
		w.set("mcd-send", m)
	}
	if c.Notify != nil {
		w.set("notify", notifyObj(c.Notify))
	}
	if c.Self != nil {
		w.set("self", selfObj(c.Self))
	}
	neigh := newWobj()
	names := sortedKeysOf(c.Neigh)
	if c.Self != nil && c.Neigh["self"] == nil {
		names = append(names, "self")
		sort.Strings(names)
	}
	for _, name := range names {
		n := c.Neigh[name]
		if n == nil {
			n = &Neighbour{Public: c.Self.Public}
		}
		neigh.set(name, neighbourObj(c, n))
	}
	w.set("neigh", neigh)
	if len(c.Areas) > 0 {
		areas := newWobj()
		for _, name := range sortedKeysOf(c.Areas) {
			areas.set(name, areaObj(c.Areas[name]))
		}
		w.set("areas", areas)
	}
	if len(c.YggdrasilAliases) > 0 {
		y := newWobj()
		for _, k := range sortedKeysOf(c.YggdrasilAliases) {
			y.set(k, c.YggdrasilAliases[k])
		}
		w.set("yggdrasil-aliases", y)
	}
	if c.Mail != nil {
		raw := c.Mail.Raw
		if raw == nil {
			raw = map[string]any{}
		}
		w.set("mail", raw)
	}
	return w.text(true)
}

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func b32(b []byte) string { return node.B32.EncodeToString(b) }

func fromToObj(ft *FromTo) wobj {
	o := newWobj()
	o.optStr("from", ft.From)
	o.optStr("to", ft.To)
	return o
}

func notifyObj(n *Notify) wobj {
	o := newWobj()
	if n.File != nil {
		o.set("file", fromToObj(n.File))
	}
	if n.Freq != nil {
		o.set("freq", fromToObj(n.Freq))
	}
	if len(n.Exec) > 0 {
		e := newWobj()
		for _, k := range sortedKeysOf(n.Exec) {
			ft := n.Exec[k]
			if ft == nil {
				ft = &FromTo{}
			}
			e.set(k, fromToObj(ft))
		}
		o.set("exec", e)
	}
	return o
}

// selfObj is the self section in nncp-cfgnew's key order.
func selfObj(p *node.Private) wobj {
	o := newWobj()
	o.set("id", p.ID.String())
	o.set("exchpub", b32(p.ExchPub[:]))
	o.set("exchprv", b32(p.ExchPrv[:]))
	o.set("signpub", b32(p.SignPub))
	o.set("signprv", b32(p.SignPrv))
	o.set("noiseprv", b32(p.NoisePrv[:]))
	if p.NoisePub != nil {
		o.set("noisepub", b32(p.NoisePub[:]))
	}
	return o
}

// publicObj is a node's public keys, in nncp-* order.
func publicObj(p *node.Public) wobj {
	o := newWobj()
	o.set("id", p.ID.String())
	o.set("exchpub", b32(p.ExchPub[:]))
	o.set("signpub", b32(p.SignPub))
	if p.NoisePub != nil {
		o.set("noisepub", b32(p.NoisePub[:]))
	}
	return o
}

func setExec(o wobj, exec map[string][]string) {
	if len(exec) == 0 {
		return
	}
	e := newWobj()
	for _, k := range sortedKeysOf(exec) {
		e.list(k, exec[k])
	}
	o.set("exec", e)
}

func neighbourObj(c *Config, n *Neighbour) wobj {
	o := publicObj(&n.Public)
	o.optStr("incoming", n.Incoming)
	setExec(o, n.Exec)
	if f := n.Freq; f != nil {
		fo := newWobj()
		fo.optStr("path", f.Path)
		fo.optNum("chunked", f.Chunked)
		fo.optNum("minsize", f.MinSize)
		fo.optNum("maxsize", f.MaxSize)
		fo.flag("follow-symlinks", f.FollowSymlinks)
		o.set("freq", fo)
	}
	if n.ExecMaxSize > 0 && n.ExecMaxSize != DefaultExecMaxSize {
		o.set("exec-maxsize", n.ExecMaxSize)
	}
	if n.ExecParallel > 1 {
		o.set("exec-parallel", n.ExecParallel)
	}
	if len(n.Via) > 0 {
		via := make([]string, len(n.Via))
		for i, id := range n.Via {
			via[i] = c.Name(id)
		}
		o.list("via", via)
	}
	if len(n.Calls) > 0 {
		calls := make([]*hjson.OrderedMap, len(n.Calls))
		for i := range n.Calls {
			calls[i] = callObj(&n.Calls[i]).m
		}
		o.set("calls", calls)
	}
	if len(n.Addrs) > 0 {
		a := newWobj()
		for _, k := range sortedKeysOf(n.Addrs) {
			a.set(k, n.Addrs[k])
		}
		o.set("addrs", a)
	}
	o.optNum("rxrate", int64(n.RxRate))
	o.optNum("txrate", int64(n.TxRate))
	if n.OnlineDeadline > 0 && n.OnlineDeadline != DefaultOnlineDeadline {
		o.set("onlinedeadline", int64(n.OnlineDeadline))
	}
	o.optNum("maxonlinetime", int64(n.MaxOnlineTime))
	o.optNum("sp-deadline", int64(n.SPDeadline))
	o.optNum("sp-ping", int64(n.SPPing))
	if n.SPPad != nil {
		o.set("sp-pad", int64(*n.SPPad))
	}
	return o
}

func callObj(c *Call) wobj {
	o := newWobj()
	o.set("cron", c.Cron)
	if c.Nice != 0 {
		o.set("nice", node.NiceString(c.Nice))
	}
	o.optStr("xx", c.Xx)
	o.optNum("rxrate", int64(c.RxRate))
	o.optNum("txrate", int64(c.TxRate))
	o.optStr("addr", c.Addr)
	o.optNum("onlinedeadline", int64(c.OnlineDeadline))
	o.optNum("maxonlinetime", int64(c.MaxOnlineTime))
	for _, f := range callFlags(c) {
		o.flag(f.key, *f.dst)
	}
	return o
}

func areaObj(a *Area) wobj {
	o := newWobj()
	o.set("id", a.ID.String())
	if a.Pub != nil {
		o.set("pub", b32(a.Pub[:]))
	}
	if a.Prv != nil {
		o.set("prv", b32(a.Prv[:]))
	}
	if len(a.Subs) > 0 {
		o.list("subs", a.Subs)
	}
	setExec(o, a.Exec)
	o.optStr("incoming", a.Incoming)
	o.flag("allow-unknown", a.AllowUnknown)
	return o
}
