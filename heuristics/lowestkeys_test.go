package heuristics

import (
	"cmp"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLowestKeysWhateverTheOrder: a map bounded by lowestKeys ends with
// the keepOf(limit) lowest keys, with exact counts, and what it dropped
// counted exactly, whatever the order; under the limit, all keys.
func TestLowestKeysWhateverTheOrder(t *testing.T) {
	for _, c := range []struct {
		name          string
		distinct, lim int
	}{{"under the limit", 40, 40}, {"past it", 200, 40}, {"far past it", 5000, 64}} {
		t.Run(c.name, func(t *testing.T) {
			var keys []int
			for k := range c.distinct {
				for range 1 + k%3 {
					keys = append(keys, k*7%c.distinct)
				}
			}
			run := func(order []int) (map[int]int64, int64) {
				var b lowestKeys[int]
				m := map[int]int64{}
				var over int64
				drop := func(_ int, n int64) { over += n }
				for _, k := range order {
					if _, ok := m[k]; ok || admitKey(&b, m, len(m), k, c.lim, cmp.Compare[int], nil, drop) {
						m[k]++
					} else {
						over++
					}
					if len(m) > c.lim {
						t.Fatalf("%d keys kept, limit %d", len(m), c.lim)
					}
				}
				finishKeys(&b, m, c.lim, cmp.Compare[int], nil, drop)
				return m, over
			}
			want, wantOver := run(keys)
			n := min(c.distinct, keepOf(c.lim))
			if c.distinct <= c.lim {
				n = c.distinct
			}
			if len(want) != n || slices.Max(slices.Collect(maps.Keys(want))) != n-1 || int(wantOver)+sumOf(want) != len(keys) {
				t.Fatalf("kept %d keys up to %d, %d dropped of %d", len(want), slices.Max(slices.Collect(maps.Keys(want))), wantOver, len(keys))
			}
			count := map[int]int64{}
			for _, k := range keys {
				count[k]++
			}
			for k, v := range want {
				if v != count[k] {
					t.Fatalf("key %d counted %d times, came %d", k, v, count[k])
				}
			}
			for seed := range uint64(5) {
				o := slices.Clone(keys)
				rand.New(rand.NewPCG(seed, 5)).Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
				if seed == 0 {
					slices.Sort(o)
					slices.Reverse(o)
				}
				if got, over := run(o); !maps.Equal(got, want) || over != wantOver {
					t.Fatalf("order %d: kept %v (%d dropped), want %v (%d)", seed, got, over, want, wantOver)
				}
			}
		})
	}
}

func sumOf(m map[int]int64) (n int) {
	for _, v := range m {
		n += int(v)
	}
	return n
}
