package heuristics

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBlocklistBoundsSameWhateverTheOrder: past maxTrackedRcpts deliveries
// and maxDeferred deferrals, what the blocklisting detector keeps (and so
// its delivered-later counts) does not depend on the order sessions come
// in. It did: the first to come were kept, and a 4 GB scan gave 16,121 or
// 16,122 recipients not delivered from run to run.
func TestBlocklistBoundsSameWhateverTheOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hashes := make([]uint64, maxTrackedRcpts+maxTrackedRcpts/4)
	for i := range hashes {
		hashes[i] = rng.Uint64()
	}
	run := func(order []uint64) (map[uint64]int64, bool, map[uint64]deferral, int64) {
		d := newBlocklistDetector()
		g := d.group(blKey{server: "EX01"})
		for i, h := range order {
			d.deliver(h, int64(i%1000))
			if i%2 == 0 {
				g.addDeferral(h, deferral{int64(i % 777), 1})
				g.addDeferral(h, deferral{int64(i % 555), 1})
			}
		}
		return d.delivered, d.deliveredOver, g.deferred, g.deferredOver
	}
	fwd := slices.Clone(hashes)
	wantDel, wantOver, wantDef, wantDefOver := run(fwd)
	if !wantOver || len(wantDel) > maxTrackedRcpts || len(wantDel) == 0 {
		t.Fatalf("delivered: kept %d, over %v; want at most %d kept and over", len(wantDel), wantOver, maxTrackedRcpts)
	}
	if len(wantDef) > maxDeferred || wantDefOver == 0 || int64(len(hashes)/2+len(hashes)%2)*2 != wantDefOver+sumN(wantDef) {
		t.Fatalf("deferred: kept %d (%d deferrals), %d over; want at most %d kept, every deferral counted once", len(wantDef), sumN(wantDef), wantDefOver, maxDeferred)
	}
	// The same hashes in another order keep the same hashes.
	rev := slices.Clone(hashes)
	slices.Reverse(rev)
	gotDel, gotOver, _, _ := run(rev)
	if !slices.Equal(slices.Sorted(maps.Keys(gotDel)), slices.Sorted(maps.Keys(wantDel))) || gotOver != wantOver {
		t.Fatalf("delivered: reversed order kept %d, forward %d, or a different set", len(gotDel), len(wantDel))
	}
}

func sumN(m map[uint64]deferral) int64 {
	var n int64
	for _, x := range m {
		n += x.n
	}
	return n
}
