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

// TestNATFindingCitedPerServer: two servers behind the same NAT address;
// each relay finding cites its own server's hidden-NAT finding.
func TestNATFindingCitedPerServer(t *testing.T) {
	var all [][]*session.Session
	for _, sv := range []struct{ name, local string }{{"EX01", "10.1.0.10"}, {"EX02", "10.1.0.11"}} {
		lb := sv.name + `\Relay LB ` + sv.name
		all = append(all, internet(sv.name, sv.local, 60),
			natClients(sv.name, lb, sv.local, "10.1.0.5", 200, 40, relayPerms, "contoso.com"),
			natClients(sv.name, lb, sv.local, "10.1.0.5", 10, 10, relayPerms, "gmail.com"))
	}
	rep := analyze(Org{}, all...)
	ids := map[string]string{}
	for _, f := range rep.Findings {
		if f.Detector == detectorSNAT {
			ids[f.Server] = f.ID
		}
	}
	if len(ids) != 2 {
		t.Fatalf("NAT findings for %v, want EX01 and EX02", ids)
	}
	relays := 0
	for _, f := range rep.Findings {
		if f.Detector != detectorRelay {
			continue
		}
		relays++
		for server, id := range ids {
			if cites := strings.Contains(f.Explanation, id); cites != (server == f.Server) {
				t.Errorf("relay finding on %s: cites %s's NAT finding %s: %v\n%s", f.Server, server, id, cites, f.Explanation)
			}
		}
	}
	if relays != 2 {
		t.Errorf("%d relay findings, want one per server", relays)
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
		if fact.Name == "EHLO names, by sessions" && (fact.More != names-8 || fact.MoreAtLeast) {
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
