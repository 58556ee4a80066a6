package session

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/logscan/logscan/parser"
)

// Builder rebuilds sessions from the parser's records and hands each
// finished one to emit. Add may be called concurrently for different workers.
//
// A session is keyed by (server, log type, session-id). Its rows are kept,
// compactly, until it is complete (sequence 0 and its disconnect seen, no
// gap), then replayed in sequence order and forgotten: memory follows the
// sessions open at once, not the input. Fragments that a file boundary cut
// apart wait until Finish joins them across workers, so the sessions emitted
// do not depend on the order in which files were read.
type Builder struct {
	emit    func(*Session)
	maxOpen int
	names   interner
	parts   []*builderPart
	stats   BuildStats

	mu          sync.Mutex // guards the examples
	evictedAt   []string   // "file:line (session X)" of the first evicted sessions
	truncatedAt []string   // file:line of the first cut fields
	splitAt     []string   // where the first over-long sessions were cut
}

// maxExamples is how many places of each warning are kept.
const maxExamples = 5

func (b *Builder) example(list *[]string, s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(*list) < maxExamples {
		*list = append(*list, s)
	}
}

// Examples returns where the first evictions, field cuts and session
// splits happened.
func (b *Builder) Examples() (evicted, truncated, split []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.evictedAt), slices.Clone(b.truncatedAt), slices.Clone(b.splitAt)
}

// BuildStats counts what the builder did.
type BuildStats struct {
	Sessions   atomic.Int64 // emitted
	Complete   atomic.Int64 // emitted with their first row and disconnect, no gap
	Evicted    atomic.Int64 // emitted early, incomplete, because too many were open
	Split      atomic.Int64 // sessions longer than MaxSessionRows, emitted in parts
	Truncated  atomic.Int64 // rows with a data or context field cut to MaxFieldBytes
	MaxOpenNow atomic.Int64 // the most sessions open at once in one worker
}

// Defaults for NewBuilder.
const (
	// DefaultMaxOpenSessions bounds the sessions one worker keeps open
	// (about 300 bytes each with a row or two). A busy Exchange server has
	// a few hundred open at once; a million sessions that never disconnect
	// must not exhaust memory.
	DefaultMaxOpenSessions = 100_000
	// MaxFieldBytes is the most of one data or context field a session
	// keeps. SMTP lines are at most 1,000 bytes (RFC 5321); longer ones are
	// attacks or damage and are cut, and counted.
	MaxFieldBytes = 4096
	// MaxSessionRows bounds the rows one open session holds (a session
	// with 100,000 RCPT TO has 200,000). A longer one is analysed in parts.
	MaxSessionRows = 250_000
)

// NewBuilder returns a builder for records from workers goroutines.
// emit is called from those goroutines and must be safe for concurrent use.
// maxOpen <= 0 means DefaultMaxOpenSessions.
func NewBuilder(workers, maxOpen int, emit func(*Session)) *Builder {
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpenSessions
	}
	b := &Builder{emit: emit, maxOpen: maxOpen, parts: make([]*builderPart, max(workers, 1))}
	b.names.ids = map[string]uint32{}
	for i := range b.parts {
		b.parts[i] = &builderPart{open: map[fragKey]*fragment{}}
	}
	return b
}

// Stats returns the builder's counters.
func (b *Builder) Stats() *BuildStats { return &b.stats }

// HeldOpen is how many sessions the builder holds open now, over all
// workers. Call it between Adds, not during them.
func (b *Builder) HeldOpen() int {
	n := 0
	for _, p := range b.parts {
		n += len(p.open)
	}
	return n
}

// interner gives every file, server and connector name one id shared by all
// workers, so fragments from different workers join by id.
type interner struct {
	mu   sync.Mutex
	ids  map[string]uint32
	list []string
}

