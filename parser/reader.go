package parser

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

var _ array.RecordReader = (*Reader)(nil)

// Defaults for the options.
const (
	// DefaultBatchRows is the most rows in one record: 8,192 rows of
	// protocol log are about 2 MB. A scan keeps a batch or two per worker
	// live; 65,536 rows cost 36 MiB more peak memory on 4.3 GB (246 vs 285
	// MiB) than 16,384, and 16,384 about 6 MiB more than 8,192 at 21.5 GB,
	// for no CPU saved (scan or ingest).
	DefaultBatchRows = 8 * 1024
	// DefaultMaxLineBytes keeps a row with a 10 MB field (an attacker's
	// EHLO, a damaged file) whole in the records — the analysis cuts such
	// fields and says so — while a longer line is skipped without being
	// held in memory.
	DefaultMaxLineBytes = 16 << 20
	// maxBatchBytes cuts a batch early when its data and context columns
	// hold this much, so memory per batch stays bounded with long lines.
	maxBatchBytes = 32 << 20
	// maxFields bounds the fields of a row; a row with more is rejected.
	maxFields      = 64
	readBufferSize = 1 << 20
)

// Stats counts what a Reader saw. RowsRead == RowsEmitted + RowsRejected +
// RowsOutside always holds; header and blank lines are not rows, and
// Lines == HeaderLines + BlankLines + RowsRead.
type Stats struct {
	Bytes        int64 // bytes read (decompressed)
	Lines        int64 // physical lines
	HeaderLines  int64 // lines starting with '#'
	BlankLines   int64
	RowsRead     int64
	RowsEmitted  int64
	RowsRejected int64
	RowsOutside  int64 // good rows left out by WithTimeRange
	Warnings     int64 // warnings on kept rows, and notices about header lines
	RowsWarned   int64 // kept rows (of RowsEmitted) with at least one warning
	Batches      int64
	MinTime      int64 // Unix ms of the earliest row, valid when RowsEmitted > 0
	MaxTime      int64
}

// Add adds o into s.
func (s *Stats) Add(o Stats) {
	if o.RowsEmitted > 0 {
		if s.RowsEmitted == 0 || o.MinTime < s.MinTime {
			s.MinTime = o.MinTime
		}
		if s.RowsEmitted == 0 || o.MaxTime > s.MaxTime {
			s.MaxTime = o.MaxTime
		}
	}
	s.Bytes += o.Bytes
	s.Lines += o.Lines
	s.HeaderLines += o.HeaderLines
	s.BlankLines += o.BlankLines
	s.RowsRead += o.RowsRead
	s.RowsEmitted += o.RowsEmitted
	s.RowsOutside += o.RowsOutside
	s.RowsRejected += o.RowsRejected
	s.Warnings += o.Warnings
	s.RowsWarned += o.RowsWarned
	s.Batches += o.Batches
}

type config struct {
	mem         memory.Allocator
	buffers     *Buffers
	batchRows   int
	maxLine     int
	server      string
	logType     LogType
	maxProblems int
	resume      *ResumePoint
	holdTail    bool
	final       bool // the file has stopped growing (withFinal)
	noMemo      bool // withoutMemo
	window      bool
	since       int64 // Unix ms, inclusive
	until       int64 // Unix ms, exclusive
}

// Option configures a Reader.
type Option func(*config)

// WithAllocator sets the allocator of the records' buffers.
func WithAllocator(mem memory.Allocator) Option { return func(c *config) { c.mem = mem } }

// WithBuffers makes the Reader take its records' memory from p (see
// Buffers), so that a goroutine reading many streams in turn reuses one
// batch's memory; the Reader's allocator is then p's. Without it each
// Reader has Buffers of its own, given back when the Reader is released.
func WithBuffers(p *Buffers) Option { return func(c *config) { c.buffers = p } }

// WithBatchRows sets the most rows in one record (default DefaultBatchRows).
func WithBatchRows(n int) Option { return func(c *config) { c.batchRows = max(n, 1) } }

