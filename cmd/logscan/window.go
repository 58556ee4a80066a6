package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// timeWindow is --since/--until.
type timeWindow struct{ since, until time.Time }

// windowFlags are --since and --until as given, for scan and ingest alike.
type windowFlags struct{ since, until string }

func addWindowFlags(cmd *cobra.Command, w *windowFlags) {
	cmd.Flags().StringVar(&w.since, "since", "", "Only rows at or after this time (2026-11-02 or RFC 3339, UTC)")
	cmd.Flags().StringVar(&w.until, "until", "", "Only rows before this time")
}

func (w windowFlags) parse() (timeWindow, error) { return parseWindow(w.since, w.until) }

// parseWindow reads --since and --until: a date (2026-11-02, meaning its
// midnight UTC) or an RFC 3339 time.
func parseWindow(since, until string) (timeWindow, error) {
	var w timeWindow
	var err error
	if w.since, err = parseWhen("--since", since); err != nil {
		return w, err
	}
	if w.until, err = parseWhen("--until", until); err != nil {
		return w, err
	}
	if !w.since.IsZero() && !w.until.IsZero() && !w.until.After(w.since) {
		return w, &FlagError{fmt.Errorf("--until (%s) must be after --since (%s)", until, since)}
	}
	return w, nil
}

func parseWhen(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, &FlagError{fmt.Errorf("%s %q: want a date (2026-11-02) or a time (2026-11-02T13:00:00Z), UTC", flag, s)}
}
