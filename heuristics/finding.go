package heuristics

import (
	"cmp"
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// Severity orders findings. Info is inventory, not an alarm.
type Severity uint8

const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = []string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// MarshalText writes the severity's name (for JSON).
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// SeverityNames lists the valid names, lowest first.
func SeverityNames() []string { return append([]string(nil), severityNames...) }

// ParseSeverity reads a severity name.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of %s)", name, strings.Join(severityNames, ", "))
}

// Finding is one thing an Exchange engineer should look at: what was seen,
// the evidence, the likely cause and the fix.
type Finding struct {
	// ID is stable across runs for the same subject (detector, server,
	// connector, source), so nightly jobs can tell new findings from old.
	ID       string   `json:"id"`
	Detector string   `json:"detector"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	// Explanation says in plain words what the logs show and why it matters.
	Explanation string   `json:"explanation"`
	Cause       string   `json:"cause"`
	Fix         []string `json:"fix"`

	Server    string `json:"server,omitempty"`
	Connector string `json:"connector,omitempty"`
	Source    string `json:"source,omitempty"` // the remote address the finding is about

	First time.Time `json:"first_seen"`
	Last  time.Time `json:"last_seen"`
	// Counts are the figures behind the finding (sessions, messages, ...).
	Counts map[string]int64 `json:"counts"`
	// LowerBounds names the Counts that reached an internal cap: the true
	// figure is at least that.
	LowerBounds []string `json:"lower_bounds,omitempty"`
	// Facts are short lists that support it (top senders, domains, EHLO names).
	Facts []Fact `json:"facts,omitempty"`
	// Samples are sessions to open in the logs, earliest first.
	Samples []Sample `json:"samples"`

	// Servers are every server the finding covers, when it is more than
	// one (a load balancer in front of two servers); Server is then the
	// one with the most of it.
	Servers []string `json:"servers,omitempty"`
	// Sources are the remote addresses behind the finding, most
	// recipients first, each with its own figures and first and last
	// time; at most MaxListed (Counts says how many there were).
	Sources []SourceStat `json:"sources,omitempty"`
	// Timeline is the finding's activity hour by hour: onset, peak, end,
	// whether it is still going on at the end of the logs and whether the
	// logs reach back to its start. Nil when the detector has no times.
	Timeline *Timeline `json:"timeline,omitempty"`
	// CausedBy are the ids of findings that are the likely cause of this
	// one (a relay that preceded a blocklisting, the NAT that a relay went
	// through). The report's WhatHappened tells them as one incident.
	CausedBy []string `json:"caused_by,omitempty"`
}

// MaxListed is how many values a fact, and how many sources a finding,
// keeps for JSON and CSV; the text report shows the first few (all of
// them with --details).
const MaxListed = 10_000

// SourceStat is one remote address behind a finding.
type SourceStat struct {
	Addr       string    `json:"addr"`
	EHLO       string    `json:"ehlo,omitempty"` // its EHLO name when it used one only
	Public     bool      `json:"public"`         // outside the internal networks
	Sessions   int64     `json:"sessions"`
	Recipients int64     `json:"recipients"` // what the finding counts: relayed, for a relay
	First      time.Time `json:"first_seen"`
	Last       time.Time `json:"last_seen"`
}

// Timeline is when a finding's activity happened, hour by hour (UTC), and
// how it sits in the logs read: when it began, peaked and ended, whether
// it was still going on when the logs end, and whether the logs reach back
// far enough to see its start. Every detector can fill one from an hourly.
type Timeline struct {
	// Measure names the HourCount field that Peak and the text report's
	// hourly strip count: "recipients", "sessions" or "failures".
	Measure string `json:"measure,omitempty"`
	// Start is the hour of the first activity; Hours are the hours with
	// activity, in order (hours with none are left out).
	Start time.Time   `json:"start"`
	Hours []HourCount `json:"hours"`
	// Onset and End are the first and last activity; Peak is the hour
	// with the most of Measure (the earliest of equals), PeakCount that
	// figure.
	Onset     time.Time `json:"onset"`
	Peak      time.Time `json:"peak,omitzero"`
	PeakCount int64     `json:"peak_count,omitzero"`
	End       time.Time `json:"end"`
	// LogsStart and LogsEnd bound the logs the timeline is judged
	// against: those of the finding's servers, of the kind it is seen in.
	LogsStart time.Time `json:"logs_start"`
	LogsEnd   time.Time `json:"logs_end"`
	// StillActive: the last activity is within StillActiveWithin of the
	// end of those logs: as far as the logs tell, it has not stopped.
	StillActive bool `json:"still_active"`
	// BeforeLogs: the activity is there in the first hour of those logs
	// (their first hourly file), so it may well have begun before them.
	// Exchange keeps protocol logs for 30 days or 250 MB per folder by
	// default.
	BeforeLogs bool `json:"before_logs"`
	// Partial: past a memory cap the latest hours were counted in the
	// finding's totals but not per hour: Hours stop before End.
	Partial bool `json:"partial,omitempty"`
}

// HourCount is one hour of a Timeline. What each figure counts depends on
// the detector (README, "Findings"): for a relay, sessions that relayed
// and recipients relayed; for a hidden NAT, its sessions and the
// recipients relayed through it; for a blocklisting, sessions with a
// refusal, recipients refused and refusals (Failures).
type HourCount struct {
	Hour       time.Time `json:"hour"`
	Sessions   int64     `json:"sessions"`
	Recipients int64     `json:"recipients"`
	Failures   int64     `json:"failures"`
}

// Thresholds of Timeline.
const (
	// StillActiveWithin: activity this close to the end of the logs is
	// taken as still going on.
	StillActiveWithin = time.Hour
)

// Timeline measures.
const (
	MeasureSessions   = "sessions"
	MeasureRecipients = "recipients"
	MeasureFailures   = "failures"
)

// hourly counts activity per hour; the sums do not depend on the order
// things were added or merged in.
// hourly holds its counts in the map (no allocation per hour, nothing for
// the collector to follow).
type hourly map[int64][3]int64 // Unix hour -> sessions, recipients, failures

func (h *hourly) add(t time.Time, sessions, rcpts, failures int64) {
	if *h == nil {
		*h = hourly{}
	}
	k := unixHour(t)
	c := (*h)[k]
	c[0] += sessions
	c[1] += rcpts
	c[2] += failures
	(*h)[k] = c
}

// unixHour is the Unix time of the start of t's hour.
func unixHour(t time.Time) int64 {
	k := t.Unix()
	return k - ((k%3600)+3600)%3600
}

func (h *hourly) merge(o hourly) {
	for k, c := range o {
		h.add(time.Unix(k, 0), c[0], c[1], c[2])
	}
}

// timeline turns the counts into a Timeline: measure names the figure the
// peak is taken on, onset and end are the first and last activity, and
// logs bounds the logs it is judged against. Nil when nothing was counted.
func (h hourly) timeline(measure string, onset, end time.Time, logs span) *Timeline {
	if len(h) == 0 && onset.IsZero() {
		return nil
	}
	tl := &Timeline{Measure: measure, Onset: onset.UTC(), End: end.UTC(), Hours: []HourCount{}}
	keys := make([]int64, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	idx := map[string]int{MeasureSessions: 0, MeasureRecipients: 1, MeasureFailures: 2}[measure]
	for _, k := range keys {
		c := h[k]
		hc := HourCount{Hour: time.Unix(k, 0).UTC(), Sessions: c[0], Recipients: c[1], Failures: c[2]}
		tl.Hours = append(tl.Hours, hc)
		if c[idx] > tl.PeakCount {
			tl.Peak, tl.PeakCount = hc.Hour, c[idx]
		}
	}
	tl.Start = onset.UTC().Truncate(time.Hour)
	if len(tl.Hours) > 0 && (onset.IsZero() || tl.Hours[0].Hour.Before(tl.Start)) {
		tl.Start = tl.Hours[0].Hour
	}
	tl.judge(logs)
	return tl
}

// judge places the timeline in the logs read.
func (tl *Timeline) judge(logs span) {
	tl.LogsStart, tl.LogsEnd = logs.first.UTC(), logs.last.UTC()
	if logs.first.IsZero() {
		return
	}
	tl.StillActive = !tl.End.IsZero() && logs.last.Sub(tl.End) < StillActiveWithin
	// Exchange 2013 and later start a new file every hour: activity in
	// the hour of the first row is in the first file.
	tl.BeforeLogs = !tl.Onset.IsZero() && unixHour(tl.Onset) <= unixHour(logs.first)
}

// sourceStats sorts sources most recipients first (then sessions, then
// address) and keeps MaxListed.
func sourceStats(s []SourceStat) []SourceStat {
	slices.SortFunc(s, func(a, b SourceStat) int {
		return cmp.Or(cmp.Compare(b.Recipients, a.Recipients), cmp.Compare(b.Sessions, a.Sessions), compareAddrText(a.Addr, b.Addr))
	})
	if len(s) > MaxListed {
		s = s[:MaxListed]
	}
	return s
}

// compareAddrText orders addresses numerically when both parse, so that
// ties never depend on text order ("10.0.0.9" before "10.0.0.10").
func compareAddrText(a, b string) int {
	x, errA := netip.ParseAddr(a)
	y, errB := netip.ParseAddr(b)
	if errA == nil && errB == nil {
		return x.Compare(y)
	}
	return cmp.Compare(a, b)
}

// Fact is a named list of values shown as evidence. When values carry a
// number ("x (12)"), Name says what it counts ("EHLO names, by sessions").
type Fact struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
	More   int      `json:"more,omitempty"` // values not listed
	// MoreAtLeast: More is a lower bound (values past an internal cap were
	// counted, not kept).
	MoreAtLeast bool `json:"more_is_lower_bound,omitempty"`
}

// Sample is one session that shows the finding.
type Sample struct {
	Server  string    `json:"server"`
	Session string    `json:"session_id"` // 16 hex digits, as logged
	Start   time.Time `json:"start"`
	At      string    `json:"at"` // file:line of the row that shows it
	ref     session.Ref
}

func sampleOf(s *session.Session, at session.Ref) sampleRec {
	return sampleRec{server: s.Server, id: s.ID, start: s.Start, ref: at}
}

// sampleRec is an example session as detectors keep it until they report:
// what a Sample shows without its strings (the session-id in hex, the
// file:line), which are made only for the few samples a finding lists. A
// relay detector keeps a few per client and recipient domain: for a botnet
// that is hundreds of thousands, and the strings were a quarter of its
// memory.
type sampleRec struct {
	server string
	id     uint64
	noID   bool // a sample of no one session (outbound failures): Session stays ""
	start  time.Time
	ref    session.Ref
}

// sample is what the report shows of r.
func (r sampleRec) sample() Sample {
	x := Sample{Server: r.server, Start: r.start, At: r.ref.String(), ref: r.ref}
	if !r.noID {
		x.Session = fmt.Sprintf("%016X", r.id)
	}
	return x
}

// findingID hashes the finding's subject into a short stable id.
func findingID(detector string, subject ...string) string {
	h := sha256.Sum256([]byte(detector + "\x00" + strings.Join(subject, "\x00")))
	return detector + "-" + hex.EncodeToString(h[:5])
}

// samples keeps the earliest n sessions that show something, so that the
// chosen examples do not depend on the order sessions were finished in.
type samples struct {
	n    int
	list []sampleRec
}

// out is the samples kept, as the report shows them.
func (s *samples) out() []Sample {
	if s.list == nil {
		return nil
	}
	out := make([]Sample, len(s.list))
	for i, r := range s.list {
		out[i] = r.sample()
	}
	return out
}

func (s *samples) add(x sampleRec) {
	if s.n == 0 {
		s.n = maxSamples
	}
	if len(s.list) == s.n && !sampleLess(x, s.list[len(s.list)-1]) {
		// Full, and x sorts after every sample kept: it neither takes
		// their place nor is the earlier row of a session kept, which is
		// what the loops below would find.
		return
	}
	for i, y := range s.list {
		if y.server == x.server && y.id == x.id && y.noID == x.noID {
			// One example per session: its earliest row, whatever the
			// order the rows were offered in.
			if sampleLess(x, y) {
				s.list[i] = x
				slices.SortFunc(s.list, func(a, b sampleRec) int {
					if sampleLess(a, b) {
						return -1
					}
					return 1
				})
			}
			return
		}
	}
	i := len(s.list)
	for i > 0 && sampleLess(x, s.list[i-1]) {
		i--
	}
	if i >= s.n {
		return
	}
	if len(s.list) < s.n {
		// Grown to at most n: a relay detector keeps a list per client
		// and domain, and append would round five up to eight.
		if len(s.list) == cap(s.list) {
			grown := make([]sampleRec, len(s.list), min(max(2*cap(s.list), 1), s.n))
			copy(grown, s.list)
			s.list = grown
		}
		s.list = append(s.list, sampleRec{})
	}
	copy(s.list[i+1:], s.list[i:]) // when full, the last falls off
	s.list[i] = x
}

func (s *samples) merge(o samples) {
	for _, x := range o.list {
		s.add(x)
	}
}

// sampleLess orders samples by start, file, line and session-id (as the
// hex the report shows sorts: a sample of no session first).
func sampleLess(a, b sampleRec) bool {
	if !a.start.Equal(b.start) {
		return a.start.Before(b.start)
	}
	if a.ref.File != b.ref.File {
		return a.ref.File < b.ref.File
	}
	if a.ref.Line != b.ref.Line {
		return a.ref.Line < b.ref.Line
	}
	if a.noID != b.noID {
		return a.noID
	}
	return a.id < b.id
}

// maxSamples is how many example sessions a finding lists.
const maxSamples = 5

// span tracks the first and last time something was seen.
type span struct{ first, last time.Time }

func (s *span) add(t0, t1 time.Time) {
	if s.first.IsZero() || t0.Before(s.first) {
		s.first = t0
	}
	if t1.After(s.last) {
		s.last = t1
	}
}

// counter counts occurrences of distinct strings, keeping at most limit
// values. Past the cap it keeps the limit values that sort first by name,
// so which values it keeps does not depend on the order they arrived in:
// a value kept at the end was kept from its first occurrence on, and its
// count is exact. Its distinct count and its "and N more" are then lower
// bounds, and say so.
type counter struct {
	// m holds a pointer per value so that counting a value again writes
	// no map entry: assigning to an existing string key stores the new
	// key, and would pin the text it was cut from (a whole session's).
	m       map[string]*int64
	full    nameHeap // the kept values, largest name first, once the cap is reached
	over    int64    // occurrences of values not kept
	dropped bool     // some distinct value was not kept
}

func (c *counter) add(v string, n int64, limit int) {
	if c.m == nil {
		c.m = map[string]*int64{}
	}
	if p, ok := c.m[v]; ok {
		*p += n
		return
	}
	if len(c.m) < limit {
		c.m[strings.Clone(v)] = &n
		return
	}
	c.dropped = true
	if len(c.full) == 0 {
		for k := range c.m {
			c.full = append(c.full, k)
		}
		heap.Init(&c.full)
	}
	if len(c.full) == 0 || v >= c.full[0] {
		c.over += n
		return
	}
	// v sorts before the last value kept: it takes that value's place.
	last := c.full[0]
	c.over += *c.m[last]
	delete(c.m, last)
	v = strings.Clone(v)
	c.full[0] = v
	heap.Fix(&c.full, 0)
	c.m[v] = &n
}

// get is the count of v (0 when not counted).
func (c *counter) get(v string) int64 {
	if p := c.m[v]; p != nil {
		return *p
	}
	return 0
}

// nameHeap is a max-heap of names.
type nameHeap []string

func (h nameHeap) Len() int           { return len(h) }
func (h nameHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h nameHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nameHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *nameHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// merge adds o's counts to c; the result does not depend on the order of
// merges.
func (c *counter) merge(o *counter, limit int) {
	for v, n := range o.m {
		c.add(v, *n, limit)
	}
	c.over += o.over
	c.dropped = c.dropped || o.dropped
}

// distinct is how many distinct values were counted, and whether that is
// a lower bound (the cap was reached).
func (c *counter) distinct() (n int64, lowerBound bool) { return int64(len(c.m)), c.dropped }

// top returns a fact listing the n most frequent values with their counts,
// ties by name. name must say what the counts count ("..., by sessions").
func (c *counter) top(name string, n int) Fact {
	type vc struct {
		v string
		n int64
	}
	var all []vc
	for v, k := range c.m {
		all = append(all, vc{v, *k})
	}
	sortDesc(all, func(x vc) int64 { return x.n }, func(x vc) string { return x.v })
	f := Fact{Name: name}
	for i, x := range all {
		if i == n {
			f.More = len(all) - n
			break
		}
		f.Values = append(f.Values, fmt.Sprintf("%s (%d)", x.v, x.n))
	}
	f.MoreAtLeast = c.dropped
	return f
}

// count sets Counts[key] to c's distinct count, noting a lower bound.
func (f *Finding) count(key string, c counter) {
	n, lower := c.distinct()
	f.setCount(key, n, lower)
}

// setCount sets Counts[key], noting in LowerBounds when n is only a lower
// bound.
func (f *Finding) setCount(key string, n int64, lowerBound bool) {
	if f.Counts == nil {
		f.Counts = map[string]int64{}
	}
	f.Counts[key] = n
	if lowerBound && !slices.Contains(f.LowerBounds, key) {
		f.LowerBounds = append(f.LowerBounds, key)
		slices.Sort(f.LowerBounds)
	}
}

// countText is n with thousands separators, "at least n" for a lower bound.
func countText(n int64, lowerBound bool) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if lowerBound {
		return "at least " + s
	}
	return s
}

// sortDesc sorts by key, largest first, ties by name.
func sortDesc[T any](s []T, key func(T) int64, name func(T) string) {
	slices.SortFunc(s, func(a, b T) int { return cmp.Or(cmp.Compare(key(b), key(a)), cmp.Compare(name(a), name(b))) })
}

// psq quotes s as a PowerShell single-quoted string: nothing inside is
// expanded, so text from the logs cannot run as code when pasted.
func psq(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// dq puts s in double quotes for prose, unescaped (renderers escape).
func dq(s string) string { return "\"" + s + "\"" }

// listFact is a fact of values in the order given, at most n of them (the
// text report cuts further; JSON and CSV get what is kept), counting the
// rest in More.
func listFact(name string, values []string, n int) Fact {
	f := Fact{Name: name, Values: firstN(values, n)}
	if len(values) > n {
		f.More = len(values) - n
	}
	return f
}

// joinFirst joins the first n values for a sentence, saying how many more
// there are: a list cut short never reads as complete.
func joinFirst(values []string, n int) string {
	if len(values) <= n {
		return strings.Join(values, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(values[:n], ", "), len(values)-n)
}
