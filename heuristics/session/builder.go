package session

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/logscan/logscan/parser"
)

// Builder rebuilds sessions from the parser's records and hands each
// finished one to emit. Add may be called concurrently for different workers.
//
// A session is keyed by (server, log type, session-id, remote endpoint).
// Its rows are kept, compactly, until it is complete, then replayed in
// sequence order and forgotten: memory follows the sessions open at once
// (and those cut by a file boundary), not the input.
//
// The rule that makes the result independent of worker count and file
// order: rows are gathered per file. The rows of one key in one file that
// form a complete session (sequence 0 and its disconnect seen, no gap) are
// that session, emitted at once, whatever other files hold. What is left
// of a key in a file (a session cut by a rollover, or stray rows) waits
// for Finish, which joins the leftovers of every file and worker by key, in
// file-name order. So a complete session in one file and more rows with the
// same id in another are always two sessions, in any order.
//
// Rows with the same session-id but another remote endpoint belong to
// another client (damaged or merged logs): they become a session of their
// own, and the split is counted with its file:line. A row without a remote
// endpoint joins the latest session of its id in its file.
type Builder struct {
	emit     func(*Session)
	emitMany func(ss []*Session, wait bool) bool // EmitInBatches
	batch    int
	maxFree  int // the fragments each worker keeps for reuse
	maxOpen  int
	// maxOpenBytes is a worker's share of MaxOpenBytes: the text (and
	// rows) its open sessions may hold.
	maxOpenBytes int
	lendText     bool // sessions' strings are views of reused buffers (LendText)
	checkReuse   bool // LOGSCAN_CHECK_REUSE: overwrite lent text after each emit
	// allFileStates keeps every session key's state in builderPart.files,
	// none in the open fragments (see fileState): for tests to compare.
	allFileStates bool
	names         interner
	parts         []*builderPart
	stats         BuildStats

	mu          sync.Mutex // guards the examples
	evictedAt   examples   // the first evicted sessions
	truncatedAt examples   // the first cut fields
	splitAt     examples   // where the first over-long sessions were cut
	conflictAt  examples   // where a session-id was reused by another endpoint
}

// maxExamples is how many places of each warning are kept.
const maxExamples = 5

// examples keeps the maxExamples places that come first in (file, line)
// order, so the places listed do not depend on which worker got there
// first.
type examples []example

type example struct {
	ref  Ref
	text string
}

func (b *Builder) example(list *examples, ref Ref, text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := example{ref, text}
	less := func(x, y example) int {
		return cmp.Or(cmp.Compare(x.ref.File, y.ref.File), cmp.Compare(x.ref.Line, y.ref.Line), cmp.Compare(x.text, y.text))
	}
	i, found := slices.BinarySearchFunc(*list, e, less)
	if found || i >= maxExamples {
		return
	}
	*list = slices.Insert(*list, i, e)
	if len(*list) > maxExamples {
		*list = (*list)[:maxExamples]
	}
}

func (l examples) strings() []string {
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = e.text
	}
	return out
}

// Examples returns where the first evictions, field cuts and session
// splits happened, first in (file, line) order.
func (b *Builder) Examples() (evicted, truncated, split []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.evictedAt.strings(), b.truncatedAt.strings(), b.splitAt.strings()
}

// ConflictExamples returns where the first sessions were split off
// because their session-id was in use by another remote endpoint.
func (b *Builder) ConflictExamples() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conflictAt.strings()
}

// BuildStats counts what the builder did.
type BuildStats struct {
	Sessions atomic.Int64 // emitted
	Complete atomic.Int64 // emitted with their first row and disconnect, no gap
	Evicted  atomic.Int64 // emitted early, incomplete, because too many were open
	// EvictedForText counts those of Evicted closed because the open
	// sessions' text passed the worker's share of MaxOpenBytes.
	EvictedForText atomic.Int64
	Split          atomic.Int64 // sessions longer than MaxSessionRows rows or MaxSessionBytes of text, emitted in parts
	Truncated      atomic.Int64 // rows with a data or context field cut to MaxFieldBytes
	MaxOpenNow     atomic.Int64 // the most sessions open at once in one worker
	// EndpointConflicts counts sessions split off because their
	// session-id was in use, at the same time, by a session from another
	// remote endpoint (damaged or merged logs).
	EndpointConflicts atomic.Int64
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
	// MaxSessionBytes bounds the text one open session holds (a session
	// with 100,000 RCPT TO holds about 6 MB); a longer one is analysed in
	// parts, as past MaxSessionRows.
	MaxSessionBytes = 16 << 20
	// MaxOpenBytes bounds the text of the sessions open at once, all
	// workers together (each keeps its share, at least two sessions'
	// worth): past it a worker closes its longest idle sessions early, as
	// past its count of open sessions. Real logs hold a few MB open
	// (8 MB at most in 21.5 GB); sessions that never disconnect, with
	// long rows, would otherwise hold all of theirs.
	MaxOpenBytes = 64 << 20
)

// frowBytes is what a row costs an open session beside its text.
const frowBytes = int(unsafe.Sizeof(frow{}))