// WithMaxLineBytes sets the longest line kept; longer ones are rejected with
// ErrLineTooLong without being held in memory (default DefaultMaxLineBytes).
func WithMaxLineBytes(n int) Option { return func(c *config) { c.maxLine = max(n, 64) } }

// WithServer names the server for rows whose connector-id does not say it:
// send logs, whose connector-id is the send connector's name.
func WithServer(name string) Option { return func(c *config) { c.server = name } }

// WithLogType says what the stream is when it has no #Log-type header (an
// excerpt, or a file whose header was cut off). A header overrides it; without
// either, the first row decides: receive connector-ids are "SERVER\Name".
func WithLogType(t LogType) Option { return func(c *config) { c.logType = t } }

// WithTimeRange keeps only rows from since (inclusive) to until
// (exclusive); a zero time leaves that side open. Rows outside are counted
// in Stats.RowsOutside: read = emitted + rejected + outside.
func WithTimeRange(since, until time.Time) Option {
	return func(c *config) {
		if since.IsZero() && until.IsZero() {
			return
		}
		c.window, c.since, c.until = true, math.MinInt64, math.MaxInt64
		if !since.IsZero() {
			c.since = since.UnixMilli()
		}
		if !until.IsZero() {
			c.until = until.UnixMilli()
		}
	}
}

// WithMaxProblems sets how many rejections and warnings are kept in full.
func WithMaxProblems(n int) Option { return func(c *config) { c.maxProblems = max(n, 0) } }

// field ids of the columns a row can carry.
const (
	fDateTime = iota
	fConnector
	fSession
	fSequence
	fLocal
	fRemote
	fEvent
	fData
	fContext
	numKnownFields
)

var fieldNames = [numKnownFields]string{"date-time", "connector-id", "session-id", "sequence-number",
	"local-endpoint", "remote-endpoint", "event", "data", "context"}

// required fields: without them a row cannot be placed in a session.
var requiredFields = []int{fDateTime, fConnector, fSession, fSequence, fEvent}

// Reader reads one Exchange SMTP protocol log stream into records of Schema.
// It follows array.RecordReader: Next, Record, Err; the record returned by
// Record is valid until the next call to Next and is released by the Reader;
// a caller that keeps it calls Retain and later Release. A record's memory
// is reused for later records once it is released (see Buffers): values
// read from it (array.String.Value aliases it) must be copied to be kept.
type Reader struct {
	refs    atomic.Int64
	cfg     config
	src     string
	br      *bufio.Reader
	long    []byte // a line longer than the read buffer, assembled here
	cur     arrow.Record
	err     error
	done    bool
	lineNo  int64
	stats   Stats
	probs   Problems
	b       batch
	ownBufs bool      // b.p is the Reader's own, released with it
	spans   []span    // the fields of the current row, in its line
	memo    splitMemo // the start of the last row split into spans
	fields  [][]byte  // the careful path's fields (splitLine)
	scratch []byte    // splitLine's unescaped fields
	joined  []byte    // the careful path's fields, end to end

	// ahead is what br had buffered after the last line ReadSlice returned,
	// and aheadPos how much of it readLine and splitNext have taken since
	// (an offset: it changes on every row, and storing a slice in the heap
	// would cost a write barrier while the collector runs). It is given
	// back to br (Discard) before br is read again.
	ahead    []byte
	aheadPos int

	pos        [numKnownFields]int // column of each known field; -1 when absent
	nfields    int
	missing    string // a required field the current #Fields lacks
	logType    LogType
	version    string
	foreign    string // a #Log-type that is not an SMTP protocol log
	times      timeParser
	sessions   sessionCache
	local      endpointCache
	remote     endpointCache
	serverHint []byte

	// prevFull says the last row parseFields was given was parsed whole
	// and added to a batch, with its values below: a field the split memo
	// finds byte for byte as in that row (splitMemo.same) takes its value
	// from there. Header lines clear it (#Log-type changes what a
	// connector-id means).
	prevFull    bool
	prevTS      int64
	prevSession uint64

	warnedLine  int64    // the last line a warning was given for, to count rows warned once
	missingCols []string // known columns some #Fields lacked

	base    int64     // offset of the input in its file (WithResume)
	pending int64     // bytes of an unfinished last line held for the next run
	hdr     [4]string // header lines in force, for ResumePoint
}

