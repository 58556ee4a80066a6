package main

import (
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/parser"
)

// The HTML report is one self-contained page: styles inline, charts as
// inline SVG, nothing fetched when it is viewed (a Content-Security-Policy
// forbids it), readable without scripts (it has none) and printable. Every
// text from the logs goes through safe (control characters, escape
// sequences and bidi overrides made visible) and then html/template's
// contextual escaping. It holds aggregated series and the first rows of
// long lists: the full lists are in the JSON and CSV.

//go:embed html/report.html.tmpl
var reportTemplateText string

//go:embed html/report.css
var reportCSS string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num": num,
	"css": func() template.CSS { return template.CSS(reportCSS) },
}).Parse(reportTemplateText))

// HTML report limits: the page shows the first rows, the JSON holds all.
const (
	htmlShown       = 10 // values of a fact, sources of a finding
	htmlRows        = 50 // rows of a table
	htmlCharts      = 10 // incidents with a chart
	htmlServerChart = 12 // servers in the sessions chart
	htmlConnLines   = 5  // connectors drawn per server, the rest as "other"
	htmlPlaces      = 5  // places listed per kind of problem
	htmlSamples     = 3  // sample sessions per finding
)

type htmlPage struct {
	Title        string
	Span         string
	Facts        []htmlKV
	Incidents    []htmlIncident
	SevCounts    string
	Findings     []htmlFinding
	Checked      []htmlKV
	ServerChart  template.HTML
	Connectors   htmlTable
	Inventory    htmlTable
	Probes       htmlTable
	AuthAttacks  htmlTable
	Problems     []htmlProblem
	Damaged      []string
	Assumptions  []htmlAssumption
	Budgets      []htmlBudget
	HasFindings  bool
	NoRowsReason string
}

type htmlKV struct{ K, V string }

// htmlBudget is a memory budget reached: which table, its bound and what
// stays exact, and where it cut.
type htmlBudget struct {
	What   string
	Places []string
}

type htmlIncident struct {
	Severity string
	Text     string
	Links    []htmlLink
	Chart    template.HTML
}

type htmlLink struct{ ID, Title string }

type htmlFinding struct {
	ID, Severity, Title, Head string
	When                      []string
	What, Cause               string
	Counts                    []htmlKV
	Sources                   htmlTable
	Facts                     []htmlKV
	Samples                   []string
	Fix                       []string
	CausedBy                  []htmlLink
}

type htmlTable struct {
	Head []string
	Rows [][]string
	More string // "and 12 more: ..." when cut
}

type htmlProblem struct {
	What   string
	Places []string
	More   string
}

type htmlAssumption struct{ What, Values, Source string }

// renderHTML writes the report as one HTML page.
func renderHTML(w io.Writer, rep *scanReport) error {
	page := buildHTMLPage(rep)
	return reportTemplate.Execute(w, page)
}

