package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/heuristics/session"
)

// renderFindings prints the findings, most severe first, then what the
// analysis assumed. Every string that can hold log text goes through safe.
func renderFindings(w io.Writer, a *heuristics.Report) {
	counts := map[heuristics.Severity]int{}
	for _, f := range a.Findings {
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
	if len(a.Findings) == 0 {
		fmt.Fprintln(w, "Findings: none (no hidden NAT, no anonymous relay, no 451 5.7.3 in these logs)")
	} else {
		fmt.Fprintf(w, "Findings: %d (%s)\n", len(a.Findings), strings.Join(parts, ", "))
	}
	for _, f := range a.Findings {
		fmt.Fprintf(w, "\n[%s] %s\n", strings.ToUpper(f.Severity.String()), safe(f.Title))
		var head []string
		head = append(head, "id "+f.ID, "detector "+f.Detector)
		if f.Server != "" {
			head = append(head, "server "+safe(f.Server))
		}
		if f.Connector != "" {
			head = append(head, `connector "`+safe(f.Connector)+`"`)
		}
		if f.Source != "" {
			head = append(head, "source "+safe(f.Source))
		}
		fmt.Fprintf(w, "  %s\n", strings.Join(head, " · "))
		if !f.First.IsZero() {
			fmt.Fprintf(w, "  seen %s to %s\n", fmtTime(f.First), fmtTime(f.Last))
		}
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
		for _, fact := range f.Facts {
			if len(fact.Values) == 0 {
				continue
			}
			para(w, capitalise(fact.Name), factText(fact))
		}
		for i, s := range f.Samples {
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
	if len(a.Inventory) > 0 {
		fmt.Fprintln(w, "\nRelay inventory (internal hosts relaying through dedicated connectors, as Microsoft documents)")
		for _, p := range a.Inventory {
			fmt.Fprintf(w, "  %s\n", safe(p.Title))
			para(w, "", fmt.Sprintf("%s message(s) to %s recipient(s), %s to %s; first at %s",
				num(p.Counts["messages"]), num(p.Counts["recipients"]), fmtTime(p.First), fmtTime(p.Last), firstAt(p)))
			for _, fact := range p.Facts {
				if len(fact.Values) > 0 {
					para(w, "", capitalise(fact.Name)+": "+factText(fact))
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
				para(w, "", capitalise(fact.Name)+": "+factText(fact))
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
					para(w, "", capitalise(fact.Name)+": "+factText(fact))
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
	if s.Evicted > 0 {
		fmt.Fprintf(w, "  %s sessions closed early, incomplete: more than %s were open at once in one worker (sessions that never disconnect); first at %s\n",
			num(s.Evicted), num(session.DefaultMaxOpenSessions), safe(strings.Join(s.EvictedAt, ", ")))
	}
	if s.Split > 0 {
		fmt.Fprintf(w, "  %s sessions longer than %s rows analysed in parts; first cut at %s\n",
			num(s.Split), num(session.MaxSessionRows), safe(strings.Join(s.SplitAt, ", ")))
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

func factText(f heuristics.Fact) string {
	v := strings.Join(f.Values, ", ")
	if f.More > 0 {
		v += fmt.Sprintf(" (and %s%s more)", cond(f.MoreAtLeast, "at least ", ""), num(int64(f.More)))
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
	const width, indent = 100, 11
	prefix := fmt.Sprintf("  %-8s ", label+cond(label != "", ":", ""))
	line := prefix
	for i, word := range strings.Fields(safe(text)) {
		if i > 0 && len(line)+1+len(word) > width {
			fmt.Fprintln(w, line)
			line = strings.Repeat(" ", indent) + word
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
