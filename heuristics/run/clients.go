package run

import (
	"context"
	"time"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/logscan/logscan/heuristics/inventory"
	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
	"github.com/logscan/logscan/store"
)

// ClientsConfig is what one client inventory reads and how.
type ClientsConfig struct {
	// Paths are raw logs or datasets, as for Scan.
	Paths []string
	// Server names the server of send logs whose path does not (scan's
	// --server); it is not a filter.
	Server       string
	Workers      int
	Since, Until time.Time
	Inventory    inventory.Options
	Query        inventory.Query
	// Connectors are connector names known to exist; those without a row
	// are reported (Get-ReceiveConnector | % Identity).
	Connectors []string
}

// ClientsResult is the inventory, what the logs cover, and what was read.
type ClientsResult struct {
	Files     *parser.ScanResult
	Datasets  []DatasetRead
	Inventory *inventory.Result
	Coverage  *inventory.CoverageResult
	Build     BuildNote
	Elapsed   time.Duration
}

// BuildNote says where the session builder had to cut: a session evicted
// early or split in parts is counted more than once.
type BuildNote struct {
	Sessions, Evicted, Split int64
}

// Clients reads cfg.Paths once, rebuilds sessions and counts them per
// server, connector and client; the detectors do not run, so it costs no
// more than Scan. When nothing could be read it returns the result with a
// *NothingReadError.
func Clients(ctx context.Context, cfg ClientsConfig) (*ClientsResult, error) {
	workers := Config{Workers: cfg.Workers}.workers()
	start := time.Now()
	inv := inventory.New(cfg.Inventory)
	cov := inventory.NewCoverage(workers)
	sb := session.NewBuilder(workers, 0, inv.Observe)
	res, datasets, err := readAll(ctx, cfg.Paths, cfg.Server, workers, cfg.Since, cfg.Until, func(w int, rec arrow.Record) error {
		cov.Add(w, rec)
		sb.Add(w, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sb.Finish()
	st := sb.Stats()
	out := &ClientsResult{Files: res, Datasets: datasets, Inventory: inv.Result(cfg.Query), Coverage: cov.Result(res, cfg.Connectors),
		Build: BuildNote{Sessions: st.Sessions.Load(), Evicted: st.Evicted.Load(), Split: st.Split.Load()}}
	out.Elapsed = time.Since(start)
	if res.Totals.RowsRead == 0 && len(datasets) == 0 {
		if err := nothingRead(res, cfg.Paths, nil); err != nil {
			return out, err
		}
	}
	return out, nil
}

// CoverageConfig is what one coverage report reads.
type CoverageConfig struct {
	Paths        []string
	Server       string // as ClientsConfig.Server
	Workers      int
	Since, Until time.Time
	Connectors   []string
}

// CoverageReport is what the logs cover, and what was read.
type CoverageReport struct {
	Files    *parser.ScanResult
	Datasets []DatasetRead
	Coverage *inventory.CoverageResult
	Elapsed  time.Duration
}

// Coverage reads cfg.Paths once and tells, per server and log type, the
// time the logs cover, their gaps, and files cut short; sessions are not
// rebuilt.
func Coverage(ctx context.Context, cfg CoverageConfig) (*CoverageReport, error) {
	workers := Config{Workers: cfg.Workers}.workers()
	start := time.Now()
	cov := inventory.NewCoverage(workers)
	res, datasets, err := readAll(ctx, cfg.Paths, cfg.Server, workers, cfg.Since, cfg.Until, func(w int, rec arrow.Record) error {
		cov.Add(w, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &CoverageReport{Files: res, Datasets: datasets, Coverage: cov.Result(res, cfg.Connectors), Elapsed: time.Since(start)}
	if res.Totals.RowsRead == 0 && len(datasets) == 0 {
		if err := nothingRead(res, cfg.Paths, nil); err != nil {
			return out, err
		}
	}
	return out, nil
}

// readAll feeds every record of paths (raw logs, and datasets' rows
// tables) to add, as Scan reads them.
func readAll(ctx context.Context, paths []string, server string, workers int, since, until time.Time, add func(int, arrow.Record) error) (*parser.ScanResult, []DatasetRead, error) {
	var raw, dirs []string
	for _, p := range paths {
		if store.IsDataset(p) {
			dirs = append(dirs, p)
		} else {
			raw = append(raw, p)
		}
	}
	res := &parser.ScanResult{}
	if len(raw) > 0 {
		var err error
		res, err = parser.Scan(ctx, raw, parser.ScanOptions{Workers: workers, Server: server,
			Reader: []parser.Option{parser.WithTimeRange(since, until)}}, add)
		if err != nil {
			return nil, nil, err
		}
	}
	var datasets []DatasetRead
	for _, dir := range dirs {
		d, err := readDataset(ctx, dir, workers, since, until, add)
		if err != nil {
			return nil, nil, err
		}
		datasets = append(datasets, d)
		res.Totals.RowsRead += d.Rows
		res.Totals.RowsEmitted += d.Rows
	}
	return res, datasets, nil
}
