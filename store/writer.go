package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/bitutil"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// Dataset is a folder of partitioned tables and their manifest.
type Dataset struct {
	Dir      string
	Manifest *Manifest
	// Mem allocates the Arrow buffers store makes (conversions, reading
	// parts); nil means memory.DefaultAllocator. Tests set a checked
	// allocator to find leaks.
	Mem memory.Allocator
}

func (d *Dataset) mem() memory.Allocator {
	if d.Mem == nil {
		return memory.DefaultAllocator
	}
	return d.Mem
}

// Open reads the dataset in dir (an empty or missing folder is an empty
// dataset) and deletes what a killed run of the given tables left behind.
// A folder that holds other files but no manifest is refused: it is not
// ours to write into.
func Open(dir string, tables ...string) (*Dataset, error) {
	if !IsDataset(dir) {
		entries, err := os.ReadDir(dir)
		if err == nil && len(entries) > 0 {
			return nil, fmt.Errorf("%s is not empty and holds no %s: give an empty or new folder, or an existing dataset", dir, ManifestName)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		// Mark the folder as a dataset before any part is written, so a
		// run killed before its first commit can be cleaned up.
		empty, _ := json.MarshalIndent(&Manifest{Format: "logscan-dataset", FormatVersion: FormatVersion, Tables: map[string]TableInfo{}}, "", "  ")
		if err := writeFileAtomic(filepath.Join(dir, ManifestName), empty); err != nil {
			return nil, err
		}
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	if err := removeOrphans(dir, m, tables); err != nil {
		return nil, err
	}
	return &Dataset{Dir: dir, Manifest: m}, nil
}

// OpenRead opens an existing dataset to read it, changing nothing.
func OpenRead(dir string) (*Dataset, error) {
	if !IsDataset(dir) {
		return nil, fmt.Errorf("%s holds no %s", dir, ManifestName)
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	return &Dataset{Dir: dir, Manifest: m}, nil
}

// Rows counts the rows of table.
func (d *Dataset) Rows(table string) (rows int64, parts int) {
	for _, p := range d.Manifest.Parts {
		if p.Table == table {
			rows += p.Rows
			parts++
		}
	}
	return rows, parts
}

// State decodes the caller's state committed with the last run into v.
func (d *Dataset) State(v any) error {
	if len(d.Manifest.State) == 0 {
		return nil
	}
	return json.Unmarshal(d.Manifest.State, v)
}

// Txn is one run: its parts become part of the dataset, with the state, at
// Commit, or not at all.
type Txn struct {
	d       *Dataset
	format  Format
	run     Run
	mu      sync.Mutex
	writers map[string]*TableWriter
}

// Begin starts a run writing parts in format.
func (d *Dataset) Begin(format Format) *Txn {
	id := 1
	for _, r := range d.Manifest.Runs {
		id = max(id, r.ID+1)
	}
	return &Txn{d: d, format: format, run: Run{ID: id, Started: time.Now().UTC(), Rows: map[string]int64{}}, writers: map[string]*TableWriter{}}
}

// PartitionKey names a partition folder level: name=value, the value being
// a string column's value ("unknown" when null) or a timestamp column's UTC
// date.
type PartitionKey struct {
	Name string
	Col  int
	Date bool
}

// Table returns the writer of table with schema, partitioned by keys.
func (t *Txn) Table(table string, schema *arrow.Schema, schemaVersion int, keys ...PartitionKey) (*TableWriter, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w := t.writers[table]; w != nil {
		return w, nil
	}
	info := TableInfo{SchemaVersion: schemaVersion, Columns: describe(schema)}
	if old, ok := t.d.Manifest.Tables[table]; ok && !slices.Equal(old.Columns, info.Columns) {
		return nil, fmt.Errorf("table %s in %s has another schema (version %d); write to a new folder", table, t.d.Dir, old.SchemaVersion)
	}
	w := &TableWriter{txn: t, table: table, schema: schema, keys: keys, open: map[string][]*partWriter{}, info: info, plain: plainSchema(schema),
		maxOpen: DefaultMaxOpen, maxPartRows: DefaultMaxPartRows}
	t.writers[table] = w
	return w, nil
}

// DefaultMaxOpen is how many part files a table keeps open at once unless
// SetMaxOpen says otherwise.
const DefaultMaxOpen = 8

// DefaultMaxPartRows is how many rows a part file holds before the next
// write to its partition begins another (unless SetMaxPartRows says
// otherwise): a writer keeps the footer of the file it writes in memory,
// a few KB per row group and column, until the file is closed.
const DefaultMaxPartRows = 1 << 20

// TableWriter writes one table's records into partition files. Write may
// be called concurrently: writers to one partition do not wait for each
// other, each writes its own part file (a partition may so get several
// part files in one run; readers take every part listed). At most maxOpen
// part files are open at once: to open another, the one least recently
// written to is finished (its row group written, its footer too), so what
// is buffered is bounded however many servers and days the input spans;
// a later row of that partition starts a new part file.
type TableWriter struct {
	txn     *Txn
	table   string
	schema  *arrow.Schema
	keys    []PartitionKey
	info    TableInfo
	plain   *arrow.Schema // schema with dictionaries of strings as strings, for Parquet
	maxOpen int
	// maxPartRows: a part holding this many rows is finished at the next
	// write to its partition, and a new one begun.
	maxPartRows int64

	mu       sync.Mutex
	open     map[string][]*partWriter // per partition, the part files open
	nOpen    int
	closed   []*partWriter // finished before Commit, to be renamed by it
	seq      int           // part files begun
	tick     int64         // counts acquisitions, for least recently used
	err      error         // a part that failed to finish: the run cannot commit
	peakOpen int

	perRecord bool // Parquet: each record its own row group, nothing buffered
	reused    bool // the caller reuses a record's memory after Write
}

// SetMaxOpen bounds the part files the table keeps open at once (at least
// 1). More are open only while more goroutines write at the same moment.
// Call it before the first Write.
func (w *TableWriter) SetMaxOpen(n int) { w.maxOpen = max(1, n) }

// SetMaxPartRows sets the rows after which a part file is finished and its
// partition's next rows go to a new one (at least 1). Call it before the
// first Write.
func (w *TableWriter) SetMaxPartRows(n int64) { w.maxPartRows = max(1, n) }

// Stats says how many part files the table has begun, and the most that
// were open at once.
func (w *TableWriter) Stats() (parts, maxOpen int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq, w.peakOpen
}

// CallerReusesMemory says the caller reuses a record's memory once Write
// returns (as the parser's records do). pqarrow v15 keeps a column's
// minimum and maximum as slices of the values written, and encodes them
// only when the page and row group are finished: by then those bytes hold
// other rows, and the statistics in the file are wrong (DuckDB then skips
// row groups that match a filter). So the columns written as given whose
// values are bytes (strings, binary, fixed-size binary) get no statistics;
// dictionary columns are copied before writing and keep theirs. Call it
// before the first Write.
func (w *TableWriter) CallerReusesMemory() { w.reused = true }

// RowGroupPerRecord makes every record written a Parquet row group of its
// own in each partition it spans, written at once: for tables whose caller
// already batches records (and whose rows are wide, so buffering them
// would cost memory). Call it before the first Write.
func (w *TableWriter) RowGroupPerRecord() { w.perRecord = true }

type partWriter struct {
	mu   sync.Mutex // held by the goroutine writing to it
	used int64      // TableWriter.tick when last acquired (under TableWriter.mu)
	seq  int        // begun as the table's seq-th part of the run
	part Part
	tmp  string
	f    *os.File
	pq   *pqarrow.FileWriter
	ipc  *ipc.Writer
	rows int64
}

// maxRowGroupRows bounds a Parquet row group: what a part writer buffers
// (a few MB of encoded pages per open partition).
const maxRowGroupRows = 32 * 1024

// Write splits rec into runs of rows with the same partition and appends
// each to its partition's file. Rows are compared by their raw key values
// (dictionary index, string, day number); the partition path is formatted
// once per run, not per row.
func (w *TableWriter) Write(rec arrow.Record) error {
	if w.perRecord && w.txn.format != FormatArrow {
		return w.writeRowGroups(rec)
	}
	n := int(rec.NumRows())
	start := 0
	for start < n {
		key := w.partition(rec, start)
		end := start + 1
		for end < n && w.samePartition(rec, start, end) {
			end++
		}
		if err := w.writeSlice(rec, key, start, end); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// samePartition reports whether rows i and j of rec go to one partition.
func (w *TableWriter) samePartition(rec arrow.Record, i, j int) bool {
	for _, k := range w.keys {
		col := rec.Column(k.Col)
		if col.IsValid(i) != col.IsValid(j) {
			return false
		}
		if !col.IsValid(i) {
			continue
		}
		switch c := col.(type) {
		case *array.Timestamp:
			if day(c, i) != day(c, j) {
				return false
			}
		case *array.Dictionary:
			if a, b := c.GetValueIndex(i), c.GetValueIndex(j); a != b {
				dict := c.Dictionary().(*array.String)
				if dict.Value(a) != dict.Value(b) {
					return false
				}
			}
		case *array.String:
			if c.Value(i) != c.Value(j) {
				return false
			}
		default:
			if c.ValueStr(i) != c.ValueStr(j) {
				return false
			}
		}
	}
	return true
}

// day is the UTC day number of row i of a timestamp column.
func day(c *array.Timestamp, i int) int64 {
	unit := c.DataType().(*arrow.TimestampType).Unit
	perDay := int64(24*time.Hour) / int64(unit.Multiplier())
	v := int64(c.Value(i))
	d := v / perDay
	if v%perDay < 0 {
		d--
	}
	return d
}

// partition formats row i's partition path: server=EX01/date=2026-11-02.
func (w *TableWriter) partition(rec arrow.Record, i int) string {
	var parts []string
	for _, k := range w.keys {
		col := rec.Column(k.Col)
		v := "unknown"
		if col.IsValid(i) {
			switch c := col.(type) {
			case *array.Timestamp:
				unit := c.DataType().(*arrow.TimestampType).Unit
				v = c.Value(i).ToTime(unit).UTC().Format("2006-01-02")
			case *array.Dictionary:
				v = c.Dictionary().(*array.String).Value(c.GetValueIndex(i))
			case *array.String:
				v = c.Value(i)
			default:
				v = c.ValueStr(i)
			}
		}
		parts = append(parts, k.Name+"="+url.PathEscape(v))
	}
	return path.Join(parts...)
}

func (w *TableWriter) writeSlice(rec arrow.Record, key string, i, j int) error {
	s := rec
	if i != 0 || j != int(rec.NumRows()) {
		s = rec.NewSlice(int64(i), int64(j))
		defer s.Release()
	}
	var plain arrow.Record
	if w.txn.format != FormatArrow {
		// Parquet dictionary-encodes strings itself; handing it Arrow
		// dictionaries that change between records (and slices of them)
		// trips pqarrow v15, so they are written as plain strings and
		// turned back into dictionaries on reading (conform). Converted
		// before taking a part, so the part is held only while written.
		plain = plainStrings(w.txn.d.mem(), s, w.plain)
		defer plain.Release()
	}
	pw, err := w.acquire(key)
	if err != nil {
		return err
	}
	defer pw.mu.Unlock()
	pw.rows += s.NumRows()
	if pw.pq != nil {
		if w.perRecord {
			return pw.pq.Write(plain)
		}
		return pw.pq.WriteBuffered(plain)
	}
	return pw.ipc.Write(s)
}

// partitionRuns are the runs of rows of one partition in a record, in
// row order: [start, end) pairs.
type partitionRuns struct {
	key  string
	runs [][2]int
	rows int64
}

// writeRowGroups writes rec, for a table whose every record is a row group
// of its own, as one row group per partition, its runs of rows gathered
// (as a table of slices, not copied). Written run by run, a batch of
// sessions, which end interleaved across servers, made a row group of a
// few hundred rows for each run: 600 for 200,000 sessions, each with its
// footer metadata (kept in memory until the part is closed) and its
// column writers, and slower for readers.
func (w *TableWriter) writeRowGroups(rec arrow.Record) error {
	n := int(rec.NumRows())
	var order []*partitionRuns
	byKey := map[string]*partitionRuns{}
	for start := 0; start < n; {
		key := w.partition(rec, start)
		end := start + 1
		for end < n && w.samePartition(rec, start, end) {
			end++
		}
		p := byKey[key]
		if p == nil {
			p = &partitionRuns{key: key}
			byKey[key] = p
			order = append(order, p)
		}
		p.runs = append(p.runs, [2]int{start, end})
		p.rows += int64(end - start)
		start = end
	}
	for _, p := range order {
		if err := w.writeRowGroup(rec, p); err != nil {
			return err
		}
	}
	return nil
}

// writeRowGroup writes p's runs of rec as one row group of a part of p's
// partition.
func (w *TableWriter) writeRowGroup(rec arrow.Record, p *partitionRuns) error {
	plains := make([]arrow.Record, 0, len(p.runs))
	defer func() {
		for _, r := range plains {
			r.Release()
		}
	}()
	for _, run := range p.runs {
		s := rec.NewSlice(int64(run[0]), int64(run[1]))
		plains = append(plains, plainStrings(w.txn.d.mem(), s, w.plain))
		s.Release()
	}
	tbl := array.NewTableFromRecords(w.plain, plains)
	defer tbl.Release()
	pw, err := w.acquire(p.key)
	if err != nil {
		return err
	}
	defer pw.mu.Unlock()
	pw.rows += p.rows
	// WriteTable makes a row group of every p.rows rows (at most the
	// writer's maximum row group length): one here.
	return pw.pq.WriteTable(tbl, p.rows)
}

// acquire returns a part file of partition key that no other goroutine is
// writing to, locked: an open one if one is free, else a new one, made
// after finishing the least recently used free part when maxOpen are open.
func (w *TableWriter) acquire(key string) (*partWriter, error) {
	w.mu.Lock()
	var finished []*partWriter
	pw, err := w.acquireLocked(key, &finished)
	w.mu.Unlock()
	// Parts finished to make room are closed (footer written, file
	// synced) outside w.mu, so the other writers do not wait for it.
	for _, f := range finished {
		err := f.closeLocked()
		f.mu.Unlock()
		if err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = fmt.Errorf("%s: %w", f.tmp, err)
			}
			w.mu.Unlock()
		}
	}
	return pw, err
}

func (w *TableWriter) acquireLocked(key string, finished *[]*partWriter) (*partWriter, error) {
	if w.err != nil {
		return nil, w.err
	}
	w.tick++
	for _, pw := range slices.Clone(w.open[key]) {
		if !pw.mu.TryLock() {
			continue
		}
		if pw.rows >= w.maxPartRows {
			// Full: finish it, so its footer (a few KB per row group
			// and column, kept until Close) stops growing in memory.
			*finished = append(*finished, w.finishLocked(pw))
			continue
		}
		pw.used = w.tick
		return pw, nil
	}
	for w.nOpen >= w.maxOpen {
		lru := w.idleLocked()
		if lru == nil {
			break // every open part is being written to: exceed for now
		}
		*finished = append(*finished, w.finishLocked(lru))
	}
	pw, err := w.newPart(key)
	if err != nil {
		return nil, err
	}
	pw.mu.Lock()
	pw.used = w.tick
	w.open[key] = append(w.open[key], pw)
	w.nOpen++
	w.peakOpen = max(w.peakOpen, w.nOpen)
	return pw, nil
}

// idleLocked returns the least recently used open part that no goroutine
// is writing to, locked, or nil.
func (w *TableWriter) idleLocked() *partWriter {
	var lru *partWriter
	for _, list := range w.open {
		for _, pw := range list {
			if lru == nil || pw.used < lru.used {
				if pw.mu.TryLock() {
					if lru != nil {
						lru.mu.Unlock()
					}
					lru = pw
				}
			}
		}
	}
	return lru
}

// finishLocked takes pw, which the caller has locked, out of the open
// parts; Commit will rename it. The caller closes it and unlocks it.
func (w *TableWriter) finishLocked(pw *partWriter) *partWriter {
	key := pw.part.Partition
	w.open[key] = slices.DeleteFunc(w.open[key], func(p *partWriter) bool { return p == pw })
	if len(w.open[key]) == 0 {
		delete(w.open, key)
	}
	w.nOpen--
	w.closed = append(w.closed, pw)
	return pw
}

// newPart creates the next part file of partition key (under w.mu).
func (w *TableWriter) newPart(key string) (*partWriter, error) {
	t := w.txn
	ext := ".parquet"
	if t.format == FormatArrow {
		ext = ".arrows"
	}
	w.seq++
	rel := path.Join(w.table, key, fmt.Sprintf("part-r%05d-%03d%s", t.run.ID, w.seq, ext))
	full := filepath.Join(t.d.Dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(full + ".tmp")
	if err != nil {
		return nil, err
	}
	pw := &partWriter{part: Part{Table: w.table, Path: rel, Partition: key, Format: t.format, Run: t.run.ID}, tmp: full + ".tmp", f: f, seq: w.seq}
	if t.format == FormatArrow {
		pw.ipc = ipc.NewWriter(f, ipc.WithSchema(w.schema), ipc.WithDictionaryDeltas(true), ipc.WithAllocator(t.d.mem()))
		return pw, nil
	}
	pw.pq, err = pqarrow.NewFileWriter(w.plain, syncCloser{f}, w.parquetProps(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		f.Close()
		os.Remove(full + ".tmp")
		return nil, err
	}
	return pw, nil
}

// parquetProps are the Parquet writer properties of the table's parts.
func (w *TableWriter) parquetProps() *parquet.WriterProperties {
	// Snappy, not zstd: pqarrow v15 builds a new zstd encoder for
	// every page, which costs more than the compression gains.
	// Dictionary encoding for text columns only: on numbers with a
	// distinct value per row (line, session-id, time) its hash tables
	// cost memory and gain little over the compression.
	// Data page v2 (read by DuckDB, pyarrow, Spark, Trino and older
	// logscan): with v1 pages pqarrow v15 reserves a 4-byte length
	// before the definition levels, and that offset makes its level
	// buffer grow by one reallocation and copy per RLE run
	// (PooledBufferWriter.Reserve), quadratic in the page: that was
	// a third of an ingest's CPU.
	popts := []parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(maxRowGroupRows),
		parquet.WithDictionaryDefault(false), parquet.WithCreatedBy("logscan"), parquet.WithDataPageVersion(parquet.DataPageV2)}
	for i, f := range w.plain.Fields() {
		if f.Type.ID() == arrow.STRING {
			popts = append(popts, parquet.WithDictionaryFor(f.Name, true))
		}
		switch w.schema.Field(i).Type.ID() {
		case arrow.STRING, arrow.BINARY, arrow.FIXED_SIZE_BINARY, arrow.LARGE_STRING, arrow.LARGE_BINARY:
			if w.reused {
				popts = append(popts, parquet.WithStatsFor(f.Name, false))
			}
		}
	}
	return parquet.NewWriterProperties(popts...)
}

// parts returns every part the table began, finished or open, in the
// order they were begun.
func (w *TableWriter) parts() []*partWriter {
	all := slices.Clone(w.closed)
	for _, list := range w.open {
		all = append(all, list...)
	}
	slices.SortFunc(all, func(a, b *partWriter) int { return a.seq - b.seq })
	return all
}

// Commit closes every part, moves it to its name and writes the manifest
// with state (JSON-encoded) in one atomic step: a run killed before this
// returns leaves the dataset as it was.
func (t *Txn) Commit(state any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.d.Manifest
	var added []Part
	for _, name := range slices.Sorted(maps.Keys(t.writers)) {
		w := t.writers[name]
		if w.err != nil {
			return w.err
		}
		for _, pw := range w.parts() {
			if err := pw.close(); err != nil {
				return fmt.Errorf("%s: %w", pw.tmp, err)
			}
			if pw.rows == 0 {
				os.Remove(pw.tmp)
				continue
			}
			full := filepath.Join(t.d.Dir, filepath.FromSlash(pw.part.Path))
			if err := os.Rename(pw.tmp, full); err != nil {
				return err
			}
			pw.part.Rows = pw.rows
			added = append(added, pw.part)
			t.run.Rows[name] += pw.rows
		}
		m.Tables[name] = w.info
	}
	next := *m
	next.Parts = append(slices.Clone(m.Parts), added...)
	t.run.Finished = time.Now().UTC()
	next.Runs = append(slices.Clone(m.Runs), t.run)
	if state != nil {
		b, err := json.Marshal(state)
		if err != nil {
			return err
		}
		next.State = b
	}
	b, err := json.MarshalIndent(&next, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(t.d.Dir, ManifestName), b); err != nil {
		return err
	}
	*m = next
	return nil
}

// Abort drops the run's parts.
func (t *Txn) Abort() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range t.writers {
		for _, pw := range w.parts() {
			pw.close()
			os.Remove(pw.tmp)
		}
	}
}

// syncCloser makes the Parquet writer's final Close durable before the
// part is renamed into the dataset.
type syncCloser struct{ *os.File }

func (s syncCloser) Close() error {
	err := s.File.Sync()
	if cerr := s.File.Close(); err == nil {
		err = cerr
	}
	return err
}

func (pw *partWriter) close() error {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.closeLocked()
}

func (pw *partWriter) closeLocked() error {
	if pw.f == nil {
		return nil
	}
	var err error
	if pw.pq != nil {
		err = pw.pq.Close() // closes the file too
	} else {
		err = pw.ipc.Close()
		if err == nil {
			err = pw.f.Sync()
		}
		if cerr := pw.f.Close(); err == nil {
			err = cerr
		}
	}
	// A finished part waits in TableWriter.closed until Commit, which
	// needs only its name and rows. Dropping the writers lets the
	// collector free now what pqarrow keeps after Close (the footer's
	// metadata and statistics of every row group and column, the closed
	// column writers): kept until Commit, that grew with the input.
	pw.f, pw.pq, pw.ipc = nil, nil, nil
	return err
}

// plainSchema replaces dictionary<_, utf8> fields by utf8.
func plainSchema(s *arrow.Schema) *arrow.Schema {
	fields := slices.Clone(s.Fields())
	for i, f := range fields {
		if d, ok := f.Type.(*arrow.DictionaryType); ok && d.ValueType.ID() == arrow.STRING {
			fields[i].Type = arrow.BinaryTypes.String
		}
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

// plainStrings returns rec with its dictionary<_, utf8> columns as utf8
// (the caller releases it). Each column is built in one pass into buffers
// of its exact size: a builder growing by doubling cost a copy per
// doubling and left garbage the size of the column each time.
func plainStrings(mem memory.Allocator, rec arrow.Record, schema *arrow.Schema) arrow.Record {
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		c := rec.Column(i)
		d, ok := c.(*array.Dictionary)
		if !ok || !arrow.TypeEqual(schema.Field(i).Type, arrow.BinaryTypes.String) {
			c.Retain()
			cols[i] = c
			continue
		}
		cols[i] = denseStrings(mem, d)
	}
	out := array.NewRecord(schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}

// denseStrings materialises a dictionary<_, utf8> array as utf8. It reads
// the indices and the dictionary's offsets as slices, not through
// GetValueIndex and Value (a type switch per row).
func denseStrings(mem memory.Allocator, d *array.Dictionary) arrow.Array {
	switch idx := d.Indices().(type) {
	// A signed index is read unsigned, as Arrow does (indices are never
	// negative by the spec).
	case *array.Int8:
		return denseFrom(mem, d, arrow.Uint8Traits.CastFromBytes(arrow.Int8Traits.CastToBytes(idx.Int8Values())))
	case *array.Int16:
		return denseFrom(mem, d, arrow.Uint16Traits.CastFromBytes(arrow.Int16Traits.CastToBytes(idx.Int16Values())))
	case *array.Int32:
		return denseFrom(mem, d, idx.Int32Values())
	case *array.Int64:
		return denseFrom(mem, d, idx.Int64Values())
	case *array.Uint8:
		return denseFrom(mem, d, idx.Uint8Values())
	case *array.Uint16:
		return denseFrom(mem, d, idx.Uint16Values())
	case *array.Uint32:
		return denseFrom(mem, d, idx.Uint32Values())
	case *array.Uint64:
		return denseFrom(mem, d, idx.Uint64Values())
	}
	panic(fmt.Sprintf("store: dictionary index type %s", d.Indices().DataType()))
}

type dictIndex interface {
	~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

func denseFrom[T dictIndex](mem memory.Allocator, d *array.Dictionary, idx []T) arrow.Array {
	dict := d.Dictionary().(*array.String)
	doffs := dict.ValueOffsets()
	dbytes := dict.ValueBytes()
	base := doffs[0] // ValueBytes starts at the first value's offset
	n := d.Len()
	nulls := d.NullN()
	size := 0
	for j := 0; j < n; j++ {
		if nulls == 0 || d.IsValid(j) {
			k := int(idx[j])
			size += int(doffs[k+1] - doffs[k])
		}
	}
	offsets := memory.NewResizableBuffer(mem)
	offsets.Resize((n + 1) * arrow.Int32SizeBytes)
	values := memory.NewResizableBuffer(mem)
	values.Resize(size)
	var validity *memory.Buffer
	if nulls > 0 {
		validity = memory.NewResizableBuffer(mem)
		validity.Resize(int(bitutil.BytesForBits(int64(n))))
		memory.Set(validity.Bytes(), 0)
	}
	offs := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	buf := values.Bytes()
	pos := 0
	for j := 0; j < n; j++ {
		offs[j] = int32(pos)
		if nulls > 0 {
			if !d.IsValid(j) {
				continue
			}
			bitutil.SetBit(validity.Bytes(), j)
		}
		k := int(idx[j])
		pos += copy(buf[pos:], dbytes[doffs[k]-base:doffs[k+1]-base])
	}
	offs[n] = int32(pos)
	data := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{validity, offsets, values}, nil, nulls, 0)
	out := array.NewStringData(data)
	data.Release()
	offsets.Release()
	values.Release()
	if validity != nil {
		validity.Release()
	}
	return out
}
