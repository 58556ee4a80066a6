package main

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/spf13/cobra"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/parser"
	"github.com/logscan/logscan/store"
)

type scanOptions struct {
	IO          *IOStreams
	Paths       []string
	Format      string
	Server      string
	Workers     int
	Top         int
	MaxProblems int
	Timing      bool

	AcceptedDomains []string
	ExchangeServers []string
	Internal        []string
	SubnetV4        int
	SubnetV6        int
	FailOn          string

	Window windowFlags
	State  string

	org    heuristics.Org
	failOn heuristics.Severity
	window timeWindow
}

func newScanCmd(io *IOStreams, runF func(*scanOptions) error) *cobra.Command {
	opts := &scanOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Find hidden NAT, anonymous relay and 451 5.7.3 in protocol logs",
		Long: `Read Exchange SMTP protocol logs, rebuild every session and report findings,
most severe first, each with its evidence (sessions, file:line), likely cause
and fix:

  hidden-snat           many clients behind one address on the server's subnet
  anonymous-relay       unauthenticated mail accepted for outside domains
                        (and refused relay attempts, as probing)
  exchange-auth-5.7.3   451 5.7.3 Cannot achieve Exchange Server authentication

Then a summary: files, rows, rejected rows, time span, servers, connectors,
sessions and the busiest remote addresses per connector.

What logscan assumes about the organisation (accepted domains, Exchange
servers, internal networks) is inferred from the logs unless given, and the
report always says what it assumed. List flags take a comma list or @FILE
with one entry per line, e.g. from
  Get-AcceptedDomain | % DomainName | Out-File domains.txt

PATH is a file or a folder (read recursively). Logs are recognised by their
content, not their name: plain, .gz, .bz2 and .zip files all work, and other
files are skipped with a one-line notice. Every rejected row is reported with
its file and line. A PATH that is a dataset made by "logscan ingest" is read
from its rows table, with the same findings as the raw logs would give.

With --state FILE the scan is incremental: it reads only what the logs gained
since the run that wrote FILE (a nightly job's "what is new"), carries
sessions still open to the next run, and replaces FILE atomically.`,
		Example: `  logscan scan samples/contoso
  logscan scan --state /var/lib/logscan/nightly.state --fail-on high --format json \\EX01\c$\...\Logs
  logscan scan /data/exchange-dataset --since 2026-11-01 --until 2026-11-08
  logscan scan --accepted-domains contoso.com,*.contoso.com --fail-on high D:\logs
  logscan scan --format json \\EX01\c$\logs\SmtpReceive > summary.json
  logscan scan --server EX02 ./EX02-send-logs`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &FlagError{fmt.Errorf("scan needs at least one PATH (a log file or folder)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if opts.Workers < 0 {
				return &FlagError{fmt.Errorf("--workers must be 0 (one per CPU) or more, not %d", opts.Workers)}
			}
			if opts.Top < 1 {
				return &FlagError{fmt.Errorf("--top must be at least 1, not %d", opts.Top)}
			}
			if opts.FailOn != "" {
				sev, err := heuristics.ParseSeverity(opts.FailOn)
				if err != nil {
					return &FlagError{fmt.Errorf("--fail-on: %w", err)}
				}
				opts.failOn = sev
			}
			if err := opts.resolveOrg(); err != nil {
				return err
			}
			w, err := opts.Window.parse()
			if err != nil {
				return err
			}
			opts.window = w
			if runF != nil {
				return runF(opts)
			}
			return runScan(cmd.Context(), opts)
		},
	}
	stringEnumFlag(cmd, &opts.Format, "format", "text", []string{"text", "json", "csv"}, "Output format (csv: the findings only, one row each, safe to open in a spreadsheet)")
	cmd.Flags().StringVar(&opts.Server, "server", "", "Server name for send logs (default: from each file's folder, e.g. EX01\\...\\SmtpSend)")
	cmd.Flags().IntVar(&opts.Workers, "workers", 0, "Files read in parallel (0: one per CPU)")
	cmd.Flags().IntVar(&opts.Top, "top", 5, "Remote addresses listed per connector")
	cmd.Flags().IntVar(&opts.MaxProblems, "max-problems", 5, "Places listed per kind of problem in text output (JSON lists up to 100 per file)")
	cmd.Flags().StringArrayVar(&opts.AcceptedDomains, "accepted-domains", nil, "Accepted domains, e.g. contoso.com,*.contoso.com or @domains.txt (default: inferred)")
	cmd.Flags().StringArrayVar(&opts.ExchangeServers, "exchange-servers", nil, "Other Exchange servers: addresses, ranges or NAME=address, or @FILE (default: inferred)")
	cmd.Flags().StringArrayVar(&opts.Internal, "internal", nil, "Internal networks as CIDR ranges, or @FILE (default: private ranges)")
	cmd.Flags().IntVar(&opts.SubnetV4, "nat-subnet-v4", 24, "Prefix length of a server's own IPv4 subnet, for hidden NAT")
	cmd.Flags().IntVar(&opts.SubnetV6, "nat-subnet-v6", 64, "Prefix length of a server's own IPv6 subnet, for hidden NAT")
	cmd.Flags().StringVar(&opts.FailOn, "fail-on", "", "Exit 1 when a finding at or above this severity exists: {"+strings.Join(heuristics.SeverityNames(), "|")+"}")
	addWindowFlags(cmd, &opts.Window)
	cmd.Flags().StringVar(&opts.State, "state", "", "Incremental: read only what the logs gained since the run that wrote this state file, and update it")
	cmd.Flags().BoolVar(&opts.Timing, "timing", false, "Print read time and throughput on stderr (always shown on a terminal)")
	return cmd
}

