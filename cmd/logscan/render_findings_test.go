package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics"
)

// TestDetailsPrintsEverything: without --details a long list shows its
// first 10 and a count; with it, every value and every hour.
func TestDetailsPrintsEverything(t *testing.T) {
	sample := filepath.Join("..", "..", "samples", "contoso")
	_, short, _ := runCLI(t, "scan", sample)
	_, long, _ := runCLI(t, "scan", "--details", sample)
	if !strings.Contains(short, "(and 45 more)") || strings.Contains(long, "(and 45 more)") {
		t.Error("--details does not list every EHLO name behind the NAT")
	}
	if !strings.Contains(long, "yahoocom-14.outbound.protection.outlook.com (1)") {
		t.Error("--details lacks the last EHLO name")
	}
	if !strings.Contains(long, "2026-11-02 13:00  sessions 4, recipients 38, failures 0") || strings.Contains(short, "2026-11-02 13:00  sessions") {
		t.Error("--details lacks the hourly counts (or the short report has them)")
	}
	if len(strings.Split(long, "\n")) <= len(strings.Split(short, "\n")) {
		t.Error("--details is not longer")
	}
}

// TestNothingFoundNamesEveryCheck: the "no finding" line lists what every
// registered detector looks for.
func TestNothingFoundNamesEveryCheck(t *testing.T) {
	_, out, _ := runCLI(t, "scan", filepath.Join("..", "..", "parser", "testdata", "realdata", "send-2016-outbound-ndr-anonymised.log"))
	first, _, _ := strings.Cut(out, "\n")
	for _, c := range heuristics.Checks() {
		if !strings.Contains(first, c.What) {
			t.Errorf("%q does not name %q (%s)", first, c.What, c.Detector)
		}
	}
}

// TestHourStrip: one mark per hour up to stripWidth hours, then several
// hours per mark; hours without activity are '·'.
func TestHourStrip(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC)
	f := heuristics.Finding{Detector: "anonymous-relay"}
	tl := &heuristics.Timeline{Measure: heuristics.MeasureRecipients, Hours: []heuristics.HourCount{
		{Hour: t0, Recipients: 8}, {Hour: t0.Add(2 * time.Hour), Recipients: 1}, {Hour: t0.Add(3 * time.Hour), Recipients: 4}}}
	if got, want := hourStrip(f, tl), "recipients relayed per hour: 14h █·▁▄ 17h"; got != want {
		t.Errorf("strip %q, want %q", got, want)
	}
	var long []heuristics.HourCount
	for i := range 30 * 24 {
		long = append(long, heuristics.HourCount{Hour: t0.Add(time.Duration(i) * time.Hour), Recipients: int64(i % 24)})
	}
	got := hourStrip(f, &heuristics.Timeline{Measure: heuristics.MeasureRecipients, Hours: long})
	if !strings.Contains(got, "per 15 hours: 11-02 14h ") || !strings.HasSuffix(got, " 12-02 13h") || len([]rune(got)) > 120 {
		t.Errorf("30 days: %q", got)
	}
}
