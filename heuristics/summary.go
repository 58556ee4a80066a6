package heuristics

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/montanaflynn/stats"
	"go4.org/netipx"

	"github.com/logscan/logscan/parser"
)

// Summary aggregates what a scan read: servers, connectors, sessions and the
// busiest remote addresses per connector. Add may be called concurrently for
// different workers; each worker has its own partial, merged by Result.
type Summary struct {
	parts []*partial
}

// NewSummary returns a Summary for records from workers goroutines.
func NewSummary(workers int) *Summary {
	s := &Summary{parts: make([]*partial, max(workers, 1))}
	for i := range s.parts {
		s.parts[i] = &partial{names: map[string]uint32{}, sessions: map[sessionKey]sessionVal{}, local: map[localKey]struct{}{}}
	}
	return s
}

// sessionKey identifies a session: session-ids are unique per server and log.
type sessionKey struct {
	server  uint32 // interned name; 0 is "unknown"
	logType parser.LogType
	id      uint64
}

type sessionVal struct {
	connector   uint32
	remote      netip.Addr
	first, last int64 // Unix ms
	rows        int32
}

type localKey struct {
	server uint32
	ip     netip.Addr
}

// partial is one worker's share. Names are interned per worker.
type partial struct {
	names    map[string]uint32
	list     []string
	sessions map[sessionKey]sessionVal
	local    map[localKey]struct{}
	rows     int64
}

func (p *partial) intern(s string) uint32 {
	if id, ok := p.names[s]; ok {
		return id
	}
	p.list = append(p.list, s)
	id := uint32(len(p.list)) // 0 stays "unknown"
	p.names[s] = id
	return id
}

func (p *partial) name(id uint32) string {
	if id == 0 {
		return ""
	}
	return p.list[id-1]
}

// dictIDs interns the dictionary of a dictionary column once per batch.
func (p *partial) dictIDs(col *array.Dictionary) []uint32 {
	d := col.Dictionary().(*array.String)
	ids := make([]uint32, d.Len())
	for i := range ids {
		ids[i] = p.intern(d.Value(i))
	}
	return ids
}

// Add folds one record into the worker's partial.
func (s *Summary) Add(worker int, rec arrow.Record) {
	p := s.parts[worker]
	n := int(rec.NumRows())
	p.rows += int64(n)
	servers := rec.Column(parser.ColServer).(*array.Dictionary)
	serverIDs := p.dictIDs(servers)
	serverIdx := servers.Indices().(*array.Int32).Int32Values()
	conns := rec.Column(parser.ColConnectorID).(*array.Dictionary)
	connIDs := p.dictIDs(conns)
	connIdx := conns.Indices().(*array.Int32).Int32Values()
	logTypes := rec.Column(parser.ColLogType).(*array.Dictionary).Indices().(*array.Int8).Int8Values()
	ts := rec.Column(parser.ColDateTime).(*array.Timestamp).TimestampValues()
	sids := rec.Column(parser.ColSessionID).(*array.Uint64).Uint64Values()
	remote := rec.Column(parser.ColRemoteIP).(*array.FixedSizeBinary)
	local := rec.Column(parser.ColLocalIP).(*array.FixedSizeBinary)

	// Rows of one session mostly come in runs, so the map is touched once a run.
	var cur sessionKey
	var val sessionVal
	have := false
	flush := func() {
		if !have {
			return
		}
		if old, ok := p.sessions[cur]; ok {
			val.first = min(val.first, old.first)
			val.last = max(val.last, old.last)
			val.rows += old.rows
			if old.remote.IsValid() {
				val.remote = old.remote
			}
			if old.connector != 0 {
				val.connector = old.connector
			}
		}
		p.sessions[cur] = val
	}
	var lastLocal localKey
	for i := range n {
		var server uint32
		if servers.IsValid(i) {
			server = serverIDs[serverIdx[i]]
		}
		k := sessionKey{server: server, logType: parser.LogType(logTypes[i] + 1), id: sids[i]}
		t := int64(ts[i])
		if !have || k != cur {
			flush()
			cur, have = k, true
			val = sessionVal{connector: connIDs[connIdx[i]], first: t, last: t}
		}
		val.rows++
		val.first, val.last = min(val.first, t), max(val.last, t)
		if !val.remote.IsValid() && remote.IsValid(i) {
			val.remote = parser.IPAt(remote, i)
		}
		if local.IsValid(i) && server != 0 {
			lk := localKey{server: server, ip: parser.IPAt(local, i)}
			if lk != lastLocal {
				p.local[lk] = struct{}{}
				lastLocal = lk
			}
		}
	}
	flush()
}

