package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/heuristics/session"
)

// textOptions tune the text report.
type textOptions struct {
	MaxProblems int  // places listed per kind of problem
	Details     bool // every value of every list, every source, every hour
}

// shownValues is how many values of a list the text report shows without
// --details; the JSON and CSV have them all.
const shownValues = 10

// shownSamples is how many sample sessions a finding shows without
// --details (the JSON and CSV have all of them, up to five).
const shownSamples = 2

// renderFindings prints what happened (the incidents, in a few lines),
// then the findings, most important first, then what the analysis
// assumed. Every string that can hold log text goes through safe.
func renderFindings(w io.Writer, a *heuristics.Report, opt textOptions) {
	if len(a.Findings) == 0 {
		var checked []string
		for _, c := range a.Checked {
			checked = append(checked, c.What)
		}
		fmt.Fprintf(w, "Findings: none (checked: %s)\n", strings.Join(checked, ", "))
	} else {
		renderWhatHappened(w, a)
		fmt.Fprintf(w, "\nFindings: %d (%s), most important first\n", len(a.Findings), severityCounts(a.Findings))
	}
	for _, f := range a.Findings {
		renderFinding(w, f, opt)
	}
	if len(a.Inventory) > 0 {
		fmt.Fprintln(w, "\nRelay inventory (internal hosts relaying through dedicated connectors, as Microsoft documents)")
		for _, p := range a.Inventory {
			fmt.Fprintf(w, "  %s\n", safe(p.Title))
			para(w, "", fmt.Sprintf("%s message(s) to %s recipient(s), %s to %s; first at %s",
				num(p.Counts["messages"]), num(p.Counts["recipients"]), fmtTime(p.First), fmtTime(p.Last), firstAt(p)))
			if len(p.Sources) > 1 {
				para(w, "", "Sources: "+sourcesText(p, opt))
			}
			for _, fact := range p.Facts {
				if len(fact.Values) > 0 {
					para(w, "", capitalise(fact.Name)+": "+factText(fact, opt))
				}
			}
		}
	}
	if len(a.Probes) > 0 {
		fmt.Fprintln(w, "\nRelay attempts refused (reported apart: bots probe every Internet-facing server)")
		for _, p := range a.Probes {
			fmt.Fprintf(w, "  %s\n", safe(p.Title))
			para(w, "", fmt.Sprintf("%s recipient(s) in %s session(s) from %s source(s), %s to %s; first at %s",
				num(p.Counts["recipients_refused"]), num(p.Counts["sessions"]), countOf(p, "sources"), fmtTime(p.First), fmtTime(p.Last), firstAt(p)))
			for _, fact := range p.Facts {
				para(w, "", capitalise(fact.Name)+": "+factText(fact, opt))
			}
			if p.Severity > heuristics.SeverityInfo {
				para(w, "Cause", p.Cause)
				for i, fix := range p.Fix {
					para(w, cond(i == 0, "Fix", ""), fmt.Sprintf("%d. %s", i+1, fix))
				}
			}
		}
	}
	if len(a.AuthAttacks) > 0 {
		fmt.Fprintln(w, "\nFailed logins (SMTP AUTH; reported apart: bots guess passwords on every server that offers AUTH)")
		for _, p := range a.AuthAttacks {
			fmt.Fprintf(w, "  [%s] %s\n", strings.ToUpper(p.Severity.String()), safe(p.Title))
			para(w, "", fmt.Sprintf("%s failed login(s) in %s session(s) from %s address(es) (%s public), %s to %s; first at %s",
				num(p.Counts["failures"]), num(p.Counts["sessions"]), num(p.Counts["sources"]), num(p.Counts["public_sources"]), fmtTime(p.First), fmtTime(p.Last), firstAt(p)))
			for _, fact := range p.Facts {
				if len(fact.Values) > 0 {
					para(w, "", capitalise(fact.Name)+": "+factText(fact, opt))
				}
			}
			if p.Severity > heuristics.SeverityInfo {
				para(w, "What", p.Explanation)
				para(w, "Cause", p.Cause)
				// One line each, as for findings: they paste whole.
				for i, fix := range p.Fix {
					fmt.Fprintf(w, "  %-8s %d. %s\n", cond(i == 0, "Fix:", ""), i+1, safe(fix))
				}
			}
		}
	}
	fmt.Fprintln(w, "\nAssumed (give the flags to be exact)")
	for _, as := range a.Assumptions {
		v := strings.Join(as.Values, ", ")
		if v == "" {
			v = "(none)"
		}
		para(w, capitalise(as.What), v+" — "+as.Source)
	}
	s := a.Sessions
	fmt.Fprintf(w, "\nSessions rebuilt: %s (%s complete, %s cut by the start or end of the logs); %s receive, %s send, %s proxied by a Front End; %s messages queued",
		num(s.Total), num(s.Complete), num(s.Incomplete), num(s.Receive), num(s.Send), num(s.Proxied), num(s.Messages))
	fmt.Fprintln(w)
	if n := s.Evicted - s.EvictedForText; n > 0 {
		fmt.Fprintf(w, "  %s sessions closed early, incomplete: more than %s were open at once in one worker (sessions that never disconnect); first at %s\n",
			num(n), num(cmp.Or(s.MaxOpenPerWorker, session.DefaultMaxOpenSessions)), safe(strings.Join(s.EvictedAt, ", ")))
	}
	if s.EvictedForText > 0 {
		fmt.Fprintf(w, "  %s sessions closed early, incomplete: the sessions open at once in one worker held more than %s MiB of text (sessions that never disconnect, with long rows); first at %s\n",
			num(s.EvictedForText), num(s.MaxOpenBytesPerWorker>>20), safe(strings.Join(s.EvictedAt, ", ")))
	}
	if s.Split > 0 {
		fmt.Fprintf(w, "  %s sessions longer than %s rows or %s MiB of text analysed in parts; first cut at %s\n",
			num(s.Split), num(session.MaxSessionRows), num(session.MaxSessionBytes>>20), safe(strings.Join(s.SplitAt, ", ")))
	}
	if s.EndpointConflicts > 0 {
		fmt.Fprintf(w, "  %s sessions split off: their session-id was in use by a session from another remote endpoint (damaged or merged logs); first at %s\n",
			num(s.EndpointConflicts), safe(strings.Join(s.EndpointConflictsAt, ", ")))
	}
	if s.FieldsTruncated > 0 {
		fmt.Fprintf(w, "  %s rows with a field over %s bytes: analysed on its first %s bytes; first at %s\n",
			num(s.FieldsTruncated), num(session.MaxFieldBytes), num(session.MaxFieldBytes), safe(strings.Join(s.TruncatedAt, ", ")))
	}
}

