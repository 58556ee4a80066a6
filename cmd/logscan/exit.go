package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/logscan/logscan/heuristics"
)

// Exit statuses: the contract scripts rely on (documented in README.md).
const (
	exitOK      = 0
	exitFinding = 1 // reserved: a finding at or above --fail-on
	exitError   = 2 // bad usage, or nothing could be read
)

// FlagError is a usage mistake; only these print the usage hint.
type FlagError struct{ err error }

func (e *FlagError) Error() string { return e.err.Error() }
func (e *FlagError) Unwrap() error { return e.err }

// NothingReadError means no input held a readable protocol log.
type NothingReadError struct {
	Msg string
	Try string
}

func (e *NothingReadError) Error() string { return e.Msg }

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
	fmt.Fprintf(io.ErrOut, "logscan: %s\n", strings.TrimPrefix(err.Error(), "logscan: "))
	var fe *FlagError
	var nr *NothingReadError
	var found *FindingsError
	switch {
	case errors.As(err, &found):
		return exitFinding
	case errors.As(err, &fe):
		fmt.Fprintln(io.ErrOut, "Try: logscan --help")
	case errors.As(err, &nr):
		if nr.Try != "" {
			fmt.Fprintf(io.ErrOut, "Try: %s\n", nr.Try)
		}
	}
	return exitError
}
