package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/logscan/logscan/heuristics/inventory"
	"github.com/logscan/logscan/heuristics/run"
)

type coverageOptions struct {
	IO         *IOStreams
	Paths      []string
	Read       readFlags
	Format     string
	KnownConns []string
	known      []string
}

func newCoverageCmd(io *IOStreams, runF func(*coverageOptions) error) *cobra.Command {
	opts := &coverageOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "coverage PATH...",
		Short: "What time the logs cover, per server and log type: gaps, files cut short, connectors never seen",
		Long: `Tell what the logs cover before trusting any count drawn from them: per server
and log type (receive, send), the first and last row, every silence of more
than an hour inside that span (a missing file, a stopped transport service,
logging switched off, or a quiet night), and every file cut short — its last
line incomplete because it was copied while Exchange wrote it — or damaged.

It also lists connectors that should be in the logs and are not: those given
with --connectors (Get-ReceiveConnector | % Identity | Out-File conns.txt,
then --connectors @conns.txt), and receive connectors named like the ones
other servers log ("Default Frontend EX03" when EX01 and EX02 log theirs).
Such a connector took no session in the span, or has protocol logging off
(the default on custom connectors); the output gives the command to check.

Sessions are not rebuilt: coverage reads the rows once and is cheaper than
scan. "logscan clients" prints a short form of the same at its end.`,
		Example: `  logscan coverage D:\logs
  logscan coverage --connectors @conns.txt --format json D:\logs`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &FlagError{fmt.Errorf("coverage needs at least one PATH (a log file or folder)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if err := opts.Read.validate(); err != nil {
				return err
			}
			var err error
			if opts.known, err = expandConnectors(opts.KnownConns); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runCoverage(cmd.Context(), opts)
		},
	}
	stringEnumFlag(cmd, &opts.Format, "format", "text", []string{"text", "json"}, "Output format")
	cmd.Flags().StringArrayVar(&opts.KnownConns, "connectors", nil, "Connectors that exist (@FILE from Get-ReceiveConnector | % Identity): those never seen are listed")
	addReadFlags(cmd, &opts.Read)
	return cmd
}

