package parser

import (
	"net/netip"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
)

// Column indexes of Schema. Heuristics read columns by these constants.
const (
	ColSourceFile     = iota // dictionary<int32, utf8>: the file the row came from ("a.zip!/x/RECV.LOG" inside archives)
	ColLine                  // int64: 1-based physical line number in the (decompressed) file
	ColLogType               // dictionary<int8, utf8>: "receive" or "send" (the parser's index = LogType-1; read it by value: see LogTypeAt)
	ColDateTime              // timestamp[ms, UTC]
	ColServer                // dictionary<int32, utf8>, nullable: receive logs: connector-id before '\'; send logs: from --server or the folder path
	ColConnectorID           // dictionary<int32, utf8>: connector-id as logged (not trimmed)
	ColSessionID             // uint64: the 16 hex digits of session-id
	ColSequenceNumber        // uint32
	ColLocalIP               // fixed_size_binary[16], nullable: IPv6, or IPv4 as ::ffff:a.b.c.d; null when empty or not an address
	ColLocalPort             // uint16, nullable
	ColRemoteIP              // fixed_size_binary[16], nullable
	ColRemotePort            // uint16, nullable
	ColEvent                 // dictionary<int8, utf8>, nullable: one of + - < > *; null when the log left it empty
	ColData                  // utf8: the data field, unquoted (invalid UTF-8 replaced by U+FFFD)
	ColContext               // utf8: the context field, unquoted
	NumCols
)

// LogType says which side of the conversation a log records.
type LogType int8

// The zero value is unknown. In the records the parser makes, ColLogType's
// dictionary index is t-1; records read back from a dataset may order the
// dictionary otherwise (LogTypeAt).
const (
	LogTypeUnknown LogType = iota
	LogTypeReceive         // SMTP Receive Protocol Log: '<' is the client, '>' is us
	LogTypeSend            // SMTP Send Protocol Log: '>' is us, '<' is the remote server
)

// LogTypeAt returns the log type in the ColLogType column at row i, read by
// its value: a record read back from a dataset has the dictionary of its
// Parquet column chunk, in the order the values first came there ("send"
// first when a part's first row is a send log's), not the parser's.
func LogTypeAt(col *array.Dictionary, i int) LogType {
	s, ok := DictString(col, i)
	if !ok {
		return LogTypeUnknown
	}
	return ParseLogType(s)
}

// ParseLogType reads "receive" or "send" (LogType.String's names).
func ParseLogType(s string) LogType {
	switch s {
	case "receive":
		return LogTypeReceive
	case "send":
		return LogTypeSend
	}
	return LogTypeUnknown
}

func (t LogType) String() string {
	switch t {
	case LogTypeReceive:
		return "receive"
	case LogTypeSend:
		return "send"
	}
	return "unknown"
}

// Events in the order of EventDictionary; ColEvent holds indexes into it.
const Events = "+-<>*"

var (
	dictString   = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	dictString8  = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	ipType       = &arrow.FixedSizeBinaryType{ByteWidth: 16}
	logTypeNames = []string{"receive", "send"}
	eventNames   = []string{"+", "-", "<", ">", "*"}
)

// Schema is the schema of every record a Reader yields.
var Schema = arrow.NewSchema([]arrow.Field{
	ColSourceFile:     {Name: "source_file", Type: dictString},
	ColLine:           {Name: "line", Type: arrow.PrimitiveTypes.Int64},
	ColLogType:        {Name: "log_type", Type: dictString8},
	ColDateTime:       {Name: "date_time", Type: arrow.FixedWidthTypes.Timestamp_ms},
	ColServer:         {Name: "server", Type: dictString, Nullable: true},
	ColConnectorID:    {Name: "connector_id", Type: dictString},
	ColSessionID:      {Name: "session_id", Type: arrow.PrimitiveTypes.Uint64},
	ColSequenceNumber: {Name: "sequence_number", Type: arrow.PrimitiveTypes.Uint32},
	ColLocalIP:        {Name: "local_ip", Type: ipType, Nullable: true},
	ColLocalPort:      {Name: "local_port", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
	ColRemoteIP:       {Name: "remote_ip", Type: ipType, Nullable: true},
	ColRemotePort:     {Name: "remote_port", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
	ColEvent:          {Name: "event", Type: dictString8, Nullable: true},
	ColData:           {Name: "data", Type: arrow.BinaryTypes.String},
	ColContext:        {Name: "context", Type: arrow.BinaryTypes.String},
}, nil)

// IPAt returns the address in an ip column (ColLocalIP, ColRemoteIP) at row i,
// IPv4 unmapped, or the zero Addr when the value is null.
func IPAt(col *array.FixedSizeBinary, i int) netip.Addr {
	if col.IsNull(i) {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(col.Value(i))).Unmap()
}

// DictString returns the string value of a dictionary<_, utf8> column at row i,
// and false when it is null.
func DictString(col *array.Dictionary, i int) (string, bool) {
	if col.IsNull(i) {
		return "", false
	}
	return col.Dictionary().(*array.String).Value(col.GetValueIndex(i)), true
}
