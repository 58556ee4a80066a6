package heuristics

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// TestExchangeAuthAttemptsKeptWhateverTheOrder: past maxAttempts the
// detector keeps the earliest attempts (in the order it matches them in),
// not the first to come, and counts the rest; it kept the first to come.
func TestExchangeAuthAttemptsKeptWhateverTheOrder(t *testing.T) {
	var sessions []*session.Session
	base := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	for i := range 500 {
		sessions = append(sessions, &session.Session{Server: "EX02", Connector: "Send", ID: uint64(i + 1),
			Local: netip.MustParseAddrPort("10.20.0.12:40000"), Remote: netip.MustParseAddrPort("10.20.0.11:25"),
			// Some attempts share a start: the place and the session-id order them.
			Start: base.Add(time.Duration(i/3) * time.Minute), First: session.Ref{File: "SEND.LOG", Line: int64(1000 - i)}})
	}
	kept := func(order []*session.Session) ([]uint64, int64) {
		d := newExchangeAuthDetector()
		d.maxAttempts = 100
		for _, s := range order {
			d.keep(&d.send, s)
		}
		var ids []uint64
		for _, a := range d.send {
			ids = append(ids, a.sample.id)
		}
		slices.Sort(ids)
		return ids, d.dropped
	}
	want, wantDropped := kept(sessions)
	if len(want) != 100 || wantDropped != 400 {
		t.Fatalf("kept %d, dropped %d; want 100 and 400", len(want), wantDropped)
	}
	for seed := range uint64(4) {
		order := slices.Clone(sessions)
		rand.New(rand.NewPCG(seed, 9)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		if got, dropped := kept(order); !slices.Equal(got, want) || dropped != wantDropped {
			t.Fatalf("order %d: kept %v (dropped %d), want %v (%d)", seed, got, dropped, want, wantDropped)
		}
	}
	// The earliest are kept: sessions 1-99 start first; of the three that
	// start at minute 33 (ids 100-102), the one with the smallest place.
	if want[0] != 1 || want[98] != 99 || want[99] != 102 {
		t.Fatalf("kept %v, want the earliest 99 and then id 102", want)
	}
}