// maxIncidents is how many incidents the headline tells; the findings
// below hold every one.
const maxIncidents = 8

// renderWhatHappened is the first screen: each incident in one sentence,
// with its time span and size, most important first.
func renderWhatHappened(w io.Writer, a *heuristics.Report) {
	fmt.Fprintln(w, "What happened (times UTC)")
	for i, inc := range a.WhatHappened {
		if i == maxIncidents {
			fmt.Fprintf(w, "  ... and %d more, below\n", len(a.WhatHappened)-maxIncidents)
			break
		}
		wrap(w, fmt.Sprintf("  %d. ", i+1), "     ", fmt.Sprintf("[%s] %s", strings.ToUpper(inc.Severity.String()), inc.Text))
	}
}

func severityCounts(findings []heuristics.Finding) string {
	counts := map[heuristics.Severity]int{}
	for _, f := range findings {
		counts[f.Severity]++
	}
	var parts []string
	for s := heuristics.SeverityCritical; ; s-- {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
		if s == heuristics.SeverityInfo {
			break
		}
	}
	return strings.Join(parts, ", ")
}

func renderFinding(w io.Writer, f heuristics.Finding, opt textOptions) {
	fmt.Fprintf(w, "\n[%s] %s\n", strings.ToUpper(f.Severity.String()), safe(f.Title))
	var head []string
	head = append(head, "id "+f.ID, "detector "+f.Detector)
	switch {
	case len(f.Servers) > 1:
		head = append(head, "servers "+safe(strings.Join(f.Servers, ", ")))
	case f.Server != "":
		head = append(head, "server "+safe(f.Server))
	}
	if f.Connector != "" {
		head = append(head, `connector "`+safe(f.Connector)+`"`)
	}
	if f.Source != "" {
		head = append(head, "source "+safe(f.Source))
	}
	if len(f.CausedBy) > 0 {
		head = append(head, "caused by "+strings.Join(f.CausedBy, ", "))
	}
	fmt.Fprintf(w, "  %s\n", strings.Join(head, " · "))
	renderWhen(w, f, opt)
	para(w, "What", f.Explanation)
	keys := make([]string, 0, len(f.Counts))
	for k := range f.Counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var cs []string
	for _, k := range keys {
		cs = append(cs, strings.ReplaceAll(k, "_", " ")+" "+countOf(f, k))
	}
	para(w, "Counts", strings.Join(cs, ", "))
	if len(f.Sources) > 1 || len(f.Sources) == 1 && f.Source == "" {
		para(w, "Sources", sourcesText(f, opt))
	}
	for _, fact := range f.Facts {
		if len(fact.Values) == 0 || fact.Name == "caused by" && len(f.CausedBy) > 0 {
			continue // the head line names the causes
		}
		para(w, capitalise(fact.Name), factText(fact, opt))
	}
	for i, s := range f.Samples {
		if i == shownSamples && !opt.Details {
			break
		}
		label := ""
		if i == 0 {
			label = "Sessions"
		}
		fmt.Fprintf(w, "  %-8s %s session %s at %s\n", label, safe(s.Server), s.Session, safe(s.At))
	}
	para(w, "Cause", f.Cause)
	// Fixes are often commands: one line each, never wrapped, so they
	// paste whole into the Exchange Management Shell.
	for i, fix := range f.Fix {
		fmt.Fprintf(w, "  %-8s %d. %s\n", cond(i == 0, "Fix:", ""), i+1, safe(fix))
	}
}