func (in *interner) dict(col *array.Dictionary) []uint32 {
	d := col.Dictionary().(*array.String)
	out := make([]uint32, d.Len())
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := range out {
		v := d.Value(i)
		id, ok := in.ids[v]
		if !ok {
			v = strings.Clone(v) // the dictionary's memory goes with the record
			in.list = append(in.list, v)
			id = uint32(len(in.list)) // 0 stays "none"
			in.ids[v] = id
		}
		out[i] = id
	}
	return out
}

func (in *interner) name(id uint32) string {
	if id == 0 {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.list[id-1]
}

type fragKey struct {
	server  uint32
	logType parser.LogType
	id      uint64
}

// frow is one row of an open session; its data and context live in the
// fragment's buf.
type frow struct {
	seq        uint32
	event      byte
	t          int64
	file       uint32
	line       int64
	off        uint32
	dLen, cLen uint32
}

type fragment struct {
	connector         uint32
	rows              []frow
	buf               []byte
	local, remote     netip.AddrPort
	localAt, remoteAt uint32 // sequence of the row they came from
	start, end        bool
	maxSeq            uint32
	lastT             int64
}

func newFragment(connector uint32) *fragment {
	return &fragment{connector: connector, localAt: math.MaxUint32, remoteAt: math.MaxUint32}
}

func (f *fragment) complete() bool {
	return f.start && f.end && uint64(len(f.rows)) >= uint64(f.maxSeq)+1
}

// absorb moves o's rows into f.
func (f *fragment) absorb(o *fragment) {
	base := uint32(len(f.buf))
	f.buf = append(f.buf, o.buf...)
	for _, r := range o.rows {
		r.off += base
		f.rows = append(f.rows, r)
	}
	if o.localAt < f.localAt {
		f.local, f.localAt = o.local, o.localAt
	}
	if o.remoteAt < f.remoteAt {
		f.remote, f.remoteAt = o.remote, o.remoteAt
	}
	if f.connector == 0 {
		f.connector = o.connector
	}
	f.start, f.end = f.start || o.start, f.end || o.end
	f.maxSeq, f.lastT = max(f.maxSeq, o.maxSeq), max(f.lastT, o.lastT)
}

type builderPart struct {
	open    map[fragKey]*fragment
	free    []*fragment // finished fragments, reused: most sessions are alike in size
	scratch []row
}

func (p *builderPart) newFragment(connector uint32) *fragment {
	if n := len(p.free); n > 0 {
		f := p.free[n-1]
		p.free = p.free[:n-1]
		*f = fragment{connector: connector, rows: f.rows[:0], buf: f.buf[:0], localAt: math.MaxUint32, remoteAt: math.MaxUint32}
		return f
	}
	return newFragment(connector)
}

// maxFreeFragments bounds the reuse list; a fragment that grew past
// maxReusedBytes (a hostile session) is left to the garbage collector.
const (
	maxFreeFragments = 256
	maxReusedBytes   = 64 << 10
)

func (p *builderPart) recycle(f *fragment) {
	if len(p.free) < maxFreeFragments && cap(f.buf) <= maxReusedBytes {
		p.free = append(p.free, f)
	}
}

// Add reads one record of worker's. It keeps no reference to rec.
func (b *Builder) Add(worker int, rec arrow.Record) {
	p := b.parts[worker]
	n := int(rec.NumRows())
	if n == 0 {
		return
	}
	files := rec.Column(parser.ColSourceFile).(*array.Dictionary)
	fileIDs, fileIdx := b.names.dict(files), files.Indices().(*array.Int32).Int32Values()
	servers := rec.Column(parser.ColServer).(*array.Dictionary)
	serverIDs, serverIdx := b.names.dict(servers), servers.Indices().(*array.Int32).Int32Values()
	conns := rec.Column(parser.ColConnectorID).(*array.Dictionary)
	connIDs, connIdx := b.names.dict(conns), conns.Indices().(*array.Int32).Int32Values()
	// Dictionaries are read by value, not by position: records read back
	// from a dataset may order them differently from the parser.
	ltCol := rec.Column(parser.ColLogType).(*array.Dictionary)
	logTypes := ltCol.Indices().(*array.Int8).Int8Values()
	ltDict := ltCol.Dictionary().(*array.String)
	ltOf := make([]parser.LogType, ltDict.Len())
	for j := range ltOf {
		ltOf[j] = parser.ParseLogType(ltDict.Value(j))
	}
	events := rec.Column(parser.ColEvent).(*array.Dictionary)
	eventIdx := events.Indices().(*array.Int8).Int8Values()
	evDict := events.Dictionary().(*array.String)
	evOf := make([]byte, evDict.Len())
	for j := range evOf {
		if v := evDict.Value(j); len(v) == 1 {
			evOf[j] = v[0]
		}
	}
	lines := rec.Column(parser.ColLine).(*array.Int64).Int64Values()
	ts := rec.Column(parser.ColDateTime).(*array.Timestamp).TimestampValues()
	sids := rec.Column(parser.ColSessionID).(*array.Uint64).Uint64Values()
	seqs := rec.Column(parser.ColSequenceNumber).(*array.Uint32).Uint32Values()
	localIP := rec.Column(parser.ColLocalIP).(*array.FixedSizeBinary)
	localPort := rec.Column(parser.ColLocalPort).(*array.Uint16)
	remoteIP := rec.Column(parser.ColRemoteIP).(*array.FixedSizeBinary)
	remotePort := rec.Column(parser.ColRemotePort).(*array.Uint16)
	data := rec.Column(parser.ColData).(*array.String)
	context := rec.Column(parser.ColContext).(*array.String)

	var curKey fragKey
	var cur *fragment
	for i := range n {
		var server uint32
		if servers.IsValid(i) {
			server = serverIDs[serverIdx[i]]
		}
		k := fragKey{server: server, logType: ltOf[logTypes[i]], id: sids[i]}
		if cur == nil || k != curKey {
			if cur != nil && cur.complete() {
				b.finish(p, curKey, cur)
			}
			curKey = k
			cur = p.open[k]
			if cur == nil {
				cur = p.newFragment(connIDs[connIdx[i]])
				p.open[k] = cur
				if len(p.open) > b.maxOpen {
					b.evict(p, k)
				}
			}
		}
		seq := seqs[i]
		var ev byte
		if events.IsValid(i) {
			ev = evOf[eventIdx[i]]
		}
		d, c := data.Value(i), context.Value(i)
		if len(d) > MaxFieldBytes || len(c) > MaxFieldBytes {
			if b.stats.Truncated.Add(1) <= maxExamples {
				b.example(&b.truncatedAt, Ref{File: b.names.name(fileIDs[fileIdx[i]]), Line: lines[i]}.String())
			}
			d, c = d[:min(len(d), MaxFieldBytes)], c[:min(len(c), MaxFieldBytes)]
		}
		off := uint32(len(cur.buf))
		cur.buf = append(append(cur.buf, d...), c...)
		cur.rows = append(cur.rows, frow{seq: seq, event: ev, t: int64(ts[i]), file: fileIDs[fileIdx[i]],
			line: lines[i], off: off, dLen: uint32(len(d)), cLen: uint32(len(c))})
		if seq < cur.localAt && localIP.IsValid(i) {
			cur.local, cur.localAt = netip.AddrPortFrom(parser.IPAt(localIP, i), localPort.Value(i)), seq
		}
		if seq < cur.remoteAt && remoteIP.IsValid(i) {
			cur.remote, cur.remoteAt = netip.AddrPortFrom(parser.IPAt(remoteIP, i), remotePort.Value(i)), seq
		}
		cur.start = cur.start || seq == 0
		cur.end = cur.end || ev == '-'
		cur.maxSeq = max(cur.maxSeq, seq)
		cur.lastT = max(cur.lastT, int64(ts[i]))
		if len(cur.rows) >= MaxSessionRows && !cur.complete() {
			if b.stats.Split.Add(1) <= maxExamples {
				b.example(&b.splitAt, fmt.Sprintf("%s:%d (session %016X)", b.names.name(fileIDs[fileIdx[i]]), lines[i], k.id))
			}
			b.finish(p, curKey, cur)
			cur = nil
		}
	}
	if cur != nil && cur.complete() {
		b.finish(p, curKey, cur)
	}
	if o := int64(len(p.open)); o > b.stats.MaxOpenNow.Load() {
		b.stats.MaxOpenNow.Store(o) // racy max across workers; a statistic only
	}
}

// evict emits the quarter of p's open sessions that were idle longest, as
// incomplete, keeping keep open. It runs only when a worker holds more than
// maxOpen sessions, which real logs do not reach.
func (b *Builder) evict(p *builderPart, keep fragKey) {
	type aged struct {
		k fragKey
		t int64
	}
	all := make([]aged, 0, len(p.open))
	for k, f := range p.open {
		if k != keep {
			all = append(all, aged{k, f.lastT})
		}
	}
	slices.SortFunc(all, func(a, b aged) int {
		return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.k.server, b.k.server), cmp.Compare(a.k.logType, b.k.logType), cmp.Compare(a.k.id, b.k.id))
	})
	for _, a := range all[:len(all)/4] {
		f := p.open[a.k]
		if b.stats.Evicted.Add(1) <= maxExamples {
			first := slices.MinFunc(f.rows, func(x, y frow) int { return cmp.Compare(x.seq, y.seq) })
			b.example(&b.evictedAt, fmt.Sprintf("%s:%d (session %016X)", b.names.name(first.file), first.line, a.k.id))
		}
		b.finish(p, a.k, f)
	}
}

