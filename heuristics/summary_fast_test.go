package heuristics

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// TestSummaryRuns: counting a connector's sessions per hour in runs
// (connAgg.runHour) and skipping the local address its last session had
// (connAgg.lastLocal) give the hours and local addresses counted one by
// one, with connectors, hours and addresses interleaved and out of order.
func TestSummaryRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	sum := NewSummary()
	type connHour struct {
		server, conn string
		hour         int64
	}
	wantHours := map[connHour]int64{}
	wantLocal := map[string]map[netip.Addr]bool{}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	hour := int64(0)
	for range 20_000 {
		if rng.IntN(8) == 0 {
			hour = int64(rng.IntN(50)) // mostly forward, sometimes back
		}
		s := &session.Session{Server: []string{"EX01", "EX02", ""}[rng.IntN(3)], Connector: []string{"Default", "Client"}[rng.IntN(2)], LogType: parser.LogTypeReceive,
			Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + rng.IntN(3))}), 25),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(rng.IntN(5))}), 4000)}
		if rng.IntN(20) != 0 {
			s.Start = base.Add(time.Duration(hour)*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
			s.End = s.Start.Add(time.Second)
			wantHours[connHour{s.Server, s.Connector, s.Start.Unix() / 3600}]++
		}
		if rng.IntN(10) == 0 {
			s.Local = netip.AddrPort{}
		}
		if s.Local.IsValid() && s.Server != "" {
			if wantLocal[s.Server] == nil {
				wantLocal[s.Server] = map[netip.Addr]bool{}
			}
			wantLocal[s.Server][s.Local.Addr()] = true
		}
		sum.observe(s)
	}
	res := sum.Result(5)
	got := map[connHour]int64{}
	for _, c := range res.Connectors {
		for _, h := range c.Hours {
			got[connHour{c.Server, c.Name, h.Hour.Unix() / 3600}] += h.Sessions
		}
	}
	if len(got) != len(wantHours) {
		t.Errorf("%d (connector, hour) counts, want %d", len(got), len(wantHours))
	}
	for k, n := range wantHours {
		if got[k] != n {
			t.Errorf("%v: %d sessions, want %d", k, got[k], n)
		}
	}
	for name, m := range wantLocal {
		var want []netip.Addr
		for a := range m {
			want = append(want, a)
		}
		slices.SortFunc(want, netip.Addr.Compare)
		have := sum.local[name]
		if len(have) != len(want) {
			t.Errorf("%s: %d local addresses, want %v", name, len(have), want)
		}
		for _, a := range want {
			if _, ok := have[a]; !ok {
				t.Errorf("%s: local address %v missing", name, a)
			}
		}
	}
}