// renderWhen prints when it happened: onset, end or "still active", the
// peak hour, and a strip of the hours between; with --details every hour.
func renderWhen(w io.Writer, f heuristics.Finding, opt textOptions) {
	tl := f.Timeline
	if tl == nil {
		if !f.First.IsZero() {
			fmt.Fprintf(w, "  seen %s to %s\n", fmtTime(f.First), fmtTime(f.Last))
		}
		return
	}
	onset := stampMin(tl.Onset, time.Time{})
	if tl.BeforeLogs {
		onset += " (first hour of the logs: may have begun earlier)"
	}
	end := " → " + stampMin(tl.End, tl.Onset)
	if tl.StillActive {
		end += ", still active at the end of the logs"
		if tl.LogsEnd.Sub(tl.End) >= time.Minute {
			end += " (" + stampMin(tl.LogsEnd, tl.End) + ")"
		}
	}
	para(w, "When", onset+end)
	if strip := hourStrip(f, tl); strip != "" {
		if tl.PeakCount > 0 {
			strip += fmt.Sprintf("; peak %s–%s: %s", hourMin(tl.Peak, tl.Onset), tl.Peak.Add(time.Hour).UTC().Format("15:04"), num(tl.PeakCount))
		}
		para(w, "", strip)
	}
	if tl.Partial {
		para(w, "", "The latest hours were past a memory cap and are left out of the hourly figures (the totals are exact).")
	}
	if opt.Details {
		for _, h := range tl.Hours {
			fmt.Fprintf(w, "  %-8s %s  sessions %s, recipients %s, failures %s\n", "", h.Hour.UTC().Format("2006-01-02 15:04"), num(h.Sessions), num(h.Recipients), num(h.Failures))
		}
	}
}

// measureName says what a timeline's measure counts for this finding.
func measureName(f heuristics.Finding, tl *heuristics.Timeline) string {
	switch tl.Measure {
	case heuristics.MeasureRecipients:
		if f.Detector == "anonymous-relay" {
			return "recipients relayed"
		}
		return "recipients"
	case heuristics.MeasureFailures:
		if f.Detector == "blocklisted" {
			return "refusals"
		}
		return "failures"
	}
	return "sessions"
}

// stripWidth is the most marks an hourly strip has; longer spans put
// several hours in one mark.
const stripWidth = 48

var stripLevels = []rune("▁▂▃▄▅▆▇█")

