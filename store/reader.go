package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// readBatchRows is how many rows a record read back holds at most.
const readBatchRows = 64 * 1024

// TimeFilter keeps the rows whose timestamp column Col is in [Since, Until);
// a zero time leaves that side open.
type TimeFilter struct {
	Col          int
	Since, Until time.Time
}

func (f *TimeFilter) active() bool { return f != nil && !(f.Since.IsZero() && f.Until.IsZero()) }

// Read calls fn with every record of table, conformed to schema (the
// schema the table was written with: dictionary index types come back as
// written), reading parts on workers goroutines. fn may be called
// concurrently for different workers and must not keep the record. A
// non-nil filter drops rows outside its window first.
func (d *Dataset) Read(ctx context.Context, table string, schema *arrow.Schema, workers int, filter *TimeFilter, fn func(worker int, rec arrow.Record) error) error {
	var parts []Part
	for _, p := range d.Manifest.Parts {
		if p.Table == table {
			parts = append(parts, p)
		}
	}
	workers = max(1, min(workers, len(parts)))
	// The first error stops every worker, as parser.Scan does.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan Part)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				if ctx.Err() != nil {
					continue
				}
				err := d.readPart(ctx, p, schema, func(rec arrow.Record) error {
					if filter.active() {
						return filter.each(rec, func(s arrow.Record) error { return fn(w, s) })
					}
					return fn(w, rec)
				})
				if err != nil {
					cancel(err)
				}
			}
		}()
	}
	for _, p := range parts {
		next <- p
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

func (d *Dataset) readPart(ctx context.Context, p Part, schema *arrow.Schema, fn func(arrow.Record) error) error {
	name := filepath.Join(d.Dir, filepath.FromSlash(p.Path))
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	var rr array.RecordReader
	switch p.Format {
	case FormatArrow:
		r, err := ipc.NewReader(f, ipc.WithAllocator(d.mem()))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rr = r
	default:
		pf, err := file.NewParquetReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer pf.Close()
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: readBatchRows, Parallel: false}, d.mem())
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r, err := fr.GetRecordReader(ctx, nil, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rr = r
	}
	defer rr.Release()
	for rr.Next() {
		rec, err := conform(d.mem(), rr.Record(), schema)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		err = fn(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// each calls fn with the runs of rows of rec inside the window, as slices:
// rows of a log are close to time order, so runs are long, and slicing
// works for every column type.
func (f *TimeFilter) each(rec arrow.Record, fn func(arrow.Record) error) error {
	ts, ok := rec.Column(f.Col).(*array.Timestamp)
	if !ok {
		return fmt.Errorf("column %d is not a timestamp", f.Col)
	}
	unit := ts.DataType().(*arrow.TimestampType).Unit
	in := func(i int) bool {
		t := ts.Value(i).ToTime(unit)
		return ts.IsValid(i) && (f.Since.IsZero() || !t.Before(f.Since)) && (f.Until.IsZero() || t.Before(f.Until))
	}
	n := ts.Len()
	for i := 0; i < n; {
		if !in(i) {
			i++
			continue
		}
		j := i + 1
		for j < n && in(j) {
			j++
		}
		s := rec.NewSlice(int64(i), int64(j))
		err := fn(s)
		s.Release()
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}

// conform returns rec with schema's types: a dictionary column read back
// with another index type is rebuilt with the schema's. The result is the
// caller's to release.
func conform(mem memory.Allocator, rec arrow.Record, schema *arrow.Schema) (arrow.Record, error) {
	if rec.Schema().Equal(schema) {
		rec.Retain()
		return rec, nil
	}
	if int(rec.NumCols()) != schema.NumFields() {
		return nil, fmt.Errorf("%d columns, want %d", rec.NumCols(), schema.NumFields())
	}
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, f := range schema.Fields() {
		c := rec.Column(i)
		if arrow.TypeEqual(c.DataType(), f.Type) {
			c.Retain()
			cols[i] = c
			continue
		}
		dt, ok := f.Type.(*arrow.DictionaryType)
		if !ok {
			return nil, fmt.Errorf("column %s is %s, want %s", f.Name, c.DataType(), f.Type)
		}
		b := array.NewDictionaryBuilder(mem, dt)
		for j := 0; j < c.Len(); j++ {
			if c.IsNull(j) {
				b.AppendNull()
				continue
			}
			var v string
			switch x := c.(type) {
			case *array.Dictionary:
				v = x.Dictionary().(*array.String).Value(x.GetValueIndex(j))
			case *array.String:
				v = x.Value(j)
			default:
				b.Release()
				return nil, fmt.Errorf("column %s is %s, want %s", f.Name, c.DataType(), f.Type)
			}
			if err := b.(*array.BinaryDictionaryBuilder).AppendString(v); err != nil {
				b.Release()
				return nil, err
			}
		}
		cols[i] = b.NewArray()
		b.Release()
	}
	return array.NewRecord(schema, cols, rec.NumRows()), nil
}
