package main

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/spf13/cobra"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/parser"
	"github.com/logscan/logscan/store"
)

// rowsSchemaVersion is the version of the rows table (parser.Schema).
const rowsSchemaVersion = 1

type ingestOptions struct {
	IO      *IOStreams
	Paths   []string
	Out     string
	Format  string
	Server  string
	Workers int
	Window  windowFlags
	window  timeWindow
}

func newIngestCmd(io *IOStreams, runF func(*ingestOptions) error) *cobra.Command {
	opts := &ingestOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "ingest PATH... --out DIR",
		Short: "Store parsed rows and rebuilt sessions as a Parquet dataset, incrementally",
		Long: `Parse Exchange SMTP protocol logs and add them to a dataset in DIR: the rows
(the parser's schema) and the rebuilt sessions, as Snappy-compressed Parquet (or
Arrow IPC streams with --format arrow), partitioned Hive-style by server and
date (rows/server=EX01/date=2026-11-02/part-....parquet), with a manifest.

Runs are incremental: the dataset remembers, per file, its identity, size and
the offset of its last complete line, so the next run reads only what was
appended, including the rest of a file that was still being written; a
replaced or rotated file is read again from the start. Sessions still open at
the end of a run are carried to the next one and written once, whole. A run
writes all or nothing: one killed at any point leaves the dataset as it was.

Query the dataset with DuckDB, Spark or Trino, or run the detectors over it
with: logscan scan DIR`,
		Example: `  logscan ingest --out D:\logscan-data \\EX01\c$\...\TransportRoles\Logs \\EX02\c$\...\TransportRoles\Logs
  logscan ingest --out /data/exchange --since 2026-11-01 ./logs`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &FlagError{fmt.Errorf("ingest needs at least one PATH (a log file or folder)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if opts.Out == "" {
				return &FlagError{fmt.Errorf("ingest needs --out DIR, the dataset folder")}
			}
			w, err := opts.Window.parse()
			if err != nil {
				return err
			}
			opts.window = w
			if runF != nil {
				return runF(opts)
			}
			return runIngest(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Out, "out", "", "Dataset folder (created; must be empty or a logscan dataset)")
	stringEnumFlag(cmd, &opts.Format, "format", "parquet", []string{"parquet", "arrow"}, "Data file format")
	cmd.Flags().StringVar(&opts.Server, "server", "", "Server name for send logs (default: from each file's folder)")
	cmd.Flags().IntVar(&opts.Workers, "workers", 0, "Files read in parallel (0: one per CPU)")
	addWindowFlags(cmd, &opts.Window)
	return cmd
}

func runIngest(ctx context.Context, opts *ingestOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Absolute paths: the state must name a file the same way from any
	// working folder.
	paths := make([]string, len(opts.Paths))
	for i, p := range opts.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		paths[i] = abs
	}
	start := time.Now()
	d, err := store.Open(opts.Out, "rows", "sessions")
	if err != nil {
		return err
	}
	var st runState
	if err := d.State(&st); err != nil {
		return fmt.Errorf("%s: state unreadable: %w", opts.Out, err)
	}
	txn := d.Begin(store.Format(opts.Format))
	committed := false
	defer func() {
		if !committed {
			txn.Abort()
		}
	}()
	rowsW, err := txn.Table("rows", parser.Schema, rowsSchemaVersion,
		store.PartitionKey{Name: "server", Col: parser.ColServer}, store.PartitionKey{Name: "date", Col: parser.ColDateTime, Date: true})
	if err != nil {
		return err
	}
	sessW, err := txn.Table("sessions", heuristics.SessionSchema, heuristics.SessionSchemaVersion,
		store.PartitionKey{Name: "server", Col: heuristics.SessColServer}, store.PartitionKey{Name: "date", Col: heuristics.SessColStart, Date: true})
	if err != nil {
		return err
	}
	sessW.RowGroupPerRecord() // sessions come in batches of 8192 already
	sessRecs := heuristics.NewSessionRecords(memory.DefaultAllocator, 8192, sessW.Write)
	// An error here sticks in sessRecs and comes back from Close.
	sb := heuristics.NewSessionBuilder(workers, 0, func(s *heuristics.Session) { sessRecs.Add(s) })
	sb.Restore(st.Open)
	res, err := parser.Scan(ctx, paths, parser.ScanOptions{Workers: workers, Server: opts.Server, Incremental: true, Previous: st.Files,
		Reader: []parser.Option{parser.WithTimeRange(opts.window.since, opts.window.until)}},
		func(w int, rec arrow.Record) error {
			if err := rowsW.Write(rec); err != nil {
				return err
			}
			sb.Add(w, rec)
			return nil
		})
	if err != nil {
		return err
	}
	open := sb.Drain(heuristics.DefaultCarry)
	if err := sessRecs.Close(); err != nil {
		return err
	}
	if err := txn.Commit(st.next(res, open)); err != nil {
		return err
	}
	committed = true
	renderIngest(opts.IO, res, d, sb.Stats().Sessions.Load(), len(open), time.Since(start))
	notices(opts.IO, res)
	if res.Totals.RowsRead == 0 && len(res.Files) == 0 {
		return nothingRead(res, opts.Paths)
	}
	return nil
}

func renderIngest(io *IOStreams, res *parser.ScanResult, d *store.Dataset, sessions int64, open int, took time.Duration) {
	var resumed, unchanged, restarted int
	for _, f := range res.Files {
		switch {
		case f.Unchanged:
			unchanged++
		case f.Resumed:
			resumed++
		case f.Restarted != "":
			restarted++
		}
	}
	t := res.Totals
	run := d.Manifest.Runs[len(d.Manifest.Runs)-1]
	w := io.Out
	fmt.Fprintf(w, "Dataset:   %s (run %d, %s)\n", safe(d.Dir), run.ID, took.Round(time.Millisecond))
	fmt.Fprintf(w, "Files:     %d read (%d went on from the last run, %d replaced and read again), %d unchanged, %d skipped, %d failed\n",
		res.Count(parser.FileParsed)-unchanged, resumed, restarted, unchanged, res.Count(parser.FileSkipped), res.Count(parser.FileFailed))
	fmt.Fprintf(w, "Rows:      %s read = %s kept + %s rejected", num(t.RowsRead), num(t.RowsEmitted), num(t.RowsRejected))
	if t.RowsOutside > 0 {
		fmt.Fprintf(w, " + %s outside --since/--until", num(t.RowsOutside))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Sessions:  %s written, %d still open carried to the next run\n", num(sessions), open)
	rows, parts := d.Rows("rows")
	srows, _ := d.Rows("sessions")
	fmt.Fprintf(w, "In all:    %s rows and %s sessions in %d row files, over %d runs\n", num(rows), num(srows), parts, len(d.Manifest.Runs))
	renderProblems(w, res, 5)
}