// resolveOrg turns the organisation flags into a heuristics.Org.
func (opts *scanOptions) resolveOrg() error {
	if opts.SubnetV4 < 8 || opts.SubnetV4 > 32 || opts.SubnetV6 < 16 || opts.SubnetV6 > 128 {
		return &FlagError{fmt.Errorf("--nat-subnet-v4 must be 8..32 and --nat-subnet-v6 16..128")}
	}
	opts.org.SubnetBitsV4, opts.org.SubnetBitsV6 = opts.SubnetV4, opts.SubnetV6
	list, err := expandList("accepted-domains", opts.AcceptedDomains)
	if err == nil {
		opts.org.AcceptedDomains, err = heuristics.ParseAcceptedDomains(list)
	}
	if err != nil {
		return &FlagError{fmt.Errorf("--accepted-domains: %w", err)}
	}
	if list, err = expandList("exchange-servers", opts.ExchangeServers); err == nil {
		opts.org.ExchangeServers, err = heuristics.ParseExchangeServers(list)
	}
	if err != nil {
		return &FlagError{fmt.Errorf("--exchange-servers: %w", err)}
	}
	if list, err = expandList("internal", opts.Internal); err == nil {
		opts.org.Internal, err = heuristics.ParsePrefixes(list)
	}
	if err != nil {
		return &FlagError{fmt.Errorf("--internal: %w", err)}
	}
	return nil
}

// scanReport is everything runScan learned, for the renderers.
type scanReport struct {
	Result   *parser.ScanResult
	Summary  heuristics.SummaryResult
	Analysis *heuristics.Report
	Datasets []datasetRead
	Elapsed  time.Duration
	// Incremental is set with --state: what the run went on from.
	Incremental *incrementalNote
}

// datasetRead is one dataset a scan read instead of raw logs.
type datasetRead struct {
	Dir   string `json:"dir"`
	Rows  int64  `json:"rows"`
	Parts int    `json:"parts"`
	Runs  int    `json:"runs"`
}

type incrementalNote struct {
	State     string `json:"state"`
	Resumed   int    `json:"files_resumed"`
	Unchanged int    `json:"files_unchanged"`
	Carried   int    `json:"open_sessions_carried"`
}

// runState is what an incremental run (ingest, or scan --state) leaves
// for the next: where each file was left, and the sessions still open.
type runState struct {
	Files map[string]parser.FileState `json:"files"`
	Open  []heuristics.OpenSession    `json:"open_sessions"`
}

// next is the state after a run that read res and left open sessions open.
func (s runState) next(res *parser.ScanResult, open []heuristics.OpenSession) runState {
	n := runState{Files: make(map[string]parser.FileState, len(s.Files)), Open: open}
	maps.Copy(n.Files, s.Files)
	for _, f := range res.Files {
		if f.State != nil {
			n.Files[f.Path] = *f.State
		}
	}
	return n
}

