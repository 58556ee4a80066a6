package heuristics

import (
	"net/netip"
	"strings"

	"github.com/logscan/logscan/heuristics/session"
)

// connectorUsage counts, per receive connector, the sessions of each direct
// client (not proxied): who uses a connector tells a dedicated relay
// connector from one that takes Internet mail, and gives each source its
// share. Memory follows the distinct client addresses.
type connectorUsage struct {
	conns map[connRef]*connUse
}

type connRef struct{ server, connector string }

type connUse struct {
	sessions int64
	clients  map[netip.Addr]int64
}

func newConnectorUsage() *connectorUsage { return &connectorUsage{conns: map[connRef]*connUse{}} }

func (u *connectorUsage) observe(s *session.Session) {
	if !s.IsReceive() || s.Proxied {
		return
	}
	k := connRef{s.Server, s.Connector}
	c := u.conns[k]
	if c == nil {
		c = &connUse{clients: map[netip.Addr]int64{}}
		u.conns[connRef{strings.Clone(s.Server), strings.Clone(s.Connector)}] = c
	}
	c.sessions++
	c.clients[s.Client]++
}

// publicClients counts the connector's distinct clients outside v's
// internal networks.
func (u *connectorUsage) publicClients(v *orgView, k connRef) int {
	n := 0
	if c := u.conns[k]; c != nil {
		for a := range c.clients {
			if a.IsValid() && !v.isInternal(a) {
				n++
			}
		}
	}
	return n
}

// internetFacing reports whether a connector takes mail from the Internet:
// it is a Default Frontend connector, or many distinct public hosts use it.
func (u *connectorUsage) internetFacing(v *orgView, k connRef) bool {
	return strings.HasPrefix(connectorShortName(k.connector), "Default Frontend") ||
		u.publicClients(v, k) >= internetSources
}

// internetSources is how many distinct public clients make a connector
// Internet-facing. A relay connector scoped to a partner or two has fewer;
// a connector open to the Internet sees dozens a day.
const internetSources = 5

// connectorShortName drops the "SERVER\" prefix of a receive connector-id.
func connectorShortName(id string) string {
	if i := strings.IndexByte(id, '\\'); i >= 0 {
		return strings.TrimSpace(id[i+1:])
	}
	return strings.TrimSpace(id)
}
