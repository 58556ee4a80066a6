package parser

import (
	"bytes"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// batch accumulates one record's columns directly in the memory of the
// record's buffers, taken from a Buffers: build wraps them into the record
// without a copy, and they return to the Buffers when the record is
// released. Rows are written by index into typed views of that memory, so
// the per-row path stores no pointers in the heap: an append per column per
// row would cost a GC write barrier each while the collector runs.
type batch struct {
	p    *Buffers
	n    int // rows
	room int // rows the columns have room for; 0: no memory taken yet

	// Each fixed-width column is one slab from p and a typed view of it.
	slabs      [numFixed][]byte
	line       []int64
	logType    []int8
	ts         []int64
	server     []int32
	connector  []int32
	session    []uint64
	seq        []uint32
	localIP    []byte // 16 bytes a row
	localPort  []uint16
	remoteIP   []byte
	remotePort []uint16
	event      []int8

	valid [numBitmaps]bitmap
	data  stringCol
	ctxt  stringCol

	servers    dictMemo
	connectors dictMemo
	// serverOf[id] is 2 + the server id of receive rows of connector id, 1
	// when their server is null, 0 before the connector's first receive
	// row: each connector-id is looked into once. An array, not a slice, so
	// that a Reader per file costs no allocation; batches with more
	// connectors look the others into on every row.
	serverOf [16]int32
	// lastServer is the server id of the last row added (-1: null).
	lastServer int32
}

// The fixed-width columns, in slabs order, and their widths.
const (
	fixLine = iota
	fixLogType
	fixTS
	fixServer
	fixConnector
	fixSession
	fixSeq
	fixLocalIP
	fixLocalPort
	fixRemoteIP
	fixRemotePort
	fixEvent
	numFixed
)

var fixedWidth = [numFixed]int{8, 1, 8, 4, 4, 8, 4, 16, 2, 16, 2, 1}

// The validity bitmaps of the nullable columns.
const (
	validServer = iota
	validLocalIP
	validLocalPort
	validRemoteIP
	validRemotePort
	validEvent
	numBitmaps
)

// stringCol is an Arrow utf8 column being built: offsets has a slot per row
// plus one, bytes[:used] holds the values.
type stringCol struct {
	offB    []byte
	offsets []int32
	bytes   []byte
	used    int
}

func (c *stringCol) set(p *Buffers, i int, b []byte) {
	if c.used+len(b) > len(c.bytes) {
		c.bytes = p.Reallocate(max(c.used+len(b), 2*len(c.bytes)), c.bytes)
		c.bytes = c.bytes[:cap(c.bytes)]
	}
	if len(b) > 0 { // copy calls runtime.memmove even for nothing
		c.used += copy(c.bytes[c.used:], b)
	}
	c.offsets[i+1] = int32(c.used)
}

// bitmap is an Arrow validity bitmap that also counts nulls. Its bytes
// start all ones, and a null clears its bit: nulls are rare, so a row costs
// a predictable branch per column instead of a read-modify-write.
type bitmap struct {
	bits  []byte
	nulls int
}

func (m *bitmap) set(i int, ok bool) {
	if !ok {
		m.bits[i>>3] &^= 1 << (i & 7)
		m.nulls++
	}
}

// fill sets every bit of bits, the room of rows not yet added.
func fill(bits []byte) {
	for i := range bits {
		bits[i] = 0xFF
	}
}

// take makes room for the first rows of a batch: as many as the largest
// batch the Buffers saw, at least 1,024, at most max.
func (b *batch) take(maxRows int) {
	rows, textBytes := b.p.hints()
	b.room = min(max(rows, 1024), maxRows)
	for i := range b.slabs {
		b.slabs[i] = b.p.Allocate(b.room * fixedWidth[i])
	}
	for i := range b.valid {
		b.valid[i] = bitmap{bits: b.p.Allocate((b.room + 7) / 8)}
		fill(b.valid[i].bits)
	}
	for _, c := range []*stringCol{&b.data, &b.ctxt} {
		c.offB = b.p.Allocate(4 * (b.room + 1))
		c.bytes = b.p.Allocate(max(textBytes/2, 64<<10))
		c.bytes = c.bytes[:cap(c.bytes)]
		c.used = 0
	}
	b.views()
	b.data.offsets[0], b.ctxt.offsets[0] = 0, 0
}

// views points the typed views at the slabs.
func (b *batch) views() {
	b.line = arrow.Int64Traits.CastFromBytes(b.slabs[fixLine])
	b.logType = arrow.Int8Traits.CastFromBytes(b.slabs[fixLogType])
	b.ts = arrow.Int64Traits.CastFromBytes(b.slabs[fixTS])
	b.server = arrow.Int32Traits.CastFromBytes(b.slabs[fixServer])
	b.connector = arrow.Int32Traits.CastFromBytes(b.slabs[fixConnector])
	b.session = arrow.Uint64Traits.CastFromBytes(b.slabs[fixSession])
	b.seq = arrow.Uint32Traits.CastFromBytes(b.slabs[fixSeq])
	b.localIP = b.slabs[fixLocalIP]
	b.localPort = arrow.Uint16Traits.CastFromBytes(b.slabs[fixLocalPort])
	b.remoteIP = b.slabs[fixRemoteIP]
	b.remotePort = arrow.Uint16Traits.CastFromBytes(b.slabs[fixRemotePort])
	b.event = arrow.Int8Traits.CastFromBytes(b.slabs[fixEvent])
	b.data.offsets = arrow.Int32Traits.CastFromBytes(b.data.offB)
	b.ctxt.offsets = arrow.Int32Traits.CastFromBytes(b.ctxt.offB)
}

// grow doubles the rows the columns have room for.
func (b *batch) grow(maxRows int) {
	room := min(2*b.room, maxRows)
	for i := range b.slabs {
		b.slabs[i] = b.p.Reallocate(room*fixedWidth[i], b.slabs[i])
	}
	for i := range b.valid {
		old := len(b.valid[i].bits)
		b.valid[i].bits = b.p.Reallocate((room+7)/8, b.valid[i].bits)
		fill(b.valid[i].bits[old:])
	}
	b.data.offB = b.p.Reallocate(4*(room+1), b.data.offB)
	b.ctxt.offB = b.p.Reallocate(4*(room+1), b.ctxt.offB)
	b.room = room
	b.views()
}

// dictMemo interns the few distinct values of a dictionary column per batch.
type dictMemo struct {
	vals  [][]byte
	index map[string]int32
	last  int32
}

func (d *dictMemo) reset() {
	d.vals = d.vals[:0]
	clear(d.index)
	d.last = -1
}

func (d *dictMemo) id(b []byte) int32 {
	if d.last >= 0 && sameBytes(d.vals[d.last], b) {
		return d.last
	}
	if len(d.vals) <= 8 {
		for i, v := range d.vals {
			if bytes.Equal(v, b) {
				d.last = int32(i)
				return d.last
			}
		}
	} else if i, ok := d.index[string(b)]; ok {
		d.last = i
		return i
	}
	d.last = int32(len(d.vals))
	d.vals = append(d.vals, bytes.Clone(b))
	if len(d.vals) > 8 {
		if d.index == nil {
			d.index = make(map[string]int32)
		}
		if len(d.index) == 0 {
			for i, v := range d.vals {
				d.index[string(v)] = int32(i)
			}
		} else {
			d.index[string(b)] = d.last
		}
	}
	return d.last
}

// row is one parsed, validated row, ready to append. It lives on the
// stack: storing its slices costs no write barrier.
type row struct {
	line      int64
	logType   LogType
	ts        int64
	server    []byte // nil: unknown
	connector []byte
	// serverInConnector says a receive row: its server is connector's text
	// before the backslash, when there is one, and server otherwise.
	serverInConnector bool
	// sameConnector says connector is the text of the row before, and
	// both rows' server is found the same way: when the row before is in
	// this batch, this row has its connector and server ids.
	sameConnector bool
	session       uint64
	seq           uint32
	local         *endpoint
	remote        *endpoint
	event         int8 // -1: empty
	data, ctxt    []byte
}

// add appends r; maxRows bounds the batch (the Reader never adds past it).
func (b *batch) add(r *row, maxRows int) {
	if b.room == 0 {
		b.take(maxRows)
	}
	i := b.n
	if i >= b.room {
		b.grow(maxRows)
	}
	b.n++
	b.line[i] = r.line
	b.logType[i] = int8(r.logType) - 1
	b.ts[i] = r.ts
	var conn, server int32
	if r.sameConnector && i > 0 {
		conn, server = b.connector[i-1], b.lastServer
	} else {
		conn, server = b.connectors.id(r.connector), -1
		switch {
		case r.serverInConnector:
			server = b.serverOfConnector(conn, r)
		case r.server != nil:
			server = b.servers.id(r.server)
		}
	}
	b.connector[i] = conn
	b.lastServer = server
	b.server[i] = max(server, 0)
	b.valid[validServer].set(i, server >= 0)
	b.session[i] = r.session
	b.seq[i] = r.seq
	copy(b.localIP[16*i:16*i+16], r.local.ip[:])
	b.valid[validLocalIP].set(i, r.local.ipOK)
	b.localPort[i] = r.local.port
	b.valid[validLocalPort].set(i, r.local.portOK)
	copy(b.remoteIP[16*i:16*i+16], r.remote.ip[:])
	b.valid[validRemoteIP].set(i, r.remote.ipOK)
	b.remotePort[i] = r.remote.port
	b.valid[validRemotePort].set(i, r.remote.portOK)
	b.event[i] = max(r.event, 0)
	b.valid[validEvent].set(i, r.event >= 0)
	b.data.set(b.p, i, r.data)
	b.ctxt.set(b.p, i, r.ctxt)
}

// serverOfConnector is the server id of a receive row r of connector conn
// (-1: null), found on the connector's first row in the batch: the server
// is the same for every row of a connector.
func (b *batch) serverOfConnector(conn int32, r *row) int32 {
	if int(conn) < len(b.serverOf) && b.serverOf[conn] > 0 {
		return b.serverOf[conn] - 2
	}
	server := r.server
	if i := bytes.IndexByte(r.connector, '\\'); i > 0 {
		server = r.connector[:i]
	}
	id := int32(-1)
	if server != nil {
		id = b.servers.id(server)
	}
	if int(conn) < len(b.serverOf) {
		b.serverOf[conn] = id + 2
	}
	return id
}

// bytesHeld is the size of the variable-length data in the batch, so the
// Reader can cut a batch early when rows are long.
func (b *batch) bytesHeld() int { return b.data.used + b.ctxt.used }

// release gives back the memory of a batch that will not be built.
func (b *batch) release() {
	if b.room == 0 {
		return
	}
	for i := range b.slabs {
		b.p.Free(b.slabs[i])
	}
	for i := range b.valid {
		b.p.Free(b.valid[i].bits)
	}
	for _, c := range []*stringCol{&b.data, &b.ctxt} {
		b.p.Free(c.offB)
		b.p.Free(c.bytes)
	}
	b.clear()
}

// clear forgets the batch's memory (now the record's, or given back).
func (b *batch) clear() {
	b.n, b.room = 0, 0
	b.slabs = [numFixed][]byte{}
	b.valid = [numBitmaps]bitmap{}
	b.data, b.ctxt = stringCol{}, stringCol{}
	b.line, b.logType, b.ts, b.server, b.connector, b.session, b.seq = nil, nil, nil, nil, nil, nil, nil
	b.localIP, b.localPort, b.remoteIP, b.remotePort, b.event = nil, nil, nil, nil, nil
	b.servers.reset()
	b.connectors.reset()
	b.serverOf = [len(b.serverOf)]int32{}
}

// Constant dictionaries, shared by every record: Go memory, never freed.
var (
	logTypeDict = goStrings(logTypeNames)
	eventDict   = goStrings(eventNames)
)

// goStrings makes a utf8 array's data in Go memory (no allocator: small,
// and left to the garbage collector).
func goStrings[T string | []byte](vals []T) arrow.ArrayData {
	offsets := make([]int32, len(vals)+1)
	var b []byte
	for i, v := range vals {
		b = append(b, v...)
		offsets[i+1] = int32(len(b))
	}
	return array.NewData(arrow.BinaryTypes.String, len(vals),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets)), memory.NewBufferBytes(b)}, nil, 0, 0)
}

