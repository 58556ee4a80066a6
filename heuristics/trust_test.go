package heuristics

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/logscan/logscan/heuristics/session"
)

// TestCappedCounterIndependentOfOrder: a counter that overflows its cap
// lists the same top values with the same counts whatever order the
// values arrived in, and ties go by name.
func TestCappedCounterIndependentOfOrder(t *testing.T) {
	const limit = 100
	type vn struct {
		v string
		n int64
	}
	var vals []vn
	for i := range 3*limit + 7 {
		vals = append(vals, vn{fmt.Sprintf("host%04d.example", i), int64(1 + i%4)})
	}
	var fwd, rev counter
	for _, x := range vals {
		fwd.add(x.v, x.n, limit)
	}
	for _, x := range slices.Backward(vals) {
		rev.add(x.v, x.n, limit)
	}
	a, b := fwd.top("names", 5), rev.top("names", 5)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the order of arrival changes the top list:\n%+v\n%+v", a, b)
	}
	// Merging is order-independent too.
	var m1, m2 counter
	m1.merge(&fwd, limit)
	m1.merge(&rev, limit)
	m2.merge(&rev, limit)
	m2.merge(&fwd, limit)
	if a, b := m1.top("names", 5), m2.top("names", 5); !reflect.DeepEqual(a, b) {
		t.Errorf("the order of merging changes the top list:\n%+v\n%+v", a, b)
	}
}

// TestNATFindingOnePerAddress: two servers behind the same NAT address
// (a load balancer in front of both) make one hidden-NAT finding listing
// both servers and their connectors; the relay through it on each server
// is a finding of its own (a connector's permission each) citing it.
func TestNATFindingOnePerAddress(t *testing.T) {
	var all [][]*session.Session
	for _, sv := range []struct{ name, local string }{{"EX01", "10.1.0.10"}, {"EX02", "10.1.0.11"}} {
		lb := sv.name + `\Relay LB ` + sv.name
		all = append(all, internet(sv.name, sv.local, 60),
			natClients(sv.name, lb, sv.local, "10.1.0.5", 200, 40, relayPerms, "contoso.com"),
			natClients(sv.name, lb, sv.local, "10.1.0.5", 10, 10, relayPerms, "gmail.com"))
	}
	rep := analyze(Org{}, all...)
	var nat []Finding
	for _, f := range rep.Findings {
		if f.Detector == detectorSNAT {
			nat = append(nat, f)
		}
	}
	if len(nat) != 1 {
		t.Fatalf("%d NAT findings, want one for 10.1.0.5", len(nat))
	}
	n := nat[0]
	if !reflect.DeepEqual(n.Servers, []string{"EX01", "EX02"}) || n.Source != "10.1.0.5" || n.Severity != SeverityCritical ||
		n.Counts["sessions"] != 420 || n.Counts["relayed_recipients"] != 20 || !strings.Contains(n.Title, "in front of EX01 and EX02") {
		t.Errorf("NAT finding: %s servers %v source %s %v %v", n.Title, n.Servers, n.Source, n.Severity, n.Counts)
	}
	conns := n.Facts[0]
	if conns.Name != "servers and connectors it fronts, by sessions" || !reflect.DeepEqual(conns.Values, []string{`EX01\Relay LB EX01 (210)`, `EX02\Relay LB EX02 (210)`}) {
		t.Errorf("connectors fact: %+v", conns)
	}
	relays := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Detector != detectorRelay {
			continue
		}
		relays[f.Server] = true
		if !reflect.DeepEqual(f.CausedBy, []string{n.ID}) || !strings.Contains(f.Explanation, n.ID) || f.Counts["recipients"] != 10 {
			t.Errorf("relay finding on %s: caused by %v, want %s; %v\n%s", f.Server, f.CausedBy, n.ID, f.Counts, f.Explanation)
		}
	}
	if len(relays) != 2 {
		t.Errorf("relay findings on %v, want one per server's connector", relays)
	}
	// One incident: the NAT, then what was relayed through it.
	if len(rep.WhatHappened) != 1 || len(rep.WhatHappened[0].Findings) != 3 || rep.WhatHappened[0].Findings[0] != n.ID {
		t.Errorf("what happened: %+v", rep.WhatHappened)
	}
}

