package session

import (
	"net/netip"
	"sync"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// SchemaVersion changes only when a column of Schema is
// removed or changes meaning.
const SchemaVersion = 1

var (
	recipientType = arrow.StructOf(
		arrow.Field{Name: "address", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "domain", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "code", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		arrow.Field{Name: "reply", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "at", Type: arrow.BinaryTypes.String},
	)
	messageType = arrow.StructOf(
		arrow.Field{Name: "mail_from", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "from_missing", Type: arrow.FixedWidthTypes.Boolean},
		arrow.Field{Name: "queued", Type: arrow.FixedWidthTypes.Boolean},
		arrow.Field{Name: "recipients", Type: arrow.ListOf(recipientType)},
		arrow.Field{Name: "recipients_over", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "at", Type: arrow.BinaryTypes.String},
	)
	errorType = arrow.StructOf(
		arrow.Field{Name: "command", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "code", Type: arrow.PrimitiveTypes.Int16},
		arrow.Field{Name: "text", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "at", Type: arrow.BinaryTypes.String},
	)
)

// column is one column of the sessions table: its field and how a session
// fills it. The table is declared here, once, in column order.
type column struct {
	field arrow.Field
	fill  func(b array.Builder, s *Session)
}

func str(get func(*Session) string) func(array.Builder, *Session) {
	return func(b array.Builder, s *Session) { b.(*array.StringBuilder).Append(get(s)) }
}

// optStr fills a nullable string column: null when ok is false.
func optStr(get func(*Session) (string, bool)) func(array.Builder, *Session) {
	return func(b array.Builder, s *Session) {
		if v, ok := get(s); ok {
			b.(*array.StringBuilder).Append(v)
		} else {
			b.AppendNull()
		}
	}
}

func boolean(get func(*Session) bool) func(array.Builder, *Session) {
	return func(b array.Builder, s *Session) { b.(*array.BooleanBuilder).Append(get(s)) }
}

func port(get func(*Session) netip.AddrPort) func(array.Builder, *Session) {
	return func(b array.Builder, s *Session) {
		if ap := get(s); ap.IsValid() {
			b.(*array.Uint16Builder).Append(ap.Port())
		} else {
			b.AppendNull()
		}
	}
}

func addr(get func(*Session) netip.Addr) func(array.Builder, *Session) {
	return optStr(func(s *Session) (string, bool) { a := get(s); return a.String(), a.IsValid() })
}

func timestamp(get func(*Session) time.Time) func(array.Builder, *Session) {
	return func(b array.Builder, s *Session) {
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(get(s).UnixMilli()))
	}
}

var columns = []column{
	{arrow.Field{Name: "server", Type: arrow.BinaryTypes.String, Nullable: true}, optStr(func(s *Session) (string, bool) { return s.Server, s.Server != "" })},
	{arrow.Field{Name: "log_type", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.LogType.String() })},
	{arrow.Field{Name: "session_id", Type: arrow.PrimitiveTypes.Uint64}, func(b array.Builder, s *Session) { b.(*array.Uint64Builder).Append(s.ID) }},
	{arrow.Field{Name: "connector_id", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.Connector })},
	{arrow.Field{Name: "start", Type: arrow.FixedWidthTypes.Timestamp_ms}, timestamp(func(s *Session) time.Time { return s.Start })},
	{arrow.Field{Name: "end", Type: arrow.FixedWidthTypes.Timestamp_ms}, timestamp(func(s *Session) time.Time { return s.End })},
	{arrow.Field{Name: "duration_ms", Type: arrow.PrimitiveTypes.Int64}, func(b array.Builder, s *Session) { b.(*array.Int64Builder).Append(s.Duration().Milliseconds()) }},
	{arrow.Field{Name: "local_ip", Type: arrow.BinaryTypes.String, Nullable: true}, addr(func(s *Session) netip.Addr { return s.Local.Addr() })},
	{arrow.Field{Name: "local_port", Type: arrow.PrimitiveTypes.Uint16, Nullable: true}, port(func(s *Session) netip.AddrPort { return s.Local })},
	{arrow.Field{Name: "remote_ip", Type: arrow.BinaryTypes.String, Nullable: true}, addr(func(s *Session) netip.Addr { return s.Remote.Addr() })},
	{arrow.Field{Name: "remote_port", Type: arrow.PrimitiveTypes.Uint16, Nullable: true}, port(func(s *Session) netip.AddrPort { return s.Remote })},
	{arrow.Field{Name: "client_ip", Type: arrow.BinaryTypes.String, Nullable: true}, addr(func(s *Session) netip.Addr { return s.Client })},
	{arrow.Field{Name: "proxied", Type: arrow.FixedWidthTypes.Boolean}, boolean(func(s *Session) bool { return s.Proxied })},
	{arrow.Field{Name: "proxy_session_id", Type: arrow.PrimitiveTypes.Uint64, Nullable: true}, func(b array.Builder, s *Session) {
		if s.Proxied {
			b.(*array.Uint64Builder).Append(s.ProxySID)
		} else {
			b.AppendNull()
		}
	}},
	{arrow.Field{Name: "proxy_auth", Type: arrow.BinaryTypes.String, Nullable: true}, optStr(func(s *Session) (string, bool) { return s.ProxyAuth, s.Proxied })},
	{arrow.Field{Name: "ehlo", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.EHLO })},
	{arrow.Field{Name: "banner", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.Banner })},
	{arrow.Field{Name: "tls", Type: arrow.FixedWidthTypes.Boolean}, boolean(func(s *Session) bool { return s.TLS })},
	{arrow.Field{Name: "tls_protocol", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.TLSProtocol })},
	{arrow.Field{Name: "auth", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.Auth.String() })},
	{arrow.Field{Name: "auth_user", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.AuthUser })},
	{arrow.Field{Name: "auth_mechanism", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.AuthMechanism })},
	{arrow.Field{Name: "auth_failures", Type: arrow.PrimitiveTypes.Int32}, func(b array.Builder, s *Session) { b.(*array.Int32Builder).Append(int32(s.AuthFailures)) }},
	{arrow.Field{Name: "permissions", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.Permissions })},
	{arrow.Field{Name: "ehlo_replied", Type: arrow.FixedWidthTypes.Boolean}, boolean(func(s *Session) bool { return s.EHLOReplied })},
	{arrow.Field{Name: "offered_x_exps", Type: arrow.FixedWidthTypes.Boolean}, boolean(func(s *Session) bool { return s.OfferedEXPS })},
	{arrow.Field{Name: "messages", Type: arrow.ListOf(messageType)}, appendMessages},
	{arrow.Field{Name: "errors", Type: arrow.ListOf(errorType)}, appendErrors},
	{arrow.Field{Name: "exchange_auth_failures", Type: arrow.ListOf(arrow.BinaryTypes.String)}, func(b array.Builder, s *Session) {
		xl := b.(*array.ListBuilder)
		xl.Append(true)
		for _, r := range s.ExchangeAuthFailures {
			xl.ValueBuilder().(*array.StringBuilder).Append(r.String())
		}
	}},
	{arrow.Field{Name: "disconnect", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.Disconnect })},
	{arrow.Field{Name: "complete", Type: arrow.FixedWidthTypes.Boolean}, boolean(func(s *Session) bool { return s.Complete })},
	{arrow.Field{Name: "rows", Type: arrow.PrimitiveTypes.Int32}, func(b array.Builder, s *Session) { b.(*array.Int32Builder).Append(int32(s.Rows)) }},
	{arrow.Field{Name: "first_at", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.First.String() })},
	{arrow.Field{Name: "last_at", Type: arrow.BinaryTypes.String}, str(func(s *Session) string { return s.Last.String() })},
}

