package session

import (
	"fmt"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// SchemaVersion changes only when a column of Schema is
// removed or changes meaning.
const SchemaVersion = 1

// Column indexes of Schema used to partition it.
const (
	ColServer = 0
	ColStart  = 4
)

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

// Schema is the sessions table of a dataset: one row per rebuilt
// session, addresses as text, messages and errors nested, so that query
// tools (DuckDB, Spark, Trino) need no knowledge of the log format.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "server", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "log_type", Type: arrow.BinaryTypes.String},
	{Name: "session_id", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "connector_id", Type: arrow.BinaryTypes.String},
	{Name: "start", Type: arrow.FixedWidthTypes.Timestamp_ms},
	{Name: "end", Type: arrow.FixedWidthTypes.Timestamp_ms},
	{Name: "duration_ms", Type: arrow.PrimitiveTypes.Int64},
	{Name: "local_ip", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "local_port", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
	{Name: "remote_ip", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "remote_port", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
	{Name: "client_ip", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "proxied", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "proxy_session_id", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "proxy_auth", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ehlo", Type: arrow.BinaryTypes.String},
	{Name: "banner", Type: arrow.BinaryTypes.String},
	{Name: "tls", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "tls_protocol", Type: arrow.BinaryTypes.String},
	{Name: "auth", Type: arrow.BinaryTypes.String},
	{Name: "auth_user", Type: arrow.BinaryTypes.String},
	{Name: "auth_mechanism", Type: arrow.BinaryTypes.String},
	{Name: "auth_failures", Type: arrow.PrimitiveTypes.Int32},
	{Name: "permissions", Type: arrow.BinaryTypes.String},
	{Name: "ehlo_replied", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "offered_x_exps", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "messages", Type: arrow.ListOf(messageType)},
	{Name: "errors", Type: arrow.ListOf(errorType)},
	{Name: "exchange_auth_failures", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	{Name: "disconnect", Type: arrow.BinaryTypes.String},
	{Name: "complete", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "rows", Type: arrow.PrimitiveTypes.Int32},
	{Name: "first_at", Type: arrow.BinaryTypes.String},
	{Name: "last_at", Type: arrow.BinaryTypes.String},
}, nil)

// Records batches sessions into records of Schema and hands
// each full batch to flush. Add may be called concurrently.
type Records struct {
	mu    sync.Mutex
	b     *array.RecordBuilder
	n     int
	batch int
	flush func(arrow.Record) error
	err   error
}

// NewRecords returns a batcher of batch sessions per record.
func NewRecords(mem memory.Allocator, batch int, flush func(arrow.Record) error) *Records {
	return &Records{b: array.NewRecordBuilder(mem, Schema), batch: max(batch, 1), flush: flush}
}

// Add appends s; it flushes when the batch is full.
func (w *Records) Add(s *Session) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.append(s)
	w.n++
	if w.n >= w.batch {
		w.err = w.flushLocked()
	}
	return w.err
}

// Close flushes what is left and releases the builder.
func (w *Records) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil && w.n > 0 {
		w.err = w.flushLocked()
	}
	w.b.Release()
	return w.err
}

func (w *Records) flushLocked() error {
	rec := w.b.NewRecord()
	defer rec.Release()
	w.n = 0
	return w.flush(rec)
}

func (w *Records) append(s *Session) {
	b := w.b
	str := func(i int, v string) { b.Field(i).(*array.StringBuilder).Append(v) }
	optStr := func(i int, v string, ok bool) {
		if ok {
			str(i, v)
		} else {
			b.Field(i).AppendNull()
		}
	}
	boolean := func(i int, v bool) { b.Field(i).(*array.BooleanBuilder).Append(v) }
	optStr(0, s.Server, s.Server != "")
	str(1, s.LogType.String())
	b.Field(2).(*array.Uint64Builder).Append(s.ID)
	str(3, s.Connector)
	b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(s.Start.UnixMilli()))
	b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(s.End.UnixMilli()))
	b.Field(6).(*array.Int64Builder).Append(s.Duration().Milliseconds())
	optStr(7, s.Local.Addr().String(), s.Local.Addr().IsValid())
	if s.Local.IsValid() {
		b.Field(8).(*array.Uint16Builder).Append(s.Local.Port())
	} else {
		b.Field(8).AppendNull()
	}
	optStr(9, s.Remote.Addr().String(), s.Remote.Addr().IsValid())
	if s.Remote.IsValid() {
		b.Field(10).(*array.Uint16Builder).Append(s.Remote.Port())
	} else {
		b.Field(10).AppendNull()
	}
	optStr(11, s.Client.String(), s.Client.IsValid())
	boolean(12, s.Proxied)
	if s.Proxied {
		b.Field(13).(*array.Uint64Builder).Append(s.ProxySID)
	} else {
		b.Field(13).AppendNull()
	}
	optStr(14, s.ProxyAuth, s.Proxied)
	str(15, s.EHLO)
	str(16, s.Banner)
	boolean(17, s.TLS)
	str(18, s.TLSProtocol)
	str(19, s.Auth.String())
	str(20, s.AuthUser)
	str(21, s.AuthMechanism)
	b.Field(22).(*array.Int32Builder).Append(int32(s.AuthFailures))
	str(23, s.Permissions)
	boolean(24, s.EHLOReplied)
	boolean(25, s.OfferedEXPS)

	ml := b.Field(26).(*array.ListBuilder)
	ml.Append(true)
	ms := ml.ValueBuilder().(*array.StructBuilder)
	for _, m := range s.Messages {
		ms.Append(true)
		ms.FieldBuilder(0).(*array.StringBuilder).Append(m.From)
		ms.FieldBuilder(1).(*array.BooleanBuilder).Append(m.FromMissing)
		ms.FieldBuilder(2).(*array.BooleanBuilder).Append(m.Queued)
		rl := ms.FieldBuilder(3).(*array.ListBuilder)
		rl.Append(true)
		rs := rl.ValueBuilder().(*array.StructBuilder)
		for _, r := range m.Rcpts {
			rs.Append(true)
			rs.FieldBuilder(0).(*array.StringBuilder).Append(r.Addr)
			rs.FieldBuilder(1).(*array.StringBuilder).Append(r.Domain)
			if r.Code != 0 {
				rs.FieldBuilder(2).(*array.Int16Builder).Append(int16(r.Code))
			} else {
				rs.FieldBuilder(2).AppendNull()
			}
			rs.FieldBuilder(3).(*array.StringBuilder).Append(r.Reply)
			rs.FieldBuilder(4).(*array.StringBuilder).Append(r.At.String())
		}
		ms.FieldBuilder(4).(*array.Int32Builder).Append(int32(m.RcptsOver))
		ms.FieldBuilder(5).(*array.StringBuilder).Append(m.At.String())
	}
	el := b.Field(27).(*array.ListBuilder)
	el.Append(true)
	es := el.ValueBuilder().(*array.StructBuilder)
	for _, e := range s.Errors {
		es.Append(true)
		es.FieldBuilder(0).(*array.StringBuilder).Append(e.Command)
		es.FieldBuilder(1).(*array.Int16Builder).Append(int16(e.Code))
		es.FieldBuilder(2).(*array.StringBuilder).Append(e.Text)
		es.FieldBuilder(3).(*array.StringBuilder).Append(e.At.String())
	}
	xl := b.Field(28).(*array.ListBuilder)
	xl.Append(true)
	for _, r := range s.ExchangeAuthFailures {
		xl.ValueBuilder().(*array.StringBuilder).Append(r.String())
	}
	str(29, s.Disconnect)
	boolean(30, s.Complete)
	b.Field(31).(*array.Int32Builder).Append(int32(s.Rows))
	str(32, s.First.String())
	str(33, s.Last.String())
}

// must panics on a programming error in the schema above (tests catch it).
var _ = func() error {
	if Schema.Field(ColServer).Name != "server" || Schema.Field(ColStart).Name != "start" {
		panic(fmt.Sprintf("Schema partition columns moved: %v", Schema))
	}
	return nil
}()
