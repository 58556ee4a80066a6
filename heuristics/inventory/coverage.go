package inventory

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/logscan/logscan/parser"
)

// GapThreshold is the shortest silence Coverage reports inside a log's
// span. Exchange writes a row for every connection, and a server taking
// mail rarely goes an hour without one; a longer silence is a missing
// file, a stopped transport service, logging switched off — or a quiet
// night on a small server, which the admin can tell apart.
const GapThreshold = time.Hour

// maxCoverageConnectors bounds the connectors Coverage keeps per worker
// (hostile logs can name a new one on every row); past it the rows are
// counted in their stream only.
const maxCoverageConnectors = 10_000

// Coverage reads the parser's records and tells, per server and log type,
// what time the logs cover: first and last row, silences longer than
// GapThreshold, and (from the scan's result) files cut short. It also
// counts rows per connector, before any filter. Add may be called
// concurrently for different workers; per-row work is a few comparisons,
// and nothing is allocated per row.
type Coverage struct {
	parts []*covPart
}

type covPart struct {
	streams     map[streamKey]*stream
	conns       map[connKey]*connRows
	files       map[string]*fileSeen
	connsCapped int64
}

type streamKey struct {
	server  string
	role    Role
	logType parser.LogType
}

// Role is the transport service whose log a file is, from its folder
// (...\Logs\FrontEnd\ProtocolLog\... or ...\Hub\...): on a multi-role
// server the Front End's and the Hub's logs stop and start independently,
// so each has its own span and gaps.
type Role uint8

const (
	RoleUnknown  Role = iota // 2007/2010 (one service), or a flat copy
	RoleFrontEnd             // Front End Transport
	RoleHub                  // Transport (Hub)
	RoleEdge                 // Edge Transport
)

func (r Role) String() string {
	return [...]string{"", "FrontEnd", "Hub", "Edge"}[r]
}

