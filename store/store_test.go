package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/metadata"

	"github.com/logscan/logscan/parser"
)

// rowStrings renders every row of rec as one line, column by column.
func rowStrings(rec arrow.Record) []string {
	out := make([]string, rec.NumRows())
	for i := range out {
		var b strings.Builder
		for c := 0; c < int(rec.NumCols()); c++ {
			col := rec.Column(c)
			if col.IsNull(i) {
				b.WriteString("∅|")
				continue
			}
			if d, ok := col.(*array.Dictionary); ok {
				b.WriteString(d.Dictionary().(*array.String).Value(d.GetValueIndex(i)) + "|")
				continue
			}
			b.WriteString(col.ValueStr(i) + "|")
		}
		out[i] = b.String()
	}
	return out
}

// sampleRows parses part of the bundled sample and returns its rows.
func sampleRows(t *testing.T, write func(rec arrow.Record)) []string {
	t.Helper()
	var mu sync.Mutex
	var rows []string
	dir := filepath.Join("..", "samples", "contoso", "EX02")
	_, err := parser.Scan(context.Background(), []string{dir}, parser.ScanOptions{Workers: 2, Reader: []parser.Option{parser.WithBatchRows(3000)}},
		func(_ int, rec arrow.Record) error {
			mu.Lock()
			defer mu.Unlock()
			rows = append(rows, rowStrings(rec)...)
			write(rec)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rows)
	return rows
}

// TestRoundTrip writes parsed rows partitioned by server and date, in both
// formats, and reads them back: the same rows, with the parser's schema.
func TestRoundTrip(t *testing.T) {
	for _, format := range []Format{FormatParquet, FormatArrow} {
		t.Run(string(format), func(t *testing.T) {
			dir := t.TempDir()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0) // store releases every buffer it makes
			d, err := Open(dir, "rows")
			if err != nil {
				t.Fatal(err)
			}
			d.Mem = mem
			txn := d.Begin(format)
			w, err := txn.Table("rows", parser.Schema, 1, PartitionKey{Name: "server", Col: parser.ColServer}, PartitionKey{Name: "date", Col: parser.ColDateTime, Date: true})
			if err != nil {
				t.Fatal(err)
			}
			w.CallerReusesMemory() // parser records
			want := sampleRows(t, func(rec arrow.Record) {
				if err := w.Write(rec); err != nil {
					t.Fatal(err)
				}
			})
			if err := txn.Commit(map[string]int{"x": 1}); err != nil {
				t.Fatal(err)
			}
			d, err = Open(dir, "rows")
			if err != nil {
				t.Fatal(err)
			}
			d.Mem = mem
			var mu sync.Mutex
			var got []string
			err = d.Read(context.Background(), "rows", parser.Schema, 2, nil, func(_ int, rec arrow.Record) error {
				if !rec.Schema().Equal(parser.Schema) {
					return fmt.Errorf("schema %v", rec.Schema())
				}
				mu.Lock()
				got = append(got, rowStrings(rec)...)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if len(got) != len(want) || !slices.Equal(got, want) {
				t.Fatalf("read back %d rows, wrote %d; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
			var st map[string]int
			if err := d.State(&st); err != nil || st["x"] != 1 {
				t.Errorf("state %v %v", st, err)
			}
			// Hive layout: rows/server=EX02/date=2026-11-02/part-r00001-001.<ext>
			p := d.Manifest.Parts[0]
			if !strings.HasPrefix(p.Path, "rows/server=EX02/date=2026-11-02/part-r00001-") || p.Rows == 0 {
				t.Errorf("part %+v", p)
			}
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestKilledRunLeavesNothing: parts written by a run that never committed
// are not part of the dataset, and the next Open deletes them.
func TestKilledRunLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	d, _ := Open(dir, "rows")
	txn := d.Begin(FormatParquet)
	w, _ := txn.Table("rows", parser.Schema, 1, PartitionKey{Name: "server", Col: parser.ColServer})
	w.CallerReusesMemory() // parser records
	w.SetMaxPartRows(1000) // parts finished before the end, not committed either
	sampleRows(t, func(rec arrow.Record) { w.Write(rec) })
	if began, _ := w.Stats(); began < 2 {
		t.Fatalf("%d parts begun, want some finished before the kill", began)
	}
	// No Commit: as if killed. The .tmp parts are on disk.
	var before int
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			before++
		}
		return nil
	})
	if before == 0 {
		t.Fatal("no part files written")
	}
	d, err := Open(dir, "rows")
	if err != nil {
		t.Fatal(err)
	}
	var after int
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && e.Name() != ManifestName {
			after++
		}
		return nil
	})
	if after != 0 || len(d.Manifest.Parts) != 0 {
		t.Errorf("%d files left, %d parts listed", after, len(d.Manifest.Parts))
	}
}

func TestOpenRefusesForeignFolder(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "RECV2026110210-1.LOG"), []byte("x"), 0o644)
	if _, err := Open(dir, "rows"); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("err = %v", err)
	}
}