// NewReader returns a Reader of r; src names the stream in records and errors.
func NewReader(r io.Reader, src string, opts ...Option) *Reader {
	rd := newReader(src, opts...)
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 64<<10 {
		br = bufio.NewReaderSize(r, bufferSizeFor(r))
	}
	rd.br = br
	return rd
}

// bufferSizeFor sizes a read buffer: readBufferSize, or less when the input
// says it is smaller (bytes.Reader, strings.Reader), so many small inputs do
// not each cost a megabyte.
func bufferSizeFor(r io.Reader) int {
	if l, ok := r.(interface{ Len() int }); ok {
		return min(max(l.Len()+1, 4096), readBufferSize)
	}
	return readBufferSize
}

// newReader returns a Reader with no input, able to parse lines handed to it.
func newReader(src string, opts ...Option) *Reader {
	cfg := config{mem: memory.DefaultAllocator, batchRows: DefaultBatchRows, maxLine: DefaultMaxLineBytes,
		logType: LogTypeUnknown, maxProblems: DefaultMaxProblems}
	for _, o := range opts {
		o(&cfg)
	}
	rd := &Reader{cfg: cfg, src: src, logType: cfg.logType, fields: make([][]byte, 0, maxFields)}
	rd.b.p = cfg.buffers
	if rd.b.p == nil {
		rd.b.p, rd.ownBufs = NewBuffers(cfg.mem), true
	}
	rd.b.clear()
	rd.refs.Store(1)
	rd.probs.max = cfg.maxProblems
	rd.setFields(fieldNames[:]) // headerless excerpts use the standard layout
	if cfg.server != "" {
		rd.serverHint = []byte(cfg.server)
	}
	if cfg.resume != nil {
		rd.applyResume(cfg.resume)
	}
	return rd
}

func (r *Reader) Retain() { r.refs.Add(1) }

func (r *Reader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.b.release()
	if r.ownBufs {
		r.b.p.Release()
	}
}

func (r *Reader) Schema() *arrow.Schema { return Schema }

// Record returns the current record, valid until the next call to Next.
func (r *Reader) Record() arrow.Record { return r.cur }

// Err returns the I/O error that ended the stream early, as an *Error
// wrapping ErrDamaged, or nil. Bad rows never end the stream.
func (r *Reader) Err() error { return r.err }

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Problems returns a copy of the rejections and warnings so far. It is a
// copy so that keeping it does not keep the Reader and its buffers alive.
func (r *Reader) Problems() *Problems {
	p := r.probs
	return &p
}

// LogType is what the stream turned out to be (from its header, the option,
// or its first row).
func (r *Reader) LogType() LogType { return r.logType }

// Version is the #Version header (e.g. 15.1.2507.6), or "".
func (r *Reader) Version() string { return r.version }

// Next reads the next record and reports whether there is one.
func (r *Reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.done {
		return false
	}
	for r.b.n < r.cfg.batchRows && r.b.bytesHeld() < maxBatchBytes {
		if !r.cfg.noMemo {
			// The common case: a row already in the read buffer, found
			// and split in one pass; what splitNext declines takes the
			// line-by-line path below.
			if line, took, nf, ok := r.memo.splitNext(r.ahead[r.aheadPos:], r.spans); ok {
				r.aheadPos += took
				r.stats.Bytes += int64(took)
				r.lineNo++
				r.stats.Lines++
				r.stats.RowsRead++
				if took > r.cfg.maxLine {
					r.rejectTooLong()
					continue
				}
				if err := r.parseFields(line, r.spans[:nf]); err != nil {
					r.reject(0, err)
				}
				continue
			}
		}
		line, terminated, err := r.readLine()
		if r.cfg.holdTail && !terminated && err == io.EOF && len(line) > 0 {
			// The writer is still on this line: leave it for the next run.
			r.pending = int64(len(line))
			r.done = true
			break
		}
		if len(line) > 0 || terminated {
			r.lineNo++
			r.stats.Lines++
			r.handleLine(line, terminated, err != nil && err != io.EOF)
		}
		if err != nil {
			if err != io.EOF {
				at := r.lineNo + 1 // the input broke off at a line end
				if len(line) > 0 && !terminated {
					at = r.lineNo // ... or inside the line just rejected
				}
				r.err = &Error{File: r.src, Line: at, Err: fmt.Errorf("%w: %v; every good row before this line was kept", ErrDamaged, err)}
			}
			r.done = true
			break
		}
	}
	if r.b.n == 0 {
		return false
	}
	r.cur = r.b.build(r.src)
	r.stats.Batches++
	return true
}