// TestDistinctCountsExact: 3,562 EHLO names behind a NAT address are
// counted as 3,562, not as the size of an internal cap.
func TestDistinctCountsExact(t *testing.T) {
	const names = 3562
	lb := `EX01\Relay LB EX01`
	rep := analyze(Org{}, internet("EX01", "10.1.0.10", 60), natClients("EX01", lb, "10.1.0.10", "10.1.0.5", 4000, names, anonPerms, "contoso.com"))
	if len(rep.Findings) != 1 {
		t.Fatalf("%d findings", len(rep.Findings))
	}
	f := rep.Findings[0]
	if got := f.Counts["distinct_ehlo_names"]; got != names || !strings.Contains(f.Title, "3,562 EHLO names") {
		t.Errorf("distinct EHLO names %d, title %q; want %d", got, f.Title, names)
	}
	if got := f.Counts["distinct_sender_domains"]; got != names {
		t.Errorf("distinct sender domains %d, want %d", got, names)
	}
	for _, fact := range f.Facts {
		if fact.Name == "EHLO names, by sessions" && (len(fact.Values) != names || fact.More != 0 || fact.MoreAtLeast) {
			t.Errorf("EHLO fact: %+v", fact)
		}
	}
}

// TestDistinctCountOverCapIsLowerBound: past the exact bound a distinct
// count says it is a lower bound.
func TestDistinctCountOverCapIsLowerBound(t *testing.T) {
	var c counter
	for i := range 150 {
		c.add(fmt.Sprint(i), 1, 100)
	}
	if n, lower := c.distinct(); n != 100 || !lower {
		t.Errorf("distinct() = %d, %v; want 100, a lower bound", n, lower)
	}
	if f := c.top("values, by sessions", 5); f.More != 95 || !f.MoreAtLeast {
		t.Errorf("top: %+v, want at least 95 more", f)
	}
	var f Finding
	f.count("distinct_things", c)
	if f.Counts["distinct_things"] != 100 || !slices.Contains(f.LowerBounds, "distinct_things") {
		t.Errorf("finding counts %v, lower bounds %v", f.Counts, f.LowerBounds)
	}
}

// TestFactsSayWhatTheyCount: every number in a fact's values is named by
// the fact ("..., by recipients"), and is that many: a sender that sent one
// message to three outside recipients in two domains shows 3, by recipients.
func TestFactsSayWhatTheyCount(t *testing.T) {
	relay := `EX01\Anonymous Relay EX01`
	rep := analyze(Org{AcceptedDomains: []string{"contoso.com"}}, internet("EX01", "10.1.0.10", 10),
		[]*session.Session{sess("EX01", relay, "10.1.0.10:25", "203.0.113.9:4000", perms(relayPerms), ehlo("app"),
			mail("alerts@app.example", "a@gmail.com", "b@gmail.com", "c@yahoo.com"))})
	var facts []Fact
	for _, list := range [][]Finding{rep.Findings, rep.Inventory, rep.Probes} {
		for _, f := range list {
			if f.Detector != detectorExchangeAuth {
				facts = append(facts, f.Facts...)
			}
		}
	}
	if len(facts) == 0 {
		t.Fatal("no facts")
	}
	counted := regexp.MustCompile(`\((\d+)\)$`)
	found := false
	for _, fact := range facts {
		for _, v := range fact.Values {
			m := counted.FindStringSubmatch(v)
			if m == nil {
				continue
			}
			if !strings.Contains(fact.Name, ", by ") {
				t.Errorf("fact %q shows %q without saying what the number counts", fact.Name, v)
			}
			if strings.HasPrefix(v, "alerts@app.example") {
				found = true
				if n, _ := strconv.Atoi(m[1]); n != 3 || !strings.Contains(fact.Name, "recipients") {
					t.Errorf("%s: %q, want 3 recipients", fact.Name, v)
				}
			}
		}
	}
	if !found {
		t.Errorf("no fact lists the sender: %+v", facts)
	}
}
