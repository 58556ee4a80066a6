package heuristics

import (
	"maps"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestHourCountsAsMap: hourCounts keeps and counts what a map keyed by
// (hour, domain) kept when a new entry went in only if hourRoom had room
// for it: the same entries, counts and hour budget, with hours in no
// order, cut again and again, more than hourScanMax hours, and hours of
// more than hourScanMax domains (where the slots and entries are indexed).
// Each hour's total is its entries' counts summed.
func TestHourCountsAsMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	d, ref := newRelayDetector(), newRelayDetector()
	d.hourCap, ref.hourCap = 3000, 3000
	g := &relayGroup{}
	d.groups[relayKey{client: netip.MustParseAddr("198.51.100.1")}] = g
	want := map[hourKey[uint64]]int64{}
	for i := range 40_000 {
		var hour int64
		var of uint64
		switch {
		case i < 2_000: // a hundred hours, few domains each
			hour, of = int64(rng.IntN(100)), rng.Uint64N(3)
		case i < 4_000: // a few hours, many domains each
			hour, of = int64(rng.IntN(4)), rng.Uint64N(300)
		default: // more than hourCap: hours cut again and again
			hour, of = int64(rng.IntN(200)), rng.Uint64N(300)
		}
		hour *= 3600
		n := int64(1 + rng.IntN(5))
		g.rcptHours.add(d, hour, of, n)
		// How addHour counted in a map.
		if k := (hourKey[uint64]{hour, of}); hour < ref.hourCutoff {
			had := len(want)
			want[k] += n
			if len(want) > had && !ref.hourRoom(hour) {
				delete(want, k)
			}
		}
		maps.DeleteFunc(want, func(k hourKey[uint64], _ int64) bool { return k.hour >= ref.hourCutoff })
		if i == 3_999 {
			slotsIndexed, entriesIndexed := g.rcptHours.byHour != nil, false
			for _, s := range g.rcptHours.slots {
				entriesIndexed = entriesIndexed || s.index != nil
			}
			if !slotsIndexed || !entriesIndexed {
				t.Errorf("slots indexed %v, entries indexed %v: the test tests less than it says", slotsIndexed, entriesIndexed)
			}
		}
	}
	if d.hourCutoff != ref.hourCutoff || d.hourTotal != ref.hourTotal || !maps.Equal(d.hourEntries, ref.hourEntries) {
		t.Errorf("hours cut at %d, %d kept; in a map %d, %d", d.hourCutoff, d.hourTotal, ref.hourCutoff, ref.hourTotal)
	}
	d.purgeHours()
	if got := hoursOf(g.rcptHours); !maps.Equal(got, want) || g.rcptHours.len() != len(want) {
		t.Errorf("%d entries kept (len %d), want %d as in a map", len(got), g.rcptHours.len(), len(want))
	}
	for _, s := range g.rcptHours.slots {
		var sum int64
		for _, e := range s.entries {
			sum += e.n
		}
		if s.total != sum {
			t.Errorf("hour %d: total %d, its entries count %d", s.hour, s.total, sum)
		}
	}
	if d.hourCutoff >= 150*3600 {
		t.Errorf("hours cut at %d: the test tests less than it says", d.hourCutoff)
	}
}
