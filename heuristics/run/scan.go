package run

import (
	"cmp"
	"context"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
	"github.com/logscan/logscan/store"
)

// Config is what one analysis reads and how.
type Config struct {
	// Paths are files or folders of raw logs (read recursively) or
	// datasets written by Ingest; each is told apart by its content.
	Paths []string
	// Server names the server of send logs whose path does not.
	Server string
	// Workers read files in parallel; 0 means one per CPU.
	Workers int
	// Since and Until keep rows in [Since, Until); zero means unbounded.
	Since, Until time.Time
	// Org is what the organisation is; empty fields are inferred.
	Org heuristics.Org
	// TopRemote is how many remote addresses the summary lists per
	// connector (0: the default).
	TopRemote int
	// StateFile, when set, makes the run incremental: it reads only what
	// the logs gained since the run that wrote the file, carries open
	// sessions, and replaces the file atomically at the end.
	StateFile string
	// Progress, when set, is told how the read goes, from any worker
	// goroutine, so it must be cheap and safe for concurrent use: the rows
	// of each record as it is read, and as each file is finished its size
	// on disk and one file (archive entries count neither: only the
	// archive's size is known, and it is not a file of its own here).
	Progress func(bytes, files, rows int64)
}

func (c Config) workers() int {
	if c.Workers <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return c.Workers
}

// Result is everything one analysis learned.
type Result struct {
	// Files is what the parser read, with its totals and problems; rows
	// read from datasets are added to its totals.
	Files    *parser.ScanResult
	Analysis *heuristics.Report
	Datasets []DatasetRead
	// Incremental is set for a run with a StateFile.
	Incremental *Incremental
	Elapsed     time.Duration
	// Missing are the paths given that do not exist.
	Missing []string
}

// DatasetRead is one dataset a scan read instead of raw logs.
type DatasetRead struct {
	Dir   string `json:"dir"`
	Rows  int64  `json:"rows"`
	Parts int    `json:"parts"`
	Runs  int    `json:"runs"`
}

// Incremental tells what an incremental run went on from.
type Incremental struct {
	State     string `json:"state"`
	Resumed   int    `json:"files_resumed"`
	Unchanged int    `json:"files_unchanged"`
	Carried   int    `json:"open_sessions_carried"`
}

// Scan reads cfg.Paths, rebuilds sessions and runs the detectors. It
// stops, with ctx's error, soon after ctx is cancelled. When nothing at
// all could be analysed it returns the Result with a *NothingReadError.
func Scan(ctx context.Context, cfg Config) (*Result, error) {
	workers := cfg.workers()
	an := heuristics.NewAnalyzer(cfg.Org, heuristics.AnalyzerOptions{Workers: workers, TopRemote: cfg.TopRemote})
	start := time.Now()
	var raw, datasets []string
	for _, p := range cfg.Paths {
		if store.IsDataset(p) {
			datasets = append(datasets, p)
		} else {
			raw = append(raw, p)
		}
	}
	var st State
	if cfg.StateFile != "" {
		if err := readStateFile(cfg.StateFile, &st); err != nil {
			return nil, err
		}
		an.Restore(st.Open)
	}
	add := func(w int, rec arrow.Record) error { an.Add(w, rec); return nil }
	var fileDone func(parser.FileResult)
	if p := cfg.Progress; p != nil {
		add = func(w int, rec arrow.Record) error { p(0, 0, rec.NumRows()); an.Add(w, rec); return nil }
		fileDone = func(f parser.FileResult) {
			if strings.Contains(f.Path, "!/") {
				return
			}
			var size int64
			if fi, err := os.Stat(f.Path); err == nil {
				size = fi.Size()
			}
			p(size, 1, 0)
		}
	}
	res := &parser.ScanResult{}
	if len(raw) > 0 {
		var err error
		res, err = parser.Scan(ctx, raw, parser.ScanOptions{Workers: workers, Server: cfg.Server, Incremental: cfg.StateFile != "", Previous: st.Files,
			Reader:       []parser.Option{parser.WithTimeRange(cfg.Since, cfg.Until)},
			Connectivity: func(w int, rec arrow.Record) error { an.AddConnectivity(w, rec); return nil },
			FileDone:     fileDone}, add)
		if err != nil {
			return nil, err
		}
		sortFiles(res)
	}
	out := &Result{Files: res}
	for _, dir := range datasets {
		d, err := readDataset(ctx, dir, workers, cfg.Since, cfg.Until, add)
		if err != nil {
			return nil, err
		}
		out.Datasets = append(out.Datasets, d)
		res.Totals.RowsRead += d.Rows
		res.Totals.RowsEmitted += d.Rows
	}
	if cfg.StateFile != "" {
		open := an.Drain(session.DefaultCarry)
		next := st.next(res, open)
		note := &Incremental{State: cfg.StateFile, Carried: len(open)}
		for _, f := range res.Files {
			if f.Unchanged {
				note.Unchanged++
			} else if f.Resumed {
				note.Resumed++
			}
		}
		if err := writeStateFile(cfg.StateFile, &next); err != nil {
			return nil, err
		}
		out.Incremental = note
	}
	out.Analysis = an.Result()
	out.Elapsed = time.Since(start)
	out.Missing = missingPaths(raw)
	if out.Incremental != nil && out.Incremental.Unchanged > 0 {
		return out, nil // nothing new since the last run is an answer
	}
	if err := nothingRead(res, cfg.Paths, datasets); err != nil {
		return out, err
	}
	return out, nil
}

// readDataset feeds the rows table of the dataset in dir to add.
func readDataset(ctx context.Context, dir string, workers int, since, until time.Time, add func(int, arrow.Record) error) (DatasetRead, error) {
	d, err := store.OpenRead(dir)
	if err != nil {
		return DatasetRead{}, err
	}
	var filter *store.TimeFilter
	if !since.IsZero() || !until.IsZero() {
		filter = &store.TimeFilter{Col: parser.ColDateTime, Since: since, Until: until}
	}
	var rows atomic.Int64
	if err := d.Read(ctx, "rows", parser.Schema, workers, filter, func(w int, rec arrow.Record) error {
		rows.Add(rec.NumRows())
		return add(w, rec)
	}); err != nil {
		return DatasetRead{}, err
	}
	_, parts := d.Rows("rows")
	return DatasetRead{Dir: dir, Rows: rows.Load(), Parts: parts, Runs: len(d.Manifest.Runs)}, nil
}

// sortFiles puts the files in path order, whatever the order the paths
// were given in, so that the report lists them (and their problems) the
// same way every time.
func sortFiles(res *parser.ScanResult) {
	slices.SortStableFunc(res.Files, func(a, b parser.FileResult) int { return cmp.Compare(a.Path, b.Path) })
}
