package parser

// Exchange connectivity logs (CONNECTLOG*.LOG): one row per event of an
// outbound connection — queue start, DNS answer, connect, failure, and the
// disconnect row that counts messages and bytes and says why the queue was
// retried. They hold the failure text the SMTP protocol logs lack, notably
// the reason behind "451 4.4.0 Primary target IP address responded with:
// "451 5.7.3 Cannot achieve Exchange Server authentication."". CONNECTIVITY.md
// says where each shape handled here was verified.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// Sentinels of the connectivity reader, beside the shared ones in errors.go
// (ErrFieldCount, ErrBadTimestamp, ErrTruncated, ...).
var (
	ErrNotConnectivityLog = errors.New("not an Exchange connectivity log")
	ErrBadDirection       = errors.New("bad direction (want one of + - > *)")
)

// Column indexes of ConnectivitySchema.
const (
	ConnColSourceFile  = iota // dictionary<int32, utf8>: the file the row came from, as in Schema's source_file
	ConnColLine               // int64: 1-based physical line number, as in Schema's line
	ConnColDateTime           // timestamp[ms, UTC]
	ConnColSession            // utf8: session as logged (16 hex digits; empty on service rows)
	ConnColSource             // utf8: SMTP, MapiDelivery, MapiSubmission, DeliveryAgent, Transport, ...
	ConnColDestination        // utf8: next-hop domain, AD site, mailbox database GUID, or "" on service rows
	ConnColDirection          // utf8, nullable: one of + - > *; null when the log left it empty
	ConnColDescription        // utf8: the description, unquoted (invalid UTF-8 replaced by U+FFFD)
	ConnNumCols
)

// ConnectivitySchema is the schema of every record a ConnectivityReader
// yields. The file and line columns are named and typed as in Schema, so a
// consumer can cite file:line the same way for both kinds of log.
var ConnectivitySchema = arrow.NewSchema([]arrow.Field{
	ConnColSourceFile:  {Name: "source_file", Type: dictString},
	ConnColLine:        {Name: "line", Type: arrow.PrimitiveTypes.Int64},
	ConnColDateTime:    {Name: "date_time", Type: arrow.FixedWidthTypes.Timestamp_ms},
	ConnColSession:     {Name: "session", Type: arrow.BinaryTypes.String},
	ConnColSource:      {Name: "source", Type: arrow.BinaryTypes.String},
	ConnColDestination: {Name: "destination", Type: arrow.BinaryTypes.String},
	ConnColDirection:   {Name: "direction", Type: arrow.BinaryTypes.String, Nullable: true},
	ConnColDescription: {Name: "description", Type: arrow.BinaryTypes.String},
}, nil)

// ConnectivityLogType is the #Log-type value of a connectivity log.
const ConnectivityLogType = "Transport Connectivity Log"

// Directions in a connectivity log (Exchange's ConnectionLog.Direction):
// '+' connection start, '>' an event on it, '-' its end, '*' information.
const ConnDirections = "+->*"

// field ids of the columns a connectivity row can carry.
const (
	cfDateTime = iota
	cfSession
	cfSource
	cfDestination
	cfDirection
	cfDescription
	numConnFields
)

// connFieldNames is the standard layout, used until a #Fields line says
// otherwise. Exchange writes "Destination" with a capital D; names are
// matched without regard to case.
var connFieldNames = [numConnFields]string{"date-time", "session", "source", "destination", "direction", "description"}

// connRequired are the fields without which a row says nothing useful.
var connRequired = []int{cfDateTime, cfDirection, cfDescription}