// TestReadStopsOnFirstError: a failing callback stops every worker, and
// Read returns that error, not a later one or nil.
func TestReadStopsOnFirstError(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir, "rows")
	if err != nil {
		t.Fatal(err)
	}
	for range 4 { // four runs: four parts
		txn := d.Begin(FormatArrow)
		w, err := txn.Table("rows", parser.Schema, 1, PartitionKey{Name: "server", Col: parser.ColServer}, PartitionKey{Name: "date", Col: parser.ColDateTime, Date: true})
		if err != nil {
			t.Fatal(err)
		}
		sampleRows(t, func(rec arrow.Record) {
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
		})
		if err := txn.Commit(nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, parts := d.Rows("rows"); parts < 4 {
		t.Fatalf("%d parts: too few to test stopping", parts)
	}
	boom := fmt.Errorf("boom")
	var calls atomic.Int64
	err = d.Read(context.Background(), "rows", parser.Schema, 2, nil, func(int, arrow.Record) error {
		calls.Add(1)
		return boom
	})
	if err != boom {
		t.Fatalf("Read returned %v, want the callback's error", err)
	}
	// Each of the two workers may have been inside one part when the
	// other failed; none may start another.
	if n := calls.Load(); n > 2 {
		t.Errorf("callback called %d times after the first error, want at most one per worker", n)
	}
}

// TestPartitionPerDay: rows are split at UTC midnight, before 1970 too,
// and a run of equal keys becomes one partition whatever its length.
func TestPartitionPerDay(t *testing.T) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
		{Name: "server", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "t", Type: arrow.FixedWidthTypes.Timestamp_ms}}, nil))
	defer b.Release()
	day := int64(24 * 3600 * 1000)
	for _, r := range []struct {
		server string
		ms     int64
	}{{"EX01", -1}, {"EX01", 0}, {"EX01", day - 1}, {"EX01", day}, {"", day}, {"EX02", day}} {
		if r.server == "" {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(r.server)
		}
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(r.ms))
	}
	rec := b.NewRecord()
	defer rec.Release()
	w := &TableWriter{keys: []PartitionKey{{Name: "server", Col: 0}, {Name: "date", Col: 1, Date: true}}}
	var got []string
	for i := 0; i < int(rec.NumRows()); {
		j := i + 1
		for j < int(rec.NumRows()) && w.samePartition(rec, i, j) {
			j++
		}
		got = append(got, fmt.Sprintf("%s x%d", w.partition(rec, i), j-i))
		i = j
	}
	want := []string{"server=EX01/date=1969-12-31 x1", "server=EX01/date=1970-01-01 x2", "server=EX01/date=1970-01-02 x1",
		"server=unknown/date=1970-01-02 x1", "server=EX02/date=1970-01-02 x1"}
	if !slices.Equal(got, want) {
		t.Errorf("partitions\n got %q\nwant %q", got, want)
	}
}

