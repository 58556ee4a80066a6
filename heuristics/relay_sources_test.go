package heuristics

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
)

// TestRelaySortSourcesAsSourceStats: sortSources puts sources in the order
// sourceStats sorts them in (recipients, sessions, then the addresses as
// compareAddrText orders them), parsing each address once: for tied
// counts, IPv4, IPv6 and IPv4-mapped addresses. With text that is no
// address among them, or two sources alike, it leaves them as they were.
func TestRelaySortSourcesAsSourceStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 1))
	var sources []SourceStat
	for i := range 2000 {
		var a netip.Addr
		switch i % 4 {
		case 0, 1:
			a = netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		case 2:
			a = netip.MustParseAddr(fmt.Sprintf("%x::%x", rng.IntN(0x10000), i))
		case 3:
			a = netip.AddrFrom16(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).As16())
		}
		sources = append(sources, SourceStat{Addr: addrString(a), Sessions: rng.Int64N(3), Recipients: rng.Int64N(4)})
	}
	rng.Shuffle(len(sources), func(i, j int) { sources[i], sources[j] = sources[j], sources[i] })
	want := sourceStats(slices.Clone(sources))
	got := slices.Clone(sources)
	sortSources(got)
	if !reflect.DeepEqual(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("source %d: sortSources %+v, sourceStats %+v", i, got[i], want[i])
			}
		}
	}
	if !reflect.DeepEqual(sourceStats(got), want) {
		t.Fatalf("sourceStats reorders what sortSources sorted")
	}
	for _, odd := range []SourceStat{{Addr: addrString(netip.Addr{})}, sources[7]} {
		in := append(slices.Clone(sources), odd)
		got := slices.Clone(in)
		if sortSources(got); !reflect.DeepEqual(got, in) {
			t.Errorf("with %+v among them, sortSources reordered the sources", odd)
		}
	}
}

// TestSmallCounterOnly: the one value a smallCounter counted is the one
// topValues lists, in the short list and in the counter it grows into.
func TestSmallCounterOnly(t *testing.T) {
	var few smallCounter
	few.add("mx.example", 3, 64)
	many := smallCounter{many: &counter{}} // as one that grew past smallCounterMax and was shrunk
	many.many.add("bot.example", 2, 64)
	for _, c := range []*smallCounter{&few, &many} {
		if c.distinct() != 1 {
			t.Fatalf("%+v counted %d values", c, c.distinct())
		}
		if got, want := c.only(), topValues(c.counter(), 1)[0]; got != want {
			t.Errorf("only %q, topValues %q", got, want)
		}
	}
}