func (b *Builder) finish(p *builderPart, k fragKey, f *fragment) {
	delete(p.open, k)
	p.scratch = b.emitFragment(k, f, p.scratch)
	p.recycle(f)
}

// Finish joins the fragments left open by every worker and emits them.
// Call it once, after the last Add.
func (b *Builder) Finish() {
	all := b.joinOpen()
	var scratch []row
	for _, k := range sortedFragKeys(all) {
		scratch = b.emitFragment(k, all[k], scratch)
	}
}

// joinOpen takes every worker's open fragments, joined by key.
func (b *Builder) joinOpen() map[fragKey]*fragment {
	all := map[fragKey]*fragment{}
	for _, p := range b.parts {
		// Workers in a fixed order, so joins do not depend on scheduling.
		for k, f := range p.open {
			if g, ok := all[k]; ok {
				g.absorb(f)
			} else {
				all[k] = f
			}
		}
		clear(p.open)
	}
	return all
}

// emitFragment replays a fragment's rows in sequence order into a Session.
// scratch is reused for the rows and returned for the next call.
func (b *Builder) emitFragment(k fragKey, f *fragment, scratch []row) []row {
	slices.SortStableFunc(f.rows, func(x, y frow) int {
		if x.seq != y.seq {
			return cmp.Compare(x.seq, y.seq)
		}
		if x.file != y.file { // a duplicated sequence number: order by name, not by read order
			return cmp.Compare(b.names.name(x.file), b.names.name(y.file))
		}
		return cmp.Compare(x.line, y.line)
	})
	all := string(f.buf) // one copy; every field below is a slice of it
	rows := slices.Grow(scratch[:0], len(f.rows))[:len(f.rows)]
	var lastFile uint32
	var lastName string
	for i, r := range f.rows {
		if r.file != lastFile {
			lastFile, lastName = r.file, b.names.name(r.file)
		}
		rows[i] = row{seq: r.seq, event: r.event, t: r.t, ref: Ref{File: lastName, Line: r.line},
			data: all[r.off : r.off+r.dLen], context: all[r.off+r.dLen : r.off+r.dLen+r.cLen]}
	}
	s := &Session{Server: b.names.name(k.server), LogType: k.logType, ID: k.id, Connector: b.names.name(f.connector),
		Local: f.local, Remote: f.remote, Complete: f.complete()}
	buildSession(s, rows)
	b.stats.Sessions.Add(1)
	if s.Complete {
		b.stats.Complete.Add(1)
	}
	b.emit(s)
	clear(rows) // drop the references to this session's text
	return rows
}
