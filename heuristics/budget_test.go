package heuristics

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/montanaflynn/stats"

	"github.com/logscan/logscan/heuristics/session"
)

// TestAddrTableIndependentOfOrder: past the budget, what a table keeps,
// its counts and each group's rest are the same whatever the order, and
// the kept counts are exact; a small group keeps its addresses when a big
// one fills the budget.
func TestAddrTableIndependentOfOrder(t *testing.T) {
	defer SetBudgetsForTest(500, 0)()
	type add struct {
		g uint32
		a netip.Addr
	}
	var adds []add
	want := map[add]int64{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20_000 {
		g := uint32(0)
		a := netip.AddrFrom4([4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(4)), 1})
		if i%100 == 0 {
			g, a = 1, netip.AddrFrom4([4]byte{250, 0, 0, byte(i / 100 % 7)}) // a quiet connector, high addresses
		}
		adds = append(adds, add{g, a})
		want[add{g, a}]++
	}
	result := func(order []add) (kept [2][]AddrCount, rest [2]int64) {
		var tb addrTable
		for _, x := range order {
			tb.add(x.g, x.a, 1)
		}
		for g := range uint32(2) {
			kept[g] = tb.kept(g)
			slices.SortFunc(kept[g], func(a, b AddrCount) int { return a.Addr.Compare(b.Addr) })
			rest[g], _ = tb.rest(g)
		}
		return kept, rest
	}
	kept, rest := result(adds)
	for range 3 {
		rng.Shuffle(len(adds), func(i, j int) { adds[i], adds[j] = adds[j], adds[i] })
		k2, r2 := result(adds)
		if !reflect.DeepEqual(kept, k2) || rest != r2 {
			t.Fatalf("another order keeps something else")
		}
	}
	if n := len(kept[0]) + len(kept[1]); n > 500 || n < 490 {
		t.Errorf("kept %d entries, want about the budget 500", n)
	}
	if len(kept[1]) != 7 {
		t.Errorf("the quiet connector kept %d of its 7 addresses", len(kept[1]))
	}
	for g := range uint32(2) {
		var total, sum int64
		for x, n := range want {
			if x.g == g {
				total += n
			}
		}
		for _, ac := range kept[g] {
			if ac.Sessions != want[add{g, ac.Addr}] {
				t.Errorf("%v: kept count %d, want exact %d", ac.Addr, ac.Sessions, want[add{g, ac.Addr}])
			}
			sum += ac.Sessions
		}
		if sum+rest[g] != total {
			t.Errorf("group %d: kept %d + rest %d != %d sessions", g, sum, rest[g], total)
		}
	}
	// The kept addresses are the group's lowest.
	var all []netip.Addr
	for x := range want {
		if x.g == 0 {
			all = append(all, x.a)
		}
	}
	slices.SortFunc(all, func(a, b netip.Addr) int { return a.Compare(b) })
	for i, ac := range kept[0] {
		if ac.Addr != all[i] {
			t.Fatalf("kept %v at %d, want the lowest %v", ac.Addr, i, all[i])
		}
	}
}