func buildHTMLPage(rep *scanReport) *htmlPage {
	a, sum, res := rep.Analysis, rep.Summary, rep.Result
	page := &htmlPage{Title: "logscan report"}
	if !sum.First.IsZero() {
		page.Span = fmt.Sprintf("%s → %s (UTC)", sum.First.UTC().Format("2006-01-02 15:04"), sum.Last.UTC().Format("2006-01-02 15:04"))
		page.Title += ", " + page.Span
	}
	tot := res.Totals
	page.Facts = []htmlKV{
		{"Files", fmt.Sprintf("%s read as protocol logs, %s as connectivity logs, %s skipped, %s failed (%.1f MB)", num(int64(res.Count(parser.FileParsed)-connectivityLogs(res))),
			num(int64(connectivityLogs(res))), num(int64(res.Count(parser.FileSkipped))), num(int64(res.Count(parser.FileFailed))), float64(tot.Bytes)/1e6)},
		{"Rows", fmt.Sprintf("%s read, %s kept, %s rejected", num(tot.RowsRead), num(tot.RowsEmitted), num(tot.RowsRejected))},
		{"Sessions", fmt.Sprintf("%s on %s, %s", num(sum.Sessions), plural(int64(len(sum.Servers)), "server", "servers"),
			plural(int64(len(sum.Connectors)), "connector", "connectors"))},
	}
	var servers []string
	for _, s := range sum.Servers {
		name := s.Name
		if name == "" {
			name = "(unknown)"
		}
		servers = append(servers, safe(name))
	}
	if len(servers) > 0 {
		page.Facts = append(page.Facts, htmlKV{"Servers", strings.Join(servers, ", ")})
	}

	byID := map[string]*heuristics.Finding{}
	for i := range a.Findings {
		byID[a.Findings[i].ID] = &a.Findings[i]
	}
	for i, inc := range a.WhatHappened {
		hi := htmlIncident{Severity: inc.Severity.String(), Text: safe(inc.Text)}
		var fs []*heuristics.Finding
		for _, id := range inc.Findings {
			if f := byID[id]; f != nil {
				hi.Links = append(hi.Links, htmlLink{ID: id, Title: safe(f.Title)})
				fs = append(fs, f)
			}
		}
		if i < htmlCharts {
			hi.Chart = incidentChart(fs, sum)
		}
		page.Incidents = append(page.Incidents, hi)
	}
	page.HasFindings = len(a.Findings) > 0
	page.SevCounts = severityCounts(a.Findings)
	for _, f := range a.Findings {
		page.Findings = append(page.Findings, htmlFindingOf(f, byID))
	}
	for _, c := range a.Checked {
		page.Checked = append(page.Checked, htmlKV{c.Detector, safe(c.What)})
	}
	page.ServerChart = serverChart(sum)
	page.Connectors = connectorTable(sum)
	page.Inventory = findingTable(a.Inventory, "recipients")
	page.Probes = findingTable(a.Probes, "refused")
	page.AuthAttacks = findingTable(a.AuthAttacks, "failed")
	for _, f := range res.Files {
		if f.Err != nil {
			page.Damaged = append(page.Damaged, safe(f.Err.Error()))
		}
	}
	for _, g := range res.Problems {
		page.Problems = append(page.Problems, htmlProblemOf(g))
	}
	for _, as := range a.Assumptions {
		v := make([]string, len(as.Values))
		for i, s := range as.Values {
			v[i] = safe(s)
		}
		page.Assumptions = append(page.Assumptions, htmlAssumption{What: safe(as.What), Values: strings.Join(v, ", "), Source: safe(as.Source)})
	}
	for _, b := range a.Budgets {
		hb := htmlBudget{What: fmt.Sprintf("%s, budget %s: %s", safe(b.Table), num(b.Limit), safe(b.Meaning))}
		for _, p := range b.Where {
			hb.Places = append(hb.Places, budgetPlaceText(p))
		}
		page.Budgets = append(page.Budgets, hb)
	}
	return page
}

