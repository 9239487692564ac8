package tx

import (
	"fmt"
	"strings"

	"ferry/internal/config"
	"ferry/internal/node"
)

// Route is how a packet reaches its destination. The zero Route is the
// destination's own: the relays its config entry names (via), if any.
// Direct sends to the destination with no relay; Through goes through the
// relays given, first to last, whatever the config says.
type Route struct {
	set    bool
	relays []node.ID
}

// Direct is the route with no relay (NNCP's -via -).
func Direct() Route { return Route{set: true} }

// Through is the route through relays, first to last (-via A,B).
func Through(relays ...node.ID) Route { return Route{set: true, relays: relays} }

// ParseRoute reads NNCP's -via: "" is the configured route, "-" direct,
// "A,B" through A then B, each a neighbour's name or id in cfg.
func ParseRoute(cfg *config.Config, s string) (Route, error) {
	switch s {
	case "":
		return Route{}, nil
	case "-":
		return Direct(), nil
	}
	var ids []node.ID
	for _, name := range strings.Split(s, ",") {
		n, err := cfg.Node(strings.TrimSpace(name))
		if err != nil {
			return Route{}, fmt.Errorf("-via: %w", err)
		}
		ids = append(ids, n.ID)
	}
	return Through(ids...), nil
}

// relayIDs are r's relays for a packet to dest (nil: a node the config
// does not know, which has no configured route).
func (r Route) relayIDs(dest *config.Neighbour) []node.ID {
	if r.set || dest == nil {
		return r.relays
	}
	return dest.Via
}

// relays resolves r's relays for dest in the config.
func (s *Sender) relays(dest *config.Neighbour, r Route) ([]*config.Neighbour, error) {
	ids := r.relayIDs(dest)
	hops := make([]*config.Neighbour, 0, len(ids)+1)
	for _, id := range ids {
		n, ok := s.Cfg.ByID[id]
		if !ok {
			return nil, fmt.Errorf("via %s: %w", id, config.ErrUnknownNode)
		}
		hops = append(hops, n)
	}
	return hops, nil
}

// Hops returns the nodes a packet for `to` travels through on route r:
// relays first, the destination last.
func (s *Sender) Hops(to *config.Neighbour, r Route) ([]*config.Neighbour, error) {
	hops, err := s.relays(to, r)
	if err != nil {
		return nil, err
	}
	return append(hops, to), nil
}
