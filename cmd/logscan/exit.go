package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/heuristics/run"
)

// Exit statuses: the contract scripts rely on (documented in README.md).
const (
	exitOK      = 0
	exitFinding = 1 // reserved: a finding at or above --fail-on
	exitError   = 2 // bad usage, or nothing could be read
	// exitInterrupted is the shell's status for a process ended by SIGINT
	// (128 + 2): Ctrl-C cancels the run and logscan exits with it.
	exitInterrupted = 130
)

// FlagError is a usage mistake; only these print the usage hint.
type FlagError struct{ err error }

func (e *FlagError) Error() string { return e.err.Error() }
func (e *FlagError) Unwrap() error { return e.err }

// FindingsError means findings at or above --fail-on exist. The report has
// been written; the status tells a batch job to alert.
type FindingsError struct {
	Count    int
	Severity heuristics.Severity
}

func (e *FindingsError) Error() string {
	return fmt.Sprintf("%d finding(s) at or above %s (--fail-on)", e.Count, e.Severity)
}

// exitCode prints err as a sentence for the user and returns the status.
// It is the only place that decides exit statuses.
func exitCode(io *IOStreams, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(io.ErrOut, "logscan: interrupted; nothing was written")
		return exitInterrupted
	}
	var nr *run.NothingReadError
	if errors.As(err, &nr) {
		msg, try := nothingReadText(nr)
		fmt.Fprintf(io.ErrOut, "logscan: %s\n", msg)
		if try != "" {
			fmt.Fprintf(io.ErrOut, "Try: %s\n", try)
		}
		return exitError
	}
	fmt.Fprintf(io.ErrOut, "logscan: %s\n", strings.TrimPrefix(err.Error(), "logscan: "))
	var fe *FlagError
	var found *FindingsError
	switch {
	case errors.As(err, &found):
		return exitFinding
	case errors.As(err, &fe):
		fmt.Fprintln(io.ErrOut, "Try: logscan --help")
	}
	return exitError
}

// nothingReadText words an empty run as a sentence the user can act on:
// what was not read. try is "" when the sentence says it all.
func nothingReadText(e *run.NothingReadError) (msg, try string) {
	switch e.Why {
	case run.NoPath:
		var parts []string
		for _, p := range e.Missing {
			parts = append(parts, safe(p)+": no such file or folder")
		}
		return strings.Join(parts, "; "), ""
	case run.NoFiles:
		return fmt.Sprintf("no files found in %s", quoteList(e.Paths)),
			`point logscan at a log folder, e.g. ...\TransportRoles\Logs\FrontEnd\ProtocolLog\SmtpReceive`
	case run.NoLogs:
		return fmt.Sprintf("none of the %d files in %s is an Exchange SMTP protocol log", e.Files, quoteList(e.Paths)),
			"protocol logging may be off: Get-ReceiveConnector | Set-ReceiveConnector -ProtocolLoggingLevel Verbose (and the same for send connectors)"
	case run.AllRejected:
		msg = fmt.Sprintf("no row could be analysed: all %s rows read from %s were rejected", num(e.Rows), quoteList(e.Paths))
		if r := e.FirstReject; r != nil {
			msg += ", the first at " + safe(r.Error())
		}
		return msg, ""
	case run.OutsideWindow:
		return fmt.Sprintf("no row could be analysed: all %s rows read from %s are outside --since/--until", num(e.Rows), quoteList(e.Paths)), ""
	case run.EmptyDataset:
		return fmt.Sprintf("the dataset %s holds no rows (a first ingest that was stopped, or one that read nothing, leaves it so)", quoteList(e.Datasets)), ""
	}
	return "the protocol logs found hold no rows",
		"check that protocol logging is Verbose on the connectors, and that the files are not still empty"
}