// manyPartitions returns records of rows spread over servers x days, in
// the order a folder read in path order gives them: server by server, day
// by day, each day's last rows spilling into the next day (a log file that
// runs past midnight). Each record holds rows of one "file".
func manyPartitions(t *testing.T, servers, days, rowsPerDay int) (*arrow.Schema, []arrow.Record, []string) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "server", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "t", Type: arrow.FixedWidthTypes.Timestamp_ms},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "text", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	}, nil)
	const dayMs = int64(24 * 3600 * 1000)
	var recs []arrow.Record
	var want []string
	n := int64(0)
	for s := range servers {
		for d := range days {
			b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
			for i := range rowsPerDay {
				ms := int64(d)*dayMs + int64(i)*(dayMs/int64(rowsPerDay)) + dayMs/2 // the second half of the day, then the next
				b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("EX%02d", s))
				b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(ms))
				b.Field(2).(*array.Int64Builder).Append(n)
				if n%7 == 0 {
					b.Field(3).AppendNull()
				} else {
					b.Field(3).(*array.BinaryDictionaryBuilder).AppendString(fmt.Sprintf("text %d", n%5))
				}
				n++
			}
			rec := b.NewRecord()
			b.Release()
			recs = append(recs, rec)
			want = append(want, rowStrings(rec)...)
		}
	}
	slices.Sort(want)
	return schema, recs, want
}

