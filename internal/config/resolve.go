package config

import (
	"bytes"
	"fmt"
	"sort"

	"ferry/internal/node"
)

// resolve does the checks that span sections: neigh.self against self,
// unique ids, via and area subscribers naming known nodes. It fills ByID and
// each Neighbour.Via.
func (c *Config) resolve(via map[string][]string) error {
	if c.Self != nil {
		ns := c.Neigh["self"]
		switch {
		case ns.ID != c.Self.ID:
			return fieldErr("neigh.self.id", "is %s, but self.id is %s", ns.ID, c.Self.ID)
		case ns.ExchPub != c.Self.ExchPub:
			return fieldErr("neigh.self.exchpub", "differs from self.exchpub")
		case !bytes.Equal(ns.SignPub, c.Self.SignPub):
			return fieldErr("neigh.self.signpub", "differs from self.signpub")
		case ns.NoisePub != nil && *ns.NoisePub != *c.Self.NoisePub:
			return fieldErr("neigh.self.noisepub", "differs from self.noisepub")
		}
	}
	c.ByID = make(map[node.ID]*Neighbour, len(c.Neigh))
	for _, name := range c.Names() {
		n := c.Neigh[name]
		if other, dup := c.ByID[n.ID]; dup {
			// nncp-* accept this and keep one of the two at random.
			return fieldErr("neigh."+name+".id", "%s is also the id of neighbour %q", n.ID, other.Name)
		}
		c.ByID[n.ID] = n
	}
	for _, name := range c.Names() {
		n := c.Neigh[name]
		n.Via = nil
		for i, v := range via[name] {
			hop, err := c.Node(v)
			if err != nil {
				return wrapField(fmt.Sprintf("neigh.%s.via[%d]", name, i), err)
			}
			n.Via = append(n.Via, hop.ID)
		}
	}
	for _, name := range sortedAreaNames(c.Areas) {
		for i, s := range c.Areas[name].Subs {
			if _, err := c.Node(s); err != nil {
				return wrapField(fmt.Sprintf("areas.%s.subs[%d]", name, i), err)
			}
		}
	}
	return nil
}

func sortedAreaNames(m map[string]*Area) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Names returns the neighbours' names in order, "self" included.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Neigh))
	for k := range c.Neigh {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Node finds a neighbour by name or by Base32 id, the way nncp-* read node
// arguments and via entries: a name first, then an id.
func (c *Config) Node(nameOrID string) (*Neighbour, error) {
	if n, ok := c.Neigh[nameOrID]; ok {
		return n, nil
	}
	if id, err := node.ParseID(nameOrID); err == nil {
		if n := c.byID(id); n != nil {
			return n, nil
		}
	}
	return nil, fmt.Errorf("%q: %w", nameOrID, ErrUnknownNode)
}

// Name returns the name of the neighbour with that id, or the Base32 id when
// there is none: what logs and messages should show for a node.
func (c *Config) Name(id node.ID) string {
	if n, ok := c.ByID[id]; ok && n.Name != "" {
		return n.Name
	}
	for _, name := range c.Names() {
		if c.Neigh[name].ID == id {
			return name
		}
	}
	return id.String()
}

// byID looks id up in ByID, or in Neigh for a config built in code without
// ByID.
func (c *Config) byID(id node.ID) *Neighbour {
	if n, ok := c.ByID[id]; ok {
		return n
	}
	for _, name := range c.Names() {
		if n := c.Neigh[name]; n.ID == id {
			return n
		}
	}
	return nil
}