// NewBuilder returns a builder for records from workers goroutines.
// emit is called from those goroutines and must be safe for concurrent use.
// maxOpen <= 0 means DefaultMaxOpenSessions.
func NewBuilder(workers, maxOpen int, emit func(*Session)) *Builder {
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpenSessions
	}
	b := &Builder{emit: emit, maxOpen: maxOpen, maxFree: maxFreeFragments, parts: make([]*builderPart, max(workers, 1)), checkReuse: os.Getenv(checkReuseEnv) != ""}
	b.maxOpenBytes = max(MaxOpenBytes/len(b.parts), 2*MaxSessionBytes)
	b.names.ids = map[string]uint32{}
	for i := range b.parts {
		b.parts[i] = &builderPart{open: openFragments{byID: map[uint64]*fragment{}}, files: map[fileKey]fileSessState{}}
	}
	return b
}

// MaxOpenBytes is a worker's share of MaxOpenBytes.
func (b *Builder) MaxOpenBytes() int { return b.maxOpenBytes }

// Stats returns the builder's counters. Sessions and Complete count the
// sessions of the Adds that returned, and of Finish or Drain once they did.
func (b *Builder) Stats() *BuildStats { return &b.stats }

// HeldOpen is how many sessions the builder holds open now, over all
// workers. Call it between Adds, not during them.
func (b *Builder) HeldOpen() int {
	n := 0
	for _, p := range b.parts {
		n += p.open.len()
	}
	return n
}

// interner gives every file, server and connector name one id shared by all
// workers, so fragments from different workers join by id. Names are read
// far more often than added (every session's server, connector and files),
// so reading takes no lock: the list is replaced, never changed, when a name
// is added.
type interner struct {
	mu   sync.Mutex // guards ids and adding names
	ids  map[string]uint32
	list atomic.Pointer[[]string]
}

// add gives v an id; in.mu is held.
func (in *interner) add(v string) uint32 {
	id, ok := in.ids[v]
	if !ok {
		v = strings.Clone(v) // the caller's memory (a record's dictionary) goes away
		var list []string
		if l := in.list.Load(); l != nil {
			list = *l
		}
		list = append(list[:len(list):len(list)], v) // a new array: readers keep the old one
		in.list.Store(&list)
		id = uint32(len(list)) // 0 stays "none"
		in.ids[v] = id
	}
	return id
}

func (in *interner) dict(col *array.Dictionary) []uint32 {
	d := col.Dictionary().(*array.String)
	out := make([]uint32, d.Len())
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := range out {
		out[i] = in.add(d.Value(i))
	}
	return out
}

func (in *interner) name(id uint32) string {
	if id == 0 {
		return ""
	}
	return (*in.list.Load())[id-1]
}

// sessKey is what Exchange keys a session by.
type sessKey struct {
	server  uint32
	logType parser.LogType
	id      uint64
}

// fragKey is one fragment: the rows of one session key, from one remote
// endpoint, in one file (0: carried from a previous run).
type fragKey struct {
	sessKey
	file   uint32
	remote netip.AddrPort
}

// fileSess is a session key within one file.
type fileSess struct {
	sessKey
	file uint32
}

// fileKey is a fileSess as a map key without padding, so that it hashes
// and compares as one block of memory rather than field by field.
type fileKey struct {
	id      uint64
	server  uint32
	file    uint32
	logType parser.LogType
	pad     [7]byte // always zero: no padding the hash would skip
}

func (fs fileSess) mapKey() fileKey {
	return fileKey{id: fs.id, server: fs.server, file: fs.file, logType: fs.logType}
}

// openFragments are a worker's open fragments by key. The map is keyed by
// session-id alone, the few fragments that share an id (other servers,
// files or endpoints) chained from it: it is read at every change of
// session from one row to the next and written twice per session, and a
// uint64 hashes at a fraction of the cost of a whole fragKey, which holds
// padding and a pointer and is hashed field by field. A chain holds at most
// maxSameID fragments; more of one id (a damaged or hostile log reusing
// it) go to a map by the whole key, so that no lookup walks a long chain.
type openFragments struct {
	byID map[uint64]*fragment
	more map[fragKey]*fragment // past maxSameID fragments of one id
	n    int
}

const maxSameID = 8

func (o *openFragments) len() int { return o.n }

func (o *openFragments) get(k fragKey) *fragment {
	for f := o.byID[k.id]; f != nil; f = f.sameID {
		if f.key == k {
			return f
		}
	}
	if len(o.more) > 0 {
		return o.more[k]
	}
	return nil
}

// put adds f as k, which must not be open, and reports whether it went
// past its session-id's chain (to more).
func (o *openFragments) put(k fragKey, f *fragment) (inMore bool) {
	o.n++
	first := o.byID[k.id]
	chain := 0
	for g := first; g != nil; g = g.sameID {
		chain++
	}
	if chain >= maxSameID {
		if o.more == nil {
			o.more = map[fragKey]*fragment{}
		}
		f.key, f.sameID = k, nil
		o.more[k] = f
		return true
	}
	f.key, f.sameID = k, first
	o.byID[k.id] = f
	return false
}

func (o *openFragments) del(k fragKey) {
	if len(o.more) > 0 {
		if _, ok := o.more[k]; ok {
			delete(o.more, k)
			o.n--
			return
		}
	}
	var prev *fragment
	for f := o.byID[k.id]; f != nil; prev, f = f, f.sameID {
		if f.key != k {
			continue
		}
		switch {
		case prev != nil:
			prev.sameID = f.sameID
		case f.sameID != nil:
			o.byID[k.id] = f.sameID
		default:
			delete(o.byID, k.id)
		}
		f.sameID = nil
		o.n--
		return
	}
}

