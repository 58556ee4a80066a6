package heuristics

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestRelaySendersFactAsCounter: sendersFact sums the clients' senders in
// a map and lists them itself; its fact is the counter's (merging every
// client's senders, limited to MaxListed, then top), for no client, for
// clients sharing senders with tied counts, some having dropped senders,
// and past MaxListed senders.
func TestRelaySendersFactAsCounter(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 11))
	for _, tc := range []struct {
		name             string
		clients, senders int // senders: the distinct values drawn from
	}{
		{"none", 0, 0},
		{"one", 1, 5},
		{"shared", 300, 2000},
		{"past MaxListed", 800, 3 * MaxListed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var members []relayMember
			for c := range tc.clients {
				var sc senderCounts
				for range 1 + rng.IntN(60) {
					v := fmt.Sprintf("s%d@spam%d.example", rng.IntN(tc.senders), rng.IntN(3))
					sc.vals = append(sc.vals, valueCount{v, 1 + int64(rng.IntN(3))})
				}
				if c%7 == 0 {
					sc.dropped, sc.over = true, 5
				}
				sc.keep(64)
				members = append(members, relayMember{st: &relayStats{senders: sc}})
			}
			got, want := sendersFact(members), sendersFactByCounter(members)
			if tc.name == "past MaxListed" && len(want.Values) < MaxListed {
				t.Fatalf("the counter kept every sender: MaxListed is not passed")
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("sendersFact: %d values, more %d, at least %v; counter: %d values, more %d, at least %v\nfirst %q\nvs    %q",
					len(got.Values), got.More, got.MoreAtLeast, len(want.Values), want.More, want.MoreAtLeast, firstN(got.Values, 5), firstN(want.Values, 5))
			}
			if tc.clients > 0 && !slices.ContainsFunc(want.Values, func(v string) bool { return strings.HasSuffix(v, " (1)") }) {
				t.Fatalf("no sender counted once: the ties are not tested")
			}
		})
	}
}
