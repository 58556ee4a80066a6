package heuristics

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestRelaySumHoursAsMerge: sumHours sums the clients' hours in an array
// (or, far apart, in the map); the hourly is the one merging each client's
// hourly one by one makes, for no client, clients without hours, hours
// shared by many clients, the Unix epoch's hour and earlier ones, hours
// counting nothing, and hours years apart.
func TestRelaySumHoursAsMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 4))
	for _, tc := range []struct {
		name         string
		clients      int
		base, spread int64 // hours from base, within spread hours
		emptyClients bool
		zero         bool // every count zero: the hours are still there
	}{
		{"none", 0, 0, 0, false, false},
		{"empty", 5, 0, 0, true, false},
		{"botnet", 300, 1_780_000_000 / 3600, 40, false, false},
		{"epoch", 20, -10, 20, false, false},
		{"zero counts", 3, 1000, 5, false, true},
		{"years apart", 30, 400_000, 200_000, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var all []hourSums
			var want hourly
			for range tc.clients {
				var h hourSums
				var one hourly
				if !tc.emptyClients {
					for range 1 + rng.IntN(30) {
						hour := (tc.base + rng.Int64N(tc.spread)) * 3600
						sessions, rcpts := rng.Int64N(3), rng.Int64N(9) // zero counts too: the hour is still there
						if tc.zero {
							sessions, rcpts = 0, 0
						} else if rng.IntN(2) == 0 {
							sessions = 0
						} else {
							rcpts = 0
						}
						h.add(hour, sessions, rcpts)
						one.add(time.Unix(hour, 0), sessions, rcpts, 0)
					}
				}
				h.sort()
				all = append(all, h)
				want.merge(one)
			}
			if got := sumHours(all); !reflect.DeepEqual(got, want) {
				t.Fatalf("sumHours: %d hours\n%v\nmerged: %d hours\n%v", len(got), got, len(want), want)
			}
		})
	}
}