// all yields every open fragment with its key, in no particular order.
func (o *openFragments) all(yield func(fragKey, *fragment) bool) {
	for _, f := range o.byID {
		for ; f != nil; f = f.sameID {
			if !yield(f.key, f) {
				return
			}
		}
	}
	for k, f := range o.more {
		if !yield(k, f) {
			return
		}
	}
}

func (o *openFragments) clear() {
	clear(o.byID)
	o.more = nil
	o.n = 0
}

// fileSessState is what a worker knows of a session key in one file: the
// remote endpoint of its latest fragment and how many are open.
type fileSessState struct {
	remote netip.AddrPort
	open   int32
}

// fileState is what p knows of the session key fk in its file, and whether
// it knows it (a fragment of it is open).
//
// A key with one fragment open, and no other since the first opened (the
// rule: a session in its file), has no entry in p.files: its state is that
// fragment's, one open and its remote endpoint, and the fragment is in its
// session-id's chain (a fragment past the chain gets an entry). Writing and
// deleting an entry for every session cost more than the rest of opening
// it; now a key gets one only when a second fragment opens (then on, the
// entry holds the latest endpoint, as before, even once that fragment is
// closed), or when its fragment is taken over or past the chain.
// Builder.allFileStates keeps an entry for every key, as before, for tests
// to compare.
func (p *builderPart) fileState(fk fileKey) (fileSessState, bool) {
	if len(p.files) > 0 {
		if st, ok := p.files[fk]; ok {
			return st, true
		}
	}
	for f := p.open.byID[fk.id]; f != nil; f = f.sameID {
		if k := f.key; k.server == fk.server && k.logType == fk.logType && k.file == fk.file {
			return fileSessState{remote: k.remote, open: 1}, true
		}
	}
	return fileSessState{}, false
}

// frow is one row of an open session; its data and context live in the
// fragment's buf. The fields are ordered to leave no padding (40 bytes,
// not 48): every row of every session is written here once.
type frow struct {
	t          int64
	line       int64
	seq        uint32
	file       uint32
	off        uint32
	dLen, cLen uint32
	event      byte
	// noSentence: the record the row came from holds the 5.7.3 sentence
	// (exchangeAuthFailureText) in none of its data and context, so the
	// replay need not search this row's fields for it. Add searches each
	// record's text once, from the sentence's rare byte, in a few long
	// runs; the replay searched every long field, in as many short calls.
	// False (search) for rows from anywhere else.
	noSentence bool
}

type fragment struct {
	key               fragKey   // while open (openFragments)
	sameID            *fragment // the next open fragment of the same session-id
	connector         uint32
	rows              []frow
	buf               []byte
	local, remote     netip.AddrPort
	localAt, remoteAt uint32 // sequence of the row they came from
	start, end        bool
	conflict          bool // split off from another endpoint's session (counted)
	maxSeq            uint32
	lastT             int64
	// The arrays the messages and recipients of the session built from
	// this fragment were in, under LendText: lent with its text, and
	// reused with the fragment for the next session.
	msgs  []Message
	rcpts []Rcpt
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
	f.conflict = f.conflict || o.conflict
	f.maxSeq, f.lastT = max(f.maxSeq, o.maxSeq), max(f.lastT, o.lastT)
}

type builderPart struct {
	open openFragments
	// files holds the state of the session keys in a file that had two
	// fragments open at once, or one past its session-id's chain, or one
	// taken over; see fileState for the rest.
	files  map[fileKey]fileSessState
	newest int64 // the newest row time this worker saw
	// openBytes is what the open sessions hold: their text and rows.
	openBytes int
	free      []*fragment // finished fragments, reused: most sessions are alike in size
	scratch   emitScratch
	// Sessions built and not yet handed to emitMany, with the fragments
	// their lent text lives in (EmitInBatches).
	pending     []*Session
	pendingFrag []*fragment
}

func (p *builderPart) newFragment(connector uint32) *fragment {
	if n := len(p.free); n > 0 {
		f := p.free[n-1]
		p.free = p.free[:n-1]
		*f = fragment{connector: connector, rows: f.rows[:0], buf: f.buf[:0], msgs: f.msgs, rcpts: f.rcpts, localAt: math.MaxUint32, remoteAt: math.MaxUint32}
		return f
	}
	return newFragment(connector)
}

// maxFreeFragments bounds the reuse list; a fragment that grew past
// maxReusedBytes (a long session) is left to the garbage collector. A
// worker keeps a few hundred sessions open and most are a few KB: a longer
// list, or larger fragments, kept up to 6 MiB more at 21.5 GB for no CPU
// saved. With EmitInBatches the list also has room for the fragments of
// the batches a worker may hold (maxPendingBatches): they come back all at
// once when the consumer takes them, and with room for 64 only, one
// fragment in ten of a scan was new (21,000 of 208,000 at 1.08 GB), grown
// again row by row and dropped to the collector.
const (
	maxFreeFragments = 64
	maxReusedBytes   = 16 << 10
	// maxReusedMessages and maxReusedRcpts bound the arrays of messages
	// and recipients a fragment keeps for reuse (8 and 20 KiB).
	maxReusedMessages = 96
	maxReusedRcpts    = 256
)

