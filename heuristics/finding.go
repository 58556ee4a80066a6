package heuristics

import (
	"cmp"
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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

func sampleOf(s *session.Session, at session.Ref) Sample {
	return Sample{Server: s.Server, Session: fmt.Sprintf("%016X", s.ID), Start: s.Start, At: at.String(), ref: at}
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
	list []Sample
}

func (s *samples) add(x Sample) {
	if s.n == 0 {
		s.n = maxSamples
	}
	for i, y := range s.list {
		if y.Server == x.Server && y.Session == x.Session {
			// One example per session: its earliest row, whatever the
			// order the rows were offered in.
			if sampleLess(x, y) {
				s.list[i] = x
				slices.SortFunc(s.list, func(a, b Sample) int {
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
	s.list = append(s.list, Sample{})
	copy(s.list[i+1:], s.list[i:])
	s.list[i] = x
	if len(s.list) > s.n {
		s.list = s.list[:s.n]
	}
}

func (s *samples) merge(o samples) {
	for _, x := range o.list {
		s.add(x)
	}
}

func sampleLess(a, b Sample) bool {
	if !a.Start.Equal(b.Start) {
		return a.Start.Before(b.Start)
	}
	if a.ref.File != b.ref.File {
		return a.ref.File < b.ref.File
	}
	if a.ref.Line != b.ref.Line {
		return a.ref.Line < b.ref.Line
	}
	return a.Session < b.Session
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
	m       map[string]int64
	full    nameHeap // the kept values, largest name first, once the cap is reached
	over    int64    // occurrences of values not kept
	dropped bool     // some distinct value was not kept
}

func (c *counter) add(v string, n int64, limit int) {
	if c.m == nil {
		c.m = map[string]int64{}
	}
	if _, ok := c.m[v]; ok {
		c.m[v] += n
		return
	}
	if len(c.m) < limit {
		c.m[strings.Clone(v)] = n
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
	c.over += c.m[last]
	delete(c.m, last)
	v = strings.Clone(v)
	c.full[0] = v
	heap.Fix(&c.full, 0)
	c.m[v] = n
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
		c.add(v, n, limit)
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
		all = append(all, vc{v, k})
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