// build makes a record of the batch on its own memory and empties the
// batch; source is the file name for ColSourceFile.
func (b *batch) build(source string) arrow.Record {
	n, p := b.n, b.p
	footprint := 0
	own := func(s []byte, size int) *memory.Buffer {
		footprint += cap(s)
		return memory.NewBufferWithAllocator(s[:size], p)
	}
	// validity hands the column's bitmap to the record when it has a null.
	validity := func(valid int) (*memory.Buffer, int) {
		m := &b.valid[valid]
		if m.nulls > 0 {
			if n&7 != 0 {
				m.bits[n>>3] &= 1<<(n&7) - 1 // no bit set past the last row
			}
			return own(m.bits, (n+7)/8), m.nulls
		}
		footprint += cap(m.bits)
		p.Free(m.bits)
		return nil, 0
	}
	fixed := func(t arrow.DataType, col int, valid int, dict arrow.ArrayData) arrow.Array {
		var v *memory.Buffer
		nulls := 0
		if valid >= 0 {
			v, nulls = validity(valid)
		}
		return makeArray(t, n, []*memory.Buffer{v, own(b.slabs[col], n*fixedWidth[col])}, nulls, dict)
	}
	strs := func(c *stringCol) arrow.Array {
		return makeArray(arrow.BinaryTypes.String, n, []*memory.Buffer{nil, own(c.offB, 4*(n+1)), own(c.bytes, c.used)}, 0, nil)
	}

	srcIdx := p.Allocate(4 * n) // one file per batch: every index is 0
	clear(srcIdx)
	srcDict, serverDict, connDict := goStrings([]string{source}), goStrings(b.servers.vals), goStrings(b.connectors.vals)
	cols := make([]arrow.Array, NumCols)
	cols[ColSourceFile] = makeArray(dictString, n, []*memory.Buffer{nil, own(srcIdx, 4*n)}, 0, srcDict)
	cols[ColLine] = fixed(arrow.PrimitiveTypes.Int64, fixLine, -1, nil)
	cols[ColLogType] = fixed(dictString8, fixLogType, -1, logTypeDict)
	cols[ColDateTime] = fixed(arrow.FixedWidthTypes.Timestamp_ms, fixTS, -1, nil)
	cols[ColServer] = fixed(dictString, fixServer, validServer, serverDict)
	cols[ColConnectorID] = fixed(dictString, fixConnector, -1, connDict)
	cols[ColSessionID] = fixed(arrow.PrimitiveTypes.Uint64, fixSession, -1, nil)
	cols[ColSequenceNumber] = fixed(arrow.PrimitiveTypes.Uint32, fixSeq, -1, nil)
	cols[ColLocalIP] = fixed(ipType, fixLocalIP, validLocalIP, nil)
	cols[ColLocalPort] = fixed(arrow.PrimitiveTypes.Uint16, fixLocalPort, validLocalPort, nil)
	cols[ColRemoteIP] = fixed(ipType, fixRemoteIP, validRemoteIP, nil)
	cols[ColRemotePort] = fixed(arrow.PrimitiveTypes.Uint16, fixRemotePort, validRemotePort, nil)
	cols[ColEvent] = fixed(dictString8, fixEvent, validEvent, eventDict)
	cols[ColData] = strs(&b.data)
	cols[ColContext] = strs(&b.ctxt)
	srcDict.Release()
	serverDict.Release()
	connDict.Release()

	rec := array.NewRecord(Schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	p.sawBatch(n, b.bytesHeld(), footprint)
	b.clear()
	return rec
}

// makeArray makes an array of type t on bufs, which it takes over (nil
// entries are absent buffers); dict is the dictionary of a dictionary type.
func makeArray(t arrow.DataType, n int, bufs []*memory.Buffer, nulls int, dict arrow.ArrayData) arrow.Array {
	var d *array.Data
	if dict != nil {
		d = array.NewDataWithDictionary(t, n, bufs, nulls, 0, dict.(*array.Data))
	} else {
		d = array.NewData(t, n, bufs, nil, nulls, 0)
	}
	for _, b := range bufs {
		if b != nil {
			b.Release() // NewData holds its own reference
		}
	}
	defer d.Release()
	return array.MakeFromData(d)
}
