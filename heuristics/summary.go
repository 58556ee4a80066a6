package heuristics

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	"go4.org/netipx"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// Summary aggregates what a scan read from the sessions the builder
// rebuilt: servers, connectors, sessions and the busiest remote addresses
// per connector. It keeps a count per distinct session length per
// connector and a count per remote address per connector, both within a
// budget (budget.go); nothing grows with rows or sessions. It is not safe
// for concurrent use (the Analyzer feeds it under its lock).
type Summary struct {
	rows, sessions int64
	first, last    time.Time
	conns          map[connKey]*connAgg
	// lastConn is the connector of the session observed last: a worker's
	// sessions come from one server's log, mostly one connector's, and
	// comparing the names with its key costs less than hashing them.
	lastConn *connAgg
	remote   addrTable                          // groups: connAgg.id
	local    map[string]map[netip.Addr]struct{} // per named server: its distinct local addresses (orgEvidence.resolve reads them too)
}

type connKey struct {
	server, name string
	logType      parser.LogType
}

type connAgg struct {
	key            connKey // the map's copy
	id             uint32  // its group in Summary.remote
	sessions, rows int64
	lengths        lengthHist
	hours          map[int64]int64 // Unix hour of a session's start -> sessions
	// runHour and runSessions are the sessions of the connector's last
	// hour not yet in hours: a connector's sessions come in order of
	// time, mostly in the hour of the one before, and counting a run
	// once saves a map update a session. flushHours adds them.
	runHour, runSessions int64
	// lastLocal is the local address of its last session: already in
	// Summary.local, whose set it need not look up again.
	lastLocal netip.Addr
}

// flushHours adds the run of sessions in runHour to hours.
func (c *connAgg) flushHours() {
	if c.runSessions > 0 {
		c.hours[c.runHour] += c.runSessions
		c.runSessions = 0
	}
}

// NewSummary returns an empty Summary.
func NewSummary() *Summary {
	return &Summary{conns: map[connKey]*connAgg{}, local: map[string]map[netip.Addr]struct{}{}}
}

func (s *Summary) observe(x *session.Session) {
	s.rows += int64(x.Rows)
	s.sessions++
	if s.first.IsZero() || x.Start.Before(s.first) {
		s.first = x.Start
	}
	if x.End.After(s.last) {
		s.last = x.End
	}
	c := s.lastConn
	if c == nil || x.Connector != c.key.name || x.Server != c.key.server || x.LogType != c.key.logType {
		c = s.conns[connKey{x.Server, x.Connector, x.LogType}]
		if c == nil {
			c = &connAgg{key: connKey{strings.Clone(x.Server), strings.Clone(x.Connector), x.LogType}, id: uint32(len(s.conns)), hours: map[int64]int64{}}
			s.conns[c.key] = c
		}
		s.lastConn = c
	}
	c.sessions++
	c.rows += int64(x.Rows)
	c.lengths.add(x.Duration())
	if !x.Start.IsZero() {
		if h := x.Start.Unix() / 3600; h != c.runHour {
			c.flushHours()
			c.runHour = h
		}
		c.runSessions++
	}
	if a := x.Remote.Addr(); a.IsValid() {
		s.remote.add(c.id, a, 1)
	}
	if a := x.Local.Addr(); a.IsValid() && x.Server != "" && a != c.lastLocal {
		c.lastLocal = a
		// A set, not an IPSetBuilder: the builder keeps every Add until
		// IPSet is called, one entry per session.
		m := s.local[x.Server]
		if m == nil {
			m = map[netip.Addr]struct{}{}
			s.local[strings.Clone(x.Server)] = m
		}
		m[a] = struct{}{}
	}
}

// SummaryResult is the merged summary.
type SummaryResult struct {
	Rows       int64
	Sessions   int64
	First      time.Time // zero when no rows
	Last       time.Time
	Servers    []ServerSummary
	Connectors []ConnectorSummary
	// Budgets are the summary's tables that reached their budget.
	Budgets []Budget
}

// ServerSummary describes one server as its logs show it.
type ServerSummary struct {
	Name       string // "" when a send log's server could not be told
	Sessions   int64
	Rows       int64
	LocalAddrs []string // the server's own addresses, as ranges
}