// readLine returns the next physical line with its line end, and whether it
// had one. A line longer than maxLine is skipped to its end and returned as
// nil, with an ErrLineTooLong rejection recorded.
func (r *Reader) readLine() ([]byte, bool, error) {
	if rest := r.ahead[r.aheadPos:]; len(rest) > 0 {
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			r.aheadPos += i + 1
			r.stats.Bytes += int64(i + 1)
			if i+1 > r.cfg.maxLine {
				r.countTooLong()
				return nil, false, nil
			}
			return rest[:i+1], true, nil
		}
	}
	if r.aheadPos > 0 {
		r.br.Discard(r.aheadPos) // buffered: cannot fail
	}
	r.ahead, r.aheadPos = nil, 0
	line, err := r.br.ReadSlice('\n')
	r.stats.Bytes += int64(len(line))
	if err == nil {
		// The lines after this one that are already buffered are taken
		// from ahead, without a ReadSlice each; Peek of what is buffered
		// reads nothing, so line stays valid.
		r.ahead, _ = r.br.Peek(r.br.Buffered())
	}
	if err != bufio.ErrBufferFull {
		if len(line) > r.cfg.maxLine {
			// Shorter than the buffer but longer than the limit (set
			// below the buffer's size): rejected all the same.
			r.countTooLong()
			return nil, false, err
		}
		return line, err == nil, err
	}
	r.long = append(r.long[:0], line...)
	tooLong := false
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
		r.countTooLong()
		return nil, false, err
	}
	return r.long, err == nil, err
}

// countTooLong counts a line readLine skips as longer than maxLine, and
// rejects it.
func (r *Reader) countTooLong() {
	r.lineNo++
	r.stats.Lines++
	r.stats.RowsRead++
	r.rejectTooLong()
}

// rejectTooLong rejects the line just counted as longer than maxLine. The
// split memo may hold that line now, not the row parsed before it: the
// next row must not take that row's values for fields equal to the
// rejected line's (prevFull).
func (r *Reader) rejectTooLong() {
	r.prevFull = false
	r.reject(0, fmt.Errorf("%w (over %d bytes); skipped", ErrLineTooLong, r.cfg.maxLine))
}

func (r *Reader) reject(col int, err error) {
	r.stats.RowsRejected++
	r.probs.add(&r.probs.Rejects, &r.probs.RejectCounts, &Error{File: r.src, Line: r.lineNo, Column: col, Err: err}, Kind(err))
}

// warn records a warning about the current row, which is kept.
func (r *Reader) warn(col int, err error) {
	r.stats.Warnings++
	if r.warnedLine != r.lineNo {
		r.warnedLine = r.lineNo
		r.stats.RowsWarned++
	}
	r.probs.add(&r.probs.Warnings, &r.probs.WarningCounts, &Error{File: r.src, Line: r.lineNo, Column: col, Err: err}, Kind(err))
}

// notice records a problem with a header line or the file, not a row.
func (r *Reader) notice(err error) {
	r.stats.Warnings++
	r.probs.add(&r.probs.Warnings, &r.probs.WarningCounts, &Error{File: r.src, Line: r.lineNo, Err: err}, Kind(err))
}