// RoleOfPath reads the role from a log's path: the folder named FrontEnd,
// Hub or Edge nearest the file.
func RoleOfPath(p string) Role {
	for p != "" {
		i := strings.LastIndexAny(p, `/\`)
		seg := p[i+1:]
		switch {
		case strings.EqualFold(seg, "FrontEnd"):
			return RoleFrontEnd
		case strings.EqualFold(seg, "Hub"):
			return RoleHub
		case strings.EqualFold(seg, "Edge"):
			return RoleEdge
		}
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return RoleUnknown
}

// stream is one server's log of one type. hours holds, per hour since the
// epoch that has rows, the first and last row's time in it: the silence
// before a row is exact from these, since the last row before a gap of an
// hour or more is the last of its hour, and the first after it the first
// of its hour.
type stream struct {
	rows  int64
	hours map[int64]*[2]int64
}

type connRows struct {
	rows        int64
	first, last int64
}

type fileSeen struct {
	server      string
	role        Role
	logType     parser.LogType
	rows        int64
	first, last int64
}

// NewCoverage returns a Coverage for workers goroutines.
func NewCoverage(workers int) *Coverage {
	c := &Coverage{parts: make([]*covPart, max(workers, 1))}
	for i := range c.parts {
		c.parts[i] = &covPart{streams: map[streamKey]*stream{}, conns: map[connKey]*connRows{}, files: map[string]*fileSeen{}}
	}
	return c
}

// Add reads one record of worker's; it keeps no reference to it.
func (c *Coverage) Add(worker int, rec arrow.Record) {
	p := c.parts[worker]
	n := int(rec.NumRows())
	if n == 0 {
		return
	}
	files := rec.Column(parser.ColSourceFile).(*array.Dictionary)
	fileIdx := files.Indices().(*array.Int32).Int32Values()
	fileDict := files.Dictionary().(*array.String)
	servers := rec.Column(parser.ColServer).(*array.Dictionary)
	serverIdx := servers.Indices().(*array.Int32).Int32Values()
	serverDict := servers.Dictionary().(*array.String)
	conns := rec.Column(parser.ColConnectorID).(*array.Dictionary)
	connIdx := conns.Indices().(*array.Int32).Int32Values()
	connDict := conns.Dictionary().(*array.String)
	ltCol := rec.Column(parser.ColLogType).(*array.Dictionary)
	ltIdx := ltCol.Indices().(*array.Int8).Int8Values()
	ltDict := ltCol.Dictionary().(*array.String)
	ts := rec.Column(parser.ColDateTime).(*array.Timestamp).TimestampValues()

	nServers, nConns := serverDict.Len()+1, connDict.Len() // index 0: no server
	lts := make([]parser.LogType, ltDict.Len())
	for i := range lts {
		lts[i] = parser.ParseLogType(ltDict.Value(i))
	}
	// Per record, not per row: the stream and connector of each
	// (role, server, log type, connector) index, found once.
	const roles = 4
	streamOf := make([]*stream, roles*nServers*len(lts))
	connOf := make([]*connRows, nServers*len(lts)*max(nConns, 1))

	var (
		lastFile  int32 = -1
		role      Role
		fs        *fileSeen
		lastSlot  = -1
		st        *stream
		curHour   int64 = -1
		bucket    *[2]int64
		lastCSlot = -1
		cr        *connRows
	)
	for i := range n {
		t := int64(ts[i])
		sv := 0
		if servers.IsValid(i) {
			sv = int(serverIdx[i]) + 1
		}
		lt := int(ltIdx[i])
		if f := fileIdx[i]; f != lastFile {
			lastFile = f
			name := fileDict.Value(int(f))
			role = RoleOfPath(name)
			fs = p.files[name]
			if fs == nil {
				fs = &fileSeen{first: t, last: t, logType: lts[lt], role: role}
				p.files[strings.Clone(name)] = fs
			}
		}
		fs.rows++
		fs.first, fs.last = min(fs.first, t), max(fs.last, t)
		if fs.server == "" && sv > 0 {
			fs.server = strings.Clone(serverDict.Value(sv - 1))
		}

		slot := sv*len(lts) + lt
		if rs := int(role)*nServers*len(lts) + slot; rs != lastSlot {
			lastSlot, curHour = rs, -1
			st = streamOf[rs]
			if st == nil {
				name := ""
				if sv > 0 {
					name = serverDict.Value(sv - 1)
				}
				k := streamKey{name, role, lts[lt]}
				st = p.streams[k]
				if st == nil {
					st = &stream{hours: map[int64]*[2]int64{}}
					p.streams[streamKey{strings.Clone(name), role, lts[lt]}] = st
				}
				streamOf[rs] = st
			}
		}
		st.rows++
		if h := floorDiv(t, int64(time.Hour/time.Millisecond)); h != curHour {
			curHour = h
			bucket = st.hours[h]
			if bucket == nil {
				bucket = &[2]int64{t, t}
				st.hours[h] = bucket
			}
		}
		bucket[0], bucket[1] = min(bucket[0], t), max(bucket[1], t)

		cslot := slot*max(nConns, 1) + int(connIdx[i])
		if cslot != lastCSlot {
			lastCSlot = cslot
			cr = connOf[cslot]
			if cr == nil {
				name := ""
				if sv > 0 {
					name = serverDict.Value(sv - 1)
				}
				k := connKey{name, connDict.Value(int(connIdx[i])), lts[lt]}
				cr = p.conns[k]
				if cr == nil {
					if len(p.conns) >= maxCoverageConnectors {
						p.connsCapped++
						cr = &connRows{first: t, last: t} // counted nowhere
					} else {
						cr = &connRows{first: t, last: t}
						p.conns[connKey{strings.Clone(k.server), strings.Clone(k.connector), k.logType}] = cr
					}
				}
				connOf[cslot] = cr
			}
		}
		cr.rows++
		cr.first, cr.last = min(cr.first, t), max(cr.last, t)
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// CoverageResult is what the logs cover.
type CoverageResult struct {
	Streams    []Stream
	Connectors []ConnectorRows
	// Missing are connectors expected but never seen: given by the
	// caller, or named like a connector that other servers log.
	Missing []MissingConnector
	// ConnectorsCapped says more connectors than maxCoverageConnectors
	// were seen; the rest are counted in their streams only.
	ConnectorsCapped bool
	// Unattributed are files cut short or damaged whose rows named no
	// server (or that held no row at all).
	Unattributed []FileIssue
}

// Stream is one server's log of one type, of one transport service.
type Stream struct {
	Server  string // "" when send logs' server could not be told
	Role    string // FrontEnd, Hub, Edge, or "" (2007/2010, or a flat copy)
	LogType string
	Files   int
	Rows    int64
	First   time.Time
	Last    time.Time
	// Gaps are silences longer than GapThreshold inside [First, Last].
	Gaps []Gap
	// Issues are its files cut short by a live writer (or a copy), or
	// damaged.
	Issues []FileIssue
}

// Gap is a silence: From is the last row before it, To the first after.
type Gap struct{ From, To time.Time }

// Duration is the silence's length.
func (g Gap) Duration() time.Duration { return g.To.Sub(g.From) }

// FileIssue is a file whose end is not a row: cut, or damaged.
type FileIssue struct {
	File string
	Line int64 // the line cut short, or where damage ended the file; 0 when not known
	// Kind: "cut" (the last line was cut short: the file was being
	// written, or its copy was interrupted), "no-line-end" (the last row
	// was kept but had no line end: maybe cut), or "damaged" (reading
	// stopped early).
	Kind   string
	Detail string
}

// ConnectorRows is one connector as the rows show it, before any filter.
type ConnectorRows struct {
	Server      string
	LogType     string
	Connector   string
	Rows        int64
	First, Last time.Time
}

// MissingConnector is a connector with no row.
type MissingConnector struct {
	Server    string // "" for a send connector given without one
	LogType   string
	Connector string
	// Given: named by the caller (--connectors); else inferred from
	// LikeOn, the servers that log a connector of the same name.
	Given  bool
	LikeOn []string
	// ServerLogged says the server's logs of that type were read (with
	// rows): the connector's silence means something. When false, none
	// of its logs were read and nothing can be told.
	ServerLogged bool
}

// Result merges the workers' counts with the scan's files. expected are
// connector names the caller knows exist (Get-ReceiveConnector |
// % Identity, Get-SendConnector | % Identity); those without a row are
// reported missing.
func (c *Coverage) Result(files *parser.ScanResult, expected []string) *CoverageResult {
	streams := map[streamKey]*stream{}
	conns := map[connKey]*connRows{}
	seenFiles := map[string]*fileSeen{}
	res := &CoverageResult{}
	for _, p := range c.parts {
		for k, s := range p.streams {
			m := streams[k]
			if m == nil {
				m = &stream{hours: map[int64]*[2]int64{}}
				streams[k] = m
			}
			m.rows += s.rows
			for h, b := range s.hours {
				if o := m.hours[h]; o != nil {
					o[0], o[1] = min(o[0], b[0]), max(o[1], b[1])
				} else {
					m.hours[h] = &[2]int64{b[0], b[1]}
				}
			}
		}
		for k, r := range p.conns {
			if o := conns[k]; o != nil {
				o.rows += r.rows
				o.first, o.last = min(o.first, r.first), max(o.last, r.last)
			} else {
				cp := *r
				conns[k] = &cp
			}
		}
		for name, f := range p.files {
			if o := seenFiles[name]; o != nil { // one file read by one worker; merged all the same
				o.rows += f.rows
				o.first, o.last = min(o.first, f.first), max(o.last, f.last)
				o.server = cmp.Or(o.server, f.server)
			} else {
				cp := *f
				seenFiles[name] = &cp
			}
		}
		res.ConnectorsCapped = res.ConnectorsCapped || p.connsCapped > 0
	}
	out := map[streamKey]*Stream{}
	for k, s := range streams {
		st := &Stream{Server: k.server, Role: k.role.String(), LogType: k.logType.String(), Rows: s.rows}
		hours := slices.Sorted(maps.Keys(s.hours))
		for i, h := range hours {
			b := s.hours[h]
			if i == 0 {
				st.First = msTime(b[0])
			}
			st.Last = msTime(b[1])
			if i > 0 {
				prev := s.hours[hours[i-1]][1]
				if time.Duration(b[0]-prev)*time.Millisecond > GapThreshold {
					st.Gaps = append(st.Gaps, Gap{msTime(prev), msTime(b[0])})
				}
			}
		}
		out[k] = st
	}
	for _, f := range seenFiles {
		if st := out[streamKey{f.server, f.role, f.logType}]; st != nil {
			st.Files++
		}
	}
	for _, fr := range files.Files {
		if fr.Status != parser.FileParsed && fr.Status != parser.FileEmpty || fr.Connectivity {
			continue
		}
		for _, issue := range fileIssues(fr) {
			f := seenFiles[fr.Path]
			k := streamKey{fr.Server, RoleOfPath(fr.Path), fr.LogType}
			if f != nil {
				k = streamKey{f.server, f.role, f.logType}
			}
			if st := out[k]; st != nil && (f != nil || k.server != "") {
				st.Issues = append(st.Issues, issue)
			} else {
				res.Unattributed = append(res.Unattributed, issue)
			}
		}
	}
	for _, st := range out {
		slices.SortFunc(st.Issues, func(a, b FileIssue) int { return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line)) })
		res.Streams = append(res.Streams, *st)
	}
	slices.SortFunc(res.Streams, func(a, b Stream) int {
		return cmp.Or(cmp.Compare(a.Server, b.Server), cmp.Compare(a.Role, b.Role), cmp.Compare(logTypeOf(a.LogType), logTypeOf(b.LogType)))
	})
	slices.SortFunc(res.Unattributed, func(a, b FileIssue) int { return cmp.Compare(a.File, b.File) })
	for k, r := range conns {
		res.Connectors = append(res.Connectors, ConnectorRows{Server: k.server, LogType: k.logType.String(), Connector: k.connector,
			Rows: r.rows, First: msTime(r.first), Last: msTime(r.last)})
	}
	slices.SortFunc(res.Connectors, func(a, b ConnectorRows) int {
		return cmp.Or(cmp.Compare(a.Server, b.Server), cmp.Compare(logTypeOf(a.LogType), logTypeOf(b.LogType)), cmp.Compare(a.Connector, b.Connector))
	})
	res.Missing = missingConnectors(res.Streams, res.Connectors, expected)
	return res
}

// fileIssues says whether a file ends in a cut line, a row without a line
// end, or damage.
func fileIssues(fr parser.FileResult) []FileIssue {
	var out []FileIssue
	p := fr.Problems
	if p != nil && p.RejectCounts[parser.ErrTruncated] > 0 {
		is := FileIssue{File: fr.Path, Kind: "cut", Detail: parser.ErrTruncated.Error()}
		for _, e := range p.Rejects {
			if errors.Is(e, parser.ErrTruncated) {
				is.Line = e.Line
			}
		}
		out = append(out, is)
	}
	if p != nil && p.WarningCounts[parser.ErrNoLineEnd] > 0 {
		is := FileIssue{File: fr.Path, Kind: "no-line-end", Detail: parser.ErrNoLineEnd.Error()}
		for _, e := range p.Warnings {
			if errors.Is(e, parser.ErrNoLineEnd) {
				is.Line = e.Line
			}
		}
		out = append(out, is)
	}
	if fr.Err != nil {
		is := FileIssue{File: fr.Path, Kind: "damaged", Detail: fr.Err.Error()}
		var pe *parser.Error
		if errors.As(fr.Err, &pe) {
			is.Line = pe.Line
		}
		out = append(out, is)
	}
	return out
}

// serverPlaceholder stands for a server's name in a connector name pattern.
const serverPlaceholder = "\x00"

// missingConnectors lists the connectors expected and never seen: those
// given, and receive connectors whose name, with the server's own name
// taken out, is logged by at least two other servers and by at least half
// of the servers whose receive logs were read ("Default Frontend EX01" and
// "Default Frontend EX02" make "Default Frontend EX03" expected on EX03).
// A custom connector on one server ("Relay Hub EX01") is expected nowhere
// else.
func missingConnectors(streams []Stream, seen []ConnectorRows, expected []string) []MissingConnector {
	logged := map[streamKey]bool{} // role left out
	receivers := map[string]bool{}
	for _, s := range streams {
		if s.Rows > 0 {
			logged[streamKey{server: s.Server, logType: parser.ParseLogType(s.LogType)}] = true
			if s.LogType == "receive" && s.Server != "" {
				receivers[s.Server] = true
			}
		}
	}
	have := map[string]bool{} // lower-case "logtype|name"
	patterns := map[string]map[string]bool{}
	for _, c := range seen {
		have[c.LogType+"|"+strings.ToLower(strings.TrimSpace(c.Connector))] = true
		if c.LogType != "receive" || c.Server == "" {
			continue
		}
		if p, ok := namePattern(c.Server, c.Connector); ok {
			if patterns[p] == nil {
				patterns[p] = map[string]bool{}
			}
			patterns[p][c.Server] = true
		}
	}
	var out []MissingConnector
	listed := map[string]bool{}
	for _, p := range slices.Sorted(maps.Keys(patterns)) {
		on := patterns[p]
		if len(on) < 2 || 2*len(on) < len(receivers) {
			continue
		}
		for _, server := range slices.Sorted(maps.Keys(receivers)) {
			if on[server] {
				continue
			}
			name := strings.ReplaceAll(p, serverPlaceholder, server)
			if have["receive|"+strings.ToLower(name)] {
				continue // the same name logged under another server prefix
			}
			listed["receive|"+strings.ToLower(name)] = true
			out = append(out, MissingConnector{Server: server, LogType: "receive", Connector: name,
				LikeOn: slices.Sorted(maps.Keys(on)), ServerLogged: true})
		}
	}
	for _, e := range expected {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		server, _, isReceive := strings.Cut(e, `\`)
		lt := "send"
		if isReceive {
			lt = "receive"
		} else {
			server = ""
		}
		key := lt + "|" + strings.ToLower(e)
		if have[key] || listed[key] {
			continue
		}
		listed[key] = true
		m := MissingConnector{Server: server, LogType: lt, Connector: e, Given: true}
		for k := range logged {
			if k.logType == parser.ParseLogType(lt) && (server == "" || strings.EqualFold(k.server, server)) {
				m.ServerLogged = true
				if server != "" {
					m.Server = k.server
				}
			}
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b MissingConnector) int {
		return cmp.Or(cmp.Compare(a.Server, b.Server), cmp.Compare(logTypeOf(a.LogType), logTypeOf(b.LogType)), cmp.Compare(a.Connector, b.Connector))
	})
	return out
}

// namePattern turns "EX01\Default Frontend EX01" on EX01 into
// "\x00\Default Frontend \x00": the name with the server's own name taken
// out, when the part after the backslash holds it.
func namePattern(server, connector string) (string, bool) {
	prefix, short, ok := strings.Cut(connector, `\`)
	if !ok || !strings.EqualFold(strings.TrimSpace(prefix), server) {
		return "", false
	}
	i := strings.Index(strings.ToLower(short), strings.ToLower(server))
	if i < 0 {
		return "", false
	}
	return serverPlaceholder + `\` + short[:i] + serverPlaceholder + short[i+len(server):], true
}
