package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go4.org/netipx"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/heuristics/inventory"
	"github.com/logscan/logscan/heuristics/run"
	"github.com/logscan/logscan/parser"
)

// readFlags are the flags every reading command shares with scan: which
// logs, in what window, how many at once.
type readFlags struct {
	Workers        int
	SendLogsServer string
	Window         windowFlags
	Timing         bool
	window         timeWindow
}

func addReadFlags(cmd *cobra.Command, r *readFlags) {
	cmd.Flags().IntVar(&r.Workers, "workers", 0, "Files read in parallel (0: one per CPU)")
	cmd.Flags().StringVar(&r.SendLogsServer, "send-logs-server", "", "Server name for send logs whose folder does not name one (what scan calls --server)")
	addWindowFlags(cmd, &r.Window)
	cmd.Flags().BoolVar(&r.Timing, "timing", false, "Print read time and throughput on stderr (always shown on a terminal)")
}

func (r *readFlags) validate() error {
	if r.Workers < 0 {
		return &FlagError{fmt.Errorf("--workers must be 0 (one per CPU) or more, not %d", r.Workers)}
	}
	w, err := r.Window.parse()
	r.window = w
	return err
}

// timing prints the read rate on stderr, on a terminal or when asked.
func (r *readFlags) timing(io *IOStreams, res *parser.ScanResult, elapsed time.Duration) {
	if io.StderrTTY || r.Timing {
		fmt.Fprintf(io.ErrOut, "logscan: read %.1f MB in %s (%.0f MB/s)\n", float64(res.Totals.Bytes)/1e6,
			elapsed.Round(time.Millisecond), float64(res.Totals.Bytes)/1e6/max(elapsed.Seconds(), 1e-9))
	}
}

type clientsOptions struct {
	IO    *IOStreams
	Paths []string
	Read  readFlags

	Format      string
	Servers     []string
	Connectors  []string
	IPs         []string
	Anonymous   bool
	IdleSince   string
	TLSBelow    string
	NoTLS       bool
	LogType     string
	Top         int
	MaxClients  int
	Accepted    []string
	KnownConns  []string
	MaxProblems int

	filter    inventory.Filter
	query     inventory.Query
	accepted  []string
	known     []string
	idleSince time.Time
}

