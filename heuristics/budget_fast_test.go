package heuristics

import (
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestAddrTableFastV4: counting IPv4 addresses in v4Counts below the
// budget keeps the same as counting them in the map (noFastV4), IPv4-mapped
// IPv6 addresses and 0.0.0.0 included, below the budget and once it is
// reached (v4Counts moves into the map), with tables that grow.
func TestAddrTableFastV4(t *testing.T) {
	for _, budget := range []int{MaxAddrEntries, 3000, 200} {
		restore := SetBudgetsForTest(budget, 0)
		rng := rand.New(rand.NewPCG(uint64(budget), 7))
		var fast, slow addrTable
		slow.noFastV4 = true
		for i := range 40_000 {
			g := uint32(rng.IntN(3))
			var a netip.Addr
			switch r := rng.IntN(20); {
			case r == 0:
				a = netip.Addr{}
			case r == 1:
				a = netip.AddrFrom4([4]byte{})
			case r == 2:
				a = netip.AddrFrom16(netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(256))}).As16()) // ::ffff:10.0.x.y
			case r == 3:
				a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(rng.IntN(256))})
			case r < 10:
				a = netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(256))})
			default:
				a = netip.AddrFrom4([4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), 1})
			}
			n := int64(1 + i%3)
			fast.add(g, a, n)
			slow.add(g, a, n)
		}
		if fast.limited != slow.limited || fast.total != slow.total || fast.r != slow.r {
			t.Fatalf("budget %d: limited %v/%v, total %d/%d, r %d/%d", budget, fast.limited, slow.limited, fast.total, slow.total, fast.r, slow.r)
		}
		if budget == MaxAddrEntries && fast.limited || budget == 200 && !fast.limited {
			t.Fatalf("budget %d: limited %v: the test misses a path", budget, fast.limited)
		}
		for g := range uint32(4) {
			kf, ks := fast.kept(g), slow.kept(g)
			for _, k := range [][]AddrCount{kf, ks} {
				slices.SortFunc(k, func(a, b AddrCount) int { return a.Addr.Compare(b.Addr) })
			}
			if !reflect.DeepEqual(kf, ks) {
				t.Errorf("budget %d, group %d: kept %d addresses, the map %d, or other counts", budget, g, len(kf), len(ks))
			}
			nf, mf := fast.distinct(g)
			ns, ms := slow.distinct(g)
			rf, df := fast.rest(g)
			rs, ds := slow.rest(g)
			if nf != ns || mf != ms || rf != rs || df != ds {
				t.Errorf("budget %d, group %d: distinct %d %v rest %d %v, the map %d %v rest %d %v", budget, g, nf, mf, rf, df, ns, ms, rs, ds)
			}
		}
		restore()
	}
}

// TestLengthHistShort: counting short lengths in lengthHist.short keeps,
// at every step, the buckets and resolution of counting every length in
// the map (refLengthHist, the code before it), below and past the
// budget, negative and long lengths included.
func TestLengthHistShort(t *testing.T) {
	for _, budget := range []int{MaxLengthValues, 300} {
		restore := SetBudgetsForTest(0, budget)
		rng := rand.New(rand.NewPCG(uint64(budget), 9))
		var h lengthHist
		ref := refLengthHist{m: map[int64]int64{}, res: 1}
		for i := range 20_000 {
			var d time.Duration
			switch r := rng.IntN(10); {
			case r == 0:
				d = -time.Duration(rng.IntN(5_000_000)) * time.Microsecond
			case r == 1:
				d = time.Duration(maxShortLength-2+rng.IntN(4)) * time.Millisecond
			case r < 4:
				d = time.Duration(rng.IntN(100_000)) * time.Millisecond
			default:
				d = time.Duration(rng.IntN(9_000_000)) * time.Microsecond
			}
			h.add(d)
			ref.add(d)
			if budget == MaxLengthValues && i%1000 != 999 {
				continue // comparing costs a copy of thousands of buckets
			}
			got := maps.Clone(h.m)
			for ms, n := range h.short {
				if n != 0 {
					got[int64(ms)] += n
				}
			}
			if h.resolution() != ref.res || h.n != ref.n || !maps.Equal(got, ref.m) {
				t.Fatalf("budget %d, after %d lengths: %d ms, %d buckets; the map alone %d ms, %d buckets", budget, i+1, h.resolution(), len(got), ref.res, len(ref.m))
			}
		}
		if budget == 300 && ref.res == 1 || budget == MaxLengthValues && ref.res != 1 {
			t.Fatalf("budget %d: resolution %d: the test misses a path", budget, ref.res)
		}
		med, p95 := h.quantiles()
		wm, wp := (&lengthHist{res: ref.res, m: ref.m, n: ref.n}).quantiles()
		if med != wm || p95 != wp {
			t.Errorf("budget %d: %v/%v, want %v/%v", budget, med, p95, wm, wp)
		}
		restore()
	}
}

// refLengthHist is lengthHist.add before lengthHist.short.
type refLengthHist struct {
	res int64
	m   map[int64]int64
	n   int64
}

func (h *refLengthHist) add(d time.Duration) {
	ms := d.Milliseconds()
	if d < 0 && d%time.Millisecond != 0 {
		ms--
	}
	h.m[floorDiv(ms, h.res)]++
	h.n++
	for len(h.m) > maxLengthValues {
		old := h.m
		h.m, h.res = make(map[int64]int64, len(old)/2+1), h.res*2
		for b, n := range old {
			h.m[floorDiv(b, 2)] += n
		}
	}
}