// warnEndpoint warns of a bad endpoint. A redacted log has one on every
// row: past the places kept, it only counts, without formatting a message.
func (r *Reader) warnEndpoint(name string, text []byte) {
	if r.probs.full(r.probs.WarningCounts, ErrBadEndpoint) {
		r.stats.Warnings++
		if r.warnedLine != r.lineNo {
			r.warnedLine = r.lineNo
			r.stats.RowsWarned++
		}
		r.probs.WarningCounts[ErrBadEndpoint]++
		return
	}
	r.warn(0, fmt.Errorf("%w: %s %q", ErrBadEndpoint, name, clip(text)))
}

var bom = []byte("\xEF\xBB\xBF")

// handleLine parses one physical line. terminated says it ended in '\n';
// damaged says the input broke off right after it.
func (r *Reader) handleLine(line []byte, terminated, damaged bool) {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) >= 3 && line[0] == 0xEF && bytes.HasPrefix(line, bom) {
		line = line[3:]
	}
	if len(line) == 0 {
		r.stats.BlankLines++
		return
	}
	if line[0] == '#' {
		r.stats.HeaderLines++
		r.keepHeader(line)
		r.header(line)
		return
	}
	if terminated {
		// The common case: an ASCII row, split in one pass.
		if r.cfg.noMemo {
			r.memo.forget()
		}
		if n, ok := r.memo.split(line, r.spans); ok {
			r.stats.RowsRead++
			if err := r.parseFields(line, r.spans[:n]); err != nil {
				r.reject(0, err)
			}
			return
		}
	}
	r.careful(line, terminated, damaged)
}

// careful handles the rare lines splitFast declines: NULs, invalid UTF-8,
// quotes, and lines the input cut short. Its warnings are given only to rows
// that are kept.
func (r *Reader) careful(line []byte, terminated, damaged bool) {
	nuls := 0 // NUL bytes in the line, which a crash leaves in blocks
	if bytes.IndexByte(line, 0) >= 0 {
		nuls = bytes.Count(line, []byte{0})
		trimmed := bytes.Trim(line, "\x00")
		if len(trimmed) == 0 {
			r.stats.RowsRead++
			r.reject(0, fmt.Errorf("%w: the whole line, %d bytes", ErrNULBytes, len(line)))
			return
		}
		if trimmed[0] == '#' { // a header written after the NULs a crash left
			r.stats.HeaderLines++
			r.notice(fmt.Errorf("%w: %d bytes before a header line", ErrNULStripped, len(line)-len(trimmed)))
			r.keepHeader(trimmed)
			r.header(trimmed)
			return
		}
		line = trimmed
	}
	r.stats.RowsRead++
	if damaged && !terminated {
		// The input broke off inside this line: whatever it holds is suspect.
		r.reject(0, fmt.Errorf("%w: the input broke off inside this line", ErrTruncated))
		return
	}
	badUTF8 := !utf8.Valid(line)
	if badUTF8 {
		line = bytes.ToValidUTF8(line, []byte("\uFFFD"))
	}
	emitted := r.stats.RowsEmitted
	col, err := r.parseRow(line)
	switch {
	case err != nil && nuls > 0:
		// The NULs are the cause: a crash wrote them over (part of) a row.
		r.reject(0, fmt.Errorf("%w: %d bytes, and then: %w", ErrNULBytes, nuls, err))
		return
	case err != nil:
		switch {
		case !terminated && r.cfg.final:
			err = fmt.Errorf("%w: %w; the file has stopped growing (a newer log is beside it), so the line is lost", ErrTruncated, err)
		case !terminated:
			err = fmt.Errorf("%w: %w", ErrTruncated, err)
		}
		r.reject(col, err)
		return
	case r.stats.RowsEmitted == emitted:
		return // good, but outside the time range
	}
	if stripped := nuls - bytes.Count(line, []byte{0}); stripped > 0 {
		r.warn(0, fmt.Errorf("%w: %d bytes", ErrNULStripped, stripped))
	}
	// NULs inside a field are kept: they are data.
	if badUTF8 {
		r.warn(0, ErrInvalidUTF8)
	}
	if !terminated {
		r.warn(0, ErrNoLineEnd)
	}
}

