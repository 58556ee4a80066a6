package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/heuristics/run"
	"github.com/logscan/logscan/parser"
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
	Details     bool
	Output      string // -o FILE: the report goes there instead of stdout
	Quiet       bool   // no progress, no read time on a terminal

	AcceptedDomains []string
	ExchangeServers []string
	Internal        []string
	SubnetV4        int
	SubnetV6        int
	FailOn          string

	Window windowFlags
	State  string
	Config string

	org    heuristics.Org
	failOn heuristics.Severity
	window timeWindow
}

func newScanCmd(io *IOStreams, runF func(*scanOptions) error) *cobra.Command {
	opts := &scanOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Find open relays, hidden NAT, blocklistings and 451 5.7.3 in protocol logs",
		Long: `Read Exchange SMTP protocol logs, rebuild every session and report what
happened: first each incident in one sentence with its time span and size,
then the findings, one per cause, most important first, each with when it
began, peaked and ended, its evidence (sources, sessions, file:line), likely
cause and fix:

  hidden-snat           many clients behind one address on the server's subnet
  anonymous-relay       unauthenticated mail accepted for outside domains, one
                        finding per connector (and refused attempts, as probing)
  exchange-auth-5.7.3   451 5.7.3 Cannot achieve Exchange Server authentication
  frontend-proxy-prx    a Front End answering 451 4.7.0 ... PRXn
  inbound-refused       inbound mail for your own domain refused as relay
  compromised-account   an account that logs in from new addresses and sends
                        far more outside than the others (failed logins and
                        password guessing are listed apart, per connector)
  blocklisted           our public IP refused by blocklists, linked to the
                        relay or compromised account that preceded it
  outbound-failures     destinations the queues could not deliver to (DNS,
                        TLS, timeouts), from the connectivity logs
  connector-config      with --config: the receive connector configuration
                        that causes the rest (ranges, permissions, bindings)

Long lists are cut to their first 10 in text; --details prints them all,
and --format json / csv always hold them.

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
			if err := opts.applyConfigFlag(); err != nil {
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
	stringEnumFlag(cmd, &opts.Format, "format", "text", []string{"text", "json", "csv", "html"}, "Output format (csv: the findings only, one row each, safe to open in a spreadsheet; html: one self-contained page with timelines, e.g. with -o report.html)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "Write the report to this file (replaced whole when complete) instead of stdout")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "No progress and no read time on stderr (notices and errors still go there)")
	cmd.Flags().StringVar(&opts.Server, "server", "", "Server name for send logs (default: from each file's folder, e.g. EX01\\...\\SmtpSend)")
	cmd.Flags().IntVar(&opts.Workers, "workers", 0, "Files read in parallel (0: one per CPU)")
	cmd.Flags().IntVar(&opts.Top, "top", 5, "Remote addresses listed per connector")
	cmd.Flags().IntVar(&opts.MaxProblems, "max-problems", 5, "Places listed per kind of problem in text output (JSON lists up to 100 per file)")
	cmd.Flags().StringArrayVar(&opts.AcceptedDomains, "accepted-domains", nil, "Accepted domains, e.g. contoso.com,*.contoso.com or @domains.txt (default: inferred)")
	cmd.Flags().StringArrayVar(&opts.ExchangeServers, "exchange-servers", nil, "Other Exchange servers: addresses, ranges or NAME=address, or @FILE (default: inferred)")
	cmd.Flags().StringArrayVar(&opts.Internal, "internal", nil, "Internal networks as CIDR ranges, or @FILE (default: private ranges)")
	cmd.Flags().IntVar(&opts.SubnetV4, "nat-subnet-v4", heuristics.DefaultSubnetBitsV4, "Prefix length of a server's own IPv4 subnet, for hidden NAT")
	cmd.Flags().IntVar(&opts.SubnetV6, "nat-subnet-v6", heuristics.DefaultSubnetBitsV6, "Prefix length of a server's own IPv6 subnet, for hidden NAT")
	cmd.Flags().StringVar(&opts.FailOn, "fail-on", "", "Exit 1 when a finding at or above this severity exists: {"+strings.Join(heuristics.SeverityNames(), "|")+"}")
	addWindowFlags(cmd, &opts.Window)
	cmd.Flags().StringVar(&opts.Config, "config", "", "Receive connector configuration (collect/Get-LogscanConfig.ps1, or ConvertTo-Json/Export-Clixml/Export-Csv of Get-ReceiveConnector): the organisation is taken from it, and it is audited with the logs")
	cmd.Flags().StringVar(&opts.State, "state", "", "Incremental: read only what the logs gained since the run that wrote this state file, and update it")
	cmd.Flags().BoolVar(&opts.Details, "details", false, "Text output: every value of every evidence list, every source and every hour (default: the first 10 and a count)")
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

// scanReport is everything a scan learned, as the renderers read it.
type scanReport struct {
	Result      *parser.ScanResult
	Summary     heuristics.SummaryResult
	Analysis    *heuristics.Report
	Datasets    []run.DatasetRead
	Elapsed     time.Duration
	Incremental *run.Incremental
}

func runScan(ctx context.Context, opts *scanOptions) error {
	prog := startProgress(opts.IO, opts.Paths, opts.Quiet)
	res, err := run.Scan(ctx, run.Config{Paths: opts.Paths, Server: opts.Server, Workers: opts.Workers,
		Since: opts.window.since, Until: opts.window.until, Org: opts.org, TopRemote: opts.Top, StateFile: opts.State,
		Progress: prog.callback()})
	prog.stop()
	if res == nil {
		return err
	}
	var nothing *run.NothingReadError
	if errors.As(err, &nothing) {
		// Nothing was analysed: no report (it would read "no findings"),
		// only why, and what was skipped.
		if nothing.Why == run.NoLogs {
			notices(opts.IO, res.Files, nil)
		}
		return nothing
	}
	if err != nil {
		return err
	}
	rep := &scanReport{Result: res.Files, Summary: res.Analysis.Summary, Analysis: res.Analysis, Datasets: res.Datasets,
		Elapsed: res.Elapsed, Incremental: res.Incremental}
	err = writeOutput(opts.IO.Out, opts.Output, func(w io.Writer) error {
		switch opts.Format {
		case "json":
			return renderJSON(w, rep)
		case "csv":
			return renderCSV(w, rep)
		case "html":
			return renderHTML(w, rep)
		default:
			return renderText(w, rep, textOptions{MaxProblems: opts.MaxProblems, Details: opts.Details})
		}
	})
	if err != nil {
		return err
	}
	notices(opts.IO, res.Files, res.Missing)
	if opts.IO.StderrTTY && !opts.Quiet || opts.Timing {
		fmt.Fprintf(opts.IO.ErrOut, "logscan: read %.1f MB in %s (%.0f MB/s)\n", float64(res.Files.Totals.Bytes)/1e6,
			rep.Elapsed.Round(time.Millisecond), float64(res.Files.Totals.Bytes)/1e6/max(rep.Elapsed.Seconds(), 1e-9))
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

// writeOutput renders to out, or with -o to a temporary file beside path
// that replaces path once the report is complete: a reader never sees half
// a report, and a failed run leaves the previous one.
func writeOutput(out io.Writer, path string, render func(io.Writer) error) error {
	if path == "" {
		return render(out)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("could not write the report to %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	if err := render(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("could not write the report to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("could not write the report to %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("could not write the report to %s: %w", path, err)
	}
	return nil
}
