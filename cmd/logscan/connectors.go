package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/heuristics/exconfig"
	"github.com/logscan/logscan/heuristics/run"
)

type connectorsOptions struct {
	IO      *IOStreams
	Config  string
	Paths   []string
	Format  string
	NAT     []string
	Workers int
	Server  string
	FailOn  string

	failOn heuristics.Severity
	nat    []netip.Addr
}

func newConnectorsCmd(io *IOStreams, runF func(*connectorsOptions) error) *cobra.Command {
	opts := &connectorsOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "connectors CONFIG [PATH...]",
		Short: "Audit the receive connector configuration, and hold it against the logs",
		Long: `Read an export of the receive connector configuration and print every connector
(bindings, RemoteIPRanges, permissions), which connector Exchange hands each part
of the address space to on every binding (the most specific range wins), where the
Exchange servers, gateways and NAT addresses land, and the traps as findings
(detector connector-config) with the exact Set-ReceiveConnector or
Remove-ADPermission that fixes them:

  a connector without Exchange Server authentication that takes another
  Exchange server's address (451 5.7.3); one that takes a gateway's, load
  balancer's or NAT device's address (everyone behind it gets its rights);
  ANONYMOUS LOGON with ms-Exch-SMTP-Accept-Any-Recipient on a connector that
  takes public or broad ranges (open relay); Externally Secured on addresses
  that are not Exchange servers; a Hub Transport connector on the Front End's
  port 25; protocol logging off.

CONFIG is the JSON of collect/Get-LogscanConfig.ps1 (complete), or what you
already have: Get-ReceiveConnector | ConvertTo-Json, Export-Clixml or Export-Csv
(UTF-8 or UTF-16). What an export lacks (AD permissions, server addresses,
gateways) is said, and the checks that need it are skipped.

With PATHs the logs are scanned with the organisation taken from CONFIG, and
every log finding that names a connector gets the configuration that causes it;
drift lists clients whose logged connector is not the one the configuration
selects, connectors without traffic and ranges never used.`,
		Example: `  logscan connectors contoso-config.json
  logscan connectors contoso-config.json \\EX01\c$\...\TransportRoles\Logs
  logscan connectors --nat 10.20.0.5 --format json rc.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &FlagError{fmt.Errorf("connectors needs a CONFIG file (from collect/Get-LogscanConfig.ps1, ConvertTo-Json, Export-Clixml or Export-Csv)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Config, opts.Paths = args[0], args[1:]
			if opts.FailOn != "" {
				sev, err := heuristics.ParseSeverity(opts.FailOn)
				if err != nil {
					return &FlagError{fmt.Errorf("--fail-on: %w", err)}
				}
				opts.failOn = sev
			}
			list, err := expandList("nat", opts.NAT)
			if err != nil {
				return err
			}
			for _, s := range list {
				a, err := netip.ParseAddr(s)
				if err != nil {
					return &FlagError{fmt.Errorf("--nat: %q is not an IP address", s)}
				}
				opts.nat = append(opts.nat, a.Unmap())
			}
			if runF != nil {
				return runF(opts)
			}
			return runConnectors(cmd.Context(), opts)
		},
	}
	stringEnumFlag(cmd, &opts.Format, "format", "text", []string{"text", "json"}, "Output format")
	cmd.Flags().StringArrayVar(&opts.NAT, "nat", nil, "Addresses of load balancers, firewalls or NAT devices clients arrive from (comma list or @FILE)")
	cmd.Flags().IntVar(&opts.Workers, "workers", 0, "Files read in parallel (0: one per CPU)")
	cmd.Flags().StringVar(&opts.Server, "server", "", "Server name for send logs (default: from each file's folder)")
	cmd.Flags().StringVar(&opts.FailOn, "fail-on", "", "Exit 1 when a finding at or above this severity exists: {"+strings.Join(heuristics.SeverityNames(), "|")+"}")
	return cmd
}

// readConfigFile reads an export, as an error a user can act on.
func readConfigFile(name string) (*exconfig.Config, error) {
	cfg, err := exconfig.ReadFile(name)
	if err != nil {
		if errors.Is(err, exconfig.ErrUnknownShape) {
			return nil, fmt.Errorf("%w\nTry: collect the configuration with collect/Get-LogscanConfig.ps1, or Get-ReceiveConnector | ConvertTo-Json > rc.json", err)
		}
		return nil, err
	}
	return cfg, nil
}

// connectorsReport is what `logscan connectors` prints.
type connectorsReport struct {
	FormatVersion int                      `json:"format_version"`
	Configuration *heuristics.ConfigReport `json:"configuration"`
	Findings      []heuristics.Finding     `json:"findings"`
	LogsRead      bool                     `json:"logs_read"`
}

func runConnectors(ctx context.Context, opts *connectorsOptions) error {
	cfg, err := readConfigFile(opts.Config)
	if err != nil {
		return err
	}
	for _, a := range opts.nat {
		cfg.Devices = append(cfg.Devices, exconfig.Device{Kind: "nat", Address: a, Name: "given with --nat"})
	}
	rep := &connectorsReport{FormatVersion: jsonFormatVersion}
	in := heuristics.AuditInputs{}
	var nothing *run.NothingReadError
	if len(opts.Paths) > 0 {
		res, err := run.Scan(ctx, run.Config{Paths: opts.Paths, Server: opts.Server, Workers: opts.Workers, Org: heuristics.OrgFromConfig(cfg)})
		if res == nil || err != nil && !errors.As(err, &nothing) {
			return err
		}
		notices(opts.IO, res.Files, res.Missing)
		rep.LogsRead = true
		rep.Findings = res.Analysis.Findings
		for _, f := range res.Analysis.Findings {
			if a, err := netip.ParseAddr(f.Source); err == nil && f.Detector == "hidden-snat" {
				in.NAT = append(in.NAT, a)
			}
		}
	} else {
		rep.Findings = heuristics.AuditConfig(cfg, in)
	}
	rep.Configuration = heuristics.BuildConfigReport(cfg, in)
	if opts.Format == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		renderConnectors(opts.IO.Out, rep)
	}
	if err != nil {
		return err
	}
	if nothing != nil {
		return nothing
	}
	if opts.FailOn != "" {
		n := 0
		for _, f := range rep.Findings {
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

// renderConnectors prints the configuration, the selection, the
// addresses that matter and the findings. Every value from the export is
// escaped: it is text an attacker may have had a hand in.
func renderConnectors(w io.Writer, rep *connectorsReport) {
	c := rep.Configuration
	head := fmt.Sprintf("Configuration: %s", safe(c.Source))
	if c.CollectedAt != "" {
		head += ", collected " + c.CollectedAt
	}
	fmt.Fprintf(w, "%s; %d server(s), %d receive connector(s)\n", head, len(c.Servers), len(c.Connectors))
	for _, m := range c.Missing {
		para(w, "Missing", m)
	}
	for _, n := range c.Notes {
		para(w, "Note", n)
	}

	fmt.Fprintln(w, "\nReceive connectors")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CONNECTOR\tROLE\tON\tLOG\tBINDINGS\tREMOTE IP RANGES\tPERMISSION GROUPS\tAUTH")
	for _, ci := range c.Connectors {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", safe(ci.Identity), safe(ci.TransportRole), ci.Enabled, safe(ci.ProtocolLogging),
			safe(strings.Join(ci.Bindings, " ")), safe(shorten(ci.RemoteIPRanges, 4)), safe(strings.Join(ci.PermissionGroups, ",")), safe(strings.Join(ci.AuthMechanisms, ",")))
	}
	tw.Flush()
	for _, ci := range c.Connectors {
		if len(ci.AnonymousRights) > 0 && containsString(ci.AnonymousRights, exconfig.RightAnyRecipient) {
			fmt.Fprintf(w, "  Anonymous relay: ANONYMOUS LOGON holds %s on %s\n", exconfig.RightAnyRecipient, safe(ci.Identity))
		}
	}

	fmt.Fprintln(w, "\nSelection (per binding: which connector takes which remote addresses; the most specific range wins)")
	for _, l := range c.Selection {
		if len(l.Parts) == 1 && len(l.Parts[0].Over)+len(l.Parts[0].Tie)+len(l.Parts[0].Contested) == 0 {
			fmt.Fprintf(w, "  %s %s: everything to %s\n", safe(l.Server), l.Binding, safe(l.Parts[0].Connector))
			continue
		}
		fmt.Fprintf(w, "  %s %s\n", safe(l.Server), l.Binding)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, p := range l.Parts {
			why := "by " + p.Range
			if len(p.Over) > 0 {
				why += ", over " + strings.Join(p.Over, ", ")
			}
			if len(p.Tie) > 0 {
				why += "; TIE with " + strings.Join(p.Tie, ", ") + " (Exchange's pick is not documented)"
			}
			if len(p.Contested) > 0 {
				why += "; port contested by the other transport service's " + strings.Join(p.Contested, ", ")
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", p.Addresses, safe(p.Connector), safe(why))
		}
		tw.Flush()
	}

	if len(c.Addresses) > 0 {
		fmt.Fprintln(w, "\nWhere the addresses that matter land (anything not listed: the default connectors, by 0.0.0.0-255.255.255.255)")
		for _, a := range c.Addresses {
			var special []string
			for _, t := range a.Taken {
				if !t.Default {
					special = append(special, fmt.Sprintf("%s %s -> %s (by %s)", t.Server, t.Binding, t.Connector, t.Range))
				}
			}
			who := a.Role
			if a.Name != "" {
				who += " " + a.Name
			}
			text := "default connectors everywhere"
			if len(special) > 0 {
				text = strings.Join(special, "; ")
			}
			fmt.Fprintf(w, "  %s (%s): %s\n", a.Address, safe(who), safe(text))
		}
	}

	n := 0
	for _, f := range rep.Findings {
		if rep.LogsRead || f.Detector == "connector-config" {
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(w, "\nFindings: none")
		return
	}
	fmt.Fprintf(w, "\nFindings: %d\n", n)
	for _, f := range rep.Findings {
		fmt.Fprintf(w, "\n[%s] %s\n", strings.ToUpper(f.Severity.String()), safe(f.Title))
		fmt.Fprintf(w, "  id %s · detector %s\n", f.ID, f.Detector)
		para(w, "What", f.Explanation)
		for _, fact := range f.Facts {
			if len(fact.Values) > 0 {
				para(w, capitalise(fact.Name), factText(fact, textOptions{Details: true}))
			}
		}
		para(w, "Cause", f.Cause)
		for i, fix := range f.Fix {
			fmt.Fprintf(w, "  %-8s %d. %s\n", cond(i == 0, "Fix:", ""), i+1, safe(fix))
		}
	}
}

func shorten(s []string, n int) string {
	if len(s) > n {
		return strings.Join(s[:n], " ") + fmt.Sprintf(" (+%d)", len(s)-n)
	}
	return strings.Join(s, " ")
}

func containsString(s []string, x string) bool {
	for _, y := range s {
		if strings.EqualFold(x, y) {
			return true
		}
	}
	return false
}

// applyConfigFlag makes scan --config take the organisation from the
// export (what the flags give still wins) and audit it with the logs.
func (opts *scanOptions) applyConfigFlag() error {
	if opts.Config == "" {
		return nil
	}
	cfg, err := readConfigFile(opts.Config)
	if err != nil {
		return &FlagError{fmt.Errorf("--config: %w", err)}
	}
	org := heuristics.OrgFromConfig(cfg)
	if len(opts.org.AcceptedDomains)+len(opts.org.ExchangeServers)+len(opts.org.Internal) > 0 {
		org.GivenBy = "the configuration export and the flags"
	}
	if len(opts.org.AcceptedDomains) > 0 {
		org.AcceptedDomains = opts.org.AcceptedDomains
	}
	if len(opts.org.ExchangeServers) > 0 {
		org.ExchangeServers = append(org.ExchangeServers, opts.org.ExchangeServers...)
	}
	if len(opts.org.Internal) > 0 {
		org.Internal = opts.org.Internal
	}
	org.SubnetBitsV4, org.SubnetBitsV6 = opts.org.SubnetBitsV4, opts.org.SubnetBitsV6
	opts.org = org
	for _, m := range cfg.Missing {
		fmt.Fprintf(opts.IO.ErrOut, "logscan: %s lacks %s\n", safe(opts.Config), safe(m))
	}
	return nil
}
