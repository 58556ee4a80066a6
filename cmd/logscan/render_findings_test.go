package main

import (
	"encoding/json"
	"fmt"
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
	_, js, _ := runCLI(t, "scan", "--format", "json", sample)
	var rep jsonReport
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatal(err)
	}
	var nat heuristics.Finding
	for _, f := range rep.Findings {
		if f.Detector == "hidden-snat" {
			nat = f
		}
	}
	if nat.Detector != "hidden-snat" || nat.Facts[1].Name != "EHLO names, by sessions" || len(nat.Facts[1].Values) <= shownValues {
		t.Fatalf("first finding %s, facts %+v", nat.Detector, nat.Facts)
	}
	names := nat.Facts[1].Values
	more := fmt.Sprintf("(and %d more)", len(names)-shownValues)
	if !strings.Contains(short, more) || strings.Contains(long, more) {
		t.Errorf("the short report lacks %q, or --details has it", more)
	}
	if last := names[len(names)-1]; strings.Contains(short, last) || !strings.Contains(long, last) {
		t.Errorf("%q: in the short report, or not with --details", last)
	}
	h := nat.Timeline.Hours[0]
	line := fmt.Sprintf("%s  sessions %d, recipients %d, failures %d", h.Hour.Format("2006-01-02 15:04"), h.Sessions, h.Recipients, h.Failures)
	if !strings.Contains(long, line) || strings.Contains(short, line) {
		t.Errorf("--details lacks %q (or the short report has it)", line)
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
