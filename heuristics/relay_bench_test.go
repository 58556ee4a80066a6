package heuristics

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// BenchmarkRelayReport measures the relay detector's report alone: it runs
// serially at the end of a scan, on its critical path. The detectors'
// state is built from BenchmarkObserve's sessions (or $LOGSCAN_BENCH_DIR's)
// before each round, with the timer stopped; the SNAT detector reports
// first, as in Analyzer.Result, since the relay report reads its result.
//
//	go test ./heuristics -run '^$' -bench RelayReport -count 8
//
// workers=1 runs it on one goroutine, workers=0 on GOMAXPROCS
// (relayReportWorkers).
func BenchmarkRelayReport(b *testing.B) {
	for _, w := range []int{1, 0} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			defer func(was int) { relayReportWorkers = was }(relayReportWorkers)
			relayReportWorkers = w
			benchRelayReport(b)
		})
	}
}

func benchRelayReport(b *testing.B) {
	ss := benchSessions(b)
	var cpu, wall int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 1})
		for _, s := range ss {
			a.observeLocked(s)
		}
		in := &detectorInputs{org: a.ev.resolve(a.org, a.sum.local), use: a.use, conn: a.conn.result(), logs: a.logs, results: map[string]any{}}
		rep := &Report{}
		in.results[detectorSNAT] = a.detectors[0].report(in, rep)
		relay := a.detectors[1].(*RelayDetector)
		runtime.GC() // the setup's garbage is not the report's
		b.StartTimer()
		cpu0, t0 := cpuNanos(), time.Now()
		relay.report(in, rep)
		cpu += cpuNanos() - cpu0
		wall += int64(time.Since(t0))
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(wall)/float64(b.N), "wall-ns/op")
}

// BenchmarkRelayObserve measures the relay detector's observe alone, over
// BenchmarkObserve's sessions (or $LOGSCAN_BENCH_DIR's), a fresh detector
// each round; the sessions it returns at once (authenticated, proxied,
// not received) are left out, so that what is measured is its counting.
//
//	go test ./heuristics -run '^$' -bench RelayObserve -count 8
func BenchmarkRelayObserve(b *testing.B) {
	var relayed []*session.Session
	for _, s := range benchSessions(b) {
		if s.IsReceive() && !s.Proxied && s.Auth == session.AuthNone && len(s.Messages) > 0 {
			relayed = append(relayed, s)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		d := newRelayDetector()
		for _, s := range relayed {
			d.observe(s)
		}
		d.finishRcpts()
	}
}