func runCoverage(ctx context.Context, opts *coverageOptions) error {
	res, err := run.Coverage(ctx, run.CoverageConfig{Paths: opts.Paths, Server: opts.Read.SendLogsServer, Workers: opts.Read.Workers,
		Since: opts.Read.window.since, Until: opts.Read.window.until, Connectors: opts.known})
	if res == nil {
		return err
	}
	var nothing *run.NothingReadError
	if err != nil && !errors.As(err, &nothing) {
		return err
	}
	if opts.Format == "json" {
		out := struct {
			FormatVersion int    `json:"format_version"`
			Report        string `json:"report"`
			RowsRead      int64  `json:"rows_read"`
			RowsRejected  int64  `json:"rows_rejected"`
			jsonCoverage
			NeverSeen []jsonMissing     `json:"connectors_never_seen"`
			Datasets  []run.DatasetRead `json:"datasets,omitempty"`
		}{jsonFormatVersion, "coverage", res.Files.Totals.RowsRead, res.Files.Totals.RowsRejected, coverageJSON(res.Coverage),
			missingJSON(res.Coverage), res.Datasets}
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(out)
	} else {
		err = renderCoverageText(opts.IO.Out, res)
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

func renderCoverageText(w io.Writer, rep *run.CoverageReport) error {
	cov := rep.Coverage
	fmt.Fprintf(w, "Coverage: %s read (%s rejected) in %s (one per server, transport service and receive/send)\n",
		plural(rep.Files.Totals.RowsRead, "row", "rows"), num(rep.Files.Totals.RowsRejected), plural(int64(len(cov.Streams)), "log", "logs"))
	if len(cov.Streams) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SERVER\tSERVICE\tLOG\tFILES\tROWS\tFIRST\tLAST\tGAPS > 1h\tFILES CUT")
		for _, s := range cov.Streams {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%d\n", serverName(s.Server), roleName(s.Role), s.LogType, s.Files, num(s.Rows),
				fmtTime(s.First), fmtTime(s.Last), len(s.Gaps), len(s.Issues))
		}
		tw.Flush()
	}
	var gaps, cuts []string
	for _, s := range cov.Streams {
		for _, g := range s.Gaps {
			gaps = append(gaps, fmt.Sprintf("%s %s %s: no row from %s to %s (%s)", serverName(s.Server), roleName(s.Role), s.LogType, fmtTime(g.From), fmtTime(g.To), g.Duration().Round(time.Second)))
		}
		for _, is := range s.Issues {
			cuts = append(cuts, fmt.Sprintf("%s %s %s: %s", serverName(s.Server), roleName(s.Role), s.LogType, issueText(is)))
		}
	}
	for _, is := range cov.Unattributed {
		cuts = append(cuts, "server unknown: "+issueText(is))
	}
	if len(gaps) > 0 {
		fmt.Fprintf(w, "\nGaps: silences of more than %s inside a log's span (a missing file, a stopped transport service, logging off, or no traffic)\n", inventory.GapThreshold)
		for _, g := range gaps {
			fmt.Fprintf(w, "  %s\n", g)
		}
	}
	if len(cuts) > 0 {
		fmt.Fprintln(w, "\nFiles cut short or damaged (copied while Exchange was writing them, or the copy was interrupted; the rows before are kept)")
		for _, c := range cuts {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	if len(cov.Missing) > 0 {
		fmt.Fprintln(w, "\nConnectors never seen: unused in the span their server's logs cover, or protocol logging is off on them (the default on custom connectors)")
		for _, m := range cov.Missing {
			why := "given by --connectors"
			if !m.Given {
				why = "named like the connectors " + safeJoin(m.LikeOn, " and ") + " log"
			}
			if !m.ServerLogged {
				fmt.Fprintf(w, "  %s (%s; %s): no %s logs of its server were read\n", safe(m.Connector), m.LogType, why, m.LogType)
				continue
			}
			fmt.Fprintf(w, "  %s (%s; %s)%s\n      check: %s\n", safe(m.Connector), m.LogType, why, spanOfServer(cov, m.Server, m.LogType), loggingCheck(m.Connector))
		}
	}
	if len(cov.Connectors) > 0 {
		fmt.Fprintln(w, "\nConnectors seen")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SERVER\tLOG\tCONNECTOR\tROWS\tFIRST\tLAST")
		for _, c := range cov.Connectors {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", serverName(c.Server), c.LogType, safe(c.Connector), num(c.Rows), fmtTime(c.First), fmtTime(c.Last))
		}
		tw.Flush()
		if cov.ConnectorsCapped {
			fmt.Fprintln(w, "  (more connector names than logscan keeps; the rest are counted in their server's rows only)")
		}
	}
	return nil
}

// roleName is the transport service a log belongs to, "-" when the path
// does not say (2007/2010 logs, flat copies).
func roleName(r string) string {
	if r == "" {
		return "-"
	}
	return r
}

func issueText(is inventory.FileIssue) string {
	at := safe(is.File)
	if is.Line > 0 {
		at += fmt.Sprintf(":%d", is.Line)
	}
	switch is.Kind {
	case "cut":
		return at + ": last line cut short"
	case "no-line-end":
		return at + ": last row has no line end (kept; it may be incomplete)"
	}
	return at + ": " + safe(is.Detail)
}

type jsonGap struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Seconds float64   `json:"seconds"`
}

type jsonIssue struct {
	File   string `json:"file"`
	Line   int64  `json:"line,omitempty"`
	Kind   string `json:"kind"` // cut, no-line-end, damaged
	Detail string `json:"detail"`
}

type jsonStream struct {
	Server  string      `json:"server"`
	Role    string      `json:"service"` // FrontEnd, Hub, Edge, or "" when the path does not say
	LogType string      `json:"log_type"`
	Files   int         `json:"files"`
	Rows    int64       `json:"rows"`
	First   time.Time   `json:"first"`
	Last    time.Time   `json:"last"`
	Gaps    []jsonGap   `json:"gaps"`
	Issues  []jsonIssue `json:"files_cut"`
}

type jsonConnRows struct {
	Server    string    `json:"server"`
	LogType   string    `json:"log_type"`
	Connector string    `json:"connector"`
	Rows      int64     `json:"rows"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
}

type jsonMissing struct {
	Server       string   `json:"server"`
	LogType      string   `json:"log_type"`
	Connector    string   `json:"connector"`
	Given        bool     `json:"given"`
	LikeOn       []string `json:"named_like_on"`
	ServerLogged bool     `json:"server_logs_read"`
}

type jsonCoverage struct {
	GapSeconds       float64        `json:"gap_threshold_seconds"`
	Streams          []jsonStream   `json:"streams"`
	Connectors       []jsonConnRows `json:"connectors_seen"`
	ConnectorsCapped bool           `json:"connectors_capped,omitempty"`
	Unattributed     []jsonIssue    `json:"files_cut_server_unknown"`
}

func coverageJSON(c *inventory.CoverageResult) jsonCoverage {
	out := jsonCoverage{GapSeconds: inventory.GapThreshold.Seconds(), Streams: []jsonStream{}, Connectors: []jsonConnRows{},
		ConnectorsCapped: c.ConnectorsCapped, Unattributed: []jsonIssue{}}
	issue := func(is inventory.FileIssue) jsonIssue { return jsonIssue{is.File, is.Line, is.Kind, is.Detail} }
	for _, s := range c.Streams {
		js := jsonStream{Server: s.Server, Role: s.Role, LogType: s.LogType, Files: s.Files, Rows: s.Rows, First: s.First, Last: s.Last, Gaps: []jsonGap{}, Issues: []jsonIssue{}}
		for _, g := range s.Gaps {
			js.Gaps = append(js.Gaps, jsonGap{g.From, g.To, g.Duration().Seconds()})
		}
		for _, is := range s.Issues {
			js.Issues = append(js.Issues, issue(is))
		}
		out.Streams = append(out.Streams, js)
	}
	for _, is := range c.Unattributed {
		out.Unattributed = append(out.Unattributed, issue(is))
	}
	for _, r := range c.Connectors {
		out.Connectors = append(out.Connectors, jsonConnRows{r.Server, r.LogType, r.Connector, r.Rows, r.First, r.Last})
	}
	return out
}

func missingJSON(c *inventory.CoverageResult) []jsonMissing {
	out := []jsonMissing{}
	for _, m := range c.Missing {
		out = append(out, jsonMissing{m.Server, m.LogType, m.Connector, m.Given, append([]string{}, m.LikeOn...), m.ServerLogged})
	}
	return out
}
