package run

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
	"github.com/logscan/logscan/store"
)

// RowsSchemaVersion is the version of a dataset's rows table
// (parser.Schema).
const RowsSchemaVersion = 1

// sessionBatch is how many sessions go into one record of the sessions
// table (and so one Parquet row group).
const sessionBatch = 8192

// testPartRows, set by tests, makes part files this small (and keeps one
// rows part open), so the sample makes many per partition.
var testPartRows int64

// sessionsMaxOpen bounds the sessions table's open part files.
const sessionsMaxOpen = 32

// sessionsPartRows is how many sessions a sessions part holds before the
// next batch of its partition starts another.
const sessionsPartRows = 64 * 1024

// IngestConfig is what one ingest run reads and where it writes.
type IngestConfig struct {
	Paths        []string
	Out          string       // the dataset folder
	Format       store.Format // parquet or arrow
	Server       string
	Workers      int
	Since, Until time.Time
	// Mem allocates the Arrow buffers written (nil: the default); tests
	// pass a checked allocator.
	Mem memory.Allocator
}

// IngestResult is what one ingest run did.
type IngestResult struct {
	Files    *parser.ScanResult
	Dataset  *store.Dataset
	Sessions int64 // sessions written by this run
	Open     int   // sessions still open, carried to the next run
	Elapsed  time.Duration
}

// Ingest adds what cfg.Paths gained since the last run to the dataset in
// cfg.Out: rows and rebuilt sessions. A run writes all or nothing: one that
// fails or is cancelled leaves the dataset as the last completed run left it.
func Ingest(ctx context.Context, cfg IngestConfig) (*IngestResult, error) {
	workers := Config{Workers: cfg.Workers}.workers()
	mem := cfg.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	// Absolute paths: the state must name a file the same way from any
	// working folder.
	paths := make([]string, len(cfg.Paths))
	for i, p := range cfg.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		paths[i] = abs
	}
	start := time.Now()
	d, err := store.Open(cfg.Out, "rows", "sessions")
	if err != nil {
		return nil, err
	}
	var st State
	if err := d.State(&st); err != nil {
		return nil, fmt.Errorf("%s: state unreadable: %w", cfg.Out, err)
	}
	format := cfg.Format
	if format == "" {
		format = store.FormatParquet
	}
	txn := d.Begin(format)
	committed := false
	defer func() {
		if !committed {
			txn.Abort()
		}
	}()
	rowsW, err := txn.Table("rows", parser.Schema, RowsSchemaVersion,
		store.PartitionKey{Name: "server", Col: parser.ColServer}, store.PartitionKey{Name: "date", Col: parser.ColDateTime, Date: true})
	if err != nil {
		return nil, err
	}
	sessW, err := txn.Table("sessions", session.Schema, session.SchemaVersion,
		store.PartitionKey{Name: "server", Col: session.ColServer}, store.PartitionKey{Name: "date", Col: session.ColStart, Date: true})
	if err != nil {
		return nil, err
	}
	// Bound the part files open at once, so what ingest buffers does not
	// grow with the servers and days the input spans: files come in path
	// order, so a worker's rows go to its server's current day (and, at
	// midnight, the next); a finished partition's part is closed when
	// others need the room, and a later row of it starts a new part.
	rowsW.SetMaxOpen(2*workers + 2)
	rowsW.CallerReusesMemory() // the parser reuses a record's memory once released
	if testPartRows > 0 {
		rowsW.SetMaxOpen(1)
		rowsW.SetMaxPartRows(testPartRows)
		sessW.SetMaxPartRows(testPartRows)
	}
	sessW.RowGroupPerRecord() // sessions come in batches already
	// A sessions part buffers nothing (each batch is written at once), so
	// more may stay open: sessions end out of order, across servers.
	sessW.SetMaxOpen(sessionsMaxOpen)
	// Each batch is a row group per partition it spans, so a sessions part
	// gains row groups (and footer, kept in memory until it closes) fast:
	// finish it sooner than a rows part.
	sessW.SetMaxPartRows(sessionsPartRows)
	sessRecs := session.NewRecords(mem, sessionBatch, sessW.Write)
	// An error here sticks in sessRecs and comes back from Close.
	sb := session.NewBuilder(workers, 0, func(s *session.Session) { sessRecs.Add(s) })
	sb.Restore(st.Open)
	res, err := parser.Scan(ctx, paths, parser.ScanOptions{Workers: workers, Server: cfg.Server, Incremental: true, Previous: st.Files,
		Reader: []parser.Option{parser.WithTimeRange(cfg.Since, cfg.Until), parser.WithAllocator(mem)}},
		func(w int, rec arrow.Record) error {
			if err := rowsW.Write(rec); err != nil {
				return err
			}
			sb.Add(w, rec)
			return nil
		})
	if err != nil {
		return nil, err
	}
	sortFiles(res)
	open := sb.Drain(session.DefaultCarry)
	if err := sessRecs.Close(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := txn.Commit(st.next(res, open)); err != nil {
		return nil, err
	}
	committed = true
	out := &IngestResult{Files: res, Dataset: d, Sessions: sb.Stats().Sessions.Load(), Open: len(open), Elapsed: time.Since(start)}
	if res.Totals.RowsRead == 0 && len(res.Files) == 0 {
		return out, nothingRead(res, cfg.Paths, nil)
	}
	return out, nil
}
