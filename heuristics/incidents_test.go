package heuristics

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// botnet is n public sources relaying through connector, source i sending
// i%5+1 sessions of 3 outside recipients each, one session every minute
// from t0+off.
func botnet(server, connector, local string, n int, off time.Duration) []*session.Session {
	var out []*session.Session
	k := 0
	for i := range n {
		for j := range i%5 + 1 {
			ip := fmt.Sprintf("%d.%d.%d.%d", 36+i%7, i/250, i%250+1, 7)
			out = append(out, sess(server, connector, local+":25", ip+":4000", ehlo(fmt.Sprintf("bot%d", i)), perms(relayPerms),
				at(off+time.Duration(k)*time.Minute), mail(fmt.Sprintf("x%d@spam.example", j), fmt.Sprintf("a%d@gmail.com", k), fmt.Sprintf("b%d@qq.com", k), fmt.Sprintf("c%d@t%d.example", k, i%40))))
			k++
		}
	}
	return out
}

// TestBotnetOneFinding: 1,200 public sources through the Internet-facing
// connector are one critical finding, the sources its evidence, with a
// timeline whose hours add up to its totals.
func TestBotnetOneFinding(t *testing.T) {
	fe := `EX01\Default Frontend EX01`
	bots := botnet("EX01", fe, "10.1.0.10", 1200, time.Hour)
	early := sess("EX01", fe, "10.1.0.10:25", "198.18.9.9:1", at(-2*time.Hour), mail("a@example.org", "bob@contoso.com"))
	rep := analyze(Org{}, internet("EX01", "10.1.0.10", 20), []*session.Session{early}, bots)
	check(t, rep.Findings, want{"anonymous-relay", SeverityCritical, "EX01", fe, ""})
	f := rep.Findings[0]
	sessions := int64(len(bots))
	if f.Counts["sources"] != 1200 || f.Counts["public_sources"] != 1200 || f.Counts["sessions"] != sessions ||
		f.Counts["recipients"] != 3*sessions || f.Counts["distinct_recipients"] != 3*sessions || f.Counts["recipient_domains"] != 42 {
		t.Errorf("counts %v", f.Counts)
	}
	if !strings.HasPrefix(f.Title, `Open relay through EX01\Default Frontend EX01: 1,200 public sources relayed`) {
		t.Errorf("title %q", f.Title)
	}
	if len(f.Sources) != 1200 {
		t.Fatalf("%d sources listed", len(f.Sources))
	}
	// Most recipients first; ties by address, numerically.
	for i := 1; i < len(f.Sources); i++ {
		a, b := f.Sources[i-1], f.Sources[i]
		if a.Recipients < b.Recipients || a.Recipients == b.Recipients && a.Sessions == b.Sessions && compareAddrText(a.Addr, b.Addr) > 0 {
			t.Fatalf("sources out of order at %d: %+v, %+v", i, a, b)
		}
	}
	top := f.Sources[0]
	if top.Recipients != 15 || top.Sessions != 5 || !top.Public || top.EHLO == "" || !top.First.Before(top.Last) {
		t.Errorf("top source %+v", top)
	}
	tl := f.Timeline
	if tl == nil || tl.Measure != MeasureRecipients {
		t.Fatalf("timeline %+v", tl)
	}
	var rcpts, sess int64
	for _, h := range tl.Hours {
		rcpts += h.Recipients
		sess += h.Sessions
		if h.Hour.Minute() != 0 || h.Hour.Second() != 0 {
			t.Errorf("hour %s not on the hour", h.Hour)
		}
	}
	if rcpts != f.Counts["recipients"] || sess != sessions || !tl.Onset.Equal(f.First) || !tl.End.Equal(f.Last) {
		t.Errorf("hours add up to %d recipients, %d sessions; finding %v; onset %s end %s", rcpts, sess, f.Counts, tl.Onset, tl.End)
	}
	// One session a minute: every full hour has 60 sessions, 180 recipients.
	if tl.PeakCount != 180 || !tl.Peak.Equal(t0.Add(time.Hour)) || !tl.StillActive || tl.BeforeLogs {
		t.Errorf("peak %s %d, still active %v, before logs %v", tl.Peak, tl.PeakCount, tl.StillActive, tl.BeforeLogs)
	}
	if len(rep.WhatHappened) != 1 || !strings.HasPrefix(rep.WhatHappened[0].Text, `Open relay through EX01\Default Frontend EX01 from 1,200 sources (1,200 public), 2026-11-02 11:00 → still active`) {
		t.Errorf("what happened: %+v", rep.WhatHappened)
	}
}

