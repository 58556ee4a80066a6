package heuristics

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
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