func newClientsCmd(io *IOStreams, runF func(*clientsOptions) error) *cobra.Command {
	opts := &clientsOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "clients PATH...",
		Short: "Who uses which connector: clients, names, accounts, TLS, mail, first and last seen",
		Long: `List every client of every connector: one row per server, connector and
client, where the client is the remote address — on a Hub session a Front End
proxied, the original client (the IP= of XPROXYFROM). Each row gives the EHLO
names, the accounts it authenticated as (or anonymous, or Exchange server),
the TLS protocols, ciphers and certificate seen, sessions, messages,
recipients, sender domains, recipient domains outside the accepted domains,
first and last seen, and whether the connector grants it relay
(SMTPAcceptAnyRecipient while anonymous). Send connectors list the remote
servers they delivered to. Text groups clients by connector, busiest first.

This answers decommissioning questions: "who still uses EX01\SMTP Relay
EX01?" is

  logscan clients --connector 'EX01\SMTP Relay EX01' D:\logs

An unused connector has no row in the logs at all: give the connectors that
exist with --connectors (Get-ReceiveConnector | % Identity | Out-File
conns.txt; --connectors @conns.txt) and logscan lists those never seen. A
connector named like one other servers log ("Default Frontend EX03" when EX01
and EX02 log theirs) is listed too. Never seen means unused in the span the
logs cover, or protocol logging off on it (it is off by default on custom
connectors): check before removing it. --idle-since lists the clients last
seen before a date: the ones that moved away.

TLS stragglers: --tls-below 1.2 lists the clients that negotiated TLS 1.0 or
1.1 (before disabling them), --no-tls the clients that sent without TLS or
whose TLS negotiation failed.

Counts of sessions, messages and recipients are exact. Lists of names,
accounts and domains are bounded per client (the smallest values are kept)
and say "at least N" when there were more. Past --max-clients clients, the
rest are counted together per connector as "(other clients)", and the
output says so.`,
		Example: `  logscan clients --connector 'EX01\SMTP Relay EX01' D:\logs
  logscan clients --connectors @conns.txt --idle-since 2026-10-01 D:\logs
  logscan clients --tls-below 1.2 D:\logs
  logscan clients --ip 10.30.0.0/16 --anonymous --format csv D:\logs > relay-users.csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &FlagError{fmt.Errorf("clients needs at least one PATH (a log file or folder)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if err := opts.resolve(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runClients(cmd.Context(), opts)
		},
	}
	stringEnumFlag(cmd, &opts.Format, "format", "text", []string{"text", "json", "csv"}, "Output format (csv: one row per client, safe to open in a spreadsheet)")
	cmd.Flags().StringArrayVar(&opts.Servers, "server", nil, "Only these servers (comma list)")
	cmd.Flags().StringArrayVar(&opts.Connectors, "connector", nil, `Only this connector, e.g. 'EX01\SMTP Relay EX01' ('*' matches any text; repeat the flag for more)`)
	cmd.Flags().StringArrayVar(&opts.IPs, "ip", nil, "Only clients in these addresses or CIDR ranges (comma list or @FILE)")
	cmd.Flags().BoolVar(&opts.Anonymous, "anonymous", false, "Count only unauthenticated sessions")
	cmd.Flags().StringVar(&opts.IdleSince, "idle-since", "", "List only clients last seen before this date (2026-10-01 or RFC 3339, UTC)")
	cmd.Flags().StringVar(&opts.TLSBelow, "tls-below", "", "List only clients with sessions that negotiated TLS below this version (1.2: the TLS 1.0 and 1.1 stragglers)")
	cmd.Flags().BoolVar(&opts.NoTLS, "no-tls", false, "List only clients with sessions without TLS (or whose TLS negotiation failed)")
	stringEnumFlag(cmd, &opts.LogType, "log-type", "all", []string{"all", "receive", "send"}, "Receive connectors (clients), send connectors (remote servers), or both")
	cmd.Flags().IntVar(&opts.Top, "top", 10, "Clients listed per connector in text output (0: all; JSON and CSV list all)")
	cmd.Flags().IntVar(&opts.MaxClients, "max-clients", inventory.DefaultMaxClients, "Clients counted one by one; past this, per connector together (bounds memory)")
	cmd.Flags().StringArrayVar(&opts.Accepted, "accepted-domains", nil, "Accepted domains, e.g. contoso.com,*.contoso.com or @domains.txt (default: inferred)")
	cmd.Flags().StringArrayVar(&opts.KnownConns, "connectors", nil, "Connectors that exist (@FILE from Get-ReceiveConnector | % Identity): those never seen are listed")
	cmd.Flags().IntVar(&opts.MaxProblems, "max-problems", 3, "Files cut short listed per server in text output")
	addReadFlags(cmd, &opts.Read)
	return cmd
}

// resolve validates the flags into the filter and query.
func (opts *clientsOptions) resolve() error {
	if err := opts.Read.validate(); err != nil {
		return err
	}
	if opts.Top < 0 {
		return &FlagError{fmt.Errorf("--top must be 0 (all) or more, not %d", opts.Top)}
	}
	if opts.MaxClients < 1 {
		return &FlagError{fmt.Errorf("--max-clients must be at least 1, not %d", opts.MaxClients)}
	}
	servers, err := expandList("server", opts.Servers)
	if err != nil {
		return err
	}
	opts.filter.Servers = servers
	for _, c := range opts.Connectors {
		if strings.TrimSpace(c) == "" {
			return &FlagError{fmt.Errorf("--connector: empty name")}
		}
	}
	opts.filter.Connectors = opts.Connectors
	if len(opts.IPs) > 0 {
		set, err := parseIPSet(opts.IPs)
		if err != nil {
			return err
		}
		opts.filter.Clients = set
	}
	opts.filter.Anonymous = opts.Anonymous
	opts.filter.LogType = parser.ParseLogType(opts.LogType)
	if opts.IdleSince != "" {
		t, err := parseWhen("--idle-since", opts.IdleSince)
		if err != nil {
			return err
		}
		opts.query.IdleSince, opts.idleSince = t, t
	}
	if opts.TLSBelow != "" {
		v, err := inventory.ParseVersion(opts.TLSBelow)
		if err != nil {
			return &FlagError{fmt.Errorf("--tls-below: %w", err)}
		}
		opts.query.TLSBelow = v
	}
	opts.query.NoTLS = opts.NoTLS
	if opts.Format == "text" {
		opts.query.Top = opts.Top // JSON and CSV list every client
	}
	list, err := expandList("accepted-domains", opts.Accepted)
	if err == nil {
		opts.accepted, err = heuristics.ParseAcceptedDomains(list)
	}
	if err != nil {
		return &FlagError{fmt.Errorf("--accepted-domains: %w", err)}
	}
	opts.known, err = expandConnectors(opts.KnownConns)
	return err
}

// expandConnectors reads --connectors: names as given, or @FILE with one
// per line (connector names hold spaces, and may hold commas).
func expandConnectors(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		if name, ok := strings.CutPrefix(v, "@"); ok {
			b, err := readFlagFile("connectors", name)
			if err != nil {
				return nil, err
			}
			for line := range strings.SplitSeq(decodeText(b), "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
					out = append(out, line)
				}
			}
			continue
		}
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out, nil
}

// parseIPSet reads addresses and CIDR ranges (comma lists or @FILE).
func parseIPSet(values []string) (*netipx.IPSet, error) {
	list, err := expandList("ip", values)
	if err != nil {
		return nil, err
	}
	var b netipx.IPSetBuilder
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			b.AddPrefix(p.Masked())
			continue
		}
		a, err := netip.ParseAddr(strings.Trim(s, "[]"))
		if err != nil {
			return nil, &FlagError{fmt.Errorf("--ip %q: want an address (10.30.5.21) or a CIDR range (10.30.0.0/16)", s)}
		}
		b.Add(a.Unmap())
	}
	return b.IPSet()
}

// clientsReport is what the renderers read.
type clientsReport struct {
	Res   *run.ClientsResult
	Opts  *clientsOptions
	Total int64 // sessions rebuilt
}

func runClients(ctx context.Context, opts *clientsOptions) error {
	res, err := run.Clients(ctx, run.ClientsConfig{Paths: opts.Paths, Server: opts.Read.SendLogsServer, Workers: opts.Read.Workers,
		Since: opts.Read.window.since, Until: opts.Read.window.until, Connectors: opts.known, Query: opts.query,
		Inventory: inventory.Options{Filter: opts.filter, MaxClients: opts.MaxClients, AcceptedDomains: opts.accepted}})
	if res == nil {
		return err
	}
	var nothing *run.NothingReadError
	if err != nil && !errors.As(err, &nothing) {
		return err
	}
	rep := &clientsReport{Res: res, Opts: opts}
	switch opts.Format {
	case "json":
		err = renderClientsJSON(opts.IO.Out, rep)
	case "csv":
		err = renderClientsCSV(opts.IO.Out, rep)
	default:
		err = renderClientsText(opts.IO.Out, rep)
	}
	if err != nil {
		return err
	}
	notices(opts.IO, res.Files, nil)
	opts.Read.timing(opts.IO, res.Files, res.Elapsed)
	if nothing != nil {
		return nothing
	}
	return nil
}

// readFlagFile reads the @FILE of a list flag.
func readFlagFile(flag, name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, &FlagError{fmt.Errorf("--%s: %w", flag, err)}
	}
	return b, nil
}