// Schema is the sessions table of a dataset: one row per rebuilt
// session, addresses as text, messages and errors nested, so that query
// tools (DuckDB, Spark, Trino) need no knowledge of the log format.
var Schema = func() *arrow.Schema {
	fields := make([]arrow.Field, len(columns))
	for i, c := range columns {
		fields[i] = c.field
	}
	return arrow.NewSchema(fields, nil)
}()

// Column indexes of Schema used to partition it.
var (
	ColServer = columnIndex("server")
	ColStart  = columnIndex("start")
)

func columnIndex(name string) int {
	idx := Schema.FieldIndices(name)
	if len(idx) != 1 {
		panic("sessions table: no column " + name)
	}
	return idx[0]
}

// Records batches sessions into records of Schema and hands
// each full batch to flush. Add may be called concurrently.
type Records struct {
	mu    sync.Mutex // the builder, n and err
	b     *array.RecordBuilder
	n     int
	batch int
	flush func(arrow.Record) error
	err   error
	// flushing serialises flush calls, in the order batches were cut; a
	// batch is written outside mu, so the other workers go on adding
	// sessions to the next batch meanwhile.
	flushing sync.Mutex
	sizes    []builderSize // of the last batch, by field; under mu
	closed   bool          // Close was called; under mu
}

// builderSize is what a builder held when its batch was cut: its values,
// the bytes of its strings, and the same of the builders nested in it.
type builderSize struct {
	n, data int
	nested  []builderSize
}

