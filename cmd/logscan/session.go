package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/heuristics/run"
	"github.com/logscan/logscan/heuristics/session"
)

type sessionOptions struct {
	IO             *IOStreams
	Paths          []string
	ID             string
	Server         string
	At             string
	NoFollow       bool
	Format         string
	Workers        int
	SendLogsServer string
	Accepted       []string

	id       uint64
	at       *session.Ref
	accepted []string
}

func newSessionCmd(io *IOStreams, runF func(*sessionOptions) error) *cobra.Command {
	opts := &sessionOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "session [PATH...] (--id SESSIONID [--server NAME] | --at FILE:LINE)",
		Short: "Print one session as a transcript, with what logscan concluded from it",
		Long: `Print every row of one SMTP session as the log holds it — commands, replies and
information rows, in sequence order, across the files it spans — then what
logscan concluded: the client, TLS, how it authenticated, what it was allowed
(relay), each message with its recipients and their replies, and how it
ended.

Name the session by its id (the 16 hex digits of the session-id column) and,
when several servers' logs are read, its server; or by one of its rows,
FILE:LINE, as every finding prints its samples. With --at and no PATH, the
folder of FILE is read.

A session that a Front End proxied to a Hub is followed through XPROXYFROM
SID=: the client's session on the Front End, the Front End's proxy session
(its send log) and the Hub's session are all printed, client side first,
from whichever of them is asked for (--no-follow prints only that one).

Every byte taken from the logs is escaped for the terminal (\x1b, \u202e).`,
		Example: `  logscan session samples/contoso --id 08DE1A30098945F8 --server EX03
  logscan session --at samples/contoso/EX03/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110200-1.LOG:6
  logscan session D:\logs --id 08DD4F1A2B3C4D5E --server EX01 --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if err := opts.resolve(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runSession(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.ID, "id", "", "Session-id: 16 hex digits, as the logs print it")
	cmd.Flags().StringVar(&opts.Server, "server", "", "The server the session is on (session-ids are unique per server only)")
	cmd.Flags().StringVar(&opts.At, "at", "", "A row of the session, FILE:LINE, as findings print their samples")
	cmd.Flags().BoolVar(&opts.NoFollow, "no-follow", false, "Do not follow XPROXYFROM to the Front End and Hub sessions of the same message")
	stringEnumFlag(cmd, &opts.Format, "format", "text", []string{"text", "json"}, "Output format")
	cmd.Flags().IntVar(&opts.Workers, "workers", 0, "Files read in parallel (0: one per CPU)")
	cmd.Flags().StringVar(&opts.SendLogsServer, "send-logs-server", "", "Server name for send logs whose folder does not name one (what scan calls --server)")
	cmd.Flags().StringArrayVar(&opts.Accepted, "accepted-domains", nil, "Accepted domains, to tell relayed recipients (default: the parent domain of the server's 220 banner)")
	return cmd
}

func (opts *sessionOptions) resolve() error {
	if opts.Workers < 0 {
		return &FlagError{fmt.Errorf("--workers must be 0 (one per CPU) or more, not %d", opts.Workers)}
	}
	switch {
	case opts.ID == "" && opts.At == "":
		return &FlagError{errors.New("session needs --id SESSIONID or --at FILE:LINE")}
	case opts.ID != "" && opts.At != "":
		return &FlagError{errors.New("give --id or --at, not both")}
	case opts.At != "" && opts.Server != "":
		return &FlagError{errors.New("--at names the row, and so the server: --server is not needed")}
	case opts.ID != "" && len(opts.Paths) == 0:
		return &FlagError{errors.New("session --id needs at least one PATH (a log file or folder)")}
	}
	if opts.ID != "" {
		id, err := parseSessionID(opts.ID)
		if err != nil {
			return err
		}
		opts.id = id
	}
	if opts.At != "" {
		i := strings.LastIndexByte(opts.At, ':')
		line, err := strconv.ParseInt(opts.At[i+1:], 10, 64)
		if i <= 0 || err != nil || line < 1 {
			return &FlagError{fmt.Errorf("--at %q: want FILE:LINE, e.g. RECV2026110200-1.LOG:6", opts.At)}
		}
		opts.at = &session.Ref{File: opts.At[:i], Line: line}
	}
	list, err := expandList("accepted-domains", opts.Accepted)
	if err == nil {
		opts.accepted, err = heuristics.ParseAcceptedDomains(list)
	}
	if err != nil {
		return &FlagError{fmt.Errorf("--accepted-domains: %w", err)}
	}
	return nil
}

// parseSessionID reads 1 to 16 hex digits, with or without 0x.
func parseSessionID(s string) (uint64, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	id, err := strconv.ParseUint(t, 16, 64)
	if err != nil || t == "" || len(t) > 16 {
		return 0, &FlagError{fmt.Errorf("--id %q: want the session-id's 16 hex digits, e.g. 08DE1A30098945F8", s)}
	}
	return id, nil
}

func runSession(ctx context.Context, opts *sessionOptions) error {
	res, err := run.Session(ctx, run.SessionConfig{Paths: opts.Paths, Server: opts.SendLogsServer, Workers: opts.Workers,
		ID: opts.id, OnServer: opts.Server, At: opts.at, Follow: !opts.NoFollow})
	var nf *run.SessionNotFoundError
	if errors.As(err, &nf) {
		if res != nil && res.Files != nil {
			notices(opts.IO, res.Files, nil)
		}
		return sessionNotFound(nf)
	}
	if err != nil {
		return err
	}
	if len(res.Candidates) > 1 {
		var where []string
		for _, c := range res.Candidates {
			where = append(where, fmt.Sprintf("%s (%s log, first row at %s)", serverName(c.Session.Server), c.Session.LogType, safe(c.Session.First.String())))
		}
		return fmt.Errorf("session %016X is in %d logs: %s. Give --server, or --at one of those rows", opts.id, len(res.Candidates), strings.Join(where, "; "))
	}
	if opts.Format == "json" {
		err = renderSessionJSON(opts.IO.Out, res, opts.accepted)
	} else {
		err = renderSessionText(opts.IO.Out, res, opts.accepted)
	}
	if err != nil {
		return err
	}
	notices(opts.IO, res.Files, nil)
	return nil
}

// sessionNotFound words "no such session" as a sentence to act on.
func sessionNotFound(e *run.SessionNotFoundError) error {
	switch {
	case e.At != nil:
		return fmt.Errorf("no row at %s: check the file name (as findings print it, relative to where logscan ran) and the line", safe(e.At.String()))
	case e.Server != "":
		return fmt.Errorf("no session %016X on %s in %s: check --server, or give the folder holding that server's logs", e.ID, safe(e.Server), quoteList(e.Paths))
	}
	return fmt.Errorf("no session %016X in %s: session-ids are the 16 hex digits of the logs' session-id column", e.ID, quoteList(e.Paths))
}