func htmlFindingOf(f heuristics.Finding, byID map[string]*heuristics.Finding) htmlFinding {
	h := htmlFinding{ID: f.ID, Severity: f.Severity.String(), Title: safe(f.Title), What: safe(f.Explanation), Cause: safe(f.Cause)}
	head := []string{"detector " + f.Detector}
	switch {
	case len(f.Servers) > 1:
		head = append(head, "servers "+safe(strings.Join(f.Servers, ", ")))
	case f.Server != "":
		head = append(head, "server "+safe(f.Server))
	}
	if f.Connector != "" {
		head = append(head, "connector "+safe(f.Connector))
	}
	if f.Source != "" {
		head = append(head, "source "+safe(f.Source))
	}
	h.Head = strings.Join(head, " · ")
	for _, id := range f.CausedBy {
		t := id
		if c := byID[id]; c != nil {
			t = safe(c.Title)
		}
		h.CausedBy = append(h.CausedBy, htmlLink{ID: id, Title: t})
	}
	if tl := f.Timeline; tl != nil {
		onset := stampMin(tl.Onset, time.Time{})
		if tl.BeforeLogs {
			onset += " (first hour of the logs: may have begun earlier)"
		}
		end := stampMin(tl.End, tl.Onset)
		if tl.StillActive {
			end += ", still active at the end of the logs"
		}
		h.When = append(h.When, onset+" → "+end)
		if tl.PeakCount > 0 {
			h.When = append(h.When, fmt.Sprintf("peak %s–%s: %s %s", hourMin(tl.Peak, tl.Onset),
				tl.Peak.Add(time.Hour).UTC().Format("15:04"), num(tl.PeakCount), measureName(f, tl)))
		}
		if tl.Partial {
			h.When = append(h.When, "the latest hours were past a memory cap: left out of the hourly figures (the totals are exact)")
		}
	} else if !f.First.IsZero() {
		h.When = append(h.When, fmtTime(f.First)+" → "+fmtTime(f.Last))
	}
	keys := make([]string, 0, len(f.Counts))
	for k := range f.Counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h.Counts = append(h.Counts, htmlKV{strings.ReplaceAll(k, "_", " "), countOf(f, k)})
	}
	if len(f.Sources) > 1 || len(f.Sources) == 1 && f.Source == "" {
		h.Sources.Head = []string{"address", "EHLO", "public", "recipients", "sessions", "first", "last"}
		for i, s := range f.Sources {
			if i == htmlShown {
				break
			}
			h.Sources.Rows = append(h.Sources.Rows, []string{safe(s.Addr), safe(s.EHLO), cond(s.Public, "yes", "no"),
				num(s.Recipients), num(s.Sessions), stampMin(s.First, time.Time{}), stampMin(s.Last, s.First)})
		}
		if n := max(f.Counts["sources"], int64(len(f.Sources))) - int64(len(h.Sources.Rows)); n > 0 {
			h.Sources.More = fmt.Sprintf("and %s more sources (the JSON and CSV list them all)", num(n))
		}
	}
	for _, fact := range f.Facts {
		if len(fact.Values) == 0 || fact.Name == "caused by" && len(f.CausedBy) > 0 {
			continue
		}
		values := fact.Values
		more := int64(fact.More)
		if len(values) > htmlShown {
			more += int64(len(values) - htmlShown)
			values = values[:htmlShown]
		}
		v := make([]string, len(values))
		for i, s := range values {
			v[i] = safe(s)
		}
		text := strings.Join(v, ", ")
		if more > 0 {
			text += fmt.Sprintf(" (and %s%s more)", cond(fact.MoreAtLeast, "at least ", ""), num(more))
		}
		h.Facts = append(h.Facts, htmlKV{capitalise(safe(fact.Name)), text})
	}
	for i, s := range f.Samples {
		if i == htmlSamples {
			break
		}
		h.Samples = append(h.Samples, fmt.Sprintf("%s session %s at %s", safe(s.Server), safe(s.Session), safe(s.At)))
	}
	for _, fx := range f.Fix {
		h.Fix = append(h.Fix, safe(fx))
	}
	return h
}

// incidentChart draws each finding of an incident that has hours in one
// panel, all on one time axis: the incident's span with some margin,
// within the logs.
func incidentChart(fs []*heuristics.Finding, sum heuristics.SummaryResult) template.HTML {
	var first, last time.Time
	for _, f := range fs {
		if f.Timeline == nil || len(f.Timeline.Hours) == 0 {
			continue
		}
		h := f.Timeline.Hours
		if first.IsZero() || h[0].Hour.Before(first) {
			first = h[0].Hour
		}
		if h[len(h)-1].Hour.After(last) {
			last = h[len(h)-1].Hour
		}
	}
	if first.IsZero() {
		return ""
	}
	pad := max(2*time.Hour, last.Sub(first)/10)
	first, last = first.Add(-pad), last.Add(pad)
	if !sum.First.IsZero() {
		first = later(first, sum.First)
		last = earlier(last, sum.Last)
	}
	axis := newTimeAxis(first, last)
	var panels []chartPanel
	for _, f := range fs {
		if f.Timeline == nil || len(f.Timeline.Hours) == 0 {
			continue
		}
		names := seriesNames(f.Detector)
		vals := [3][]float64{make([]float64, axis.Bins), make([]float64, axis.Bins), make([]float64, axis.Bins)}
		var any [3]bool
		for _, h := range f.Timeline.Hours {
			b := axis.bin(h.Hour)
			if b < 0 {
				continue
			}
			for k, v := range [3]int64{h.Recipients, h.Sessions, h.Failures} {
				vals[k][b] += float64(v)
				any[k] = any[k] || v != 0
			}
		}
		pn := chartPanel{Title: fmt.Sprintf("[%s] %s", strings.ToUpper(f.Severity.String()), cutRunes(safe(f.Title), 90))}
		for k := range vals {
			if any[k] {
				pn.Series = append(pn.Series, chartSeries{Name: names[k], Values: vals[k]})
			}
		}
		if len(pn.Series) > 0 {
			panels = append(panels, pn)
		}
	}
	svg, err := drawChart(axis, panels, "per-hour activity of the incident's findings")
	if err != nil {
		return template.HTML("<p>chart not drawn: " + template.HTMLEscapeString(err.Error()) + "</p>")
	}
	return svg
}