func (p *builderPart) recycle(f *fragment, maxFree int) {
	if len(p.free) < maxFree && cap(f.buf) <= maxReusedBytes {
		if cap(f.msgs) > maxReusedMessages {
			f.msgs = nil
		}
		if cap(f.rcpts) > maxReusedRcpts {
			f.rcpts = nil
		}
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
	// The columns read at every row, as plain slices: through the arrays'
	// methods each read reloads the array's offset and checks bounds, and
	// an address compared as [16]byte was copied to the stack and loaded
	// back in halves, which stalls (no store forwarding). These columns
	// were a third of Add's own time.
	remoteIPs := ip16Values(remoteIP) // nil if the column is not 16 bytes wide
	remotePorts := remotePort.Uint16Values()
	serversNull, remoteNull := servers.NullN() > 0, remoteIP.NullN() > 0
	dataText, dataOffs := stringValues(data)
	contextText, contextOffs := stringValues(context)
	// Every field of the record is a slice of this text (some cut to
	// MaxFieldBytes): if it holds no 5.7.3 sentence, neither does any
	// field (see frow.noSentence).
	noSentence := !containsExchangeAuthFailureText(dataText[dataOffs[0]:dataOffs[n]]) &&
		!containsExchangeAuthFailureText(contextText[contextOffs[0]:contextOffs[n]])

	// Each column cut to the record's rows: the compiler then sees that
	// every index below is in range and checks none (some thirty compares
	// and branches a row).
	fileIdx, serverIdx, connIdx, logTypes, eventIdx = fileIdx[:n], serverIdx[:n], connIdx[:n], logTypes[:n], eventIdx[:n]
	lines, ts, sids, seqs, remotePorts = lines[:n], ts[:n], sids[:n], seqs[:n], remotePorts[:n]
	dataOffs, contextOffs = dataOffs[:n+1], contextOffs[:n+1]
	eventsNull := events.NullN() > 0

	var curKey fragKey
	var cur *fragment
	newest := p.newest
	for i := range n {
		// Nine rows in ten continue the session of the row before: the
		// same columns of the key, as logged (dictionary indices stand for
		// one value each in a record). Then the row's key is curKey, and
		// cur, unless that session just ended, is its fragment: the key is
		// made, and looked up, only for a row of another session. A row
		// without a remote endpoint takes it from the builder's state,
		// which the row before may have changed: it is never the same here.
		// The validity bitmaps are read only for a column that has nulls.
		same := cur != nil && i > 0 && sids[i] == sids[i-1] && fileIdx[i] == fileIdx[i-1] && serverIdx[i] == serverIdx[i-1] &&
			logTypes[i] == logTypes[i-1] && remotePorts[i] == remotePorts[i-1] && remoteIPs != nil && sameIPAsRowBefore(remoteIPs, i) &&
			(!serversNull || servers.IsValid(i) == servers.IsValid(i-1)) && (!remoteNull || remoteIP.IsValid(i) && remoteIP.IsValid(i-1))
		if !same {
			file := fileIDs[fileIdx[i]]
			var server uint32
			if servers.IsValid(i) {
				server = serverIDs[serverIdx[i]]
			}
			k := fragKey{sessKey: sessKey{server: server, logType: ltOf[logTypes[i]], id: sids[i]}, file: file}
			if remoteIP.IsValid(i) {
				k.remote = netip.AddrPortFrom(parser.IPAt(remoteIP, i), remotePort.Value(i))
			} else if st, ok := p.fileState(fileSess{k.sessKey, file}.mapKey()); ok {
				k.remote = st.remote // no endpoint logged: the latest session of this id in this file
			}
			if cur == nil || k != curKey {
				curKey = k
				cur = p.open.get(k)
				if cur == nil {
					cur = b.openFragment(p, k, connIDs[connIdx[i]], lines[i])
				}
			}
		}
		file := curKey.file
		seq := seqs[i]
		var ev byte
		if !eventsNull || events.IsValid(i) {
			ev = evOf[eventIdx[i]]
		}
		d, c := dataText[dataOffs[i]:dataOffs[i+1]], contextText[contextOffs[i]:contextOffs[i+1]]
		if len(d) > MaxFieldBytes || len(c) > MaxFieldBytes {
			b.stats.Truncated.Add(1)
			ref := Ref{File: b.names.name(file), Line: lines[i]}
			b.example(&b.truncatedAt, ref, ref.String())
			d, c = d[:min(len(d), MaxFieldBytes)], c[:min(len(c), MaxFieldBytes)]
		}
		// The text: room made once for both fields, and an empty field
		// (the context of most rows) not copied at all.
		off := len(cur.buf)
		if end := off + len(d) + len(c); end <= cap(cur.buf) {
			cur.buf = cur.buf[:end]
		} else {
			cur.buf = append(cur.buf, make([]byte, len(d)+len(c))...)
		}
		if len(d) > 0 {
			copy(cur.buf[off:], d)
		}
		if len(c) > 0 {
			copy(cur.buf[off+len(d):], c)
		}
		// The row is written field by field where it goes, over whatever
		// the array held there (every field is written): a composite
		// literal the compiler builds on the stack with 4-byte stores and
		// copies with 16-byte loads, which wait for the stores to drain (no
		// store forwarding), and zeroing the row first cost a store miss
		// more, at every row.
		if len(cur.rows) == cap(cur.rows) {
			cur.rows = slices.Grow(cur.rows, 1)
		}
		cur.rows = cur.rows[:len(cur.rows)+1]
		fr := &cur.rows[len(cur.rows)-1]
		fr.t, fr.line, fr.seq, fr.file = int64(ts[i]), lines[i], seq, file
		fr.off, fr.dLen, fr.cLen, fr.event, fr.noSentence = uint32(off), uint32(len(d)), uint32(len(c)), ev, noSentence
		p.openBytes += len(d) + len(c) + frowBytes
		if seq < cur.localAt && localIP.IsValid(i) {
			cur.local, cur.localAt = netip.AddrPortFrom(parser.IPAt(localIP, i), localPort.Value(i)), seq
		}
		if seq < cur.remoteAt && remoteIP.IsValid(i) {
			// The row's endpoint is curKey's: made from this row, or from
			// the row before with the same endpoint (same), and so on.
			cur.remote, cur.remoteAt = curKey.remote, seq
		}
		cur.start = cur.start || seq == 0
		cur.end = cur.end || ev == '-'
		cur.maxSeq = max(cur.maxSeq, seq)
		cur.lastT = max(cur.lastT, int64(ts[i]))
		newest = max(newest, int64(ts[i]))
		switch {
		case cur.complete():
			// Complete within this file: the session, whatever other
			// files hold (see Builder).
			b.finish(p, curKey, cur)
			cur = nil
		case len(cur.rows) >= MaxSessionRows || len(cur.buf) >= MaxSessionBytes:
			b.stats.Split.Add(1)
			ref := Ref{File: b.names.name(file), Line: lines[i]}
			b.example(&b.splitAt, ref, fmt.Sprintf("%s (session %016X)", ref, curKey.id))
			b.finish(p, curKey, cur)
			cur = nil
		}
		if p.openBytes > b.maxOpenBytes {
			// The open sessions' text passed the worker's share: close the
			// longest idle, as past the count (cur, if still open, stays).
			for p.openBytes > b.maxOpenBytes && b.evict(p, curKey, &b.stats.EvictedForText) > 0 {
			}
		}
	}
	p.newest = newest // read by Drain only, after the last Add
	p.scratch.publish(&b.stats)
	if o := int64(p.open.len()); o > b.stats.MaxOpenNow.Load() {
		b.stats.MaxOpenNow.Store(o) // racy max across workers; a statistic only
	}
}

// ip16Values returns the values of an address column, 16 bytes a row from
// its first row, or nil when its values are not 16 bytes wide.
func ip16Values(col *array.FixedSizeBinary) []byte {
	if t, ok := col.DataType().(*arrow.FixedSizeBinaryType); !ok || t.ByteWidth != 16 || col.Len() == 0 {
		return nil
	}
	from := col.Data().Offset()
	return col.Data().Buffers()[1].Bytes()[16*from : 16*(from+col.Len())]
}

// sameIPAsRowBefore reports whether the 16-byte addresses of rows i and i-1
// of ips (ip16Values) are equal, compared as two words each.
func sameIPAsRowBefore(ips []byte, i int) bool {
	a, b := ips[16*i-16:16*i], ips[16*i:16*i+16]
	return binary.LittleEndian.Uint64(a[:8]) == binary.LittleEndian.Uint64(b[:8]) &&
		binary.LittleEndian.Uint64(a[8:16]) == binary.LittleEndian.Uint64(b[8:16])
}

// stringValues returns a string column's text and its offsets from its
// first row: row i is text[offs[i]:offs[i+1]], as col.Value(i).
func stringValues(col *array.String) (text string, offs []int32) {
	if buf := col.Data().Buffers()[2]; buf != nil {
		b := buf.Bytes()
		text = unsafe.String(unsafe.SliceData(b), len(b)) // read only, while the record is
	}
	return text, col.ValueOffsets()
}

// openFragment starts the fragment k in p. A fragment of the same session
// key in the same file that had no remote endpoint yet is taken over; one
// with another remote endpoint still open makes this one a conflict.
func (b *Builder) openFragment(p *builderPart, k fragKey, connector uint32, line int64) *fragment {
	fk := fileSess{k.sessKey, k.file}.mapKey()
	st, seen := p.fileState(fk)
	if seen && st.open > 0 && st.remote != k.remote {
		old := fragKey{k.sessKey, k.file, st.remote}
		if f := p.open.get(old); f != nil && !st.remote.IsValid() {
			// The session's first rows named no endpoint: they are its own.
			p.open.del(old)
			p.open.put(k, f)
			p.files[fk] = fileSessState{remote: k.remote, open: st.open}
			return f
		}
	}
	f := p.newFragment(connector)
	if seen && st.open > 0 && st.remote != k.remote && st.remote.IsValid() && k.remote.IsValid() {
		f.conflict = true
		b.stats.EndpointConflicts.Add(1)
		ref := Ref{File: b.names.name(k.file), Line: line}
		b.example(&b.conflictAt, ref, fmt.Sprintf("%s (session %016X from %s while open from %s)", ref, k.id, k.remote, st.remote))
	}
	if inMore := p.open.put(k, f); seen || inMore || b.allFileStates {
		p.files[fk] = fileSessState{remote: k.remote, open: st.open + 1}
	}
	if p.open.len() > b.maxOpen {
		b.evict(p, k, nil)
	}
	return f
}

// evict emits the quarter of p's open sessions that were idle longest, as
// incomplete, keeping keep open. It runs only when a worker holds more than
// maxOpen sessions, which real logs do not reach. Which sessions a worker
// holds depends on the files it got, so eviction (unlike the rest) depends
// on the worker count: it is counted and reported.
func (b *Builder) evict(p *builderPart, keep fragKey, also *atomic.Int64) (evicted int) {
	type aged struct {
		k fragKey
		t int64
	}
	all := make([]aged, 0, p.open.len())
	for k, f := range p.open.all {
		if k != keep {
			all = append(all, aged{k, f.lastT})
		}
	}
	slices.SortFunc(all, func(a, b aged) int {
		return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.k.server, b.k.server), cmp.Compare(a.k.logType, b.k.logType), cmp.Compare(a.k.id, b.k.id),
			cmp.Compare(a.k.file, b.k.file), a.k.remote.Compare(b.k.remote))
	})
	for _, a := range all[:(len(all)+3)/4] {
		f := p.open.get(a.k)
		b.stats.Evicted.Add(1)
		if also != nil {
			also.Add(1)
		}
		evicted++
		first := slices.MinFunc(f.rows, func(x, y frow) int { return cmp.Compare(x.seq, y.seq) })
		ref := Ref{File: b.names.name(first.file), Line: first.line}
		b.example(&b.evictedAt, ref, fmt.Sprintf("%s (session %016X)", ref, a.k.id))
		b.finish(p, a.k, f)
	}
	return evicted
}

