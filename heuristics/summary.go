package heuristics

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
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
//
// Memory does not grow with the number of sessions: a session whose rows
// include both its first row (sequence 0) and its disconnect ('-') is folded
// into its connector's totals at once and forgotten. Only fragments cut by a
// file boundary (or by the end of the logs) wait in a map for Result to join.
type Summary struct {
	parts []*partial
}

// NewSummary returns a Summary for records from workers goroutines.
func NewSummary(workers int) *Summary {
	s := &Summary{parts: make([]*partial, max(workers, 1))}
	for i := range s.parts {
		s.parts[i] = &partial{names: map[string]uint32{}, open: map[sessionKey]sessionVal{},
			conns: map[connID]*connAgg{}, local: map[localKey]struct{}{}}
	}
	return s
}

// sessionKey identifies a session: session-ids are unique per server and log.
type sessionKey struct {
	server  uint32 // interned name; 0 is "unknown"
	logType parser.LogType
	id      uint64
}

// sessionVal is what is known of a session so far. It holds no pointers,
// so the garbage collector need not scan the map.
type sessionVal struct {
	connector   uint32
	remote      [16]byte // zero: not seen yet
	first, last int64    // Unix ms
	rows        int32
	start, end  bool // sequence 0 seen; '-' seen
}

func (v *sessionVal) merge(o sessionVal) {
	v.first, v.last, v.rows = min(v.first, o.first), max(v.last, o.last), v.rows+o.rows
	if v.remote == ([16]byte{}) {
		v.remote = o.remote
	}
	if v.connector == 0 {
		v.connector = o.connector
	}
	v.start, v.end = v.start || o.start, v.end || o.end
}

type localKey struct {
	server uint32
	ip     netip.Addr
}

type connID struct {
	server, connector uint32
	logType           parser.LogType
}

type connAgg struct {
	sessions, rows int64
	durations      stats.Float64Data
	remote         map[[16]byte]int64
}

func (c *connAgg) add(v sessionVal) {
	c.sessions++
	c.rows += int64(v.rows)
	c.durations = append(c.durations, float64(v.last-v.first)/1000)
	if v.remote != ([16]byte{}) {
		c.remote[v.remote]++
	}
}