// seriesNames says what recipients, sessions and failures count for a
// detector (README, "Findings").
func seriesNames(detector string) [3]string {
	switch detector {
	case "anonymous-relay":
		return [3]string{"recipients relayed", "sessions that relayed", "failures"}
	case "hidden-snat":
		return [3]string{"recipients relayed through it", "sessions", "failures"}
	case "blocklisted":
		return [3]string{"recipients refused", "sessions with a refusal", "blocklist rejections"}
	}
	return [3]string{"recipients", "sessions", "failures"}
}

// serverChart draws sessions per hour for the whole span: one panel per
// server (the busiest), one line per connector (the busiest, the rest as
// one "other" line).
func serverChart(sum heuristics.SummaryResult) template.HTML {
	if sum.First.IsZero() {
		return ""
	}
	axis := newTimeAxis(sum.First, sum.Last)
	type srv struct {
		name  string
		total int64
		conns []heuristics.ConnectorSummary
	}
	idx := map[string]int{}
	var servers []*srv
	for _, c := range sum.Connectors {
		i, ok := idx[c.Server]
		if !ok {
			i = len(servers)
			idx[c.Server] = i
			servers = append(servers, &srv{name: c.Server})
		}
		servers[i].total += c.Sessions
		servers[i].conns = append(servers[i].conns, c)
	}
	slices.SortStableFunc(servers, func(a, b *srv) int { return cmp.Or(cmp.Compare(b.total, a.total), cmp.Compare(a.name, b.name)) })
	var panels []chartPanel
	for i, s := range servers {
		if i == htmlServerChart {
			break
		}
		conns := slices.Clone(s.conns)
		slices.SortStableFunc(conns, func(a, b heuristics.ConnectorSummary) int {
			return cmp.Or(cmp.Compare(b.Sessions, a.Sessions), cmp.Compare(a.LogType, b.LogType), cmp.Compare(a.Name, b.Name))
		})
		name := s.name
		if name == "" {
			name = "(server unknown)"
		}
		pn := chartPanel{Title: cutRunes(safe(name), 60) + ": sessions"}
		var other []float64
		for j, c := range conns {
			vals := make([]float64, axis.Bins)
			for _, h := range c.Hours {
				if b := axis.bin(h.Hour); b >= 0 {
					vals[b] += float64(h.Sessions)
				}
			}
			if j < htmlConnLines {
				pn.Series = append(pn.Series, chartSeries{Name: c.LogType + ": " + cutRunes(safe(c.Name), 40), Values: vals})
				continue
			}
			if other == nil {
				other = make([]float64, axis.Bins)
			}
			for b, v := range vals {
				other[b] += v
			}
		}
		if other != nil {
			pn.Series = append(pn.Series, chartSeries{Name: fmt.Sprintf("%d other connectors", len(conns)-htmlConnLines), Values: other})
		}
		panels = append(panels, pn)
	}
	svg, err := drawChart(axis, panels, "sessions per hour per server and connector")
	if err != nil {
		return template.HTML("<p>chart not drawn: " + template.HTMLEscapeString(err.Error()) + "</p>")
	}
	return svg
}

