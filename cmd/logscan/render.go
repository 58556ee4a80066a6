package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/heuristics/run"
	"github.com/logscan/logscan/parser"
)

// jsonFormatVersion changes only when a field is removed or changes meaning.
const jsonFormatVersion = 1

// safe makes log-derived text (attacker-controlled: EHLO names, addresses,
// file names) harmless on a terminal: control characters, escape sequences,
// bidi overrides and invalid UTF-8 are shown as Go escapes.
func safe(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

func quoteList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = safe(p)
	}
	return strings.Join(q, ", ")
}

func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") }

func renderText(w io.Writer, rep *scanReport, opt textOptions) error {
	res, sum, tot := rep.Result, rep.Summary, rep.Result.Totals
	if rep.Analysis != nil {
		renderFindings(w, rep.Analysis, opt)
		fmt.Fprintln(w, "\nSummary")
	}
	if len(res.Files) > 0 || len(rep.Datasets) == 0 {
		conn := connectivityLogs(res)
		fmt.Fprintf(w, "Files:     %d read as protocol logs, %d empty, %d skipped, %d failed (%.1f MB)\n",
			res.Count(parser.FileParsed)-conn, res.Count(parser.FileEmpty), res.Count(parser.FileSkipped), res.Count(parser.FileFailed),
			float64(tot.Bytes)/1e6)
		if conn > 0 {
			ct := res.ConnTotals
			outside := ""
			if ct.RowsOutside > 0 {
				outside = " + " + num(ct.RowsOutside) + " outside --since/--until"
			}
			fmt.Fprintf(w, "           %d connectivity logs: %s rows read = %s kept + %s rejected%s (%.1f MB)\n",
				conn, num(ct.RowsRead), num(ct.RowsEmitted), num(ct.RowsRejected), outside, float64(ct.Bytes)/1e6)
		}
	}
	for _, d := range rep.Datasets {
		fmt.Fprintf(w, "Dataset:   %s: %s rows in %d files, written by %d runs\n", safe(d.Dir), num(d.Rows), d.Parts, d.Runs)
	}
	if n := rep.Incremental; n != nil {
		fmt.Fprintf(w, "Since the last run (--state %s): %d files went on where it stopped, %d had nothing new; %d open sessions carried to the next run\n",
			safe(n.State), n.Resumed, n.Unchanged, n.Carried)
	}
	fmt.Fprintf(w, "Rows:      %s read = %s kept + %s rejected", num(tot.RowsRead), num(tot.RowsEmitted), num(tot.RowsRejected))
	if tot.RowsOutside > 0 {
		fmt.Fprintf(w, " + %s outside --since/--until", num(tot.RowsOutside))
	}
	if tot.RowsWarned > 0 {
		fmt.Fprintf(w, " (%s of the kept with warnings)", num(tot.RowsWarned))
	}
	fmt.Fprintln(w)
	if !sum.First.IsZero() {
		fmt.Fprintf(w, "Time span: %s to %s (%s)\n", fmtTime(sum.First), fmtTime(sum.Last), sum.Last.Sub(sum.First).Round(time.Second))
	}
	fmt.Fprintf(w, "Sessions:  %s on %d servers, %d connectors\n", num(sum.Sessions), len(sum.Servers), len(sum.Connectors))

	if len(sum.Servers) > 0 {
		fmt.Fprintln(w, "\nServers")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SERVER\tSESSIONS\tROWS\tOWN ADDRESSES")
		for _, s := range sum.Servers {
			name := safe(s.Name)
			if name == "" {
				name = "(unknown: send logs outside an EXnn\\...\\SmtpSend folder; use --server)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", name, num(s.Sessions), num(s.Rows), strings.Join(s.LocalAddrs, ", "))
		}
		tw.Flush()
	}
	for _, lt := range []string{"receive", "send"} {
		var cs []heuristics.ConnectorSummary
		for _, c := range sum.Connectors {
			if c.LogType == lt {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			continue
		}
		what := "remote clients"
		if lt == "send" {
			what = "remote servers"
		}
		fmt.Fprintf(w, "\n%s connectors (session length median/p95; top %s by sessions)\n", strings.ToUpper(lt[:1])+lt[1:], what)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SERVER\tCONNECTOR\tSESSIONS\tLENGTH\tTOP REMOTE")
		for _, c := range cs {
			var top []string
			for _, a := range c.TopRemote {
				top = append(top, fmt.Sprintf("%s (%s)", a.Addr, num(a.Sessions)))
			}
			if c.OtherSessions > 0 {
				top = append(top, fmt.Sprintf("(of its %s lowest addresses; %s sessions from more addresses counted together)", num(c.Clients), num(c.OtherSessions)))
			}
			length := fmt.Sprintf("%.1fs/%.1fs", c.MedianSeconds, c.P95Seconds)
			if c.LengthResolutionMS > 0 {
				length += fmt.Sprintf(" (%d ms buckets)", c.LengthResolutionMS)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", safe(c.Server), safe(c.Name), num(c.Sessions), length, strings.Join(top, ", "))
		}
		tw.Flush()
	}
	if rep.Analysis != nil {
		renderBudgets(w, rep.Analysis.Budgets)
	}
	renderProblems(w, res, opt.MaxProblems)
	return nil
}

// renderBudgets says which tables reached their memory budget, where, and
// what stays exact. Nothing when none did.
func renderBudgets(w io.Writer, budgets []heuristics.Budget) {
	if len(budgets) == 0 {
		return
	}
	fmt.Fprintln(w, "\nMemory budgets reached (the numbers listed are exact for what was kept; the rest is counted together)")
	for _, b := range budgets {
		fmt.Fprintf(w, "  %s, budget %s: %s\n", b.Table, num(b.Limit), b.Meaning)
		for _, p := range b.Where {
			fmt.Fprintf(w, "    %s\n", budgetPlaceText(p))
		}
	}
}

// budgetPlaceText is one place a budget cut, escaped for the terminal.
func budgetPlaceText(p heuristics.BudgetPlace) string {
	where := safe(p.Server)
	if p.Connector != "" {
		where += " " + safe(p.Connector)
	}
	if p.ResolutionMS > 0 {
		return fmt.Sprintf("%s: session lengths in %d ms buckets", where, p.ResolutionMS)
	}
	if p.Kept == 0 && p.OtherSessions == 0 {
		return where // a budget that counts no addresses (the relay detector's): its meaning says what it kept
	}
	return fmt.Sprintf("%s: %s addresses kept with exact counts, %s sessions from more addresses counted together", where, num(p.Kept), num(p.OtherSessions))
}

// renderProblems lists damaged files, then every kind of problem with its
// exact count and its first places: rejections, then warnings, then notices.
func renderProblems(w io.Writer, res *parser.ScanResult, max int) {
	var damaged []parser.FileResult
	for _, f := range res.Files {
		if f.Err != nil {
			damaged = append(damaged, f)
		}
	}
	if len(res.Problems)+len(damaged) == 0 {
		return
	}
	fmt.Fprintln(w, "\nProblems")
	for _, f := range damaged {
		fmt.Fprintf(w, "  %s\n", safe(f.Err.Error()))
	}
	for _, g := range res.Problems {
		var what string
		switch {
		case g.Severity == parser.Rejected:
			what = plural(g.Count, "row", "rows") + " rejected"
		case g.Kind == parser.ErrBadEndpoint: // a row can have two
			what = plural(g.Count, "endpoint", "endpoints") + " in kept rows"
		case g.Severity == parser.Warning:
			what = plural(g.Count, "row", "rows") + " kept with a warning"
		default:
			what = plural(g.Count, "header line", "header lines")
		}
		where := ""
		if g.Files > 1 {
			where = fmt.Sprintf(" (in %d files)", g.Files)
		}
		fmt.Fprintf(w, "  %s: %s%s\n", what, safe(g.Kind.Error()), where)
		shown := g.First[:min(len(g.First), max)]
		for _, e := range shown {
			detail := strings.TrimPrefix(strings.TrimPrefix(e.Err.Error(), g.Kind.Error()), ": ")
			loc := (&parser.Error{File: e.File, Line: e.Line, Column: e.Column, Err: errors.New(detail)}).Error()
			if detail == "" {
				loc = strings.TrimSuffix(loc, ": ")
			}
			fmt.Fprintf(w, "    %s\n", safe(loc))
		}
		if n := int64(len(shown)); n < g.Count {
			fmt.Fprintf(w, "    ... and %s more (--format json lists the first %d of each kind per file)\n", num(g.Count-n), parser.DefaultMaxProblems)
		}
	}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return num(n) + " " + many
}

// notices prints one line per skipped or failed file on stderr; a path
// given that does not exist is named as missing.
func notices(io *IOStreams, res *parser.ScanResult, missing []string) {
	// Skips that come by the dozen (connectivity logs where they are not
	// read, copies read once) are told as one line each with the first
	// few files; the JSON file list names every one.
	type group struct {
		what  string
		paths []string
	}
	var copies, conn group
	copies.what, conn.what = "copies of files read", "Exchange connectivity logs (read as evidence by a full scan only)"
	for _, f := range res.Files {
		switch {
		case f.Status == parser.FileFailed && slices.Contains(missing, f.Path):
			fmt.Fprintf(io.ErrOut, "logscan: %s: no such file or folder\n", safe(f.Path))
		case f.Status == parser.FileSkipped && f.Connectivity:
			conn.paths = append(conn.paths, f.Path)
		case f.Status == parser.FileSkipped && parser.IsCopySkip(f.Reason):
			copies.paths = append(copies.paths, f.Path+" ("+f.Reason+")")
		case f.Status == parser.FileSkipped:
			fmt.Fprintf(io.ErrOut, "logscan: skipped %s: %s\n", safe(f.Path), safe(f.Reason))
		case f.Status == parser.FileFailed:
			fmt.Fprintf(io.ErrOut, "logscan: could not read %s: %s\n", safe(f.Path), safe(f.Reason))
		}
	}
	for _, g := range []group{copies, conn} {
		switch n := len(g.paths); {
		case n == 0:
		case n <= noticesListed:
			for _, p := range g.paths {
				fmt.Fprintf(io.ErrOut, "logscan: skipped %s: %s\n", safe(p), g.what)
			}
		default:
			fmt.Fprintf(io.ErrOut, "logscan: skipped %s %s, e.g. %s (--format json lists them all)\n",
				num(int64(n)), g.what, safe(strings.Join(g.paths[:noticesListed], "; ")))
		}
	}
}

// noticesListed is how many files a notice about many skipped files names.
const noticesListed = 3

type jsonProblem struct {
	File     string `json:"file"`
	Line     int64  `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Kind     string `json:"kind"`
	Message  string `json:"message"`
	Severity string `json:"severity"` // rejected, warning, notice, damaged
}

// jsonProblemKind is one kind of problem over all files: its exact count and
// its first places.
type jsonProblemKind struct {
	Kind     string        `json:"kind"`
	Severity string        `json:"severity"` // rejected, warning, notice
	Count    int64         `json:"count"`
	Files    int           `json:"files"`
	First    []jsonProblem `json:"first"`
}

// jsonProblemPlaces is how many places problem_kinds gives per kind; the
// problems list holds more.
const jsonProblemPlaces = 10

func problemJSON(e *parser.Error) jsonProblem {
	k := parser.Kind(e)
	return jsonProblem{File: e.File, Line: e.Line, Column: e.Column, Kind: k.Error(), Message: e.Err.Error(), Severity: parser.SeverityOf(k).String()}
}

type jsonFile struct {
	Path       string `json:"path"`
	Status     string `json:"status"`
	Reason     string `json:"reason,omitempty"`
	LogType    string `json:"log_type,omitempty"`
	Version    string `json:"version,omitempty"`
	Server     string `json:"server,omitempty"`
	ServerFrom string `json:"server_from,omitempty"`
	Bytes      int64  `json:"bytes"`
	Rows       int64  `json:"rows_read"`
	Emitted    int64  `json:"rows_emitted"`
	Rejected   int64  `json:"rows_rejected"`
	Warnings   int64  `json:"warnings"`
	// Exact count of each kind of problem in the file, by kind.
	ProblemCounts  map[string]int64 `json:"problem_counts,omitempty"`
	MissingColumns []string         `json:"missing_columns,omitempty"`
	Encoding       string           `json:"encoding,omitempty"`
}

type jsonRemote struct {
	Addr     string `json:"addr"`
	Sessions int64  `json:"sessions"`
}

type jsonConnector struct {
	Server        string       `json:"server"`
	Name          string       `json:"name"`
	LogType       string       `json:"log_type"`
	Sessions      int64        `json:"sessions"`
	Rows          int64        `json:"rows"`
	MedianSeconds float64      `json:"median_session_seconds"`
	P95Seconds    float64      `json:"p95_session_seconds"`
	TopRemote     []jsonRemote `json:"top_remote"`
	// Past the memory budget: top_remote is of the kept addresses
	// (remote_addresses_kept, the lowest), other_remote_sessions came
	// from the others; lengths counted in buckets of this many ms.
	RemoteKept          int64 `json:"remote_addresses_kept,omitempty"`
	OtherRemoteSessions int64 `json:"other_remote_sessions,omitempty"`
	LengthResolutionMS  int64 `json:"length_resolution_ms,omitempty"`
}

type jsonServer struct {
	Name       string   `json:"name"`
	Sessions   int64    `json:"sessions"`
	Rows       int64    `json:"rows"`
	LocalAddrs []string `json:"own_addresses"`
}

type jsonReport struct {
	FormatVersion int               `json:"format_version"`
	Files         map[string]int    `json:"files"`
	Bytes         int64             `json:"bytes"`
	RowsRead      int64             `json:"rows_read"`
	RowsEmitted   int64             `json:"rows_emitted"`
	RowsRejected  int64             `json:"rows_rejected"`
	Warnings      int64             `json:"warnings"`
	First         *time.Time        `json:"first,omitempty"`
	Last          *time.Time        `json:"last,omitempty"`
	Sessions      int64             `json:"sessions"`
	Servers       []jsonServer      `json:"servers"`
	Connectors    []jsonConnector   `json:"connectors"`
	Problems      []jsonProblem     `json:"problems"`
	ProblemKinds  []jsonProblemKind `json:"problem_kinds"`
	RowsWarned    int64             `json:"rows_kept_with_warnings"`
	FileList      []jsonFile        `json:"file_list"`

	WhatHappened   []heuristics.Incident    `json:"what_happened"`
	Checked        []heuristics.Check       `json:"checked"`
	Findings       []heuristics.Finding     `json:"findings"`
	Datasets       []run.DatasetRead        `json:"datasets,omitempty"`
	Incremental    *run.Incremental         `json:"incremental,omitempty"`
	RowsOutside    int64                    `json:"rows_outside,omitempty"`
	RelayProbes    []heuristics.Finding     `json:"relay_probes"`
	RelayInventory []heuristics.Finding     `json:"relay_inventory"`
	AuthAttacks    []heuristics.Finding     `json:"auth_attacks"`
	Assumptions    []heuristics.Assumption  `json:"assumptions"`
	SessionCounts  heuristics.SessionCounts `json:"session_counts"`
	Budgets        []heuristics.Budget      `json:"budgets,omitempty"`
}

func renderJSON(w io.Writer, rep *scanReport) error {
	res, sum, tot := rep.Result, rep.Summary, rep.Result.Totals
	out := jsonReport{FormatVersion: jsonFormatVersion,
		Files: map[string]int{"parsed": res.Count(parser.FileParsed), "empty": res.Count(parser.FileEmpty),
			"skipped": res.Count(parser.FileSkipped), "failed": res.Count(parser.FileFailed)},
		Bytes: tot.Bytes, RowsRead: tot.RowsRead, RowsEmitted: tot.RowsEmitted, RowsRejected: tot.RowsRejected,
		Warnings: tot.Warnings, RowsWarned: tot.RowsWarned, Sessions: sum.Sessions, ProblemKinds: []jsonProblemKind{},
		Servers: []jsonServer{}, Connectors: []jsonConnector{}, Problems: []jsonProblem{}, FileList: []jsonFile{},
		WhatHappened: []heuristics.Incident{}, Checked: heuristics.Checks(), Findings: []heuristics.Finding{}, RelayProbes: []heuristics.Finding{}, RelayInventory: []heuristics.Finding{}, AuthAttacks: []heuristics.Finding{}, Assumptions: []heuristics.Assumption{}}
	if a := rep.Analysis; a != nil {
		out.WhatHappened = append(out.WhatHappened, a.WhatHappened...)
		out.Findings = append(out.Findings, a.Findings...)
		out.RelayProbes = append(out.RelayProbes, a.Probes...)
		out.Datasets, out.Incremental, out.RowsOutside = rep.Datasets, rep.Incremental, tot.RowsOutside
		out.RelayInventory = append(out.RelayInventory, a.Inventory...)
		out.AuthAttacks = append(out.AuthAttacks, a.AuthAttacks...)
		out.Assumptions = append(out.Assumptions, a.Assumptions...)
		out.SessionCounts = a.Sessions
		out.Budgets = a.Budgets
	}
	if !sum.First.IsZero() {
		out.First, out.Last = &sum.First, &sum.Last
	}
	for _, s := range sum.Servers {
		out.Servers = append(out.Servers, jsonServer{Name: s.Name, Sessions: s.Sessions, Rows: s.Rows, LocalAddrs: append([]string{}, s.LocalAddrs...)})
	}
	for _, c := range sum.Connectors {
		jc := jsonConnector{Server: c.Server, Name: c.Name, LogType: c.LogType, Sessions: c.Sessions, Rows: c.Rows,
			MedianSeconds: c.MedianSeconds, P95Seconds: c.P95Seconds, TopRemote: []jsonRemote{}}
		if c.OtherSessions > 0 {
			jc.RemoteKept, jc.OtherRemoteSessions = c.Clients, c.OtherSessions
		}
		jc.LengthResolutionMS = c.LengthResolutionMS
		for _, a := range c.TopRemote {
			jc.TopRemote = append(jc.TopRemote, jsonRemote{a.Addr.String(), a.Sessions})
		}
		out.Connectors = append(out.Connectors, jc)
	}
	for _, g := range res.Problems {
		k := jsonProblemKind{Kind: g.Kind.Error(), Severity: g.Severity.String(), Count: g.Count, Files: g.Files, First: []jsonProblem{}}
		for _, e := range g.First[:min(len(g.First), jsonProblemPlaces)] {
			k.First = append(k.First, problemJSON(e))
		}
		out.ProblemKinds = append(out.ProblemKinds, k)
	}
	for _, f := range res.Files {
		jf := jsonFile{Path: f.Path, Status: f.Status.String(), Reason: f.Reason,
			LogType: logTypeName(f), Version: f.Version, Server: f.Server, ServerFrom: f.ServerFrom, Bytes: f.Stats.Bytes,
			Rows: f.Stats.RowsRead, Emitted: f.Stats.RowsEmitted, Rejected: f.Stats.RowsRejected, Warnings: f.Stats.Warnings,
			MissingColumns: f.MissingColumns, Encoding: f.Encoding}
		for _, k := range f.Problems.Kinds() {
			if jf.ProblemCounts == nil {
				jf.ProblemCounts = map[string]int64{}
			}
			jf.ProblemCounts[k.Kind.Error()] = k.Count
		}
		out.FileList = append(out.FileList, jf)
		if f.Err != nil {
			e, _ := f.Err.(*parser.Error)
			p := jsonProblem{File: f.Path, Kind: parser.Kind(f.Err).Error(), Message: f.Err.Error(), Severity: "damaged"}
			if e != nil {
				p.Line = e.Line
			}
			out.Problems = append(out.Problems, p)
		}
		for _, list := range [][]*parser.Error{f.Problems.Rejects, f.Problems.Warnings} {
			for _, e := range list {
				out.Problems = append(out.Problems, problemJSON(e))
			}
		}
	}
	return jsonEncode(w, out)
}

// jsonEncode writes v as indented JSON in which no control or bidi
// character is raw: encoding/json escapes C0 controls, and dangerousRune
// catches the rest (DEL, C1, bidi controls), written as \uXXXX. Outside
// strings JSON is ASCII, so every such rune is inside a string, where the
// escape means the same character: the JSON stays valid and decodes to the
// same text.
func jsonEncode(w io.Writer, v any) error {
	// What a json.Encoder with SetIndent("", "  ") writes, indented
	// by indentJSON into a slice made to size at once (the Encoder and
	// a bytes.Buffer grew theirs a doubling at a time, copying the
	// report over and over).
	compact, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b := append(indentJSON(make([]byte, 0, 2*len(compact)+1), compact), '\n')
	// C0 controls are escaped already; raw ones here are JSON's own
	// whitespace between tokens.
	escape := func(r rune) bool { return r >= 0x20 && dangerousRune(r) }
	first := indexEscape(b, escape)
	if first < 0 {
		_, err := w.Write(b)
		return err
	}
	out := make([]byte, 0, len(b)+64)
	out, b = append(out, b[:first]...), b[first:]
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if escape(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	_, err = w.Write(out)
	return err
}

// indentJSON appends src, compact JSON as json.Marshal writes it (no
// space outside strings), to dst indented as json.Indent(dst, src, "",
// "  ") indents it: a line per member and element, two spaces a level,
// empty objects and arrays kept as {} and []. json.Indent runs its
// validating scanner over every byte, which was three fifths of rendering
// a report; output that json.Marshal just made needs no validating.
func indentJSON(dst, src []byte) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '"':
			// The string, escapes and all, up to its closing quote.
			j := i + 1
			for ; j < len(src) && src[j] != '"'; j++ {
				if src[j] == '\\' {
					j++
				}
			}
			dst = append(dst, src[i:min(j+1, len(src))]...)
			i = j
		case '{', '[':
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, c, src[i+1])
				i++
				continue
			}
			dst = append(dst, c)
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// indexEscape is bytes.IndexFunc(b, escape) for an escape that takes no
// rune below DEL (0x7f): only runes starting with a byte of 0x7f or more
// are decoded. A report is nearly all ASCII, and decoding a megabyte of
// it rune by rune cost a fifth of rendering it.
func indexEscape(b []byte, escape func(rune) bool) int {
	for i := 0; i < len(b); {
		if b[i] < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if escape(r) {
			return i
		}
		i += n
	}
	return -1
}

// dangerousRune reports whether r acts on a terminal or viewer instead of
// showing: C0 and C1 controls, DEL, and the bidi controls that reorder
// text (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069).
func dangerousRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

func logTypeName(f parser.FileResult) string {
	if f.Status != parser.FileParsed {
		return ""
	}
	return f.LogType.String()
}

// connectivityLogs counts the connectivity logs read: parsed files, but not
// protocol logs.
func connectivityLogs(res *parser.ScanResult) int {
	n := 0
	for _, f := range res.Files {
		if f.Connectivity && f.Status == parser.FileParsed {
			n++
		}
	}
	return n
}