// partial is one worker's share. Names are interned per worker.
type partial struct {
	names    map[string]uint32
	list     []string
	open     map[sessionKey]sessionVal
	conns    map[connID]*connAgg
	local    map[localKey]struct{}
	rows     int64
	complete int64
	minT     int64 // Unix ms, valid when rows > 0
	maxT     int64
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

func (p *partial) conn(k sessionKey, connector uint32) *connAgg {
	id := connID{k.server, connector, k.logType}
	c := p.conns[id]
	if c == nil {
		c = &connAgg{remote: map[[16]byte]int64{}}
		p.conns[id] = c
	}
	return c
}

// fold merges a run of rows of one session into the open map, and moves the
// session to its connector's totals once it is complete.
func (p *partial) fold(k sessionKey, v sessionVal) {
	if old, ok := p.open[k]; ok {
		v.merge(old)
	}
	if v.start && v.end {
		delete(p.open, k)
		p.conn(k, v.connector).add(v)
		p.complete++
		return
	}
	p.open[k] = v
}

// eventDisconnect is the index of '-' in parser.Events.
var eventDisconnect = int8(strings.IndexByte(parser.Events, '-'))

// Add folds one record into the worker's partial.
func (s *Summary) Add(worker int, rec arrow.Record) {
	p := s.parts[worker]
	n := int(rec.NumRows())
	if n == 0 {
		return
	}
	if p.rows == 0 {
		p.minT, p.maxT = int64(rec.Column(parser.ColDateTime).(*array.Timestamp).Value(0)), int64(rec.Column(parser.ColDateTime).(*array.Timestamp).Value(0))
	}
	p.rows += int64(n)
	servers := rec.Column(parser.ColServer).(*array.Dictionary)
	serverIDs := p.dictIDs(servers)
	serverIdx := servers.Indices().(*array.Int32).Int32Values()
	conns := rec.Column(parser.ColConnectorID).(*array.Dictionary)
	connIDs := p.dictIDs(conns)
	connIdx := conns.Indices().(*array.Int32).Int32Values()
	logTypes := rec.Column(parser.ColLogType).(*array.Dictionary).Indices().(*array.Int8).Int8Values()
	events := rec.Column(parser.ColEvent).(*array.Dictionary)
	eventIdx := events.Indices().(*array.Int8).Int8Values()
	ts := rec.Column(parser.ColDateTime).(*array.Timestamp).TimestampValues()
	sids := rec.Column(parser.ColSessionID).(*array.Uint64).Uint64Values()
	seqs := rec.Column(parser.ColSequenceNumber).(*array.Uint32).Uint32Values()
	remote := rec.Column(parser.ColRemoteIP).(*array.FixedSizeBinary)
	local := rec.Column(parser.ColLocalIP).(*array.FixedSizeBinary)

	// Rows of one session mostly come in runs, so the map is touched once a run.
	var cur sessionKey
	var val sessionVal
	have := false
	var lastLocal localKey
	for i := range n {
		var server uint32
		if servers.IsValid(i) {
			server = serverIDs[serverIdx[i]]
		}
		k := sessionKey{server: server, logType: parser.LogTypeOfIndex(logTypes[i]), id: sids[i]}
		t := int64(ts[i])
		p.minT, p.maxT = min(p.minT, t), max(p.maxT, t)
		if !have || k != cur {
			if have {
				p.fold(cur, val)
			}
			cur, have = k, true
			val = sessionVal{connector: connIDs[connIdx[i]], first: t, last: t}
		}
		val.rows++
		val.first, val.last = min(val.first, t), max(val.last, t)
		val.start = val.start || seqs[i] == 0
		val.end = val.end || (events.IsValid(i) && eventIdx[i] == eventDisconnect)
		if val.remote == ([16]byte{}) && remote.IsValid(i) {
			val.remote = [16]byte(remote.Value(i))
		}
		if local.IsValid(i) && server != 0 {
			lk := localKey{server: server, ip: parser.IPAt(local, i)}
			if lk != lastLocal {
				p.local[lk] = struct{}{}
				lastLocal = lk
			}
		}
	}
	if have {
		p.fold(cur, val)
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

// Result merges the workers' partials; top is how many remote addresses to
// list per connector. Call it once, after the last Add.
func (s *Summary) Result(top int) SummaryResult {
	var res SummaryResult
	conns := map[connKey]*connAgg{}
	connOf := func(k connKey) *connAgg {
		c := conns[k]
		if c == nil {
			c = &connAgg{remote: map[[16]byte]int64{}}
			conns[k] = c
		}
		return c
	}
	// Join the fragments that files cut apart, by names, across workers.
	type gkey struct {
		server  string
		logType parser.LogType
		id      uint64
	}
	type fragment struct {
		val       sessionVal
		connector string
	}
	open := map[gkey]fragment{}
	localBy := map[string]*netipx.IPSetBuilder{}
	var first, last int64
	for _, p := range s.parts {
		if p.rows > 0 {
			if res.Rows == 0 || p.minT < first {
				first = p.minT
			}
			if res.Rows == 0 || p.maxT > last {
				last = p.maxT
			}
		}
		res.Rows += p.rows
		res.Sessions += p.complete
		for id, c := range p.conns {
			dst := connOf(connKey{p.name(id.server), p.name(id.connector), id.logType})
			dst.sessions += c.sessions
			dst.rows += c.rows
			dst.durations = append(dst.durations, c.durations...)
			for a, n := range c.remote {
				dst.remote[a] += n
			}
		}
		for k, v := range p.open {
			g := gkey{p.name(k.server), k.logType, k.id}
			f, ok := open[g]
			if ok {
				v.merge(f.val)
			} else {
				f.connector = p.name(v.connector)
			}
			open[g] = fragment{val: v, connector: f.connector}
		}
		clear(p.open)
		for k := range p.local {
			name := p.name(k.server)
			if localBy[name] == nil {
				localBy[name] = &netipx.IPSetBuilder{}
			}
			localBy[name].Add(k.ip)
		}
	}
	for g, f := range open {
		connOf(connKey{g.server, f.connector, g.logType}).add(f.val)
		res.Sessions++
	}
	servers := map[string]*ServerSummary{}
	for k, c := range conns {
		sv := servers[k.server]
		if sv == nil {
			sv = &ServerSummary{Name: k.server}
			servers[k.server] = sv
		}
		sv.Sessions += c.sessions
		sv.Rows += c.rows
		cs := ConnectorSummary{Server: k.server, Name: k.name, LogType: k.logType.String(), Sessions: c.sessions, Rows: c.rows}
		// Nearest rank: the p95 is a length some session really had.
		cs.MedianSeconds, _ = stats.Median(c.durations)
		cs.P95Seconds, _ = stats.PercentileNearestRank(c.durations, 95)
		for a, n := range c.remote {
			cs.TopRemote = append(cs.TopRemote, AddrCount{netip.AddrFrom16(a).Unmap(), n})
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
	if res.Rows > 0 {
		res.First, res.Last = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	}
	return res
}