func connectorTable(sum heuristics.SummaryResult) htmlTable {
	conns := slices.Clone(sum.Connectors)
	slices.SortStableFunc(conns, func(a, b heuristics.ConnectorSummary) int {
		return cmp.Or(cmp.Compare(b.Sessions, a.Sessions), cmp.Compare(a.Server, b.Server), cmp.Compare(a.LogType, b.LogType), cmp.Compare(a.Name, b.Name))
	})
	t := htmlTable{Head: []string{"server", "connector", "log", "sessions", "clients", "median length", "p95 length", "busiest clients"}}
	for i, c := range conns {
		if i == htmlRows {
			t.More = fmt.Sprintf("and %s more connectors (the text and JSON reports list them all)", num(int64(len(conns)-htmlRows)))
			break
		}
		var top []string
		for _, r := range c.TopRemote {
			top = append(top, fmt.Sprintf("%s (%s)", r.Addr, num(r.Sessions)))
		}
		clients, median, p95 := num(c.Clients), seconds(c.MedianSeconds), seconds(c.P95Seconds)
		if c.OtherSessions > 0 { // a memory budget reached: what is exact and what is not
			clients = fmt.Sprintf("more than %s (%s kept)", num(c.Clients), num(c.Clients))
			top = append(top, fmt.Sprintf("(of the %s lowest addresses; %s sessions from more addresses counted together)", num(c.Clients), num(c.OtherSessions)))
		}
		if c.LengthResolutionMS > 0 {
			median += fmt.Sprintf(" (%d ms buckets)", c.LengthResolutionMS)
			p95 += fmt.Sprintf(" (%d ms buckets)", c.LengthResolutionMS)
		}
		t.Rows = append(t.Rows, []string{safe(c.Server), safe(c.Name), c.LogType, num(c.Sessions), clients,
			median, p95, strings.Join(top, ", ")})
	}
	return t
}

// findingTable lists findings kept apart (inventory, probes, failed
// logins) one row each.
func findingTable(fs []heuristics.Finding, _ string) htmlTable {
	t := htmlTable{Head: []string{"severity", "what", "server", "connector", "source", "counts", "first", "last"}}
	for i, f := range fs {
		if i == htmlRows {
			t.More = fmt.Sprintf("and %s more (the JSON and CSV list them all)", num(int64(len(fs)-htmlRows)))
			break
		}
		keys := make([]string, 0, len(f.Counts))
		for k := range f.Counts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var cs []string
		for _, k := range keys {
			cs = append(cs, strings.ReplaceAll(k, "_", " ")+" "+countOf(f, k))
		}
		src := f.Source
		if src == "" && len(f.Sources) > 0 {
			src = fmt.Sprintf("%s sources", num(max(f.Counts["sources"], int64(len(f.Sources)))))
		}
		t.Rows = append(t.Rows, []string{f.Severity.String(), safe(f.Title), safe(f.Server), safe(f.Connector), safe(src),
			strings.Join(cs, ", "), stampMin(f.First, time.Time{}), stampMin(f.Last, f.First)})
	}
	return t
}

func htmlProblemOf(g parser.KindCount) htmlProblem {
	var what string
	switch {
	case g.Severity == parser.Rejected:
		what = plural(g.Count, "row", "rows") + " rejected"
	case g.Kind == parser.ErrBadEndpoint:
		what = plural(g.Count, "endpoint", "endpoints") + " in kept rows"
	case g.Severity == parser.Warning:
		what = plural(g.Count, "row", "rows") + " kept with a warning"
	default:
		what = plural(g.Count, "header line", "header lines")
	}
	what += ": " + safe(g.Kind.Error())
	if g.Files > 1 {
		what += fmt.Sprintf(" (in %d files)", g.Files)
	}
	p := htmlProblem{What: what}
	shown := g.First[:min(len(g.First), htmlPlaces)]
	for _, e := range shown {
		detail := strings.TrimPrefix(strings.TrimPrefix(e.Err.Error(), g.Kind.Error()), ": ")
		loc := (&parser.Error{File: e.File, Line: e.Line, Column: e.Column, Err: errors.New(detail)}).Error()
		if detail == "" {
			loc = strings.TrimSuffix(loc, ": ")
		}
		p.Places = append(p.Places, safe(loc))
	}
	if n := int64(len(shown)); n < g.Count {
		p.More = fmt.Sprintf("and %s more (--format json lists the first %d of each kind per file)", num(g.Count-n), parser.DefaultMaxProblems)
	}
	return p
}

func seconds(s float64) string {
	switch {
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1000)
	case s < 120:
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.1f min", s/60)
}

// cutRunes cuts s to n runes, marking the cut.
func cutRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
