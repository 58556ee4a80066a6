package heuristics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// TestRelayReportSameForAnyWorkers: the relay report splits its per-client
// work over goroutines (relayReportWorkers). The report is the same for
// one goroutine and for several, with hundreds of public and internal
// clients on two connectors, some relaying only to accepted domains, and
// budgets low enough that domains, sets, partial signatures, other
// domains, hours and addresses are all cut.
func TestRelayReportSameForAnyWorkers(t *testing.T) {
	const fe = `EX01\Default Frontend EX01`
	const app = `EX01\Relay EX01`
	restore := SetRelayBudgetsForTest(8000, 2400, 500)
	defer restore()
	rng := rand.New(rand.NewPCG(5, 17))
	var relayed []*session.Session
	line := int64(0)
	for c := range 400 {
		client := fmt.Sprintf("198.51.%d.%d", 100+c/200, 1+c%200)
		connector := fe
		if c%4 == 0 {
			client, connector = fmt.Sprintf("10.9.%d.%d", c/200, 1+c%200), app
		}
		for i := range 1 + rng.IntN(8) {
			var msgs []sessOpt
			for range 1 + rng.IntN(2) {
				var to []string
				for j := range 1 + rng.IntN(10) {
					r := fmt.Sprintf("u%d@d%03d.example", rng.IntN(300), rng.IntN(90))
					if c%7 == 0 || rng.IntN(10) == 0 {
						r = fmt.Sprintf("u%d@contoso.com", j) // accepted
					}
					to = append(to, r)
				}
				msgs = append(msgs, mail(fmt.Sprintf("s%d@spam%d.example", rng.IntN(30), c%5), to...))
			}
			opts := append([]sessOpt{perms(relayPerms), ehlo(fmt.Sprintf("bot%d", c%3)), at(time.Duration(rng.IntN(96))*time.Hour + time.Duration(i)*time.Second)}, msgs...)
			s := sess("EX01", connector, "10.1.0.10:25", fmt.Sprintf("%s:%d", client, 1000+i), opts...)
			for mi := range s.Messages {
				for ri := range s.Messages[mi].Rcpts {
					line++
					s.Messages[mi].Rcpts[ri].At = session.Ref{File: "RECV.LOG", Line: line}
				}
			}
			relayed = append(relayed, s)
		}
	}
	run := func(workers int) []byte {
		defer func(was int) { relayReportWorkers = was }(relayReportWorkers)
		relayReportWorkers = workers
		a := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 1})
		d := a.detectors[slices.IndexFunc(detectors, func(r registration) bool { return r.name == detectorRelay })].(*RelayDetector)
		d.hourCap, d.evictBound, d.rcptBound = 3000, newHashBound(40), newHashBound(5000)
		for _, s := range internet("EX01", "10.1.0.10", 20) {
			a.observe(s)
		}
		for _, s := range relayed {
			a.observe(s)
		}
		if d.hourCutoff == math.MaxInt64 || d.evictBound.max == math.MaxUint64 || d.rcptBound.max == math.MaxUint64 ||
			d.domLimit.r >= maxRelayDomains || d.sigLimit.r >= maxRelaySigs || d.partLimit.r >= maxPartialSigs {
			t.Fatalf("the budgets were not all reached: hour cutoff %d, other-domain bound %x, address bound %x, domain, set and partial bounds %d, %d, %d",
				d.hourCutoff, d.evictBound.max, d.rcptBound.max, d.domLimit.r, d.sigLimit.r, d.partLimit.r)
		}
		rep := a.Result()
		sources := 0
		for _, f := range rep.Findings {
			if f.Detector == detectorRelay {
				sources = max(sources, len(f.Sources))
			}
		}
		if sources < 200 {
			t.Fatalf("%d workers: the largest relay finding has %d sources, want hundreds", workers, sources)
		}
		out, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := run(1)
	for _, workers := range []int{2, 3, 8} {
		if got := run(workers); !bytes.Equal(got, want) {
			t.Errorf("%d workers: report differs from one worker's", workers)
		}
	}
}