func sizeOf(b array.Builder) builderSize {
	s := builderSize{n: b.Len()}
	switch b := b.(type) {
	case *array.StringBuilder:
		s.data = b.DataLen()
	case *array.BinaryBuilder:
		s.data = b.DataLen()
	case *array.ListBuilder:
		s.nested = []builderSize{sizeOf(b.ValueBuilder())}
	case *array.StructBuilder:
		for i := range b.NumField() {
			s.nested = append(s.nested, sizeOf(b.FieldBuilder(i)))
		}
	}
	return s
}

// reserveAs makes room in b, and the builders nested in it, for what s
// says they held. Arrow's Reserve and ReserveData make room for so much
// more: b may already hold sessions other workers added while the last
// batch was written, so only what is missing is asked for.
func reserveAs(b array.Builder, s builderSize) {
	b.Reserve(max(0, s.n-b.Len()))
	switch b := b.(type) {
	case *array.StringBuilder:
		b.ReserveData(max(0, s.data-b.DataLen()))
	case *array.BinaryBuilder:
		b.ReserveData(max(0, s.data-b.DataLen()))
	case *array.ListBuilder:
		reserveAs(b.ValueBuilder(), s.nested[0])
	case *array.StructBuilder:
		for i := range b.NumField() {
			reserveAs(b.FieldBuilder(i), s.nested[i])
		}
	}
}

// NewRecords returns a batcher of batch sessions per record.
func NewRecords(mem memory.Allocator, batch int, flush func(arrow.Record) error) *Records {
	b := array.NewRecordBuilder(mem, Schema)
	b.Reserve(max(batch, 1))
	return &Records{b: b, batch: max(batch, 1), flush: flush}
}

// Add appends s; it flushes when the batch is full.
func (w *Records) Add(s *Session) error {
	w.mu.Lock()
	if w.err != nil {
		defer w.mu.Unlock()
		return w.err
	}
	w.append(s)
	w.n++
	if w.n < w.batch {
		w.mu.Unlock()
		return nil
	}
	return w.flushUnlock()
}

// Close flushes what is left and releases the builder.
func (w *Records) Close() error {
	w.mu.Lock()
	// Closing: the last flush makes no room for a next batch.
	w.closed = true
	if w.err == nil && w.n > 0 {
		w.flushUnlock()
	} else {
		w.mu.Unlock()
	}
	w.flushing.Lock() // wait for a flush still running
	w.flushing.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Release()
	return w.err
}

