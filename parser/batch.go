package parser

import (
	"bytes"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// batch accumulates one record's columns in reusable Go slices; build copies
// them into buffers from the Reader's allocator. Appending to typed slices is
// several times faster than Arrow's per-value builders, and the copy at the
// end costs one memmove per column.
type batch struct {
	n          int
	line       []int64
	logType    []int8
	ts         []int64
	server     []int32
	serverOK   bitmap
	connector  []int32
	session    []uint64
	seq        []uint32
	localIP    []byte
	localIPOK  bitmap
	localPort  []uint16
	localPOK   bitmap
	remoteIP   []byte
	remoteIPOK bitmap
	remotePort []uint16
	remotePOK  bitmap
	event      []int8
	eventOK    bitmap
	data       stringCol
	context    stringCol

	servers    dictMemo
	connectors dictMemo
}

type stringCol struct {
	offsets []int32
	bytes   []byte
}

func (c *stringCol) reset() { c.offsets = append(c.offsets[:0], 0); c.bytes = c.bytes[:0] }
func (c *stringCol) add(b []byte) {
	c.bytes = append(c.bytes, b...)
	c.offsets = append(c.offsets, int32(len(c.bytes)))
}

// bitmap is an Arrow validity bitmap that also counts nulls.
type bitmap struct {
	bits  []byte
	nulls int
}

func (m *bitmap) reset() { m.bits = m.bits[:0]; m.nulls = 0 }
func (m *bitmap) add(i int, ok bool) {
	if i&7 == 0 {
		m.bits = append(m.bits, 0)
	}
	if ok {
		m.bits[i>>3] |= 1 << (i & 7)
	} else {
		m.nulls++
	}
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
	b.n = 0
	b.line, b.logType, b.ts = b.line[:0], b.logType[:0], b.ts[:0]
	b.server, b.connector, b.session, b.seq = b.server[:0], b.connector[:0], b.session[:0], b.seq[:0]
	b.localIP, b.localPort, b.remoteIP, b.remotePort = b.localIP[:0], b.localPort[:0], b.remoteIP[:0], b.remotePort[:0]
	b.event = b.event[:0]
	for _, m := range []*bitmap{&b.serverOK, &b.localIPOK, &b.localPOK, &b.remoteIPOK, &b.remotePOK, &b.eventOK} {
		m.reset()
	}
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
	b.n++
	b.line = append(b.line, r.line)
	b.logType = append(b.logType, int8(r.logType)-1)
	b.ts = append(b.ts, r.ts)
	if r.server != nil {
		b.server = append(b.server, b.servers.id(r.server))
		b.serverOK.add(i, true)
	} else {
		b.server = append(b.server, 0)
		b.serverOK.add(i, false)
	}
	b.connector = append(b.connector, b.connectors.id(r.connector))
	b.session = append(b.session, r.session)
	b.seq = append(b.seq, r.seq)
	b.localIP = append(b.localIP, r.local.ip[:]...)
	b.localIPOK.add(i, r.local.ipOK)
	b.localPort = append(b.localPort, r.local.port)
	b.localPOK.add(i, r.local.portOK)
	b.remoteIP = append(b.remoteIP, r.remote.ip[:]...)
	b.remoteIPOK.add(i, r.remote.ipOK)
	b.remotePort = append(b.remotePort, r.remote.port)
	b.remotePOK.add(i, r.remote.portOK)
	b.event = append(b.event, max(r.event, 0))
	b.eventOK.add(i, r.event >= 0)
	b.data.add(r.data)
	b.context.add(r.ctxt)
}

// bytesHeld is the size of the variable-length data in the batch, so the
// Reader can cut a batch early when rows are long.
func (b *batch) bytesHeld() int { return len(b.data.bytes) + len(b.context.bytes) }

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

func (bd *builder) validity(m *bitmap) *memory.Buffer {
	if m.nulls == 0 {
		return nil
	}
	return bd.buf(m.bits)
}

func (bd *builder) fixed(t arrow.DataType, n int, valid *bitmap, values []byte) arrow.Array {
	var v *memory.Buffer
	nulls := 0
	if valid != nil {
		v, nulls = bd.validity(valid), valid.nulls
	}
	d := array.NewData(t, n, []*memory.Buffer{v, bd.buf(values)}, nil, nulls, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

func (bd *builder) strings(n int, c *stringCol) arrow.Array {
	d := array.NewData(arrow.BinaryTypes.String, n,
		[]*memory.Buffer{nil, bd.buf(arrow.Int32Traits.CastToBytes(c.offsets)), bd.buf(c.bytes)}, nil, 0, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

func (bd *builder) dictValues(vals [][]byte) arrow.Array {
	var sc stringCol
	sc.reset()
	for _, v := range vals {
		sc.add(v)
	}
	return bd.strings(len(vals), &sc)
}

func (bd *builder) dict(t *arrow.DictionaryType, n int, valid *bitmap, indices []byte, dict arrow.Array) arrow.Array {
	defer dict.Release()
	var v *memory.Buffer
	nulls := 0
	if valid != nil {
		v, nulls = bd.validity(valid), valid.nulls
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
	cols[ColLine] = bd.fixed(arrow.PrimitiveTypes.Int64, n, nil, arrow.Int64Traits.CastToBytes(b.line))
	cols[ColLogType] = bd.dict(dictString8, n, nil, arrow.Int8Traits.CastToBytes(b.logType), stringsArray(bd, logTypeNames))
	cols[ColDateTime] = bd.fixed(arrow.FixedWidthTypes.Timestamp_ms, n, nil, arrow.Int64Traits.CastToBytes(b.ts))
	cols[ColServer] = bd.dict(dictString, n, &b.serverOK, arrow.Int32Traits.CastToBytes(b.server), bd.dictValues(b.servers.vals))
	cols[ColConnectorID] = bd.dict(dictString, n, nil, arrow.Int32Traits.CastToBytes(b.connector), bd.dictValues(b.connectors.vals))
	cols[ColSessionID] = bd.fixed(arrow.PrimitiveTypes.Uint64, n, nil, arrow.Uint64Traits.CastToBytes(b.session))
	cols[ColSequenceNumber] = bd.fixed(arrow.PrimitiveTypes.Uint32, n, nil, arrow.Uint32Traits.CastToBytes(b.seq))
	cols[ColLocalIP] = bd.fixed(ipType, n, &b.localIPOK, b.localIP)
	cols[ColLocalPort] = bd.fixed(arrow.PrimitiveTypes.Uint16, n, &b.localPOK, arrow.Uint16Traits.CastToBytes(b.localPort))
	cols[ColRemoteIP] = bd.fixed(ipType, n, &b.remoteIPOK, b.remoteIP)
	cols[ColRemotePort] = bd.fixed(arrow.PrimitiveTypes.Uint16, n, &b.remotePOK, arrow.Uint16Traits.CastToBytes(b.remotePort))
	cols[ColEvent] = bd.dict(dictString8, n, &b.eventOK, arrow.Int8Traits.CastToBytes(b.event), stringsArray(bd, eventNames))
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