// TestRelayGroupedPerConnector: on one connector, public and internal
// relays are two findings (two verdicts), and printers on a dedicated
// connector are one inventory entry listing each.
func TestRelayGroupedPerConnector(t *testing.T) {
	fe, relay := `EX01\Default Frontend EX01`, `EX01\Anonymous Relay EX01`
	rep := analyze(Org{}, internet("EX01", "10.1.0.10", 20),
		[]*session.Session{
			sess("EX01", fe, "10.1.0.10:25", "198.51.100.1:1", perms(relayPerms), mail("x@spam.example", "a@gmail.com")),
			sess("EX01", fe, "10.1.0.10:25", "198.51.100.2:1", perms(relayPerms), mail("x@spam.example", "a@gmail.com", "b@qq.com")),
			sess("EX01", fe, "10.1.0.10:25", "10.30.9.9:1", perms(relayPerms), mail("app@contoso.com", "a@gmail.com")),
			sess("EX01", relay, "10.1.0.10:25", "10.30.5.21:1", ehlo("SCAN01"), perms(relayPerms), mail("scan@contoso.com", "p@fabrikam.com")),
			sess("EX01", relay, "10.1.0.10:25", "10.30.5.22:1", ehlo("SCAN02"), perms(relayPerms), mail("scan@contoso.com", "p@fabrikam.com")),
		})
	check(t, rep.Findings,
		want{"anonymous-relay", SeverityCritical, "EX01", fe, ""},
		want{"anonymous-relay", SeverityHigh, "EX01", fe, "10.30.9.9"})
	if n := rep.Findings[0].Counts["sources"]; n != 2 || rep.Findings[0].Sources[0].Addr != "198.51.100.2" {
		t.Errorf("open relay: %d sources, %+v", n, rep.Findings[0].Sources)
	}
	if len(rep.Inventory) != 1 || len(rep.Inventory[0].Sources) != 2 || rep.Inventory[0].Counts["recipients"] != 2 ||
		!strings.HasPrefix(rep.Inventory[0].Title, "2 internal hosts relay through "+relay) {
		t.Errorf("inventory: %+v", rep.Inventory)
	}
}