// IsConnectivityLog tells from the first bytes of a (decompressed) stream
// whether it is an Exchange connectivity log: a "#Log-type: Transport
// Connectivity Log" line, or a #Fields line naming exactly the six
// connectivity columns (in any order, any case). A headerless excerpt is
// recognised when its first line is a row of the standard layout: six
// fields, an ISO 8601 date-time, and a direction of + - > *. A UTF-8 BOM,
// CRLF line ends and leading NULs are ignored.
func IsConnectivityLog(head []byte) bool {
	head = bytes.TrimPrefix(bytes.TrimLeft(head, "\x00"), bom)
	for len(head) > 0 {
		line, rest, _ := bytes.Cut(head, []byte("\n"))
		head = rest
		line = bytes.TrimRight(bytes.Trim(line, "\x00"), "\r")
		line = bytes.TrimPrefix(line, bom)
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[0] == '#' {
			name, value, _ := bytes.Cut(line[1:], []byte(":"))
			switch strings.ToLower(string(bytes.TrimSpace(name))) {
			case "log-type":
				return strings.EqualFold(string(bytes.TrimSpace(value)), ConnectivityLogType)
			case "fields":
				return isConnectivityFields(string(value))
			}
			continue
		}
		return isConnectivityRow(line)
	}
	return false
}