func (b *Builder) finish(p *builderPart, k fragKey, f *fragment) {
	p.open.del(k)
	p.openBytes -= len(f.buf) + len(f.rows)*frowBytes
	fk := fileSess{k.sessKey, k.file}.mapKey()
	if st, ok := p.files[fk]; ok { // else its only fragment, f (see fileState)
		if st.open--; st.open <= 0 {
			delete(p.files, fk)
		} else {
			p.files[fk] = st
		}
	}
	if b.emitMany != nil {
		p.pending = append(p.pending, b.session(k, f, &p.scratch))
		p.pendingFrag = append(p.pendingFrag, f)
		if len(p.pending) >= b.batch {
			b.flush(p, len(p.pending) >= maxPendingBatches*b.batch)
		}
		return
	}
	b.emitFragment(k, f, &p.scratch)
	p.recycle(f, b.maxFree)
}

// EmitInBatches makes the builder hand the sessions each worker completes
// to emitMany, n or more at a time, instead of one by one to emit (which
// still gets the sessions Finish and Drain join): a consumer that takes a
// lock per call takes it far less often. emitMany(ss, false) may decline
// (its lock is busy): the worker goes on and offers them again later,
// with wait set once it holds maxPendingBatches batches, and before
// Finish or Drain emit anything. Lent text (LendText) stays valid until
// emitMany returns true. Call it before the first Add.
func (b *Builder) EmitInBatches(n int, emitMany func(ss []*Session, wait bool) bool) {
	b.batch, b.emitMany = max(n, 1), emitMany
	b.maxFree = maxFreeFragments + maxPendingBatches*b.batch
}