// flushUnlock cuts the batch, releases mu and writes the batch.
func (w *Records) flushUnlock() error {
	w.sizes = w.sizes[:0]
	for _, f := range w.b.Fields() {
		w.sizes = append(w.sizes, sizeOf(f))
	}
	rec := w.b.NewRecord()
	w.n = 0
	// NewRecord leaves the builders empty: size the next batch's offsets
	// and fixed-width columns at once instead of doubling them 13 times.
	w.b.Reserve(w.batch)
	w.flushing.Lock()
	w.mu.Unlock()
	err := w.flush(rec)
	w.flushing.Unlock()
	rec.Release()
	w.mu.Lock()
	if err != nil && w.err == nil {
		w.err = err
	}
	// Size the next batch's strings and nested lists (messages,
	// recipients, errors) as the last batch's were, instead of doubling
	// them from nothing (which allocated about twice what they hold: an
	// ingest's sixth of its garbage). Only now that the batch is written
	// and released: reserved while it was being written, the two batches
	// (tens of MB each) were live at once, with the Parquet writer's
	// buffers on top, at the peak of an ingest's heap.
	if !w.closed {
		for i, f := range w.b.Fields() {
			reserveAs(f, w.sizes[i])
		}
	}
	w.mu.Unlock()
	return err
}

func (w *Records) append(s *Session) {
	for i, c := range columns {
		c.fill(w.b.Field(i), s)
	}
}

// Fields of messageType, recipientType and errorType, in order.
const (
	msgFrom, msgFromMissing, msgQueued, msgRecipients, msgRecipientsOver, msgAt = 0, 1, 2, 3, 4, 5
	rcptAddress, rcptDomain, rcptCode, rcptReply, rcptAt                        = 0, 1, 2, 3, 4
	errCommand, errCode, errText, errAt                                         = 0, 1, 2, 3
)

func appendMessages(b array.Builder, s *Session) {
	ml := b.(*array.ListBuilder)
	ml.Append(true)
	ms := ml.ValueBuilder().(*array.StructBuilder)
	for _, m := range s.Messages {
		ms.Append(true)
		ms.FieldBuilder(msgFrom).(*array.StringBuilder).Append(m.From)
		ms.FieldBuilder(msgFromMissing).(*array.BooleanBuilder).Append(m.FromMissing)
		ms.FieldBuilder(msgQueued).(*array.BooleanBuilder).Append(m.Queued)
		rl := ms.FieldBuilder(msgRecipients).(*array.ListBuilder)
		rl.Append(true)
		rs := rl.ValueBuilder().(*array.StructBuilder)
		for _, r := range m.Rcpts {
			rs.Append(true)
			rs.FieldBuilder(rcptAddress).(*array.StringBuilder).Append(r.Addr)
			rs.FieldBuilder(rcptDomain).(*array.StringBuilder).Append(r.Domain)
			if r.Code != 0 {
				rs.FieldBuilder(rcptCode).(*array.Int16Builder).Append(int16(r.Code))
			} else {
				rs.FieldBuilder(rcptCode).AppendNull()
			}
			rs.FieldBuilder(rcptReply).(*array.StringBuilder).Append(r.Reply)
			rs.FieldBuilder(rcptAt).(*array.StringBuilder).Append(r.At.String())
		}
		ms.FieldBuilder(msgRecipientsOver).(*array.Int32Builder).Append(int32(m.RcptsOver))
		ms.FieldBuilder(msgAt).(*array.StringBuilder).Append(m.At.String())
	}
}

func appendErrors(b array.Builder, s *Session) {
	el := b.(*array.ListBuilder)
	el.Append(true)
	es := el.ValueBuilder().(*array.StructBuilder)
	for _, e := range s.Errors {
		es.Append(true)
		es.FieldBuilder(errCommand).(*array.StringBuilder).Append(e.Command)
		es.FieldBuilder(errCode).(*array.Int16Builder).Append(int16(e.Code))
		es.FieldBuilder(errText).(*array.StringBuilder).Append(e.Text)
		es.FieldBuilder(errAt).(*array.StringBuilder).Append(e.At.String())
	}
}