// hourStrip draws the measure per hour from the onset's hour to the end's:
// "recipients relayed per hour: 14h ▂▅▇█▇▆▅▄▄▃ 23h" ('·' is none).
func hourStrip(f heuristics.Finding, tl *heuristics.Timeline) string {
	if len(tl.Hours) == 0 {
		return ""
	}
	first, last := tl.Hours[0].Hour, tl.Hours[len(tl.Hours)-1].Hour
	n := int(last.Sub(first)/time.Hour) + 1
	if n < 2 {
		return ""
	}
	per := (n + stripWidth - 1) / stripWidth
	marks := make([]int64, (n+per-1)/per)
	for _, h := range tl.Hours {
		v := h.Sessions
		switch tl.Measure {
		case heuristics.MeasureRecipients:
			v = h.Recipients
		case heuristics.MeasureFailures:
			v = h.Failures
		}
		marks[int(h.Hour.Sub(first)/time.Hour)/per] += v
	}
	top := slices.Max(marks)
	var b strings.Builder
	for _, v := range marks {
		if v == 0 || top == 0 {
			b.WriteRune('·')
			continue
		}
		b.WriteRune(stripLevels[min(len(stripLevels)-1, int((v*int64(len(stripLevels))-1)/top))])
	}
	unit := "per hour"
	if per > 1 {
		unit = fmt.Sprintf("per %d hours", per)
	}
	end := first.Add(time.Duration(len(marks)*per-1) * time.Hour)
	label := func(t time.Time) string {
		if first.Format(time.DateOnly) == last.Format(time.DateOnly) {
			return t.UTC().Format("15h")
		}
		return t.UTC().Format("01-02 15h")
	}
	return fmt.Sprintf("%s %s: %s %s %s", measureName(f, tl), unit, label(first), b.String(), label(end))
}

// hourMin is "2026-11-02 14:00", or "14:00" on ref's day.
func hourMin(t, ref time.Time) string {
	t = t.UTC()
	if !ref.IsZero() && ref.UTC().Format(time.DateOnly) == t.Format(time.DateOnly) {
		return t.Format("15:04")
	}
	return t.Format("2006-01-02 15:04")
}

// stampMin is "2026-11-02 14:10:04Z", or "14:10:04Z" on ref's day.
func stampMin(t, ref time.Time) string {
	t = t.UTC()
	if !ref.IsZero() && ref.UTC().Format(time.DateOnly) == t.Format(time.DateOnly) {
		return t.Format("15:04:05Z")
	}
	return t.Format("2006-01-02 15:04:05Z")
}

// sourcesText lists a finding's sources, most recipients first, each with
// its figures and when it was seen.
func sourcesText(f heuristics.Finding, opt textOptions) string {
	n := f.Counts["sources"]
	head := num(max(n, int64(len(f.Sources))))
	var parts []string
	for i, s := range f.Sources {
		if i == shownValues && !opt.Details {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s/%s %s–%s", s.Addr, num(s.Recipients), num(s.Sessions),
			hourMin(s.First, f.First), hourMin(s.Last, s.First)))
	}
	text := head + "; by recipients (recipients/sessions, first–last): " + strings.Join(parts, ", ")
	if more := max(n, int64(len(f.Sources))) - int64(len(parts)); more > 0 {
		text += fmt.Sprintf(" (and %s more%s)", num(more), cond(opt.Details, "", "; --details or the JSON list them all"))
	}
	return text
}

// factText is a fact's values: the first shownValues without --details.
func factText(f heuristics.Fact, opt textOptions) string {
	values := f.Values
	more := int64(f.More)
	if !opt.Details && len(values) > shownValues {
		more += int64(len(values) - shownValues)
		values = values[:shownValues]
	}
	v := strings.Join(values, ", ")
	if more > 0 {
		v += fmt.Sprintf(" (and %s%s more)", cond(f.MoreAtLeast, "at least ", ""), num(more))
	}
	return v
}

// countOf is f.Counts[key] as text: "at least 65,536" when it is a lower
// bound, never a capped number shown as exact.
func countOf(f heuristics.Finding, key string) string {
	if slices.Contains(f.LowerBounds, key) {
		return "at least " + num(f.Counts[key])
	}
	return num(f.Counts[key])
}

func firstAt(f heuristics.Finding) string {
	if len(f.Samples) == 0 {
		return "(no row)"
	}
	return f.Samples[0].At
}

// para prints "  Label:  text" wrapped at 100 columns, continuation lines
// indented under the text.
func para(w io.Writer, label, text string) {
	wrap(w, fmt.Sprintf("  %-8s ", label+cond(label != "", ":", "")), strings.Repeat(" ", 11), text)
}

// wrap prints text after prefix, wrapped at 100 columns, continuation
// lines starting with indent. The text goes through safe.
func wrap(w io.Writer, prefix, indent, text string) {
	const width = 100
	line := prefix
	for i, word := range strings.Fields(safe(text)) {
		if i > 0 && len([]rune(line))+1+len([]rune(word)) > width {
			fmt.Fprintln(w, line)
			line = indent + word
			continue
		}
		if i > 0 {
			line += " "
		}
		line += word
	}
	fmt.Fprintln(w, line)
}

func cond(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
