package heuristics

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRelaySharedDomainsStayShared: detailOf marks a domain shared once its
// name sorts after the last detailed name, and from then on gives it the
// shared detail without comparing names (relayDomain.shared). That holds
// only while the last detailed name never grows: after every session, a
// domain marked shared has no detail of its own and sorts after every
// detailed name, as detailOf would find by comparing.
func TestRelaySharedDomainsStayShared(t *testing.T) {
	const fe = `EX01\Default Frontend EX01`
	rng := rand.New(rand.NewPCG(5, 9))
	d := newRelayDetector()
	marked := 0
	for i := range 600 {
		var to []string
		for range 1 + rng.IntN(10) {
			to = append(to, fmt.Sprintf("u%d@d%03d.example", rng.IntN(5), rng.IntN(200)))
		}
		s := sess("EX01", fe, "10.1.0.10:25", fmt.Sprintf("198.51.100.%d:%d", 1+rng.IntN(3), 1000+i),
			perms(relayPerms), at(time.Duration(rng.IntN(48))*time.Hour), mail("x@spam.example", to...))
		d.observe(s)
		for k, g := range d.groups {
			for _, rd := range g.doms {
				if !rd.shared {
					continue
				}
				marked++
				name := d.nameList[rd.id]
				if rd.detail != 0 || len(g.detailed) < maxDetailDomains || name < g.detailed[0] {
					t.Fatalf("session %d, %v: %s marked shared, detail %v, last detailed of %d %q", i, k.client, name, rd.detail != 0, len(g.detailed), g.detailed[0])
				}
			}
		}
	}
	if marked == 0 {
		t.Error("no domain was marked shared: the test tests nothing")
	}
}
