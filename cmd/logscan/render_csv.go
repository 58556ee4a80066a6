package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logscan/logscan/heuristics"
)

// csvHeader is the column list of --format csv: one row per finding, relay
// inventory entry and relay probe, for spreadsheets and ticket systems.
// Columns are only ever added at the end.
var csvHeader = []string{"section", "id", "severity", "detector", "server", "connector", "source",
	"first_seen", "last_seen", "title", "explanation", "cause", "fix", "counts", "facts", "samples",
	"timeline", "sources", "caused_by"}

// csvCellMax keeps a cell within what Excel holds (32,767 characters): a
// longer list is cut at a line with a note; the JSON has it whole.
const csvCellMax = 32_000

// renderCSV writes the analysis as CSV. Every cell goes through csvCell:
// log text must not become a formula in Excel or LibreOffice.
func renderCSV(w io.Writer, rep *scanReport) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // what Excel expects, and Exchange admins use Excel
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	a := rep.Analysis
	for _, sec := range []struct {
		name string
		list []heuristics.Finding
	}{{"finding", a.Findings}, {"relay-inventory", a.Inventory}, {"relay-probe", a.Probes}} {
		for _, f := range sec.list {
			var counts, facts, samples []string
			for _, fact := range f.Facts {
				if len(fact.Values) > 0 {
					facts = append(facts, fact.Name+": "+factText(fact, textOptions{Details: true}))
				}
			}
			for _, k := range sortedKeys(f.Counts) {
				v := strconv.FormatInt(f.Counts[k], 10)
				if slices.Contains(f.LowerBounds, k) {
					v = "at least " + v // a cap was reached: never shown as exact
				}
				counts = append(counts, k+"="+v)
			}
			for _, s := range f.Samples {
				samples = append(samples, s.Server+" "+s.Session+" "+s.At)
			}
			var sources []string
			for _, s := range f.Sources {
				line := s.Addr
				if s.EHLO != "" {
					line += " ehlo=" + s.EHLO
				}
				sources = append(sources, fmt.Sprintf("%s public=%v sessions=%d recipients=%d first=%s last=%s",
					line, s.Public, s.Sessions, s.Recipients, csvTime(s.First), csvTime(s.Last)))
			}
			server := f.Server
			if len(f.Servers) > 1 {
				server = strings.Join(f.Servers, ", ")
			}
			row := []string{sec.name, f.ID, f.Severity.String(), f.Detector, server, f.Connector, f.Source,
				csvTime(f.First), csvTime(f.Last), f.Title, f.Explanation, f.Cause, strings.Join(f.Fix, "\n"),
				strings.Join(counts, "; "), strings.Join(facts, "\n"), strings.Join(samples, "\n"),
				csvTimeline(f.Timeline), strings.Join(sources, "\n"), strings.Join(f.CausedBy, "\n")}
			for i := range row {
				row[i] = csvCell(cutCell(row[i]))
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	// A memory budget reached: one row per place, so a spreadsheet of
	// findings says when the numbers behind them were bounded.
	for _, b := range a.Budgets {
		where := b.Where
		if len(where) == 0 {
			where = []heuristics.BudgetPlace{{}} // a budget of no one place: one row
		}
		for _, p := range where {
			counts := fmt.Sprintf("limit=%d; kept_addresses=%d; other_sessions=%d", b.Limit, p.Kept, p.OtherSessions)
			if len(b.Where) == 0 || p.Kept == 0 && p.OtherSessions == 0 {
				counts = fmt.Sprintf("limit=%d", b.Limit)
			}
			if p.ResolutionMS > 0 {
				counts = fmt.Sprintf("limit=%d; length_resolution_ms=%d", b.Limit, p.ResolutionMS)
			}
			row := make([]string, len(csvHeader))
			row[0], row[2], row[4], row[5] = "budget", "info", p.Server, p.Connector
			row[9], row[10], row[13] = "Memory budget reached: "+b.Table, b.Meaning, counts
			for i := range row {
				row[i] = csvCell(cutCell(row[i]))
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvCell neutralises a cell a spreadsheet would run as a formula (OWASP
// "CSV injection"): one starting, after any blanks, with = + - @ or a tab or
// carriage return gets a leading apostrophe, which shows as text. Invalid
// UTF-8 becomes U+FFFD, and control and bidi characters from the logs
// (everything dangerousRune names but the line breaks this program puts
// between a cell's values) are shown as escapes: \x1b, \u202e.
func csvCell(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && dangerousRune(r) }) {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r == '\n' || !dangerousRune(r):
				b.WriteRune(r)
			case r < 0x80:
				fmt.Fprintf(&b, `\x%02x`, r)
			default:
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
		s = b.String()
	}
	t := strings.TrimLeft(s, " ")
	if t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0])) {
		return "'" + s
	}
	return s
}

// csvTimeline is a timeline's first line (onset, peak, end, still active,
// before the logs), then one line per hour with activity.
func csvTimeline(tl *heuristics.Timeline) string {
	if tl == nil {
		return ""
	}
	head := fmt.Sprintf("onset=%s end=%s peak=%s peak_%s=%d still_active=%v before_logs=%v logs=%s/%s",
		csvTime(tl.Onset), csvTime(tl.End), csvTime(tl.Peak), cmpOr(tl.Measure, "none"), tl.PeakCount, tl.StillActive, tl.BeforeLogs, csvTime(tl.LogsStart), csvTime(tl.LogsEnd))
	if tl.Partial {
		head += " partial=true"
	}
	lines := []string{head}
	for _, h := range tl.Hours {
		lines = append(lines, fmt.Sprintf("%s sessions=%d recipients=%d failures=%d", csvTime(h.Hour), h.Sessions, h.Recipients, h.Failures))
	}
	return strings.Join(lines, "\n")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// cutCell cuts a cell longer than csvCellMax at a line end, and says so.
func cutCell(s string) string {
	if len(s) <= csvCellMax {
		return s
	}
	cut := strings.LastIndexByte(s[:csvCellMax], '\n')
	if cut < 0 {
		cut = csvCellMax
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	rest := strings.Count(s[cut:], "\n")
	return s[:cut] + fmt.Sprintf("\n... cut here (%d more lines): a spreadsheet cell holds 32,767 characters; --format json has them all", rest)
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
