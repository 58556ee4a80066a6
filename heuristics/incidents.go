package heuristics

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Incident is one entry of the report's "What happened": a cause told in
// one sentence, with its time span and size, followed by what it led to
// (the findings whose CausedBy names it, directly or through another).
type Incident struct {
	Severity Severity `json:"severity"` // the highest of its findings
	Text     string   `json:"text"`
	// Findings are the ids it tells: the cause first, then its
	// consequences in report order.
	Findings []string `json:"findings"`
}

// whatHappened tells sorted findings as incidents, most important first.
func whatHappened(findings []Finding) []Incident {
	pos := map[string]int{}
	for i, f := range findings {
		pos[f.ID] = i
	}
	// root follows CausedBy to the finding that explains the others.
	root := func(i int) int {
		seen := map[int]bool{}
		for !seen[i] {
			seen[i] = true
			next := -1
			for _, id := range findings[i].CausedBy {
				if j, ok := pos[id]; ok && j != i {
					next = j
					break
				}
			}
			if next < 0 {
				break
			}
			i = next
		}
		return i
	}
	members := map[int][]int{}
	var roots []int
	for i := range findings {
		r := root(i)
		if _, ok := members[r]; !ok {
			roots = append(roots, r)
		}
		members[r] = append(members[r], i)
	}
	var out []Incident
	for _, r := range roots {
		inc := Incident{Severity: findings[r].Severity}
		var text []string
		for _, i := range members[r] {
			f := findings[i]
			inc.Findings = append(inc.Findings, f.ID)
			inc.Severity = max(inc.Severity, f.Severity)
			if i == r {
				text = append(text, incidentSentence(f))
			} else {
				text = append(text, consequenceSentence(f, onsetOf(findings[r])))
			}
		}
		inc.Text = strings.Join(text, " ")
		out = append(out, inc)
	}
	slices.SortStableFunc(out, func(a, b Incident) int { return cmp.Compare(b.Severity, a.Severity) })
	return out
}

// incidentSentence tells a finding that caused the others of its incident.
func incidentSentence(f Finding) string {
	tl := f.Timeline
	switch {
	case f.Detector == detectorRelay:
		how := "Anonymous relay"
		if strings.HasPrefix(f.Title, "Open relay") {
			how = "Open relay"
		}
		return fmt.Sprintf("%s through %s from %s, %s: %s recipients in %s outside domains.", how, f.Connector, relaySources(f),
			timeSpan(tl, f.First, f.Last), countText(f.Counts["recipients"], false), countText(f.Counts["recipient_domains"], false))
	case f.Detector == detectorSNAT:
		where := "on " + f.Server + "'s subnet"
		if len(f.Servers) > 1 {
			where = "in front of " + joinAnd(f.Servers)
		}
		names, lower := f.Counts["distinct_ehlo_names"], slices.Contains(f.LowerBounds, "distinct_ehlo_names")
		return fmt.Sprintf("Hidden NAT %s %s: %s sessions from one address with %s EHLO names, %s.", f.Source, where,
			countText(f.Counts["sessions"], false), countText(names, lower), timeSpan(tl, f.First, f.Last))
	case isListing(f):
		return fmt.Sprintf("Our public IP %s blocklisted %s (%s): %s recipients refused%s.", cmp.Or(f.Source, "(not named)"), sinceText(tl, f.First),
			strings.Join(listedBy(f), ", "), countText(f.Counts["recipients_refused"], false), stillText(tl, f.Last, "refused"))
	}
	return fmt.Sprintf("%s, %s.", strings.TrimSuffix(f.Title, "."), timeSpan(tl, f.First, f.Last))
}

// consequenceSentence tells a finding that follows from another, whose
// onset was ref (times on its day are given without the date).
func consequenceSentence(f Finding, ref time.Time) string {
	tl := f.Timeline
	switch {
	case f.Detector == detectorRelay && strings.HasPrefix(f.Title, "Everyone behind"):
		return fmt.Sprintf("Everyone behind it relayed through %s: %s recipients in %s outside domains, %s.", f.Connector,
			countText(f.Counts["recipients"], false), countText(f.Counts["recipient_domains"], false), timeSpanFrom(tl, f.First, f.Last, ref))
	case isListing(f):
		return fmt.Sprintf("Blocklisted %s (%s): %s recipients refused%s.", sinceTextFrom(tl, f.First, ref), strings.Join(listedBy(f), ", "),
			countText(f.Counts["recipients_refused"], false), stillText(tl, f.Last, "refused"))
	}
	return "Then: " + incidentSentence(f)
}

