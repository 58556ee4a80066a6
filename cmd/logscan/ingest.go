package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/logscan/logscan/heuristics/run"
	"github.com/logscan/logscan/parser"
	"github.com/logscan/logscan/store"
)

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
	res, err := run.Ingest(ctx, run.IngestConfig{Paths: opts.Paths, Out: opts.Out, Format: store.Format(opts.Format), Server: opts.Server,
		Workers: opts.Workers, Since: opts.window.since, Until: opts.window.until})
	if res == nil {
		return err
	}
	renderIngest(opts.IO, res.Files, res.Dataset, res.Sessions, res.Open, res.Elapsed)
	notices(opts.IO, res.Files, nil)
	return err
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
	// Unfinished last lines (a live writer's, or a copy cut short) are not
	// rows yet: they wait for the next run, which reads them whole.
	var held []string
	for _, f := range res.Files {
		if f.State != nil && f.State.Point.Pending > 0 {
			held = append(held, fmt.Sprintf("%s:%d", f.Path, f.State.Point.Line+1))
		}
	}
	if len(held) > 0 {
		fmt.Fprintf(w, "Held:      %s unfinished last line(s), left for the next run: %s\n", num(int64(len(held))), safe(joinFirstN(held, 3)))
	}
	fmt.Fprintf(w, "Sessions:  %s written, %d still open carried to the next run\n", num(sessions), open)
	rows, parts := d.Rows("rows")
	srows, _ := d.Rows("sessions")
	fmt.Fprintf(w, "In all:    %s rows and %s sessions in %d row files, over %d runs\n", num(rows), num(srows), parts, len(d.Manifest.Runs))
	renderProblems(w, res, 5)
}

// joinFirstN joins the first n values, saying how many more there are.
func joinFirstN(values []string, n int) string {
	if len(values) <= n {
		return strings.Join(values, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(values[:n], ", "), len(values)-n)
}