// maxPendingBatches is how many batches a worker holds while the consumer
// is busy before it waits for it.
const maxPendingBatches = 4

// flush offers the worker's pending sessions to emitMany and reuses their
// fragments once it took them.
func (b *Builder) flush(p *builderPart, wait bool) {
	if len(p.pending) == 0 || !b.emitMany(p.pending, wait) {
		return
	}
	for i, f := range p.pendingFrag {
		b.overwriteLent(f)
		p.recycle(f, b.maxFree)
		if b.lendText {
			p.scratch.releaseSession(p.pending[i], b.maxFree, b.checkReuse)
		}
		p.pending[i], p.pendingFrag[i] = nil, nil
	}
	p.pending, p.pendingFrag = p.pending[:0], p.pendingFrag[:0]
}

// flushAll hands over every worker's pending sessions; no Add may run.
func (b *Builder) flushAll() {
	if b.emitMany == nil {
		return
	}
	for _, p := range b.parts {
		b.flush(p, true)
	}
}

// Finish joins the fragments left open by every worker and emits them.
// Call it once, after the last Add.
func (b *Builder) Finish() {
	b.flushAll()
	var scratch emitScratch
	for _, j := range b.joinOpen() {
		b.emitFragment(j.k, j.f, &scratch)
	}
	scratch.publish(&b.stats)
}

// joined is one session put together from the fragments left open.
type joined struct {
	k fragKey // file 0
	f *fragment
}