// TestSortByImpact: findings of one severity are ordered by what they did,
// never by address text ("10.0.0.9" sorts after "10.0.0.10" as text).
func TestSortByImpact(t *testing.T) {
	f := []Finding{
		{ID: "a", Detector: detectorRelay, Severity: SeverityHigh, Source: "10.0.0.10", Counts: map[string]int64{"recipients": 5}},
		{ID: "b", Detector: detectorRelay, Severity: SeverityHigh, Source: "10.0.0.9", Counts: map[string]int64{"recipients": 5}},
		{ID: "c", Detector: detectorBlocklist, Severity: SeverityHigh, Counts: map[string]int64{"recipients_refused": 900}},
		{ID: "d", Detector: detectorRelay, Severity: SeverityCritical, Counts: map[string]int64{"recipients": 1}},
		{ID: "e", Detector: detectorSNAT, Severity: SeverityCritical, Counts: map[string]int64{"relayed_recipients": 1, "sessions": 400}},
	}
	SortFindings(f)
	var got []string
	for _, x := range f {
		got = append(got, x.ID)
	}
	if want := []string{"e", "d", "c", "b", "a"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestTimeline: peaks, the first hour of the logs and the end of them.
func TestTimeline(t *testing.T) {
	logs := span{t0, t0.Add(10 * time.Hour)}
	var h hourly
	h.add(t0.Add(30*time.Minute), 1, 4, 0)
	h.add(t0.Add(3*time.Hour+5*time.Minute), 1, 9, 0)
	h.add(t0.Add(5*time.Hour), 1, 9, 0)
	h.add(t0.Add(5*time.Hour+59*time.Minute), 1, 0, 0)
	tl := h.timeline(MeasureRecipients, t0.Add(30*time.Minute), t0.Add(9*time.Hour+30*time.Minute), logs)
	if len(tl.Hours) != 3 || !tl.Peak.Equal(t0.Add(3*time.Hour)) || tl.PeakCount != 9 || !tl.BeforeLogs || !tl.StillActive || !tl.Start.Equal(t0) {
		t.Errorf("timeline %+v", tl)
	}
	if tl.Hours[2].Sessions != 2 || tl.Hours[2].Recipients != 9 {
		t.Errorf("hour 5: %+v", tl.Hours[2])
	}
	tl = h.timeline(MeasureSessions, t0.Add(70*time.Minute), t0.Add(8*time.Hour), logs)
	if tl.BeforeLogs || tl.StillActive || tl.PeakCount != 2 || !tl.Peak.Equal(t0.Add(5*time.Hour)) {
		t.Errorf("timeline %+v", tl)
	}
	if hourly(nil).timeline(MeasureSessions, time.Time{}, time.Time{}, logs) != nil {
		t.Error("a timeline of nothing")
	}
}

// TestChecksCoverEveryDetector: the "no finding" line names what each
// registered detector looks for.
func TestChecksCoverEveryDetector(t *testing.T) {
	checks := Checks()
	if len(checks) != len(detectors) {
		t.Fatalf("%d checks for %d detectors", len(checks), len(detectors))
	}
	for _, reg := range detectors {
		if checkNames[reg.name] == "" {
			t.Errorf("detector %s has no entry in checkNames", reg.name)
		}
	}
	rep := analyze(Org{}, internet("EX01", "10.1.0.10", 3))
	if len(rep.Findings) != 0 || len(rep.Checked) != len(detectors) || len(rep.WhatHappened) != 0 {
		t.Errorf("quiet report: %+v", rep)
	}
}

// TestBlocklistFollowsRelay: the relay that preceded the listing is its
// cause, one incident tells both, and the listing has refusals per hour.
func TestBlocklistFollowsRelay(t *testing.T) {
	rep := scanDir(t, Org{}, filepath.Join("testdata", "blocklist", "relay-then-listed"))
	var relay, bl *Finding
	for i, f := range rep.Findings {
		switch f.Detector {
		case detectorRelay:
			relay = &rep.Findings[i]
		case detectorBlocklist:
			if isListing(f) {
				bl = &rep.Findings[i]
			}
		}
	}
	if relay == nil || bl == nil {
		t.Fatalf("findings %+v", rep.Findings)
	}
	if !slices.Equal(bl.CausedBy, []string{relay.ID}) {
		t.Errorf("caused by %v, want %s", bl.CausedBy, relay.ID)
	}
	tl := bl.Timeline
	var refusals int64
	for _, h := range tl.Hours {
		refusals += h.Failures
	}
	if tl == nil || tl.Measure != MeasureFailures || refusals != bl.Counts["refusals"] || !tl.Onset.Equal(bl.First) {
		t.Errorf("timeline %+v; refusals %d, counts %v", tl, refusals, bl.Counts)
	}
	inc := rep.WhatHappened[0]
	if inc.Findings[0] != relay.ID || !slices.Contains(inc.Findings, bl.ID) || !strings.Contains(inc.Text, "Blocklisted since at least 16:55 (the first hour of the logs) (Microsoft (S3150), Spamhaus ZEN") {
		t.Errorf("incident %+v", inc)
	}
}

// TestFailureTimeline: the helper for detectors that keep their events'
// times (the 451 5.7.3 retries): one failure per time, judged against the
// servers' send and receive logs.
func TestFailureTimeline(t *testing.T) {
	l := &logSpans{}
	l.observe(sess("EX01", `EX01\Default EX01`, "10.1.0.10:2525", "10.1.0.11:1", at(-3*time.Hour)))
	last := sess("EX01", `EX01\Default EX01`, "10.1.0.10:2525", "10.1.0.11:1", at(4*time.Hour))
	l.observe(last)
	in := &detectorInputs{logs: l}
	var times []time.Time
	for i := range 12 {
		times = append(times, t0.Add(time.Duration(i)*10*time.Minute+47*time.Second))
	}
	tl := in.failureTimeline(times, "EX01")
	if tl.Measure != MeasureFailures || len(tl.Hours) != 2 || tl.Hours[0].Failures != 6 || tl.PeakCount != 6 || !tl.Peak.Equal(t0) ||
		!tl.Onset.Equal(times[0]) || !tl.End.Equal(times[11]) || tl.StillActive || tl.BeforeLogs || !tl.LogsEnd.Equal(last.End) {
		t.Errorf("timeline %+v", tl)
	}
	if in.failureTimeline(nil, "EX01") != nil {
		t.Error("a timeline of nothing")
	}
}

// TestRelayHoursCapOrderIndependent: past the cap on per-hour entries the
// latest hours are left out, the same ones whatever the order sessions
// arrive in, and the timeline says it is partial; the totals stay exact.
func TestRelayHoursCapOrderIndependent(t *testing.T) {
	fe := `EX01\Default Frontend EX01`
	bots := botnet("EX01", fe, "10.1.0.10", 200, time.Hour)
	// Made once: sess numbers the sessions it makes, and times them by it.
	mail := internet("EX01", "10.1.0.10", 20)
	run := func(list []*session.Session) Finding {
		a := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 1})
		a.detectors[slices.IndexFunc(detectors, func(r registration) bool { return r.name == detectorRelay })].(*RelayDetector).hourCap = 500
		for _, s := range mail {
			a.observe(s)
		}
		for _, s := range list {
			a.observe(s)
		}
		return a.Result().Findings[0]
	}
	fwd := run(bots)
	rev := slices.Clone(bots)
	slices.Reverse(rev)
	back := run(rev)
	if !reflect.DeepEqual(fwd.Timeline, back.Timeline) || !reflect.DeepEqual(fwd.Counts, back.Counts) {
		t.Errorf("the order of sessions changes the timeline:\n%+v\n%+v", fwd.Timeline, back.Timeline)
	}
	tl := fwd.Timeline
	var rcpts int64
	for _, h := range tl.Hours {
		rcpts += h.Recipients
		if h.Recipients != 180 {
			t.Errorf("hour %s: %d recipients, want all 180", h.Hour, h.Recipients)
		}
	}
	if !tl.Partial || len(tl.Hours) == 0 || rcpts >= fwd.Counts["recipients"] || fwd.Counts["recipients"] != 3*int64(len(bots)) {
		t.Errorf("partial %v, %d hours, %d of %d recipients", tl.Partial, len(tl.Hours), rcpts, fwd.Counts["recipients"])
	}
}