// TestLengthHistExact: the median and p95 are what stats computes over
// every length, while within the budget; past it they are the start of
// their bucket, never above the true figure and at most a bucket below,
// whatever the order.
func TestLengthHistExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 10, 101, 5000} {
		var h lengthHist
		var all stats.Float64Data
		for range n {
			d := time.Duration(rng.IntN(30_000)) * time.Millisecond
			h.add(d)
			all = append(all, d.Seconds())
		}
		med, p95 := h.quantiles()
		wm, _ := stats.Median(all)
		wp, _ := stats.PercentileNearestRank(all, 95)
		if med != wm || p95 != wp {
			t.Errorf("n=%d: %v/%v, want %v/%v", n, med, p95, wm, wp)
		}
	}
	defer SetBudgetsForTest(0, 100)()
	var lengths []time.Duration
	var all stats.Float64Data
	for range 10_000 {
		d := time.Duration(rng.IntN(60_000)) * time.Millisecond
		lengths = append(lengths, d)
		all = append(all, d.Seconds())
	}
	var h lengthHist
	for _, d := range lengths {
		h.add(d)
	}
	med, p95 := h.quantiles()
	res := h.resolution()
	if res <= 1 || len(h.m) > 100 {
		t.Fatalf("resolution %d with %d buckets, want coarser within 100", res, len(h.m))
	}
	wm, _ := stats.Median(all)
	wp, _ := stats.PercentileNearestRank(all, 95)
	for _, c := range [][2]float64{{med, wm}, {p95, wp}} {
		if c[0] > c[1] || c[1]-c[0] >= float64(res)/1000 {
			t.Errorf("%v for %v: not within a %d ms bucket below", c[0], c[1], res)
		}
	}
	rng.Shuffle(len(lengths), func(i, j int) { lengths[i], lengths[j] = lengths[j], lengths[i] })
	var h2 lengthHist
	for _, d := range lengths {
		h2.add(d)
	}
	m2, p2 := h2.quantiles()
	if h2.resolution() != res || m2 != med || p2 != p95 {
		t.Errorf("another order: %d ms, %v/%v; want %d ms, %v/%v", h2.resolution(), m2, p2, res, med, p95)
	}
}

// TestSNATAmongManyPublicClients: a NAT on the server's subnet is still
// found among far more random public clients than the budget keeps, the
// budget is reported, and the finding says its source count is a lower
// bound.
func TestSNATAmongManyPublicClients(t *testing.T) {
	defer SetBudgetsForTest(2_000, 0)()
	const ex = "10.1.0.10"
	lb := `EX01\Default Frontend EX01`
	rng := rand.New(rand.NewPCG(5, 6))
	var public []*session.Session
	for i := range 30_000 {
		ip := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
		public = append(public, sess("EX01", lb, ex+":25", netip.AddrPortFrom(ip, 4000).String(), ehlo(fmt.Sprintf("mx%d.example", i))))
	}
	rep := analyze(Org{}, public, natClients("EX01", lb, ex, "10.1.0.5", 300, 40, anonPerms, "contoso.com"))
	var nat *Finding
	for i, f := range rep.Findings {
		if f.Detector == detectorSNAT {
			nat = &rep.Findings[i]
		}
	}
	if nat == nil || nat.Source != "10.1.0.5" {
		t.Fatalf("no hidden-NAT finding for 10.1.0.5 among 30,000 public clients: %+v", rep.Findings)
	}
	if nat.Counts["server_sessions"] != 30_300 || !slices.Contains(nat.LowerBounds, "server_sources") {
		t.Errorf("counts %v, lower bounds %v: want every session counted and the sources a lower bound", nat.Counts, nat.LowerBounds)
	}
	tables := map[string]bool{}
	for _, b := range rep.Budgets {
		tables[b.Table] = true
	}
	for _, want := range []string{budgetNATClients, budgetSummaryRemote, budgetUsage} {
		if !tables[want] {
			t.Errorf("budget %q not reported: %+v", want, rep.Budgets)
		}
	}
}

// BenchmarkAddrTableAdd counts 130,000 sessions from 5,000 addresses on 3
// connectors, as the summary does for recv6 (its 1,600-address botnet and
// the rest): below the budget, nearly every add finds its address kept.
func BenchmarkAddrTableAdd(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	type add struct {
		g uint32
		a netip.Addr
	}
	adds := make([]add, 130_000)
	for i := range adds {
		n := rng.IntN(5_000)
		adds[i] = add{uint32(n % 3), netip.AddrFrom4([4]byte{byte(n >> 8), byte(n), 7, 1})}
	}
	for b.Loop() {
		var tb addrTable
		for _, x := range adds {
			tb.add(x.g, x.a, 1)
		}
	}
}