// joinOpen takes every worker's open fragments and joins them by session
// key and remote endpoint, in file-name order; fragments without a remote
// endpoint join the key's only endpoint, if it has one. The result is in
// key order and does not depend on which worker held what.
func (b *Builder) joinOpen() []joined {
	type item struct {
		k    fragKey
		f    *fragment
		file string // "" for a fragment carried from a previous run
		line int64  // its first line in that file
	}
	var items []item
	for _, p := range b.parts {
		for k, f := range p.open.all {
			it := item{k: k, f: f, file: b.names.name(k.file), line: math.MaxInt64}
			for _, r := range f.rows {
				if r.file == k.file {
					it.line = min(it.line, r.line)
				}
			}
			items = append(items, it)
		}
		p.open.clear()
		clear(p.files)
	}
	server := func(k fragKey) string { return b.names.name(k.server) }
	slices.SortFunc(items, func(x, y item) int {
		return cmp.Or(cmp.Compare(server(x.k), server(y.k)), cmp.Compare(x.k.logType, y.k.logType), cmp.Compare(x.k.id, y.k.id),
			x.k.remote.Compare(y.k.remote), cmp.Compare(x.file, y.file), cmp.Compare(x.line, y.line))
	})
	var out []joined
	for i := 0; i < len(items); {
		j := i
		for j < len(items) && items[j].k.sessKey == items[i].k.sessKey {
			j++
		}
		group := items[i:j] // one session key: by remote, then file
		i = j
		// Fragments with no endpoint join the only endpoint there is.
		var remotes []netip.AddrPort
		for _, it := range group {
			if it.k.remote.IsValid() && !slices.Contains(remotes, it.k.remote) {
				remotes = append(remotes, it.k.remote)
			}
		}
		if len(remotes) == 1 {
			for n := range group {
				group[n].k.remote = remotes[0]
			}
			slices.SortStableFunc(group, func(x, y item) int { return cmp.Or(cmp.Compare(x.file, y.file), cmp.Compare(x.line, y.line)) })
		}
		type bucket struct {
			j        joined
			first    item
			conflict bool
		}
		var buckets []bucket
		for _, it := range group {
			if n := len(buckets); n > 0 && buckets[n-1].j.k.remote == it.k.remote {
				buckets[n-1].j.f.absorb(it.f)
				continue
			}
			k := it.k
			k.file = 0
			buckets = append(buckets, bucket{j: joined{k, it.f}, first: it, conflict: it.f.conflict})
		}
		// Another endpoint's fragments of the same id, cut by file
		// boundaries, are a conflict too: count each endpoint after the
		// one seen first, unless its own file already counted it.
		if len(remotes) > 1 {
			var order []bucket
			for _, bk := range buckets {
				if bk.j.k.remote.IsValid() {
					order = append(order, bk)
				}
			}
			slices.SortFunc(order, func(x, y bucket) int {
				return cmp.Or(cmp.Compare(x.first.file, y.first.file), cmp.Compare(x.first.line, y.first.line), x.j.k.remote.Compare(y.j.k.remote))
			})
			for _, bk := range order[1:] {
				if bk.conflict {
					continue
				}
				b.stats.EndpointConflicts.Add(1)
				ref := Ref{File: bk.first.file, Line: bk.first.line}
				b.example(&b.conflictAt, ref, fmt.Sprintf("%s (session %016X from %s, also from %s)", ref, bk.j.k.id, bk.j.k.remote, order[0].j.k.remote))
			}
		}
		for _, bk := range buckets {
			out = append(out, bk.j)
		}
	}
	return out
}

// newest is the time of the newest row the builder was given.
func (b *Builder) newest() int64 {
	var t int64
	for _, p := range b.parts {
		t = max(t, p.newest)
	}
	return t
}

// emitScratch is what emitting sessions reuses.
type emitScratch struct {
	pending commandQueue
	tls     map[string]tlsNamePair // tlsNames's
	certs   map[string]Certificate // combinedCert's
	// Sessions given back once their consumer was done with them
	// (LendText), made again for the next ones: a Session is 720 bytes,
	// a quarter of all a scan allocated.
	freeSessions []*Session
	// While a lent session is built (lendArrays), msgs and rcpts are the
	// arrays it may put its messages and recipients in, and then the ones
	// it did (see fragment).
	lendArrays bool
	msgs       []Message
	rcpts      []Rcpt
	// built and builtComplete count the sessions built (and of those the
	// complete ones) since the last publish: counted here and added to
	// the shared BuildStats once per record, not once per session, where
	// the workers' atomic adds took the counters' cache line from each
	// other.
	built, builtComplete int64
}

// publish adds the sessions sc counted to st.
func (sc *emitScratch) publish(st *BuildStats) {
	if sc.built > 0 {
		st.Sessions.Add(sc.built)
		st.Complete.Add(sc.builtComplete)
		sc.built, sc.builtComplete = 0, 0
	}
}

// rcptArray returns an empty array with room for n recipients: sc.rcpts if
// it has the room, else a new one, kept in sc.rcpts for a lent session.
func (sc *emitScratch) rcptArray(n int) []Rcpt {
	if cap(sc.rcpts) >= n {
		return sc.rcpts[:0]
	}
	a := make([]Rcpt, 0, n)
	if sc.lendArrays {
		sc.rcpts = a
	}
	return a
}

// newSession returns a zero Session, a released one if there is one.
func (sc *emitScratch) newSession() *Session {
	n := len(sc.freeSessions)
	if n == 0 {
		return new(Session)
	}
	s := sc.freeSessions[n-1]
	sc.freeSessions[n-1] = nil
	sc.freeSessions = sc.freeSessions[:n-1]
	*s = Session{}
	return s
}