// ConnectorSummary describes one connector of one server.
type ConnectorSummary struct {
	Server        string
	Name          string // connector-id as logged
	LogType       string // receive or send
	Sessions      int64
	Rows          int64
	MedianSeconds float64 // session duration
	P95Seconds    float64
	TopRemote     []AddrCount // most sessions first
	// Clients is how many distinct remote addresses it saw; with
	// OtherSessions > 0 (a budget reached) how many it kept, and there
	// were more.
	Clients int64
	// OtherSessions are the sessions from remote addresses not kept past
	// the budget (MaxAddrEntries), counted together: TopRemote and Clients
	// cover the kept addresses, the lowest. 0 when every address was kept.
	OtherSessions int64
	// LengthResolutionMS is the width of the buckets the session lengths
	// were counted in past MaxLengthValues distinct lengths; the median
	// and p95 are then their bucket's start. 0: exact (milliseconds).
	LengthResolutionMS int64
	// Hours are the sessions started per hour (UTC, Sessions only), in
	// order; hours without a session are left out. The HTML report
	// draws them; a month of logs is 720 entries per connector.
	Hours []HourCount
}

// AddrCount is a remote address and how many sessions came from (or went to) it.
type AddrCount struct {
	Addr     netip.Addr
	Sessions int64
}

// Result returns the summary; top is how many remote addresses to list per
// connector.
func (s *Summary) Result(top int) SummaryResult {
	res := SummaryResult{Rows: s.rows, Sessions: s.sessions, First: s.first.UTC(), Last: s.last.UTC()}
	if s.sessions == 0 {
		res.First, res.Last = time.Time{}, time.Time{}
	}
	servers := map[string]*ServerSummary{}
	var remoteCut, lengthsCut []BudgetPlace
	for k, c := range s.conns {
		c.flushHours()
		sv := servers[k.server]
		if sv == nil {
			sv = &ServerSummary{Name: k.server}
			servers[k.server] = sv
		}
		sv.Sessions += c.sessions
		sv.Rows += c.rows
		cs := ConnectorSummary{Server: k.server, Name: k.name, LogType: k.logType.String(), Sessions: c.sessions, Rows: c.rows}
		// Nearest rank: the p95 is a length some session really had.
		cs.MedianSeconds, cs.P95Seconds = c.lengths.quantiles()
		if r := c.lengths.resolution(); r > 1 {
			cs.LengthResolutionMS = r
			lengthsCut = append(lengthsCut, BudgetPlace{Server: k.server, Connector: k.name, LogType: cs.LogType, ResolutionMS: r})
		}
		n, _ := s.remote.distinct(c.id)
		cs.Clients = int64(n)
		if rest, dropped := s.remote.rest(c.id); dropped {
			cs.OtherSessions = rest
			remoteCut = append(remoteCut, BudgetPlace{Server: k.server, Connector: k.name, LogType: cs.LogType, Kept: int64(n), OtherSessions: rest})
		}
		for h, n := range c.hours {
			cs.Hours = append(cs.Hours, HourCount{Hour: time.Unix(h*3600, 0).UTC(), Sessions: n})
		}
		slices.SortFunc(cs.Hours, func(a, b HourCount) int { return a.Hour.Compare(b.Hour) })
		for _, ac := range s.remote.kept(c.id) {
			if ac.Addr.IsValid() {
				cs.TopRemote = append(cs.TopRemote, ac)
			}
		}
		slices.SortFunc(cs.TopRemote, func(a, b AddrCount) int {
			return cmp.Or(cmp.Compare(b.Sessions, a.Sessions), a.Addr.Compare(b.Addr))
		})
		if len(cs.TopRemote) > top {
			cs.TopRemote = cs.TopRemote[:top]
		}
		res.Connectors = append(res.Connectors, cs)
	}
	slices.SortFunc(res.Connectors, func(a, b ConnectorSummary) int {
		return cmp.Or(cmp.Compare(a.LogType, b.LogType), cmp.Compare(a.Server, b.Server), cmp.Compare(a.Name, b.Name))
	})
	if len(remoteCut) > 0 {
		res.Budgets = append(res.Budgets, Budget{Table: budgetSummaryRemote, Limit: int64(maxAddrEntries), Where: sortPlaces(remoteCut), Meaning: meaningAddr})
	}
	if len(lengthsCut) > 0 {
		res.Budgets = append(res.Budgets, Budget{Table: budgetLengths, Limit: int64(maxLengthValues), Where: sortPlaces(lengthsCut), Meaning: meaningLengths})
	}
	for name, sv := range servers {
		if m := s.local[name]; m != nil {
			var b netipx.IPSetBuilder
			for a := range m {
				b.Add(a)
			}
			if set, err := b.IPSet(); err == nil {
				for _, r := range set.Ranges() {
					if r.From() == r.To() {
						sv.LocalAddrs = append(sv.LocalAddrs, r.From().String())
					} else {
						sv.LocalAddrs = append(sv.LocalAddrs, r.String())
					}
				}
			}
		}
		res.Servers = append(res.Servers, *sv)
	}
	slices.SortFunc(res.Servers, func(a, b ServerSummary) int { return cmp.Compare(a.Name, b.Name) })
	return res
}
