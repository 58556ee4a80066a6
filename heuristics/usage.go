package heuristics

import (
	"strings"

	"github.com/logscan/logscan/heuristics/session"
)

// connectorUsage counts, per receive connector, the sessions of each direct
// client (not proxied): who uses a connector tells a dedicated relay
// connector from one that takes Internet mail, and gives each source its
// share. The counts per client are kept within a budget (addrTable): past
// it a connector lists its lowest addresses, and counts the rest together.
type connectorUsage struct {
	conns   map[connRef]*connUse
	clients addrTable // groups: connUse.id
	// last is the connector of the session counted last, compared with
	// before hashing (as Summary.lastConn).
	last *connUse
}

type connRef struct{ server, connector string }

type connUse struct {
	ref      connRef // the map's copy
	id       uint32
	sessions int64
}

func newConnectorUsage() *connectorUsage { return &connectorUsage{conns: map[connRef]*connUse{}} }

func (u *connectorUsage) observe(s *session.Session) {
	if !s.IsReceive() || s.Proxied {
		return
	}
	c := u.last
	if c == nil || s.Connector != c.ref.connector || s.Server != c.ref.server {
		c = u.conns[connRef{s.Server, s.Connector}]
		if c == nil {
			c = &connUse{ref: connRef{strings.Clone(s.Server), strings.Clone(s.Connector)}, id: uint32(len(u.conns))}
			u.conns[c.ref] = c
		}
		u.last = c
	}
	c.sessions++
	u.clients.add(c.id, s.Client, 1)
}

// distinctClients is how many distinct clients the connector had, and
// whether that is a lower bound (the budget was reached).
func (u *connectorUsage) distinctClients(k connRef) (int, bool) {
	if c := u.conns[k]; c != nil {
		return u.clients.distinct(c.id)
	}
	return 0, false
}

// budget reports the connectors whose clients passed the budget.
func (u *connectorUsage) budget() []Budget {
	var where []BudgetPlace
	for k, c := range u.conns {
		if rest, dropped := u.clients.rest(c.id); dropped {
			n, _ := u.clients.distinct(c.id)
			where = append(where, BudgetPlace{Server: k.server, Connector: k.connector, LogType: "receive", Kept: int64(n), OtherSessions: rest})
		}
	}
	if len(where) == 0 {
		return nil
	}
	return []Budget{{Table: budgetUsage, Limit: int64(maxAddrEntries), Where: sortPlaces(where), Meaning: meaningAddr}}
}

// publicClients counts the connector's distinct clients outside v's
// internal networks (of those kept, past the budget).
func (u *connectorUsage) publicClients(v *orgView, k connRef) int {
	n := 0
	if c := u.conns[k]; c != nil {
		for _, ac := range u.clients.kept(c.id) {
			if ac.Addr.IsValid() && !v.isInternal(ac.Addr) {
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
