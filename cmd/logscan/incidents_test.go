package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/samples/gen"
)

// maxFindingsLines is what the text report's findings part (what happened
// and the findings, before the relay inventory) may take on the incident
// organisation below.
const maxFindingsLines = 300

// incidentOrg is the organisation of the incident report's acceptance
// test: an open relay used by a botnet of 1,000+ sources, a hidden NAT in
// front of two servers, 451 5.7.3 between two pairs of servers and a
// blocklisting. About 75 MB; 7 MB with -short.
func incidentOrg(t *testing.T, clean bool) (string, gen.Stats) {
	cfg := gen.Config{Hours: 24, Scale: 0.8, Seed: 11, Botnet: 1500, MoreIncidents: true, Clean: clean}
	if testing.Short() {
		cfg.Scale, cfg.Botnet = 0.1, 1000
	}
	dir := t.TempDir()
	st := genOrg(t, dir, cfg)
	t.Logf("incident organisation: %d files, %.1f MB, %d sessions", st.Files, float64(st.Bytes)/1e6, st.Sessions)
	return dir, st
}

// TestIncidentReport: one finding per cause, a first screen that tells what
// happened in numbers that are the generator's truth, a findings part a
// person reads, and the same answer whatever the workers.
func TestIncidentReport(t *testing.T) {
	dir, truth := incidentOrg(t, false)
	code, text, errOut := runCLI(t, "scan", "--workers", "2", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, js, _ := runCLI(t, "scan", "--workers", "2", "--format", "json", dir)
	var rep jsonReport
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatal(err)
	}

	// One finding per cause.
	type key struct{ detector, server, connector, source string }
	want := []key{
		{"anonymous-relay", "EX02", `EX02\Default Frontend EX02`, ""},
		{"hidden-snat", "", "", "10.20.0.5"},
		{"anonymous-relay", "EX03", `EX03\Relay LB EX03`, "10.20.0.5"},
		{"anonymous-relay", "EX01", `EX01\Relay LB EX01`, "10.20.0.5"},
		{"blocklisted", "EX02", "Outbound to Internet", "203.0.113.12"},
		{"anonymous-relay", "EX02", `EX02\Anonymous Relay EX02`, "198.51.100.77"},
		{"exchange-auth-5.7.3", "EX01", `EX01\Relay Hub EX01`, "10.20.0.12"},
		{"exchange-auth-5.7.3", "EX02", `EX02\Relay Hub EX02`, "10.20.0.13"},
	}
	byKey := map[key]heuristics.Finding{}
	for _, f := range rep.Findings {
		k := key{f.Detector, f.Server, f.Connector, f.Source}
		if f.Detector == "hidden-snat" {
			k.server, k.connector = "", ""
		}
		if _, dup := byKey[k]; dup {
			t.Errorf("two findings for %+v", k)
		}
		byKey[k] = f
	}
	if len(rep.Findings) != len(want) {
		var titles []string
		for _, f := range rep.Findings {
			titles = append(titles, f.Title)
		}
		t.Fatalf("%d findings, want %d:\n%s", len(rep.Findings), len(want), strings.Join(titles, "\n"))
	}
	for _, k := range want {
		if _, ok := byKey[k]; !ok {
			t.Fatalf("no finding for %+v", k)
		}
	}
	open, nat, natEX03, natEX01, bl, relay77, auth1, auth2 := byKey[want[0]], byKey[want[1]], byKey[want[2]], byKey[want[3]], byKey[want[4]], byKey[want[5]], byKey[want[6]], byKey[want[7]]
	inc := truth.Incidents

	// Most important first: severity, then impact.
	if rep.Findings[0].ID != open.ID || rep.Findings[1].ID != nat.ID || rep.Findings[4].ID != bl.ID {
		t.Errorf("order: %s, %s, ..., %s", rep.Findings[0].Title, rep.Findings[1].Title, rep.Findings[4].Title)
	}

	// The relays, against the truth.
	for _, c := range []struct {
		f    heuristics.Finding
		conn string
	}{{open, `EX02\Default Frontend EX02`}, {natEX03, `EX03\Relay LB EX03`}, {natEX01, `EX01\Relay LB EX01`}, {relay77, `EX02\Anonymous Relay EX02`}} {
		rt := inc.Relays[c.conn]
		f := c.f
		if f.Counts["recipients"] != int64(rt.Recipients) || f.Counts["sessions"] != int64(rt.Sessions) || f.Counts["recipient_domains"] != int64(rt.Domains) ||
			max(f.Counts["sources"], 1) != int64(rt.Sources) || !f.First.Equal(rt.First) || !f.Last.Equal(rt.Last) {
			t.Errorf("%s: %v %s..%s; truth %+v", c.conn, f.Counts, f.First, f.Last, rt)
		}
		var rcpts, sessions int64
		for _, h := range f.Timeline.Hours {
			rcpts, sessions = rcpts+h.Recipients, sessions+h.Sessions
		}
		if rcpts != int64(rt.Recipients) || sessions != int64(rt.Sessions) || f.Timeline.Partial {
			t.Errorf("%s: hours add up to %d recipients in %d sessions; truth %d in %d", c.conn, rcpts, sessions, rt.Recipients, rt.Sessions)
		}
	}
	botnet := inc.Relays[`EX02\Default Frontend EX02`]
	if len(open.Sources) != botnet.Sources || open.Counts["public_sources"] != int64(botnet.Sources) || !open.Timeline.StillActive || open.Timeline.BeforeLogs {
		t.Errorf("open relay: %d sources listed, %v, still active %v", len(open.Sources), open.Counts, open.Timeline.StillActive)
	}
	var srcRcpts int64
	for _, s := range open.Sources {
		srcRcpts += s.Recipients
		if s.First.IsZero() || s.Last.Before(s.First) || !s.Public {
			t.Errorf("source %+v", s)
		}
	}
	if srcRcpts != int64(botnet.Recipients) {
		t.Errorf("sources add up to %d recipients, truth %d", srcRcpts, botnet.Recipients)
	}

	// The NAT: one finding for both servers, raised by the relays through it.
	natSessions := inc.NAT["EX01"].Sessions + inc.NAT["EX03"].Sessions
	natRelayed := inc.Relays[`EX01\Relay LB EX01`].Recipients + inc.Relays[`EX03\Relay LB EX03`].Recipients
	if !slices.Equal(nat.Servers, []string{"EX01", "EX03"}) || nat.Severity != heuristics.SeverityCritical || nat.Counts["sessions"] != int64(natSessions) ||
		nat.Counts["distinct_ehlo_names"] != int64(inc.NATEHLONames) || nat.Counts["relayed_recipients"] != int64(natRelayed) ||
		!slices.Equal(natEX01.CausedBy, []string{nat.ID}) || !slices.Equal(natEX03.CausedBy, []string{nat.ID}) {
		t.Errorf("NAT: %v servers %v; truth %d sessions, %d names, %d relayed", nat.Counts, nat.Servers, natSessions, inc.NATEHLONames, natRelayed)
	}

	// The blocklisting: list, IP, first and last time, volume, and the
	// relay that preceded it.
	bt := inc.Blocklisting
	if bl.Source != bt.IP || bl.Counts["refusals"] != int64(bt.Refusals) || bl.Counts["recipients_refused"] != int64(bt.RecipientsRefused) ||
		bl.Counts["permanent"] != int64(bt.Permanent) || bl.Counts["temporary"] != int64(bt.Temporary) || bl.Counts["sessions"] != int64(bt.Sessions) ||
		!bl.First.Equal(bt.First) || !bl.Last.Equal(bt.Last) || len(bl.CausedBy) == 0 || bl.CausedBy[0] != open.ID {
		t.Errorf("blocklist: %v %s..%s caused by %v; truth %+v", bl.Counts, bl.First, bl.Last, bl.CausedBy, bt)
	}
	for _, h := range bl.Timeline.Hours {
		if h.Failures != int64(bt.ByHour[h.Hour]) {
			t.Errorf("refusals at %s: %d, truth %d", h.Hour, h.Failures, bt.ByHour[h.Hour])
		}
	}
	if len(bl.Timeline.Hours) != len(bt.ByHour) {
		t.Errorf("%d hours with refusals, truth %d", len(bl.Timeline.Hours), len(bt.ByHour))
	}
	link := fmt.Sprintf("Relay through EX02\\Default Frontend EX02 from %s sources began %s; first blocklist rejection %s",
		num(int64(botnet.Sources)), botnet.First.Format("2006-01-02 15:04:05Z"), bt.First.Format("2006-01-02 15:04:05Z"))
	if !strings.Contains(bl.Explanation, link) {
		t.Errorf("blocklist explanation lacks %q:\n%s", link, bl.Explanation)
	}

	// 451 5.7.3 between both pairs.
	if auth1.Counts["failed_attempts"] != int64(truth.ExchangeAuthAttempts) || auth2.Counts["failed_attempts"] != int64(inc.SecondExchangeAuthAttempts) {
		t.Errorf("451: %d and %d attempts; truth %d and %d", auth1.Counts["failed_attempts"], auth2.Counts["failed_attempts"], truth.ExchangeAuthAttempts, inc.SecondExchangeAuthAttempts)
	}

	// The first screen, in the truth's numbers.
	lists := make([]string, 0, len(bt.Lists))
	for l := range bt.Lists {
		lists = append(lists, l)
	}
	slices.SortFunc(lists, func(a, b string) int { return cmp.Or(cmp.Compare(bt.Lists[b], bt.Lists[a]), cmp.Compare(a, b)) })
	hm := func(t time.Time) string { return t.UTC().Format("15:04") }
	rt77 := inc.Relays[`EX02\Anonymous Relay EX02`]
	headline := strings.Join(strings.Fields(text[:strings.Index(text, "\nFindings:")]), " ")
	for _, s := range []string{
		"What happened (times UTC)",
		fmt.Sprintf("1. [CRITICAL] Open relay through EX02\\Default Frontend EX02 from %s sources (%s public), %s → still active at %s (end of the logs): %s recipients in %s outside domains.",
			num(int64(botnet.Sources)), num(int64(botnet.Sources)), botnet.First.Format("2006-01-02 15:04"), hm(botnet.Last), num(int64(botnet.Recipients)), num(int64(botnet.Domains))),
		fmt.Sprintf("Blocklisted since %s (%s): %s recipients refused, still refused at %s (end of the logs).",
			hm(bt.First), strings.Join(lists, ", "), num(int64(bt.RecipientsRefused)), hm(bt.Last)),
		fmt.Sprintf("2. [CRITICAL] Hidden NAT 10.20.0.5 in front of EX01 and EX03: %s sessions from one address with %s EHLO names,", num(int64(natSessions)), num(int64(inc.NATEHLONames))),
		fmt.Sprintf("Everyone behind it relayed through EX03\\Relay LB EX03: %s recipients in %d outside domains, %s → %s.",
			num(int64(inc.Relays[`EX03\Relay LB EX03`].Recipients)), inc.Relays[`EX03\Relay LB EX03`].Domains, hm(inc.Relays[`EX03\Relay LB EX03`].First), hm(inc.Relays[`EX03\Relay LB EX03`].Last)),
		fmt.Sprintf("Everyone behind it relayed through EX01\\Relay LB EX01: %s recipients in %d outside domains, %s → %s.",
			num(int64(inc.Relays[`EX01\Relay LB EX01`].Recipients)), inc.Relays[`EX01\Relay LB EX01`].Domains, hm(inc.Relays[`EX01\Relay LB EX01`].First), hm(inc.Relays[`EX01\Relay LB EX01`].Last)),
		fmt.Sprintf("3. [HIGH] Anonymous relay through EX02\\Anonymous Relay EX02 from 198.51.100.77, %s → %s: %s recipients in %d outside domains.",
			rt77.First.Format("2006-01-02 15:04"), hm(rt77.Last), num(int64(rt77.Recipients)), rt77.Domains),
		fmt.Sprintf("EX02 (10.20.0.12) -> EX01: 451 5.7.3 Cannot achieve Exchange Server authentication (%d failed attempts)", truth.ExchangeAuthAttempts),
		fmt.Sprintf("EX03 (10.20.0.13) -> EX02: 451 5.7.3 Cannot achieve Exchange Server authentication (%d failed attempts)", inc.SecondExchangeAuthAttempts),
	} {
		if !strings.Contains(headline, s) {
			t.Errorf("what happened lacks %q:\n%s", s, headline)
		}
	}
	for _, s := range []string{
		fmt.Sprintf("[CRITICAL] Open relay through EX02\\Default Frontend EX02: %s public sources relayed %s recipients to %s outside domains",
			num(int64(botnet.Sources)), num(int64(botnet.Recipients)), num(int64(botnet.Domains))),
		fmt.Sprintf("(and %s more; --details or the JSON list them all)", num(int64(botnet.Sources-shownValues))),
		fmt.Sprintf("[HIGH] Our public IP %s is blocklisted (%s): %d recipient(s) refused", bt.IP, strings.Join(lists, ", "), bt.RecipientsRefused),
		"caused by " + strings.Join(bl.CausedBy, ", "),
	} {
		if !strings.Contains(strings.Join(strings.Fields(text), " "), s) {
			t.Errorf("report lacks %q", s)
		}
	}

	// The findings part fits what a person reads.
	part := text[:strings.Index(text, "\nRelay inventory")]
	if n := strings.Count(part, "\n") + 1; n > maxFindingsLines {
		t.Errorf("the findings part is %d lines, more than %d", n, maxFindingsLines)
	} else {
		t.Logf("findings part: %d lines; whole report: %d lines", n, strings.Count(text, "\n"))
	}

	// The same answer from one worker and from eight.
	for _, w := range []string{"1", "8"} {
		if _, other, _ := runCLI(t, "scan", "--workers", w, "--format", "json", dir); other != js {
			t.Errorf("--workers %s gives another report", w)
		}
	}
}

// TestIncidentOrgCleanIsQuiet: the same organisation without its incidents
// (no relay, no NAT, no broken connector, no listing) has no finding.
func TestIncidentOrgCleanIsQuiet(t *testing.T) {
	dir, _ := incidentOrg(t, true)
	code, text, errOut := runCLI(t, "scan", dir)
	if code != exitOK || !strings.HasPrefix(text, "Findings: none (checked: hidden NAT, anonymous relay,") {
		t.Errorf("exit %d (%s):\n%s", code, errOut, text[:min(len(text), 2000)])
	}
}
