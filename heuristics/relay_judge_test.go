package heuristics

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestDomainJudgeAsByName: domainJudge, which judges every kept domain
// once, gives the verdict the report gave when it judged each question by
// name: a kept domain by its name, another by the accepted names' hashes,
// unknown when a pattern is accepted; with and without a pattern.
func TestDomainJudgeAsByName(t *testing.T) {
	kept := []string{"contoso.com", "a.example", "mail.fabrikam.com", "fabrikam.com", "b.example"}
	others := []string{"contoso.com", "fabrikam.com", "sub.fabrikam.com", "c.example", "tailspin.com"}
	for _, accepted := range [][]string{{"contoso.com", "tailspin.com"}, {"contoso.com", "*.fabrikam.com", "tailspin.com"}, nil} {
		v := &orgView{accepted: accepted}
		j := newDomainJudge(v, kept)
		for _, name := range append(kept, others...) {
			wantOut, wantKnown := domainOutsideByName(v, kept, addrHash(name))
			out, known := j.outside(addrHash(name))
			if out != wantOut || known != wantKnown {
				t.Errorf("accepted %q: %s judged (%v, %v), want (%v, %v)", accepted, name, out, known, wantOut, wantKnown)
			}
		}
		for id, name := range kept {
			if j.outsideID[id] != !v.isAccepted(name) {
				t.Errorf("accepted %q: kept domain %s outside = %v", accepted, name, j.outsideID[id])
			}
		}
	}
}

// domainOutsideByName is how the report judged a domain before
// domainJudge: by the name of a kept domain, else against the hashes of
// the accepted names.
func domainOutsideByName(v *orgView, kept []string, h uint64) (outside, known bool) {
	for _, n := range kept {
		if addrHash(n) == h {
			return !v.isAccepted(n), true
		}
	}
	for _, a := range v.accepted {
		if !strings.HasPrefix(a, "*.") && addrHash(a) == h {
			return false, true
		}
	}
	if hasWildcard(v.accepted) {
		return false, false
	}
	return true, true
}

// TestDistinctOutsideAsASet: distinctOutside, which sorts the addresses of
// a finding's clients and counts the runs, counts what a set of them
// holds, the clients sharing some and repeating some (as tests do).
func TestDistinctOutsideAsASet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	for _, clients := range []int{0, 1, 300} {
		want := map[uint64]bool{}
		var members []relayMember
		for c := range clients {
			var st relayStats
			for range 100 + rng.IntN(100) {
				h := rng.Uint64N(40_000) * 0x9e3779b97f4a7c15 // shared between clients
				if c%3 == 0 {
					h = rng.Uint64() // some hashes with every digit set
				}
				st.outRcpts = append(st.outRcpts, h)
				want[h] = true
			}
			st.outRcptsLower = c == 250
			members = append(members, relayMember{st: &st})
		}
		if n, lower := distinctOutside(members); n != int64(len(want)) || lower != (clients > 250) {
			t.Errorf("%d clients: %d distinct (lower %v), want %d", clients, n, lower, len(want))
		}
	}
}

// TestRadixSortHashes: radixSortHashes sorts as slices.Sort does, at the
// lengths that matter (none, one, a few, many) and for hashes that differ
// only in their top bits.
func TestRadixSortHashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 7))
	for _, n := range []int{0, 1, 2, 17, 5000} {
		for _, shift := range []uint{0, 55} {
			a := make([]uint64, n)
			for i := range a {
				a[i] = rng.Uint64() >> shift << shift
			}
			want := slices.Sorted(slices.Values(a))
			if got := radixSortHashes(slices.Clone(a), make([]uint64, n)); !slices.Equal(got, want) {
				t.Fatalf("%d hashes (shift %d): not sorted as slices.Sort sorts them", n, shift)
			}
		}
	}
}