// releaseSession takes back s, which its consumer is done with (LendText),
// keeping at most max. Under LOGSCAN_CHECK_REUSE it is overwritten at once,
// so that a consumer that kept it shows up in tests.
func (sc *emitScratch) releaseSession(s *Session, max int, poison bool) {
	if poison {
		*s = Session{Server: "~released~", Connector: "~released~", ID: math.MaxUint64, EHLO: "~released~",
			Rows: -1, Messages: []Message{{From: "~released~"}}, Errors: []Reply{{Text: "~released~"}}}
	}
	if len(sc.freeSessions) < max {
		sc.freeSessions = append(sc.freeSessions, s)
	}
}

// emitFragment replays a fragment's rows in sequence order into a Session
// and hands it to emit. The session's strings are slices of one copy of its
// text, or, after LendText, of the fragment's buffer itself.
func (b *Builder) emitFragment(k fragKey, f *fragment, sc *emitScratch) {
	s := b.session(k, f, sc)
	b.emit(s)
	b.overwriteLent(f)
	if b.lendText {
		sc.releaseSession(s, b.maxFree, b.checkReuse)
	}
}

// overwriteLent overwrites f's text once the session lent it is handed on,
// under LOGSCAN_CHECK_REUSE (see LendText).
func (b *Builder) overwriteLent(f *fragment) {
	if b.lendText && b.checkReuse {
		for i := range f.buf {
			f.buf[i] = '~' // what the next session's text will do
		}
		for i := range f.msgs[:cap(f.msgs)] {
			f.msgs[:cap(f.msgs)][i] = Message{From: "~released~", RcptsOver: -1}
		}
		for i := range f.rcpts[:cap(f.rcpts)] {
			f.rcpts[:cap(f.rcpts)][i] = Rcpt{Addr: "~released~", Code: -1}
		}
	}
}

// session replays a fragment's rows into a Session.
func (b *Builder) session(k fragKey, f *fragment, sc *emitScratch) *Session {
	order := func(x, y frow) int {
		if x.seq != y.seq {
			return cmp.Compare(x.seq, y.seq)
		}
		if x.file != y.file { // a duplicated sequence number: order by name, not by read order
			return cmp.Compare(b.names.name(x.file), b.names.name(y.file))
		}
		return cmp.Compare(x.line, y.line)
	}
	if !seqAscending(f.rows) && !slices.IsSortedFunc(f.rows, order) { // rows come in order unless a session spans files or workers
		slices.SortStableFunc(f.rows, order)
	}
	var all string
	switch {
	case len(f.buf) == 0:
	case b.lendText:
		all = unsafe.String(&f.buf[0], len(f.buf))
	default:
		all = string(f.buf) // one copy; every field below is a slice of it
	}
	// A lent session's memory is reused too (see LendText), and filled
	// field by field: from a composite literal the compiler would build
	// all 720 bytes on the stack and copy them.
	var s *Session
	if b.lendText {
		s = sc.newSession()
	} else {
		s = new(Session)
	}
	s.Server, s.LogType, s.ID, s.Connector = b.names.name(k.server), k.logType, k.id, b.names.name(f.connector)
	s.Local, s.Remote, s.Complete = f.local, f.remote, f.complete()
	if b.lendText {
		// The arrays of the fragment's last session are free: the
		// fragment came back with it.
		sc.lendArrays, sc.msgs, sc.rcpts = true, f.msgs[:0], f.rcpts[:0]
		buildSession(s, f.rows, all, &b.names, sc)
		if cap(s.Messages) > cap(sc.msgs) {
			sc.msgs = s.Messages[:0] // grown past the fragment's array: keep the new one
		}
		f.msgs, f.rcpts = sc.msgs, sc.rcpts
		sc.lendArrays, sc.msgs, sc.rcpts = false, nil, nil
	} else {
		buildSession(s, f.rows, all, &b.names, sc)
	}
	sc.built++
	if s.Complete {
		sc.builtComplete++
	}
	return s
}

// seqAscending reports whether rows are in strictly ascending sequence
// order, as almost every session's are: then they are in order, which it
// tells without calling the comparison for every pair.
func seqAscending(rows []frow) bool {
	for i := 1; i < len(rows); i++ {
		if rows[i].seq <= rows[i-1].seq {
			return false
		}
	}
	return true
}

// LendText makes the sessions handed to emit hold no copy of their text:
// every string in them (EHLO, addresses, replies, ...) is a view of the
// builder's buffer, valid until emit returns and then reused for the next
// session. The Session itself is lent as well: its memory is reused for a
// later session once emit (or emitMany) returns, so emit must keep no
// pointer to it. It saves a copy of all the text, and its allocation (a third of
// what a scan allocates), but emit must copy (strings.Clone) every string it
// keeps, including map keys it updates: m[k] += n stores k again. Call it
// before the first Add. With LOGSCAN_CHECK_REUSE=1 in the environment the
// builder overwrites lent text and sessions after each emit, so that a
// consumer that keeps a reference shows up in tests.
func (b *Builder) LendText() { b.lendText = true }

// checkReuseEnv names the environment variable that makes a Builder
// overwrite lent text after each emit (see LendText).
const checkReuseEnv = "LOGSCAN_CHECK_REUSE"