// SummaryResult is the merged summary.
type SummaryResult struct {
	Rows       int64
	Sessions   int64
	First      time.Time // zero when no rows
	Last       time.Time
	Servers    []ServerSummary
	Connectors []ConnectorSummary
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
}

// AddrCount is a remote address and how many sessions came from (or went to) it.
type AddrCount struct {
	Addr     netip.Addr
	Sessions int64
}

type connKey struct {
	server, name string
	logType      parser.LogType
}

type connAgg struct {
	sessions, rows int64
	durations      stats.Float64Data
	remote         map[netip.Addr]int64
}

// Result merges the workers' partials; top is how many remote addresses to
// list per connector.
func (s *Summary) Result(top int) SummaryResult {
	type sess struct {
		connector   string
		remote      netip.Addr
		first, last int64
		rows        int32
	}
	type gkey struct {
		server  string
		logType parser.LogType
		id      uint64
	}
	all := map[gkey]sess{}
	localBy := map[string]*netipx.IPSetBuilder{}
	var res SummaryResult
	for _, p := range s.parts {
		res.Rows += p.rows
		for k, v := range p.sessions {
			g := gkey{p.name(k.server), k.logType, k.id}
			cur, ok := all[g]
			if ok { // a session split across files read by different workers
				v.first, v.last, v.rows = min(v.first, cur.first), max(v.last, cur.last), v.rows+cur.rows
				if !v.remote.IsValid() {
					v.remote = cur.remote
				}
			}
			all[g] = sess{connector: p.name(v.connector), remote: v.remote, first: v.first, last: v.last, rows: v.rows}
		}
		for k := range p.local {
			name := p.name(k.server)
			if localBy[name] == nil {
				localBy[name] = &netipx.IPSetBuilder{}
			}
			localBy[name].Add(k.ip)
		}
	}
	servers := map[string]*ServerSummary{}
	conns := map[connKey]*connAgg{}
	var first, last int64
	for k, v := range all {
		if res.Sessions == 0 || v.first < first {
			first = v.first
		}
		if res.Sessions == 0 || v.last > last {
			last = v.last
		}
		res.Sessions++
		sv := servers[k.server]
		if sv == nil {
			sv = &ServerSummary{Name: k.server}
			servers[k.server] = sv
		}
		sv.Sessions++
		sv.Rows += int64(v.rows)
		ck := connKey{k.server, v.connector, k.logType}
		c := conns[ck]
		if c == nil {
			c = &connAgg{remote: map[netip.Addr]int64{}}
			conns[ck] = c
		}
		c.sessions++
		c.rows += int64(v.rows)
		c.durations = append(c.durations, float64(v.last-v.first)/1000)
		if v.remote.IsValid() {
			c.remote[v.remote]++
		}
	}
	if res.Sessions > 0 {
		res.First, res.Last = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	}
	for name, sv := range servers {
		if b := localBy[name]; b != nil {
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
	for k, c := range conns {
		cs := ConnectorSummary{Server: k.server, Name: k.name, LogType: k.logType.String(), Sessions: c.sessions, Rows: c.rows}
		// Nearest rank: the p95 is a length some session really had.
		cs.MedianSeconds, _ = stats.Median(c.durations)
		cs.P95Seconds, _ = stats.PercentileNearestRank(c.durations, 95)
		for a, n := range c.remote {
			cs.TopRemote = append(cs.TopRemote, AddrCount{a, n})
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
	return res
}
