package heuristics

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
	"github.com/logscan/logscan/samples/gen"
)

// BenchmarkObserve measures what the detectors, the summary and the
// organisation's evidence spend on each session (Analyzer.observeLocked),
// nothing else: the sessions are rebuilt once, beforehand, from the
// organisation BenchmarkScan reads (every incident, a 1,600-address
// botnet relaying), or from $LOGSCAN_BENCH_DIR when set, and handed to a
// new Analyzer each time, in the order one worker builds them.
//
// The sessions own their text, all of it held at once, so it is cold when
// a detector first reads it: reading a banner or an address costs more
// here than in a scan, where a session is observed just after it was
// built. Compare changes with it; take a scan's profile for where a
// scan's time goes.
//
//	go test ./heuristics -run '^$' -bench Observe -count 6 > new.txt && benchstat old.txt new.txt
func BenchmarkObserve(b *testing.B) {
	ss := benchSessions(b)
	b.ReportAllocs()
	cpu0 := cpuNanos()
	for b.Loop() {
		a := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 1})
		for _, s := range ss {
			a.observeLocked(s)
		}
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(len(ss)), "sessions/op")
}

// BenchmarkObserveRelay is BenchmarkObserve for the relay detector alone,
// whose share of it is too small for a change to it to show there.
func BenchmarkObserveRelay(b *testing.B) {
	ss := benchSessions(b)
	b.ReportAllocs()
	cpu0 := cpuNanos()
	for b.Loop() {
		d := newRelayDetector()
		for _, s := range ss {
			d.observe(s)
		}
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkObserveEach is BenchmarkObserve for each detector and each
// other tally alone (sub-benchmarks by name), for the ones whose share of
// it is too small for a change to them to show there.
func BenchmarkObserveEach(b *testing.B) {
	ss := benchSessions(b)
	run := func(name string, observe func() func(*session.Session)) {
		b.Run(name, func(b *testing.B) {
			cpu0 := cpuNanos()
			for b.Loop() {
				o := observe()
				for _, s := range ss {
					o(s)
				}
			}
			b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
	for _, reg := range detectors {
		run(reg.name, func() func(*session.Session) { return reg.new(Org{}).observe })
	}
	run("summary", func() func(*session.Session) { return NewSummary().observe })
	run("org-evidence", func() func(*session.Session) { return newOrgEvidence().observe })
	run("connector-usage", func() func(*session.Session) { return newConnectorUsage().observe })
}

// benchSessions are the sessions BenchmarkObserve observes, rebuilt once
// per test binary.
func benchSessions(b *testing.B) []*session.Session {
	benchOnce.Do(func() {
		dir := os.Getenv("LOGSCAN_BENCH_DIR")
		if dir == "" {
			dir = generate(b, gen.Config{Scale: 1.2, Hours: 24, Seed: 2, ConnectivityLogs: true,
				Botnet: 1600, Auth: true, Compromise: true, MoreIncidents: true})
		}
		var mu sync.Mutex
		// Not lent: the sessions own their text, so they outlive the builder.
		bld := session.NewBuilder(1, 0, func(s *session.Session) { benchSess = append(benchSess, s) })
		if _, err := parser.Scan(context.Background(), []string{dir}, parser.ScanOptions{Workers: 1},
			func(_ int, rec arrow.Record) error {
				mu.Lock()
				defer mu.Unlock()
				bld.Add(0, rec)
				return nil
			}); err != nil {
			b.Fatal(err)
		}
		bld.Finish()
	})
	return benchSess
}

var (
	benchOnce sync.Once
	benchSess []*session.Session
)