func runScan(ctx context.Context, opts *scanOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	workers := opts.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	an := heuristics.NewAnalyzer(opts.org, heuristics.AnalyzerOptions{Workers: workers, TopRemote: opts.Top})
	start := time.Now()
	var raw, datasets []string
	for _, p := range opts.Paths {
		if store.IsDataset(p) {
			datasets = append(datasets, p)
		} else {
			raw = append(raw, p)
		}
	}
	var st runState
	if opts.State != "" {
		if err := readState(opts.State, &st); err != nil {
			return err
		}
		an.Restore(st.Open)
	}
	add := func(w int, rec arrow.Record) error { an.Add(w, rec); return nil }
	res := &parser.ScanResult{}
	if len(raw) > 0 {
		var err error
		res, err = parser.Scan(ctx, raw, parser.ScanOptions{Workers: workers, Server: opts.Server, Incremental: opts.State != "", Previous: st.Files,
			Reader: []parser.Option{parser.WithTimeRange(opts.window.since, opts.window.until)}}, add)
		if err != nil {
			return err
		}
	}
	rep := &scanReport{Result: res}
	for _, dir := range datasets {
		d, err := store.OpenRead(dir)
		if err != nil {
			return err
		}
		var filter *store.TimeFilter
		if !opts.window.since.IsZero() || !opts.window.until.IsZero() {
			filter = &store.TimeFilter{Col: parser.ColDateTime, Since: opts.window.since, Until: opts.window.until}
		}
		var rows atomic.Int64
		if err := d.Read(ctx, "rows", parser.Schema, workers, filter, func(w int, rec arrow.Record) error {
			rows.Add(rec.NumRows())
			an.Add(w, rec)
			return nil
		}); err != nil {
			return err
		}
		_, parts := d.Rows("rows")
		rep.Datasets = append(rep.Datasets, datasetRead{Dir: dir, Rows: rows.Load(), Parts: parts, Runs: len(d.Manifest.Runs)})
		res.Totals.RowsRead += rows.Load()
		res.Totals.RowsEmitted += rows.Load()
	}
	if opts.State != "" {
		open := an.Drain(heuristics.DefaultCarry)
		next := st.next(res, open)
		note := &incrementalNote{State: opts.State, Carried: len(open)}
		for _, f := range res.Files {
			if f.Unchanged {
				note.Unchanged++
			} else if f.Resumed {
				note.Resumed++
			}
		}
		if err := writeState(opts.State, &next); err != nil {
			return err
		}
		rep.Incremental = note
	}
	analysis := an.Result()
	rep.Summary, rep.Analysis, rep.Elapsed = analysis.Summary, analysis, time.Since(start)
	var err error
	switch opts.Format {
	case "json":
		err = renderJSON(opts.IO.Out, rep)
	case "csv":
		err = renderCSV(opts.IO.Out, rep)
	default:
		err = renderText(opts.IO.Out, rep, opts.MaxProblems)
	}
	if err != nil {
		return err
	}
	notices(opts.IO, res)
	if opts.IO.StderrTTY || opts.Timing {
		fmt.Fprintf(opts.IO.ErrOut, "logscan: read %.1f MB in %s (%.0f MB/s)\n", float64(res.Totals.Bytes)/1e6,
			rep.Elapsed.Round(time.Millisecond), float64(res.Totals.Bytes)/1e6/max(rep.Elapsed.Seconds(), 1e-9))
	}
	if res.Totals.RowsRead == 0 && len(rep.Datasets) == 0 && (rep.Incremental == nil || rep.Incremental.Unchanged == 0) {
		return nothingRead(res, opts.Paths)
	}
	if opts.FailOn != "" {
		var n int
		for _, f := range rep.Analysis.Findings {
			if f.Severity >= opts.failOn {
				n++
			}
		}
		if n > 0 {
			return &FindingsError{Count: n, Severity: opts.failOn}
		}
	}
	return nil
}

// nothingRead explains an empty scan in a sentence the user can act on.
func nothingRead(res *parser.ScanResult, paths []string) error {
	switch {
	case len(res.Files) == 0:
		return &NothingReadError{Msg: fmt.Sprintf("no files found in %s", quoteList(paths)),
			Try: `point logscan at a log folder, e.g. ...\TransportRoles\Logs\FrontEnd\ProtocolLog\SmtpReceive`}
	case res.Count(parser.FileParsed)+res.Count(parser.FileEmpty) == 0:
		return &NothingReadError{Msg: fmt.Sprintf("none of the %d files in %s is an Exchange SMTP protocol log", len(res.Files), quoteList(paths)),
			Try: "protocol logging may be off: Get-ReceiveConnector | Set-ReceiveConnector -ProtocolLoggingLevel Verbose (and the same for send connectors)"}
	default:
		return &NothingReadError{Msg: "the protocol logs found hold no rows",
			Try: "check that protocol logging is Verbose on the connectors, and that the files are not still empty"}
	}
}
