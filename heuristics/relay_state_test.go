package heuristics

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// The compact relay state must keep exactly what the plain types kept:
// the smallCounter what a counter keeps, the rcptSet the same distinct
// count whatever the order the addresses come in.

func TestSmallCounterCountsAsCounter(t *testing.T) {
	for _, distinct := range []int{1, 3, smallCounterMax, smallCounterMax + 1, 70, 200} {
		var vals []string
		for i := range distinct {
			for range 1 + i%3 {
				vals = append(vals, fmt.Sprintf("user%03d@example.org", (i*37)%distinct))
			}
		}
		rng := rand.New(rand.NewPCG(uint64(distinct), 1))
		rng.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
		var plain counter
		var small smallCounter
		for _, v := range vals {
			plain.add(v, 1, 64)
			small.add(v, 1, 64)
		}
		got := small.counter()
		if got.over != plain.over || got.dropped != plain.dropped || len(got.m) != len(plain.m) {
			t.Fatalf("%d distinct: small kept %d (over %d, dropped %v), counter %d (over %d, dropped %v)",
				distinct, len(got.m), got.over, got.dropped, len(plain.m), plain.over, plain.dropped)
		}
		for v, n := range plain.m {
			if got.get(v) != *n {
				t.Fatalf("%d distinct: %s counted %d, counter %d", distinct, v, got.get(v), *n)
			}
		}
	}
}

func TestRcptSetSameWhateverTheOrder(t *testing.T) {
	var addrs []string
	for i := range 500 {
		addrs = append(addrs, fmt.Sprintf("Rcpt%d@Example%d.COM", i, i%7))
	}
	keys := func(limit int, order []string) ([]uint64, bool) {
		var s rcptSet
		for _, a := range order {
			s.add(addrHash(a), 0, limit)
		}
		var k []uint64
		for h := range s.m {
			k = append(k, h)
		}
		slices.Sort(k)
		return k, s.dropped
	}
	for _, limit := range []int{1000, 500, 100} {
		want, wantDropped := keys(limit, addrs)
		rev := slices.Clone(addrs)
		slices.Reverse(rev)
		got, gotDropped := keys(limit, rev)
		if !slices.Equal(got, want) || gotDropped != wantDropped {
			t.Fatalf("limit %d: kept %d (dropped %v) in reverse order, %d (dropped %v) in order", limit, len(got), gotDropped, len(want), wantDropped)
		}
		if n := min(limit, len(addrs)); len(want) != n || wantDropped != (limit < len(addrs)) {
			t.Fatalf("limit %d: kept %d, dropped %v; want %d", limit, len(want), wantDropped, n)
		}
	}
	if addrHash("Rcpt1@Example1.COM") != addrHash("rcpt1@example1.com") {
		t.Fatal("the hash is not of the address in lower case")
	}
	if addrHash("Ünï@Example.com") != addrHash("ünï@example.com") {
		t.Fatal("a non-ASCII address is not hashed in lower case")
	}
}
