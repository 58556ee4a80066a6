package heuristics

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// TestSamplesKeepTheEarliest: whatever the order samples are offered in,
// with a session offered more than once (its rows), the list holds the
// earliest maxSamples sessions, each at its earliest row, in order, and
// never more than maxSamples. (Offered once the list is full, a sample
// that sorts after all of it is let go at once: the shuffles offer many.)
func TestSamplesKeepTheEarliest(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	var offers []sampleRec
	for id := range 12 {
		for row := range 3 {
			offers = append(offers, sampleRec{server: "EX01", id: uint64(100 - id), start: t0.Add(time.Duration(id%7) * time.Minute),
				ref: session.Ref{File: "RECV2026110210-1.LOG", Line: int64(1000*id + 10 - row)}})
		}
	}
	want := slices.Clone(offers)
	slices.SortFunc(want, func(a, b sampleRec) int {
		if sampleLess(a, b) {
			return -1
		}
		return 1
	})
	var earliest []sampleRec // each session once, at its earliest row
	for _, x := range want {
		if !slices.ContainsFunc(earliest, func(y sampleRec) bool { return y.id == x.id }) {
			earliest = append(earliest, x)
		}
	}
	earliest = earliest[:maxSamples]
	for seed := range uint64(20) {
		rand.New(rand.NewPCG(seed, 9)).Shuffle(len(offers), func(i, j int) { offers[i], offers[j] = offers[j], offers[i] })
		var s samples
		for i, x := range offers {
			s.add(x)
			if len(s.list) > maxSamples || cap(s.list) > maxSamples {
				t.Fatalf("order %d, offer %d: %d samples kept in room for %d", seed, i, len(s.list), cap(s.list))
			}
		}
		if !slices.Equal(s.list, earliest) {
			t.Fatalf("order %d: kept %+v\nwant %+v", seed, s.list, earliest)
		}
	}
}