// onsetOf is when a finding began.
func onsetOf(f Finding) time.Time {
	if f.Timeline != nil {
		return f.Timeline.Onset
	}
	return f.First
}

// relaySources is "198.51.100.77" or "1,612 sources (1,612 public)".
func relaySources(f Finding) string {
	if f.Source != "" {
		return f.Source
	}
	n, pub := f.Counts["sources"], f.Counts["public_sources"]
	if n == 0 {
		n = int64(len(f.Sources))
	}
	return fmt.Sprintf("%s sources (%s public)", countText(n, false), countText(pub, false))
}

// isListing: a blocklist finding about our IP (not SPF/DKIM/DMARC or
// unrecognised policy refusals).
func isListing(f Finding) bool {
	return f.Detector == detectorBlocklist && slices.ContainsFunc(f.Facts, func(x Fact) bool { return x.Name == listsFact })
}

// listsFact is the fact of a listing finding that names its lists.
const listsFact = "lists and providers (refusals)"

// listedBy are the lists of a listing finding, most refusals first.
func listedBy(f Finding) []string {
	var out []string
	for _, x := range f.Facts {
		if x.Name != listsFact {
			continue
		}
		for _, v := range x.Values {
			if i := strings.LastIndex(v, " ("); i > 0 {
				v = v[:i]
			}
			out = append(out, v)
		}
	}
	return out
}

// timeSpan is "2026-11-02 14:10 → 16:40", "... → still active at 23:59
// (end of the logs)"; an onset in the first hour of the logs reads "since
// at least 2026-11-02 00:39 (the first hour of the logs)".
func timeSpan(tl *Timeline, first, last time.Time) string {
	return timeSpanFrom(tl, first, last, time.Time{})
}

// timeSpanFrom is timeSpan with the date left out of times on ref's day.
func timeSpanFrom(tl *Timeline, first, last, ref time.Time) string {
	onset, end := first, last
	if tl != nil {
		onset, end = tl.Onset, tl.End
	}
	start := clock(onset, ref)
	if tl != nil && tl.BeforeLogs {
		start = fmt.Sprintf("since at least %s (the first hour of the logs)", start)
	}
	if tl != nil && tl.StillActive {
		return fmt.Sprintf("%s → still active at %s (end of the logs)", start, clock(end, onset))
	}
	return fmt.Sprintf("%s → %s", start, clock(end, onset))
}

// sinceText is "since 2026-11-02 16:55", or "since at least ... (the
// first hour of the logs)".
func sinceText(tl *Timeline, first time.Time) string {
	return sinceTextFrom(tl, first, time.Time{})
}

// sinceTextFrom is sinceText with the date left out on ref's day.
func sinceTextFrom(tl *Timeline, first, ref time.Time) string {
	if tl != nil {
		first = tl.Onset
	}
	if tl != nil && tl.BeforeLogs {
		return fmt.Sprintf("since at least %s (the first hour of the logs)", clock(first, ref))
	}
	return "since " + clock(first, ref)
}

// stillText is ", still <verb> at 23:58 (end of the logs)" or ", last at 20:14".
func stillText(tl *Timeline, last time.Time, verb string) string {
	onset := last
	if tl != nil {
		last, onset = tl.End, tl.Onset
	}
	if tl != nil && tl.StillActive {
		return fmt.Sprintf(", still %s at %s (end of the logs)", verb, clock(last, onset))
	}
	return ", last at " + clock(last, onset)
}

// clock prints t as "2026-11-02 14:10", or "14:10" when ref is the same
// day (UTC).
func clock(t, ref time.Time) string {
	t = t.UTC()
	if !ref.IsZero() && ref.UTC().Format(time.DateOnly) == t.Format(time.DateOnly) {
		return t.Format("15:04")
	}
	return t.Format("2006-01-02 15:04")
}

// joinAnd is "a", "a and b", "a, b and c".
func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
