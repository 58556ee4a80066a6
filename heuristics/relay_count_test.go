package heuristics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// TestRelayCountsPerDomainAsPerRecipient: observe counts a message's
// recipients once per domain (countMessage), where it counted every
// recipient apart (relayCountPerRecipient). Both keep the same domains,
// details, other domains, hours, addresses and bounds, and report the
// same findings, with messages naming a domain several times among
// others, and budgets low enough that domains and details are dropped,
// other domains pass their bound, hours are cut and addresses sampled.
func TestRelayCountsPerDomainAsPerRecipient(t *testing.T) {
	const fe = `EX01\Default Frontend EX01`
	restore := SetRelayBudgetsForTest(120, 40, 30)
	defer restore()
	rng := rand.New(rand.NewPCG(7, 11))
	var relayed []*session.Session
	line := int64(0)
	for i := range 1500 {
		var msgs []sessOpt
		for range 1 + rng.IntN(3) {
			var to []string
			for j := range 1 + rng.IntN(12) {
				// Few domains a message, so that most come again in it.
				r := fmt.Sprintf("u%d@d%03d.example", rng.IntN(40), rng.IntN(4)+4*rng.IntN(60))
				switch rng.IntN(10) {
				case 0:
					r += ":550" // refused as relay
				case 1:
					r = fmt.Sprintf("u%d@contoso.com", j) // accepted
				}
				to = append(to, r)
			}
			msgs = append(msgs, mail(fmt.Sprintf("s%d@spam.example", rng.IntN(12)), to...))
		}
		opts := append([]sessOpt{perms(relayPerms), at(time.Duration(rng.IntN(72)) * time.Hour)}, msgs...)
		s := sess("EX01", fe, "10.1.0.10:25", fmt.Sprintf("198.51.100.%d:%d", 1+rng.IntN(20), 1000+i), opts...)
		// Every recipient its own row, so that which one is a domain's
		// example shows.
		for mi := range s.Messages {
			for ri := range s.Messages[mi].Rcpts {
				line++
				s.Messages[mi].Rcpts[ri].At = session.Ref{File: "RECV.LOG", Line: line}
			}
		}
		relayed = append(relayed, s)
	}
	run := func(perRecipient bool) (*RelayDetector, []byte) {
		defer func(was bool) { relayCountPerRecipient = was }(relayCountPerRecipient)
		relayCountPerRecipient = perRecipient
		a := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 1})
		d := a.detectors[slices.IndexFunc(detectors, func(r registration) bool { return r.name == detectorRelay })].(*RelayDetector)
		d.hourCap, d.evictBound, d.rcptBound = 700, newHashBound(60), newHashBound(2000)
		for _, s := range internet("EX01", "10.1.0.10", 20) {
			a.observe(s)
		}
		for _, s := range relayed {
			a.observe(s)
		}
		// The state, before Result releases part of it.
		state := relayStateOf(d)
		rep, err := json.Marshal(a.Result())
		if err != nil {
			t.Fatal(err)
		}
		return state, rep
	}
	general, generalRep := run(true)
	fast, fastRep := run(false)
	if general.domLimit != fast.domLimit || general.hourCutoff != fast.hourCutoff || general.hourTotal != fast.hourTotal ||
		general.evictBound != fast.evictBound || general.rcptBound != fast.rcptBound {
		t.Errorf("bounds %v %v %v %v %v, counting every recipient apart %v %v %v %v %v",
			fast.domLimit, fast.hourCutoff, fast.hourTotal, fast.evictBound, fast.rcptBound,
			general.domLimit, general.hourCutoff, general.hourTotal, general.evictBound, general.rcptBound)
	}
	if !maps.Equal(general.hourEntries, fast.hourEntries) {
		t.Errorf("hour entries %v, counting every recipient apart %v", fast.hourEntries, general.hourEntries)
	}
	if len(general.groups) != len(fast.groups) {
		t.Fatalf("%d groups, counting every recipient apart %d", len(fast.groups), len(general.groups))
	}
	var displaced, evicted, evictedOver, sampled bool
	for k, g := range general.groups {
		f := fast.groups[k]
		if f == nil {
			t.Fatalf("%v: no group", k.client)
		}
		if !reflect.DeepEqual(relayDomainsOf(f, fast.nameList, fast.files.names), relayDomainsOf(g, general.nameList, general.files.names)) {
			t.Errorf("%v: domains %v, counting every recipient apart %v", k.client, relayDomainsOf(f, fast.nameList, fast.files.names), relayDomainsOf(g, general.nameList, general.files.names))
		}
		if f.other.rcpts != g.other.rcpts || f.other.span != g.other.span || !maps.Equal(f.evicted, g.evicted) || f.evictedOver != g.evictedOver {
			t.Errorf("%v: other domains %v %v %v, counting every recipient apart %v %v %v", k.client, f.other, f.evicted, f.evictedOver, g.other, g.evicted, g.evictedOver)
		}
		if !reflect.DeepEqual(detailOut(&f.otherDet, fast.files.names), detailOut(&g.otherDet, general.files.names)) {
			t.Errorf("%v: shared detail %v, counting every recipient apart %v", k.client, detailOut(&f.otherDet, fast.files.names), detailOut(&g.otherDet, general.files.names))
		}
		if !maps.Equal(hoursOf(f.rcptHours), hoursOf(g.rcptHours)) || !maps.Equal(hoursOf(f.sessHours), hoursOf(g.sessHours)) {
			t.Errorf("%v: hours differ", k.client)
		}
		if !slices.Equal(f.rcpts.list, g.rcpts.list) || f.rcpts.sorted != len(f.rcpts.list) || f.rcpts.dropped != g.rcpts.dropped {
			t.Errorf("%v: recipient addresses differ", k.client)
		}
		displaced = displaced || len(g.otherDet.samples.list) > 0
		evicted = evicted || len(g.evicted) > 0
		evictedOver = evictedOver || g.evictedOver > 0
		sampled = sampled || g.rcpts.dropped
	}
	if !displaced || !evicted || !evictedOver || !sampled || general.domLimit.r >= maxRelayDomains || general.hourCutoff == 1<<63-1 {
		t.Errorf("the sessions did not reach the bounds (details shared %v, domains evicted %v and past their bound %v, addresses sampled %v, domains bound %d, hours cut at %d): the test tests less than it says",
			displaced, evicted, evictedOver, sampled, general.domLimit.r, general.hourCutoff)
	}
	if !bytes.Equal(fastRep, generalRep) {
		t.Error("the reports differ")
	}
}

