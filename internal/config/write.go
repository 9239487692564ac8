package config

import (
	"fmt"
	"sort"

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
	w := &hw{}
	w.line("{")
	w.indent++
	w.str("spool", c.Spool)
	w.str("log", c.Log)
	if c.Umask != nil {
		w.str("umask", fmt.Sprintf("%03o", uint32(*c.Umask)))
	}
	w.flag("noprogress", c.NoProgress)
	w.flag("nohdr", c.NoHdr)
	if len(c.MCDListen) > 0 {
		w.list("mcd-listen", c.MCDListen)
	}
	if len(c.MCDSend) > 0 {
		w.open("mcd-send")
		for _, k := range sortedKeysOf(c.MCDSend) {
			w.num(k, int64(c.MCDSend[k]))
		}
		w.close()
	}
	if c.Notify != nil {
		writeNotify(w, c.Notify)
	}
	if c.Self != nil {
		writeSelf(w, c.Self)
	}
	w.open("neigh")
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
		writeNeighbour(w, c, name, n)
	}
	w.close()
	if len(c.Areas) > 0 {
		w.open("areas")
		for _, name := range sortedKeysOf(c.Areas) {
			writeArea(w, name, c.Areas[name])
		}
		w.close()
	}
	if len(c.YggdrasilAliases) > 0 {
		w.open("yggdrasil-aliases")
		for _, k := range sortedKeysOf(c.YggdrasilAliases) {
			w.str(k, c.YggdrasilAliases[k])
		}
		w.close()
	}
	if c.Mail != nil {
		raw := c.Mail.Raw
		if raw == nil {
			raw = map[string]any{}
		}
		w.anyValue("mail: ", raw, false)
	}
	w.indent--
	w.line("}")
	return w.b.Bytes()
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

func writeFromTo(w *hw, key string, ft *FromTo) {
	if ft == nil {
		return
	}
	w.open(key)
	w.optStr("from", ft.From)
	w.optStr("to", ft.To)
	w.close()
}

func writeNotify(w *hw, n *Notify) {
	w.open("notify")
	writeFromTo(w, "file", n.File)
	writeFromTo(w, "freq", n.Freq)
	if len(n.Exec) > 0 {
		w.open("exec")
		for _, k := range sortedKeysOf(n.Exec) {
			ft := n.Exec[k]
			if ft == nil {
				ft = &FromTo{}
			}
			writeFromTo(w, k, ft)
		}
		w.close()
	}
	w.close()
}

// writeSelf writes the self section in nncp-cfgnew's key order.
func writeSelf(w *hw, p *node.Private) {
	w.open("self")
	w.str("id", p.ID.String())
	w.str("exchpub", b32(p.ExchPub[:]))
	w.str("exchprv", b32(p.ExchPrv[:]))
	w.str("signpub", b32(p.SignPub))
	w.str("signprv", b32(p.SignPrv))
	w.str("noiseprv", b32(p.NoisePrv[:]))
	if p.NoisePub != nil {
		w.str("noisepub", b32(p.NoisePub[:]))
	}
	w.close()
}

func writePublic(w *hw, p *node.Public) {
	w.str("id", p.ID.String())
	w.str("exchpub", b32(p.ExchPub[:]))
	w.str("signpub", b32(p.SignPub))
	if p.NoisePub != nil {
		w.str("noisepub", b32(p.NoisePub[:]))
	}
}

func writeExec(w *hw, exec map[string][]string) {
	if len(exec) == 0 {
		return
	}
	w.open("exec")
	for _, k := range sortedKeysOf(exec) {
		w.list(k, exec[k])
	}
	w.close()
}

func writeNeighbour(w *hw, c *Config, name string, n *Neighbour) {
	w.open(name)
	writePublic(w, &n.Public)
	w.optStr("incoming", n.Incoming)
	writeExec(w, n.Exec)
	if f := n.Freq; f != nil {
		w.open("freq")
		w.optStr("path", f.Path)
		w.optNum("chunked", f.Chunked)
		w.optNum("minsize", f.MinSize)
		w.optNum("maxsize", f.MaxSize)
		if f.FollowSymlinks {
			w.flag("follow-symlinks", true)
		}
		w.close()
	}
	if n.ExecMaxSize > 0 && n.ExecMaxSize != DefaultExecMaxSize {
		w.num("exec-maxsize", n.ExecMaxSize)
	}
	if len(n.Via) > 0 {
		via := make([]string, len(n.Via))
		for i, id := range n.Via {
			via[i] = c.Name(id)
		}
		w.list("via", via)
	}
	if len(n.Calls) > 0 {
		w.line("calls: [")
		w.indent++
		for i := range n.Calls {
			writeCall(w, &n.Calls[i])
		}
		w.indent--
		w.line("]")
	}
	if len(n.Addrs) > 0 {
		w.open("addrs")
		for _, k := range sortedKeysOf(n.Addrs) {
			w.str(k, n.Addrs[k])
		}
		w.close()
	}
	w.optNum("rxrate", int64(n.RxRate))
	w.optNum("txrate", int64(n.TxRate))
	if n.OnlineDeadline > 0 && n.OnlineDeadline != DefaultOnlineDeadline {
		w.num("onlinedeadline", int64(n.OnlineDeadline))
	}
	w.optNum("maxonlinetime", int64(n.MaxOnlineTime))
	w.optNum("sp-deadline", int64(n.SPDeadline))
	w.optNum("sp-ping", int64(n.SPPing))
	if n.SPPad != nil {
		w.num("sp-pad", int64(*n.SPPad))
	}
	w.close()
}

func writeCall(w *hw, c *Call) {
	w.line("{")
	w.indent++
	w.str("cron", c.Cron)
	if c.Nice != 0 {
		w.str("nice", node.NiceString(c.Nice))
	}
	w.optStr("xx", c.Xx)
	w.optNum("rxrate", int64(c.RxRate))
	w.optNum("txrate", int64(c.TxRate))
	w.optStr("addr", c.Addr)
	w.optNum("onlinedeadline", int64(c.OnlineDeadline))
	w.optNum("maxonlinetime", int64(c.MaxOnlineTime))
	for _, f := range callFlags(c) {
		w.flag(f.key, *f.dst)
	}
	w.close()
}

func writeArea(w *hw, name string, a *Area) {
	w.open(name)
	w.str("id", a.ID.String())
	if a.Pub != nil {
		w.str("pub", b32(a.Pub[:]))
	}
	if a.Prv != nil {
		w.str("prv", b32(a.Prv[:]))
	}
	if len(a.Subs) > 0 {
		w.list("subs", a.Subs)
	}
	writeExec(w, a.Exec)
	w.optStr("incoming", a.Incoming)
	w.flag("allow-unknown", a.AllowUnknown)
	w.close()
}