// TestBoundedOpenParts: however many servers and days the input spans, a
// table keeps at most SetMaxOpen part files open; a partition left and
// come back to, or grown past SetMaxPartRows, gets several part files in
// one run, and every row reads back once, in both formats.
func TestBoundedOpenParts(t *testing.T) {
	for _, format := range []Format{FormatParquet, FormatArrow} {
		t.Run(string(format), func(t *testing.T) {
			schema, recs, want := manyPartitions(t, 5, 6, 500)
			defer func() {
				for _, r := range recs {
					r.Release()
				}
			}()
			dir := t.TempDir()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			d, err := Open(dir, "rows")
			if err != nil {
				t.Fatal(err)
			}
			d.Mem = mem
			txn := d.Begin(format)
			w, err := txn.Table("rows", schema, 1, PartitionKey{Name: "server", Col: 0}, PartitionKey{Name: "date", Col: 1, Date: true})
			if err != nil {
				t.Fatal(err)
			}
			w.SetMaxOpen(3)
			w.SetMaxPartRows(600)
			// Come back to the first server at the end: its partitions were
			// finished long ago and must get new parts.
			for _, rec := range append(slices.Clone(recs), recs[0]) {
				if err := w.Write(rec); err != nil {
					t.Fatal(err)
				}
			}
			want = append(want, rowStrings(recs[0])...)
			slices.Sort(want)
			began, peak := w.Stats()
			if peak > 3 {
				t.Errorf("%d part files open at once, want at most 3", peak)
			}
			if err := txn.Commit(nil); err != nil {
				t.Fatal(err)
			}
			// 5 servers x 7 days (the last day only the spill) = 35 partitions.
			perPartition := map[string]int{}
			for _, p := range d.Manifest.Parts {
				perPartition[p.Partition]++
				if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p.Path))); err != nil {
					t.Errorf("part %s: %v", p.Path, err)
				}
			}
			if len(perPartition) != 35 {
				t.Errorf("%d partitions, want 35", len(perPartition))
			}
			if perPartition["server=EX00/date=1970-01-01"] < 2 {
				t.Errorf("server=EX00/date=1970-01-01 has %d parts, want a second one for the rows written after it was finished", perPartition["server=EX00/date=1970-01-01"])
			}
			if len(d.Manifest.Parts) != began {
				t.Errorf("%d parts listed, %d begun", len(d.Manifest.Parts), began)
			}
			var tmp int
			filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
				if err == nil && strings.HasSuffix(p, ".tmp") {
					tmp++
				}
				return nil
			})
			if tmp != 0 {
				t.Errorf("%d .tmp files left after Commit", tmp)
			}
			d, err = OpenRead(dir)
			if err != nil {
				t.Fatal(err)
			}
			d.Mem = mem
			var mu sync.Mutex
			var got []string
			err = d.Read(context.Background(), "rows", schema, 2, nil, func(_ int, rec arrow.Record) error {
				mu.Lock()
				got = append(got, rowStrings(rec)...)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("read back %d rows, wrote %d; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

// TestConcurrentWritersOnePartition: goroutines writing to one partition
// at once do not share a part file (each gets its own, none waits), the
// bound is exceeded only by as many as write at once, and every row reads
// back once.
func TestConcurrentWritersOnePartition(t *testing.T) {
	schema, recs, _ := manyPartitions(t, 1, 1, 2000)
	defer recs[0].Release()
	dir := t.TempDir()
	d, err := Open(dir, "rows")
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin(FormatParquet)
	w, err := txn.Table("rows", schema, 1, PartitionKey{Name: "server", Col: 0}, PartitionKey{Name: "date", Col: 1, Date: true})
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpen(1)
	const writers, each = 4, 25
	var wg sync.WaitGroup
	for range writers {
		// Each its own record, as each parser worker has (an Arrow
		// dictionary array is not safe for concurrent use).
		one := recs[0].NewSlice(0, 1000) // all on day 0: one partition
		defer one.Release()
		wg.Go(func() {
			for range each {
				if err := w.Write(one); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if _, peak := w.Stats(); peak > writers {
		t.Errorf("%d parts open at once with %d writers", peak, writers)
	}
	if err := txn.Commit(nil); err != nil {
		t.Fatal(err)
	}
	rows, parts := d.Rows("rows")
	if rows != writers*each*1000 {
		t.Errorf("%d rows listed, wrote %d", rows, writers*each*1000)
	}
	var read atomic.Int64
	if err := d.Read(context.Background(), "rows", schema, 2, nil, func(_ int, rec arrow.Record) error {
		read.Add(rec.NumRows())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if read.Load() != rows {
		t.Errorf("read %d rows from %d parts, listed %d", read.Load(), parts, rows)
	}
}

// TestReusedMemoryStatistics: a caller that reuses a record's memory once
// Write returns (the parser does) must not leave wrong minimum/maximum
// statistics in the Parquet files, which readers such as DuckDB use to
// skip row groups: every statistic written is a value written.
func TestReusedMemoryStatistics(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "server", Type: arrow.BinaryTypes.String},
		{Name: "text", Type: arrow.BinaryTypes.String},
	}, nil)
	dir := t.TempDir()
	d, err := Open(dir, "rows")
	if err != nil {
		t.Fatal(err)
	}
	txn := d.Begin(FormatParquet)
	w, err := txn.Table("rows", schema, 1, PartitionKey{Name: "server", Col: 0})
	if err != nil {
		t.Fatal(err)
	}
	w.CallerReusesMemory()
	written := map[string]bool{}
	for r := range 20 {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := range 100 {
			v := fmt.Sprintf("%c value %d", 'a'+(r*7+i)%26, i)
			written[v] = true
			b.Field(0).(*array.StringBuilder).Append("EX01")
			b.Field(1).(*array.StringBuilder).Append(v)
		}
		rec := b.NewRecord()
		b.Release()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		// Reuse: the next batch overwrites this one's bytes.
		for _, c := range rec.Columns() {
			clear(c.Data().Buffers()[2].Bytes())
		}
		rec.Release()
	}
	if err := txn.Commit(nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Manifest.Parts {
		pf, err := file.OpenParquetFile(filepath.Join(dir, filepath.FromSlash(p.Path)), false)
		if err != nil {
			t.Fatal(err)
		}
		md := pf.MetaData()
		col := md.Schema.ColumnIndexByName("text")
		for rg := range pf.NumRowGroups() {
			cc, err := md.RowGroup(rg).ColumnChunk(col)
			if err != nil {
				t.Fatal(err)
			}
			if set, _ := cc.StatsSet(); !set {
				continue
			}
			st, err := cc.Statistics()
			if err != nil {
				t.Fatal(err)
			}
			if bs, ok := st.(*metadata.ByteArrayStatistics); ok && bs.HasMinMax() {
				if min, max := string(bs.Min()), string(bs.Max()); !written[min] || !written[max] {
					t.Errorf("%s row group %d: statistics min %q max %q, not values written", p.Path, rg, min, max)
				}
			}
		}
		pf.Close()
	}
}

// TestDenseStrings turns dictionary arrays of every index width, sliced
// (offsets into indices and dictionary) and with nulls, into the strings
// they hold.
func TestDenseStrings(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, it := range []arrow.DataType{arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Uint8, arrow.PrimitiveTypes.Int16,
		arrow.PrimitiveTypes.Uint16, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Uint32, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Uint64} {
		t.Run(it.String(), func(t *testing.T) {
			b := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: it, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
			defer b.Release()
			// 200 distinct values, so an 8-bit index passes 127.
			var want []string
			for i := range 300 {
				v := fmt.Sprintf("value-%d", (i*7)%200)
				if i%11 == 5 {
					b.AppendNull()
					want = append(want, "<null>")
					continue
				}
				if err := b.AppendString(v); err != nil {
					t.Fatal(err)
				}
				want = append(want, v)
			}
			arr := b.NewDictionaryArray()
			defer arr.Release()
			for _, r := range [][2]int{{0, 300}, {13, 271}, {44, 45}, {0, 0}} {
				s := array.NewSlice(arr, int64(r[0]), int64(r[1])).(*array.Dictionary)
				got := denseStrings(mem, s).(*array.String)
				if got.Len() != r[1]-r[0] || got.NullN() != s.NullN() {
					t.Fatalf("slice %v: %d rows, %d nulls; want %d, %d", r, got.Len(), got.NullN(), r[1]-r[0], s.NullN())
				}
				for i := range got.Len() {
					v := "<null>"
					if got.IsValid(i) {
						v = got.Value(i)
					}
					if v != want[r[0]+i] {
						t.Fatalf("slice %v row %d: %q, want %q", r, i, v, want[r[0]+i])
					}
				}
				got.Release()
				s.Release()
			}
		})
	}
}

// TestRowGroupPerRecordGathersPartitions: a table written a row group per
// record, whose records interleave partitions run by run (as sessions end
// across servers), gets one row group per record and partition, and reads
// back, partition by partition, the rows in the order the run-by-run
// (buffered) writing gives.
func TestRowGroupPerRecordGathersPartitions(t *testing.T) {
	schema, _, _ := manyPartitions(t, 0, 0, 0)
	const records, rowsPer, servers = 4, 600, 3
	var recs []arrow.Record
	n := int64(0)
	for range records {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := range rowsPer {
			// Runs of 1 to 9 rows of a server, the servers in turn.
			b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("EX%02d", (i/(1+i%9))%servers))
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(n))
			b.Field(2).(*array.Int64Builder).Append(n)
			b.Field(3).(*array.BinaryDictionaryBuilder).AppendString(fmt.Sprintf("text %d", n%5))
			n++
		}
		recs = append(recs, b.NewRecord())
		b.Release()
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	write := func(perRecord bool) (*Dataset, map[string][]string) {
		dir := t.TempDir()
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		d, err := Open(dir, "rows")
		if err != nil {
			t.Fatal(err)
		}
		d.Mem = mem
		txn := d.Begin(FormatParquet)
		w, err := txn.Table("rows", schema, 1, PartitionKey{Name: "server", Col: 0}, PartitionKey{Name: "date", Col: 1, Date: true})
		if err != nil {
			t.Fatal(err)
		}
		if perRecord {
			w.RowGroupPerRecord()
		}
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := txn.Commit(nil); err != nil {
			t.Fatal(err)
		}
		byServer := map[string][]string{}
		if err := d.Read(context.Background(), "rows", schema, 1, nil, func(_ int, rec arrow.Record) error {
			for _, row := range rowStrings(rec) {
				server, _, _ := strings.Cut(row, "|")
				byServer[server] = append(byServer[server], row)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return d, byServer
	}
	d, got := write(true)
	_, want := write(false)
	if len(got) != servers {
		t.Fatalf("%d servers read back, want %d", len(got), servers)
	}
	for server, rows := range want {
		if !slices.Equal(got[server], rows) {
			i := firstDiff(got[server], rows)
			t.Errorf("%s: %d rows, want %d; first difference at %d", server, len(got[server]), len(rows), i)
		}
	}
	for _, p := range d.Manifest.Parts {
		f, err := file.OpenParquetFile(filepath.Join(d.Dir, filepath.FromSlash(p.Path)), false)
		if err != nil {
			t.Fatal(err)
		}
		if f.NumRowGroups() != records {
			t.Errorf("%s: %d row groups, want one per record (%d)", p.Path, f.NumRowGroups(), records)
		}
		f.Close()
	}
}
