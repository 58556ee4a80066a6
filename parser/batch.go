package parser

import (
	"bytes"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// batch accumulates one record's columns in reusable Go slices; build copies
// them into buffers from the Reader's allocator. Rows are written by index
// into slices that grow by doubling, so the per-row path stores no pointers:
// an append per column per row would cost a GC write barrier each while the
// collector runs, which profiling showed at 16% of a scan.
type batch struct {
	n          int
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
	serverOK   bitmap
	localIPOK  bitmap
	localPOK   bitmap
	remoteIPOK bitmap
	remotePOK  bitmap
	eventOK    bitmap
	data       stringCol
	context    stringCol

	servers    dictMemo
	connectors dictMemo
}

// stringCol is an Arrow utf8 column being built: offsets has a slot per row
// plus one, bytes[:used] holds the values.
type stringCol struct {
	offsets []int32
	bytes   []byte
	used    int
}

func (c *stringCol) reset() { c.used = 0 }

func (c *stringCol) set(i int, b []byte) {
	if c.used+len(b) > len(c.bytes) {
		c.bytes = grown(c.bytes, c.used+len(b))
	}
	c.used += copy(c.bytes[c.used:], b)
	c.offsets[i+1] = int32(c.used)
}

// bitmap is an Arrow validity bitmap that also counts nulls.
type bitmap struct {
	bits  []byte
	nulls int
}

func (m *bitmap) reset(n int) {
	clear(m.bits[:min((n+7)/8, len(m.bits))])
	m.nulls = 0
}

func (m *bitmap) set(i int, ok bool) {
	if ok {
		m.bits[i>>3] |= 1 << (i & 7)
	} else {
		m.nulls++
	}
}

// grown returns s with at least n elements, doubling its size.
func grown[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	t := make([]T, max(n, 2*len(s), 1024))
	copy(t, s)
	return t
}

// grow makes room for at least n rows.
func (b *batch) grow(n int) {
	n = max(n, 2*len(b.line), 1024)
	b.line, b.logType, b.ts = grown(b.line, n), grown(b.logType, n), grown(b.ts, n)
	b.server, b.connector, b.session, b.seq = grown(b.server, n), grown(b.connector, n), grown(b.session, n), grown(b.seq, n)
	b.localIP, b.remoteIP = grown(b.localIP, 16*n), grown(b.remoteIP, 16*n)
	b.localPort, b.remotePort, b.event = grown(b.localPort, n), grown(b.remotePort, n), grown(b.event, n)
	for _, m := range []*bitmap{&b.serverOK, &b.localIPOK, &b.localPOK, &b.remoteIPOK, &b.remotePOK, &b.eventOK} {
		m.bits = grown(m.bits, (n+7)/8)
	}
	b.data.offsets, b.context.offsets = grown(b.data.offsets, n+1), grown(b.context.offsets, n+1)
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
	if d.last >= 0 && bytes.Equal(d.vals[d.last], b) {
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

func (b *batch) reset() {
	for _, m := range []*bitmap{&b.serverOK, &b.localIPOK, &b.localPOK, &b.remoteIPOK, &b.remotePOK, &b.eventOK} {
		m.reset(b.n)
	}
	b.n = 0
	b.data.reset()
	b.context.reset()
	b.servers.reset()
	b.connectors.reset()
}

// row is one parsed, validated row, ready to append.
type row struct {
	line       int64
	logType    LogType
	ts         int64
	server     []byte // nil: unknown
	connector  []byte
	session    uint64
	seq        uint32
	local      *endpoint
	remote     *endpoint
	event      int8 // -1: empty
	data, ctxt []byte
}

func (b *batch) add(r *row) {
	i := b.n
	if i >= len(b.line) {
		b.grow(i + 1)
	}
	b.n++
	b.line[i] = r.line
	b.logType[i] = int8(r.logType) - 1
	b.ts[i] = r.ts
	b.server[i] = 0
	if r.server != nil {
		b.server[i] = b.servers.id(r.server)
	}
	b.serverOK.set(i, r.server != nil)
	b.connector[i] = b.connectors.id(r.connector)
	b.session[i] = r.session
	b.seq[i] = r.seq
	copy(b.localIP[16*i:], r.local.ip[:])
	b.localIPOK.set(i, r.local.ipOK)
	b.localPort[i] = r.local.port
	b.localPOK.set(i, r.local.portOK)
	copy(b.remoteIP[16*i:], r.remote.ip[:])
	b.remoteIPOK.set(i, r.remote.ipOK)
	b.remotePort[i] = r.remote.port
	b.remotePOK.set(i, r.remote.portOK)
	b.event[i] = max(r.event, 0)
	b.eventOK.set(i, r.event >= 0)
	b.data.set(i, r.data)
	b.context.set(i, r.ctxt)
}

// bytesHeld is the size of the variable-length data in the batch, so the
// Reader can cut a batch early when rows are long.
func (b *batch) bytesHeld() int { return b.data.used + b.context.used }

// builder turns Go slices into Arrow arrays on one allocator.
type builder struct {
	mem  memory.Allocator
	free []*memory.Buffer
}

func (bd *builder) buf(src []byte) *memory.Buffer {
	buf := memory.NewResizableBuffer(bd.mem)
	buf.Resize(len(src))
	copy(buf.Bytes(), src)
	bd.free = append(bd.free, buf)
	return buf
}

func (bd *builder) validity(m *bitmap, n int) *memory.Buffer {
	if m.nulls == 0 {
		return nil
	}
	return bd.buf(m.bits[:(n+7)/8])
}

func (bd *builder) fixed(t arrow.DataType, n int, valid *bitmap, values []byte) arrow.Array {
	var v *memory.Buffer
	nulls := 0
	if valid != nil {
		v, nulls = bd.validity(valid, n), valid.nulls
	}
	d := array.NewData(t, n, []*memory.Buffer{v, bd.buf(values)}, nil, nulls, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

func (bd *builder) strings(n int, c *stringCol) arrow.Array {
	d := array.NewData(arrow.BinaryTypes.String, n,
		[]*memory.Buffer{nil, bd.buf(arrow.Int32Traits.CastToBytes(c.offsets[:n+1])), bd.buf(c.bytes[:c.used])}, nil, 0, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

func (bd *builder) dictValues(vals [][]byte) arrow.Array {
	sc := stringCol{offsets: make([]int32, len(vals)+1)}
	for i, v := range vals {
		sc.set(i, v)
	}
	return bd.strings(len(vals), &sc)
}

func (bd *builder) dict(t *arrow.DictionaryType, n int, valid *bitmap, indices []byte, dict arrow.Array) arrow.Array {
	defer dict.Release()
	var v *memory.Buffer
	nulls := 0
	if valid != nil {
		v, nulls = bd.validity(valid, n), valid.nulls
	}
	d := array.NewDataWithDictionary(t, n, []*memory.Buffer{v, bd.buf(indices)}, nulls, 0, dict.Data().(*array.Data))
	defer d.Release()
	return array.MakeFromData(d)
}

func stringsArray(bd *builder, vals []string) arrow.Array {
	bs := make([][]byte, len(vals))
	for i, v := range vals {
		bs[i] = []byte(v)
	}
	return bd.dictValues(bs)
}

// build makes a record of the batch; source is the file name for ColSourceFile.
func (b *batch) build(mem memory.Allocator, source string) arrow.Record {
	bd := &builder{mem: mem}
	n := b.n
	srcIdx := make([]int32, n) // all zero: one file per batch
	cols := make([]arrow.Array, NumCols)
	cols[ColSourceFile] = bd.dict(dictString, n, nil, arrow.Int32Traits.CastToBytes(srcIdx), stringsArray(bd, []string{source}))
	cols[ColLine] = bd.fixed(arrow.PrimitiveTypes.Int64, n, nil, arrow.Int64Traits.CastToBytes(b.line[:n]))
	cols[ColLogType] = bd.dict(dictString8, n, nil, arrow.Int8Traits.CastToBytes(b.logType[:n]), stringsArray(bd, logTypeNames))
	cols[ColDateTime] = bd.fixed(arrow.FixedWidthTypes.Timestamp_ms, n, nil, arrow.Int64Traits.CastToBytes(b.ts[:n]))
	cols[ColServer] = bd.dict(dictString, n, &b.serverOK, arrow.Int32Traits.CastToBytes(b.server[:n]), bd.dictValues(b.servers.vals))
	cols[ColConnectorID] = bd.dict(dictString, n, nil, arrow.Int32Traits.CastToBytes(b.connector[:n]), bd.dictValues(b.connectors.vals))
	cols[ColSessionID] = bd.fixed(arrow.PrimitiveTypes.Uint64, n, nil, arrow.Uint64Traits.CastToBytes(b.session[:n]))
	cols[ColSequenceNumber] = bd.fixed(arrow.PrimitiveTypes.Uint32, n, nil, arrow.Uint32Traits.CastToBytes(b.seq[:n]))
	cols[ColLocalIP] = bd.fixed(ipType, n, &b.localIPOK, b.localIP[:16*n])
	cols[ColLocalPort] = bd.fixed(arrow.PrimitiveTypes.Uint16, n, &b.localPOK, arrow.Uint16Traits.CastToBytes(b.localPort[:n]))
	cols[ColRemoteIP] = bd.fixed(ipType, n, &b.remoteIPOK, b.remoteIP[:16*n])
	cols[ColRemotePort] = bd.fixed(arrow.PrimitiveTypes.Uint16, n, &b.remotePOK, arrow.Uint16Traits.CastToBytes(b.remotePort[:n]))
	cols[ColEvent] = bd.dict(dictString8, n, &b.eventOK, arrow.Int8Traits.CastToBytes(b.event[:n]), stringsArray(bd, eventNames))
	cols[ColData] = bd.strings(n, &b.data)
	cols[ColContext] = bd.strings(n, &b.context)

	rec := array.NewRecord(Schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	for _, buf := range bd.free {
		buf.Release()
	}
	return rec
}