// isConnectivityFields reports whether a #Fields value names exactly the
// six connectivity columns.
func isConnectivityFields(value string) bool {
	parts := strings.Split(value, ",")
	if len(parts) != numConnFields {
		return false
	}
	var seen [numConnFields]bool
	for _, p := range parts {
		p = strings.TrimSpace(p)
		found := false
		for i, n := range connFieldNames {
			if strings.EqualFold(p, n) && !seen[i] {
				seen[i], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// isConnectivityRow reports whether line is a row of the standard layout.
func isConnectivityRow(line []byte) bool {
	if !utf8.Valid(line) {
		return false
	}
	f, _, err := splitLine(line, nil, make([]byte, 0, len(line)), numConnFields)
	if err != nil || len(f) != numConnFields {
		return false
	}
	var tp timeParser
	if _, ok := tp.parse(f[cfDateTime]); !ok {
		return false
	}
	d := f[cfDirection]
	return len(d) == 1 && strings.IndexByte(ConnDirections, d[0]) >= 0
}

var _ array.RecordReader = (*ConnectivityReader)(nil)

// ConnectivityReader reads one Exchange connectivity log stream into records
// of ConnectivitySchema. It follows array.RecordReader like Reader: Next,
// Record, Err; the record returned by Record is valid until the next call to
// Next and is released by the reader; a caller that keeps it calls Retain
// and later Release.
//
// Column positions come from #Fields (the standard layout until one is
// seen), and a header block may appear again anywhere. Every row is either
// emitted, rejected with an *Error naming file and line, or left out by
// WithTimeRange: Stats().RowsRead == RowsEmitted + RowsRejected + RowsOutside.
type ConnectivityReader struct {
	refs    atomic.Int64
	cfg     config
	src     string
	br      *bufio.Reader
	long    []byte
	cur     arrow.Record
	err     error
	done    bool
	lineNo  int64
	stats   Stats
	probs   Problems
	fields  [][]byte
	scratch []byte

	pos     [numConnFields]int // column of each known field; -1 when absent
	nfields int
	missing string // a required field the current #Fields lacks
	foreign string // a #Log-type that is not a connectivity log
	version string
	times   timeParser

	// The batch being built.
	n     int
	held  int // bytes of strings in the batch
	line  *array.Int64Builder
	ts    *array.TimestampBuilder
	strs  [4]*array.StringBuilder // session, source, destination, description
	dir   *array.StringBuilder
	built bool
}

// NewConnectivityReader returns a reader of r; name names the stream in
// records and errors. mem allocates the records' buffers (nil means
// memory.DefaultAllocator) and overrides WithAllocator. Of the Options,
// WithBatchRows, WithMaxLineBytes, WithMaxProblems and WithTimeRange apply;
// the protocol-log ones (WithServer, WithLogType, resume) are ignored.
func NewConnectivityReader(r io.Reader, name string, mem memory.Allocator, opts ...Option) *ConnectivityReader {
	cfg := config{mem: memory.DefaultAllocator, batchRows: DefaultBatchRows, maxLine: DefaultMaxLineBytes,
		maxProblems: DefaultMaxProblems}
	for _, o := range opts {
		o(&cfg)
	}
	if mem != nil {
		cfg.mem = mem
	}
	rd := &ConnectivityReader{cfg: cfg, src: name, fields: make([][]byte, 0, numConnFields)}
	rd.refs.Store(1)
	rd.probs.max = cfg.maxProblems
	rd.setFields(connFieldNames[:]) // headerless excerpts use the standard layout
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 64<<10 {
		br = bufio.NewReaderSize(r, bufferSizeFor(r))
	}
	rd.br = br
	rd.line = array.NewInt64Builder(cfg.mem)
	rd.ts = array.NewTimestampBuilder(cfg.mem, arrow.FixedWidthTypes.Timestamp_ms.(*arrow.TimestampType))
	for i := range rd.strs {
		rd.strs[i] = array.NewStringBuilder(cfg.mem)
	}
	rd.dir = array.NewStringBuilder(cfg.mem)
	rd.built = true
	return rd
}

func (r *ConnectivityReader) Retain() { r.refs.Add(1) }

func (r *ConnectivityReader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.built {
		r.line.Release()
		r.ts.Release()
		for _, b := range r.strs {
			b.Release()
		}
		r.dir.Release()
		r.built = false
	}
}

func (r *ConnectivityReader) Schema() *arrow.Schema { return ConnectivitySchema }

// Record returns the current record, valid until the next call to Next.
func (r *ConnectivityReader) Record() arrow.Record { return r.cur }

// Err returns the I/O error that ended the stream early, as an *Error
// wrapping ErrDamaged, or nil. Bad rows never end the stream.
func (r *ConnectivityReader) Err() error { return r.err }

// Stats returns the counts so far.
func (r *ConnectivityReader) Stats() Stats { return r.stats }

// Problems returns a copy of the rejections and warnings so far.
func (r *ConnectivityReader) Problems() *Problems {
	p := r.probs
	return &p
}

// Version is the #Version header (e.g. 15.0.0.0), or "".
func (r *ConnectivityReader) Version() string { return r.version }

// Next reads the next record and reports whether there is one.
func (r *ConnectivityReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.done || !r.built {
		return false
	}
	for r.n < r.cfg.batchRows && r.held < maxBatchBytes {
		line, terminated, err := r.readLine()
		if len(line) > 0 || terminated {
			r.lineNo++
			r.stats.Lines++
			r.handleLine(line, terminated, err != nil && err != io.EOF)
		}
		if err != nil {
			if err != io.EOF {
				at := r.lineNo + 1
				if len(line) > 0 && !terminated {
					at = r.lineNo
				}
				r.err = &Error{File: r.src, Line: at, Err: fmt.Errorf("%w: %v; every good row before this line was kept", ErrDamaged, err)}
			}
			r.done = true
			break
		}
	}
	if r.n == 0 {
		return false
	}
	r.cur = r.build()
	r.stats.Batches++
	return true
}

// readLine returns the next physical line with its line end, and whether it
// had one. A line longer than maxLine is skipped to its end, counted as a
// rejected row, and returned as nil.
func (r *ConnectivityReader) readLine() ([]byte, bool, error) {
	line, err := r.br.ReadSlice('\n')
	r.stats.Bytes += int64(len(line))
	tooLong := len(line) > r.cfg.maxLine
	if err != bufio.ErrBufferFull && !tooLong {
		return line, err == nil, err
	}
	r.long = r.long[:0]
	if !tooLong {
		r.long = append(r.long, line...)
	}
	for err == bufio.ErrBufferFull {
		line, err = r.br.ReadSlice('\n')
		r.stats.Bytes += int64(len(line))
		if !tooLong && len(r.long)+len(line) > r.cfg.maxLine {
			tooLong = true
			r.long = r.long[:0]
		}
		if !tooLong {
			r.long = append(r.long, line...)
		}
	}
	if tooLong {
		r.lineNo++
		r.stats.Lines++
		r.stats.RowsRead++
		r.reject(0, fmt.Errorf("%w (over %d bytes); skipped", ErrLineTooLong, r.cfg.maxLine))
		return nil, false, err
	}
	return r.long, err == nil, err
}

// connKind is Kind with the connectivity sentinels first.
func connKind(err error) error {
	for _, s := range []error{ErrTruncated, ErrNotConnectivityLog, ErrBadDirection} {
		if errors.Is(err, s) {
			return s
		}
	}
	return Kind(err)
}

func (r *ConnectivityReader) reject(col int, err error) {
	r.stats.RowsRejected++
	r.probs.add(&r.probs.Rejects, &r.probs.RejectCounts, &Error{File: r.src, Line: r.lineNo, Column: col, Err: err}, connKind(err))
}

func (r *ConnectivityReader) warn(col int, err error) {
	r.stats.Warnings++
	r.probs.add(&r.probs.Warnings, &r.probs.WarningCounts, &Error{File: r.src, Line: r.lineNo, Column: col, Err: err}, connKind(err))
}

// handleLine parses one physical line. terminated says it ended in '\n';
// damaged says the input broke off right after it.
func (r *ConnectivityReader) handleLine(line []byte, terminated, damaged bool) {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	line = bytes.TrimPrefix(line, bom)
	if len(line) == 0 {
		r.stats.BlankLines++
		return
	}
	if bytes.IndexByte(line, 0) >= 0 {
		trimmed := bytes.Trim(line, "\x00")
		if len(trimmed) == 0 {
			r.stats.RowsRead++
			r.reject(0, ErrNULBytes)
			return
		}
		if bytes.IndexByte(trimmed, 0) < 0 {
			r.warn(0, fmt.Errorf("%w: %d bytes", ErrNULStripped, len(line)-len(trimmed)))
			line = trimmed
		}
		// NULs inside a field are kept: they are data.
	}
	if line[0] == '#' {
		r.stats.HeaderLines++
		r.header(line)
		return
	}
	r.stats.RowsRead++
	if damaged && !terminated {
		r.reject(0, fmt.Errorf("%w: the input broke off inside this line", ErrTruncated))
		return
	}
	if !utf8.Valid(line) {
		line = bytes.ToValidUTF8(line, []byte("\uFFFD"))
		r.warn(0, ErrInvalidUTF8)
	}
	if col, err := r.parseRow(line); err != nil {
		if !terminated {
			err = fmt.Errorf("%w: %w", ErrTruncated, err)
		}
		r.reject(col, err)
		return
	}
	if !terminated {
		// Exchange ends every row with CRLF: the description may be cut.
		r.warn(0, ErrNoLineEnd)
	}
}

// header applies one '#' line.
func (r *ConnectivityReader) header(line []byte) {
	name, value, ok := headerLine(line)
	if !ok {
		return
	}
	switch name {
	case "fields":
		r.setFields(splitFieldsHeader(value))
	case "log-type":
		r.foreign = ""
		if !strings.EqualFold(value, ConnectivityLogType) {
			r.foreign = value
		}
	case "version":
		r.version = value
	}
}

func (r *ConnectivityReader) setFields(names []string) {
	for i := range r.pos {
		r.pos[i] = -1
	}
	r.nfields = len(names)
	for i, n := range names {
		known := false
		for f, fn := range connFieldNames {
			if strings.EqualFold(n, fn) {
				r.pos[f], known = i, true
			}
		}
		if !known && r.lineNo > 0 {
			r.warn(0, fmt.Errorf("%w: %q", ErrUnknownField, n))
		}
	}
	r.missing = ""
	for _, f := range connRequired {
		if r.pos[f] < 0 {
			r.missing = connFieldNames[f]
			break
		}
	}
}

// field returns field f of a split row, or nil when #Fields lacks it.
func (r *ConnectivityReader) field(fs [][]byte, f int) []byte {
	if p := r.pos[f]; p >= 0 {
		return fs[p]
	}
	return nil
}

// parseRow validates one row and appends it to the batch only when all of it
// is good, so the columns never differ in length. It returns the 1-based
// column of a quoting fault.
func (r *ConnectivityReader) parseRow(line []byte) (int, error) {
	if r.foreign != "" {
		return 0, fmt.Errorf("%w: #Log-type is %q", ErrNotConnectivityLog, clip([]byte(r.foreign)))
	}
	if r.missing != "" {
		return 0, fmt.Errorf("%w: %s", ErrFieldsHeader, r.missing)
	}
	if cap(r.scratch) < len(line) {
		r.scratch = make([]byte, 0, 2*len(line))
	}
	f, col, err := splitLine(line, r.fields, r.scratch[:0], max(r.nfields, 1))
	r.fields = f
	if err != nil {
		if err == ErrFieldCount {
			return 0, fmt.Errorf("%w: more than %d", ErrFieldCount, r.nfields)
		}
		return col, err
	}
	if len(f) != r.nfields {
		return 0, fmt.Errorf("%w: got %d, #Fields has %d", ErrFieldCount, len(f), r.nfields)
	}
	dt := r.field(f, cfDateTime)
	ts, ok := r.times.parse(dt)
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrBadTimestamp, clip(dt))
	}
	dir := r.field(f, cfDirection)
	if len(dir) > 1 || len(dir) == 1 && strings.IndexByte(ConnDirections, dir[0]) < 0 {
		return 0, fmt.Errorf("%w: %q", ErrBadDirection, clip(dir))
	}
	if r.cfg.window && (ts < r.cfg.since || ts >= r.cfg.until) {
		r.stats.RowsOutside++
		return 0, nil
	}
	if r.stats.RowsEmitted == 0 || ts < r.stats.MinTime {
		r.stats.MinTime = ts
	}
	if r.stats.RowsEmitted == 0 || ts > r.stats.MaxTime {
		r.stats.MaxTime = ts
	}
	r.stats.RowsEmitted++
	r.n++
	r.line.Append(r.lineNo)
	r.ts.Append(arrow.Timestamp(ts))
	for i, fid := range [...]int{cfSession, cfSource, cfDestination, cfDescription} {
		v := r.field(f, fid)
		r.strs[i].BinaryBuilder.Append(v)
		r.held += len(v)
	}
	if len(dir) == 0 {
		r.dir.AppendNull() // forum copies lose a lone '*'; the row is still good
	} else {
		r.dir.BinaryBuilder.Append(dir)
	}
	return 0, nil
}

// build turns the batch into a record and empties it.
func (r *ConnectivityReader) build() arrow.Record {
	mem := r.cfg.mem
	n := r.n
	cols := make([]arrow.Array, ConnNumCols)

	ib := array.NewInt32Builder(mem)
	ib.AppendValues(make([]int32, n), nil) // one file per batch: every index is 0
	indices := ib.NewArray()
	ib.Release()
	sb := array.NewStringBuilder(mem)
	sb.Append(r.src)
	dict := sb.NewArray()
	sb.Release()
	cols[ConnColSourceFile] = array.NewDictionaryArray(dictString, indices, dict)
	indices.Release()
	dict.Release()

	cols[ConnColLine] = r.line.NewArray()
	cols[ConnColDateTime] = r.ts.NewArray()
	cols[ConnColSession] = r.strs[0].NewArray()
	cols[ConnColSource] = r.strs[1].NewArray()
	cols[ConnColDestination] = r.strs[2].NewArray()
	cols[ConnColDescription] = r.strs[3].NewArray()
	cols[ConnColDirection] = r.dir.NewArray()

	rec := array.NewRecord(ConnectivitySchema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	r.n, r.held = 0, 0
	return rec
}
