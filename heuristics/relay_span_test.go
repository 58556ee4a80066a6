package heuristics

import (
	"math/rand/v2"
	"testing"
	"time"
)

// flaggedSpan is msSpan as it was, with a flag saying it is set.
type flaggedSpan struct {
	first, last int64
	set         bool
}

func (s *flaggedSpan) add(a, b int64) {
	if !s.set {
		s.first, s.last, s.set = a, b, true
		return
	}
	s.first, s.last = min(s.first, a), max(s.last, b)
}

func (s *flaggedSpan) merge(o flaggedSpan) {
	if o.set {
		if !s.set {
			*s = o
			return
		}
		s.first, s.last = min(s.first, o.first), max(s.last, o.last)
	}
}

// TestMsSpanAsFlagged: msSpan, empty as its zero value without a flag,
// keeps what a span with a flag kept: the times added, merged, empty
// ones too, before 1970 and an end before a start included.
func TestMsSpanAsFlagged(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 13))
	at := func() int64 {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return -rng.Int64N(1 << 45) // before 1970
		}
		return rng.Int64N(1 << 45)
	}
	same := func(i int, s msSpan, f flaggedSpan) {
		t.Helper()
		first, last := s.times()
		if s.empty() != !f.set {
			t.Fatalf("%d: empty %v, flagged set %v", i, s.empty(), f.set)
		}
		if f.set && (!first.Equal(time.UnixMilli(f.first)) || !last.Equal(time.UnixMilli(f.last))) {
			t.Fatalf("%d: %v-%v, flagged %d-%d", i, first, last, f.first, f.last)
		}
		if !f.set && (!first.IsZero() || !last.IsZero()) {
			t.Fatalf("%d: empty span gives %v-%v", i, first, last)
		}
	}
	for i := range 2000 {
		var a, b msSpan
		var fa, fb flaggedSpan
		same(i, a, fa)
		for range rng.IntN(4) {
			x, y := at(), at()
			a.add(time.UnixMilli(x), time.UnixMilli(y))
			fa.add(x, y)
		}
		for range rng.IntN(3) {
			x, y := at(), at()
			b.add(time.UnixMilli(x), time.UnixMilli(y))
			fb.add(x, y)
		}
		same(i, a, fa)
		a.merge(b)
		fa.merge(fb)
		same(i, a, fa)
	}
}