// relayStateOf is a copy of what d keeps of its groups, for comparing:
// Result releases part of it. It leaves d as it is, but for sorting the
// recipient addresses added since the last sort (finishRcpts, which the
// report does first): their order depends on when each set was sorted.
func relayStateOf(d *RelayDetector) *RelayDetector {
	d.finishRcpts()
	c := *d
	c.groups = map[relayKey]*relayGroup{}
	for k, g := range d.groups {
		x := *g
		x.doms = slices.Clone(g.doms)
		x.rcpts.list = slices.Clone(g.rcpts.list)
		// The hours dropped may still be in the slots (purgeHours).
		x.rcptHours, x.sessHours = hoursKept(g.rcptHours, d.hourCutoff), hoursKept(g.sessHours, d.hourCutoff)
		c.groups[k] = &x
	}
	c.hourEntries = maps.Clone(d.hourEntries)
	return &c
}

// hoursKept is a copy of c without the hours at or after cutoff.
func hoursKept[T comparable](c hourCounts[T], cutoff int64) hourCounts[T] {
	var out hourCounts[T]
	for _, s := range c.slots {
		if s.hour < cutoff {
			out.slots = append(out.slots, hourSlot[T]{hour: s.hour, entries: slices.Clone(s.entries)})
			out.entries += len(s.entries)
		}
	}
	return out
}

// hoursOf is what c counts, as a map.
func hoursOf[T comparable](c hourCounts[T]) map[hourKey[T]]int64 { return maps.Collect(c.all()) }

// keptDomain is what a group keeps of a domain, by name.
type keptDomain struct {
	rcpts  int64
	span   msSpan
	detail any
}

func relayDomainsOf(g *relayGroup, names, files []string) map[string]keptDomain {
	out := map[string]keptDomain{}
	for i := range g.doms {
		rd := &g.doms[i]
		k := keptDomain{rcpts: rd.rcpts, span: rd.span}
		if det := g.detailAt(rd); det != nil {
			k.detail = detailOut(det, files)
		}
		out[names[rd.id]] = k
	}
	return out
}