// header applies one '#' line.
func (r *Reader) header(line []byte) {
	r.prevFull = false
	name, value, ok := headerLine(line)
	if !ok {
		return
	}
	switch name {
	case "fields":
		r.setFields(splitFieldsHeader(value))
	case "log-type":
		switch t := logTypeOf(value); t {
		case LogTypeUnknown:
			r.foreign = value
		default:
			r.logType, r.foreign = t, ""
		}
	case "version":
		r.version = value
	}
}

// headerLine splits a '#' line ("#Fields: a,b") into its name, lower case,
// and its value, trimmed; the protocol and connectivity readers share it.
func headerLine(line []byte) (name, value string, ok bool) {
	n, v, ok := bytes.Cut(line[1:], []byte(":"))
	if !ok {
		return "", "", false
	}
	return strings.ToLower(string(bytes.TrimSpace(n))), string(bytes.TrimSpace(v)), true
}

// splitFieldsHeader splits a #Fields value into its names.
func splitFieldsHeader(value string) []string {
	parts := strings.Split(value, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func logTypeOf(s string) LogType {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "smtp receive protocol log":
		return LogTypeReceive
	case "smtp send protocol log":
		return LogTypeSend
	}
	return LogTypeUnknown
}

func (r *Reader) setFields(names []string) {
	for i := range r.pos {
		r.pos[i] = -1
	}
	r.nfields = len(names)
	r.spans = make([]span, max(r.nfields, 1))
	r.memo.forget()
	for i, n := range names {
		known := false
		for f, fn := range fieldNames {
			if strings.EqualFold(n, fn) {
				r.pos[f], known = i, true
			}
		}
		if !known && r.lineNo > 0 {
			r.notice(fmt.Errorf("%w: %q", ErrUnknownField, n))
		}
	}
	r.missing = ""
	for _, f := range requiredFields {
		if r.pos[f] < 0 {
			r.missing = fieldNames[f]
			break
		}
	}
	var lacks []string
	for f, name := range fieldNames {
		if r.pos[f] < 0 {
			lacks = append(lacks, name)
			if !slices.Contains(r.missingCols, name) {
				r.missingCols = append(r.missingCols, name)
			}
		}
	}
	if len(lacks) > 0 && r.lineNo > 0 {
		r.notice(fmt.Errorf("%w: %s", ErrMissingColumns, strings.Join(lacks, ", ")))
	}
}

// MissingColumns names the columns the analyses need that a #Fields header of
// the stream lacked (in the order of the standard layout, once each), or nil.
// Rows lack them too: what depends on them could not run on this stream.
func (r *Reader) MissingColumns() []string {
	var out []string
	for _, name := range fieldNames {
		if slices.Contains(r.missingCols, name) {
			out = append(out, name)
		}
	}
	return out
}

// parseRow validates one row and appends it to the batch only when all of it
// is good, so the columns never differ in length.
func (r *Reader) parseRow(line []byte) (int, error) {
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
	// The fields end to end, as spans for parseFields.
	r.memo.forget()
	r.joined = r.joined[:0]
	for i, fv := range f {
		r.spans[i] = span{int32(len(r.joined)), int32(len(r.joined) + len(fv))}
		r.joined = append(r.joined, fv...)
	}
	return 0, r.parseFields(r.joined, r.spans[:len(f)])
}

// parseFields validates a split row, whose fields are fs in line, and
// appends it to the batch.
func (r *Reader) parseFields(line []byte, fs []span) error {
	f := func(i int) []byte { return line[fs[i].start:fs[i].end] }
	// Fields as in the row before, byte for byte, have its values; their
	// caches (times, sessions, local, remote, the batch's connector) were
	// last given that row's fields. Cleared before any return: a row
	// rejected here is the row before of the next.
	prev := r.prevFull
	r.prevFull = false
	if r.foreign != "" {
		return fmt.Errorf("%w: #Log-type is %q", ErrNotProtocolLog, r.foreign)
	}
	if r.missing != "" {
		return fmt.Errorf("%w: %s", ErrFieldsHeader, r.missing)
	}
	if len(fs) != r.nfields {
		if len(fs) > r.nfields {
			return fmt.Errorf("%w: more than %d", ErrFieldCount, r.nfields)
		}
		return fmt.Errorf("%w: got %d, #Fields has %d", ErrFieldCount, len(fs), r.nfields)
	}
	var rw row // on the stack: no write barriers
	rw.line = r.lineNo
	var ok bool
	if prev && r.memo.same(fs, r.pos[fDateTime]) {
		rw.ts = r.prevTS
	} else if rw.ts, ok = r.times.parse(f(r.pos[fDateTime])); !ok {
		return fmt.Errorf("%w: %q", ErrBadTimestamp, clip(f(r.pos[fDateTime])))
	}
	if prev && r.memo.same(fs, r.pos[fSession]) {
		rw.session = r.prevSession
	} else if rw.session, ok = r.sessions.parse(f(r.pos[fSession])); !ok {
		return fmt.Errorf("%w: %q", ErrBadSessionID, clip(f(r.pos[fSession])))
	}
	seq, ok := parseUint(f(r.pos[fSequence]), 1<<32-1)
	if !ok {
		return fmt.Errorf("%w: %q", ErrBadSequence, clip(f(r.pos[fSequence])))
	}
	rw.seq = uint32(seq)
	ev := f(r.pos[fEvent])
	switch {
	case len(ev) == 0:
		rw.event = -1 // some forum copies lost the '*'; the row is still good
	case len(ev) == 1 && eventIndex[ev[0]] >= 0:
		rw.event = eventIndex[ev[0]]
	default:
		return fmt.Errorf("%w: %q", ErrBadEvent, clip(ev))
	}
	rw.connector = f(r.pos[fConnector])
	rw.sameConnector = prev && r.memo.same(fs, r.pos[fConnector])
	if r.logType == LogTypeUnknown {
		r.logType = LogTypeSend
		if bytes.IndexByte(rw.connector, '\\') > 0 {
			r.logType = LogTypeReceive
		}
	}
	rw.logType = r.logType
	rw.server = r.serverHint
	// A receive connector-id ("SERVER\Name") names the server; the batch
	// finds it once per connector (see batch.add).
	rw.serverInConnector = rw.logType == LogTypeReceive
	if r.cfg.window && (rw.ts < r.cfg.since || rw.ts >= r.cfg.until) {
		r.stats.RowsOutside++
		return nil
	}
	// Only kept rows get warnings: a warning says what a kept row lacks.
	var bad bool
	if p := r.pos[fLocal]; p >= 0 {
		if prev && r.memo.same(fs, p) {
			rw.local, bad = &r.local.ep, r.local.bad
		} else {
			rw.local, bad = r.local.parse(f(p))
		}
		if bad {
			r.warnEndpoint("local-endpoint", f(p))
		}
	} else {
		rw.local = &nullEndpoint
	}
	if p := r.pos[fRemote]; p >= 0 {
		if prev && r.memo.same(fs, p) {
			rw.remote, bad = &r.remote.ep, r.remote.bad
		} else {
			rw.remote, bad = r.remote.parse(f(p))
		}
		if bad {
			r.warnEndpoint("remote-endpoint", f(p))
		}
	} else {
		rw.remote = &nullEndpoint
	}
	rw.data, rw.ctxt = nil, nil
	if p := r.pos[fData]; p >= 0 {
		rw.data = f(p)
	}
	if p := r.pos[fContext]; p >= 0 {
		rw.ctxt = f(p)
	}
	if r.stats.RowsEmitted == 0 || rw.ts < r.stats.MinTime {
		r.stats.MinTime = rw.ts
	}
	if r.stats.RowsEmitted == 0 || rw.ts > r.stats.MaxTime {
		r.stats.MaxTime = rw.ts
	}
	r.stats.RowsEmitted++
	r.b.add(&rw, r.cfg.batchRows)
	r.prevFull, r.prevTS, r.prevSession = true, rw.ts, rw.session
	return nil
}

var nullEndpoint endpoint

// eventIndex maps an event byte to its index in Events, or -1.
var eventIndex = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(Events) {
		t[Events[i]] = int8(i)
	}
	return t
}()

// clip shortens text quoted in an error message.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return append(b[:60:60], "..."...)
	}
	return b
}