// detailOut is what a report reads of a detail: the senders as a
// counter counts them (the order they were first seen aside) and the
// samples.
func detailOut(x *relayDetail, files []string) any {
	c := x.senders.counter()
	senders := map[string]int64{}
	for v, n := range c.m {
		senders[v] = *n
	}
	return struct {
		senders map[string]int64
		over    int64
		dropped bool
		samples []sampleRec
	}{senders, c.over, c.dropped, samplesOut(x.samples, files)}
}

// TestRelayHoursPurgedTogether: the entries of the hours dropped past
// hourCap are taken out of the groups' maps together (purgeHours), not at
// each hour dropped (relayPurgeEveryHour). Both keep the same entries and
// report the same, and the maps never hold more than a quarter of hourCap
// past it.
func TestRelayHoursPurgedTogether(t *testing.T) {
	const fe = `EX01\Default Frontend EX01`
	const hourCap = 400
	rng := rand.New(rand.NewPCG(8, 1))
	var relayed []*session.Session
	for i := range 3000 {
		var to []string
		for range 1 + rng.IntN(6) {
			to = append(to, fmt.Sprintf("u%d@d%03d.example", rng.IntN(50), rng.IntN(300)))
		}
		h := rng.IntN(100) // in no order: the hours are cut again and again
		relayed = append(relayed, sess("EX01", fe, "10.1.0.10:25", fmt.Sprintf("198.51.100.%d:%d", 1+rng.IntN(30), 1000+i),
			perms(relayPerms), at(time.Duration(h)*time.Hour), mail("x@spam.example", to...)))
	}
	run := func(everyHour bool) (*RelayDetector, []byte, int) {
		defer func(was bool) { relayPurgeEveryHour = was }(relayPurgeEveryHour)
		relayPurgeEveryHour = everyHour
		a := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 1})
		d := a.detectors[slices.IndexFunc(detectors, func(r registration) bool { return r.name == detectorRelay })].(*RelayDetector)
		d.hourCap = hourCap
		for _, s := range internet("EX01", "10.1.0.10", 20) {
			a.observe(s)
		}
		most, purges := 0, 0
		for _, s := range relayed {
			dead := d.deadHours
			a.observe(s)
			if d.deadHours < dead {
				purges++
			}
			n := 0
			for _, g := range d.groups {
				n += g.rcptHours.len() + g.sessHours.len()
			}
			most = max(most, n)
		}
		if most > hourCap+hourCap/4+1 {
			t.Errorf("purging every hour %v: the maps held %d entries, past hourCap %d and a quarter", everyHour, most, hourCap)
		}
		state := relayStateOf(d)
		rep, err := json.Marshal(a.Result())
		if err != nil {
			t.Fatal(err)
		}
		return state, rep, purges
	}
	general, generalRep, _ := run(true)
	fast, fastRep, purges := run(false)
	if general.hourCutoff != fast.hourCutoff || general.hourTotal != fast.hourTotal || !maps.Equal(general.hourEntries, fast.hourEntries) {
		t.Errorf("hours cut at %d, %d kept (%v); purging every hour %d, %d (%v)",
			fast.hourCutoff, fast.hourTotal, fast.hourEntries, general.hourCutoff, general.hourTotal, general.hourEntries)
	}
	for k, g := range general.groups {
		f := fast.groups[k]
		if f == nil || !maps.Equal(hoursOf(f.rcptHours), hoursOf(g.rcptHours)) || !maps.Equal(hoursOf(f.sessHours), hoursOf(g.sessHours)) {
			t.Fatalf("%v: hours differ", k.client)
		}
	}
	if purges < 2 {
		t.Errorf("%d purges before the report, hours cut at %d: the test tests less than it says", purges, general.hourCutoff)
	}
	if !bytes.Equal(fastRep, generalRep) {
		t.Error("the reports differ")
	}
}

// samplesOut is what a report reads of relay samples: sampleRecs, files
// by name (two detectors may number them apart).
func samplesOut(x relaySamples, files []string) []sampleRec {
	var out samples
	x.addTo(&out, "", files)
	return out.list
}
