package session

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/logscan/logscan/parser"
)

// BenchmarkBuilder measures rebuilding the sessions of the committed
// sample (23 MB, 4,438 sessions) from records parsed beforehand, on
// one worker, with lent text as a scan uses it, and no detector: the cost
// of Add, the replay (buildSession) and emitting, nothing else.
//
//	go test ./heuristics/session -run '^$' -bench Builder -count 6 > new.txt && benchstat old.txt new.txt
func BenchmarkBuilder(b *testing.B) {
	var mu sync.Mutex
	var recs []arrow.Record
	var size int64
	dir := filepath.Join("..", "..", "samples", "contoso")
	if _, err := parser.Scan(context.Background(), []string{dir}, parser.ScanOptions{Workers: 1},
		func(_ int, rec arrow.Record) error {
			rec.Retain() // kept past the handler: the parser reuses released memory
			mu.Lock()
			defer mu.Unlock()
			recs = append(recs, rec)
			for _, c := range []int{parser.ColData, parser.ColContext} {
				size += int64(len(rec.Column(c).Data().Buffers()[2].Bytes()))
			}
			return nil
		}); err != nil {
		b.Fatal(err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	b.SetBytes(size) // the data and context text
	b.ReportAllocs()
	sessions := 0
	cpu0 := cpuNanos()
	for b.Loop() {
		sessions = 0
		bld := NewBuilder(1, 0, func(*Session) { sessions++ })
		bld.LendText()
		for _, r := range recs {
			bld.Add(0, r)
		}
		bld.Finish()
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(sessions), "sessions/op")
}

// BenchmarkBuilderDir is BenchmarkBuilder on the logs under
// $LOGSCAN_BENCH_DIR (skipped when unset), with the records emitted in
// batches of 64 as a scan does: for logs larger than the sample, such as
// the 637 MB of receive logs of the speed work. The records are all parsed
// beforehand, so the builder reads them from memory the caches lost long
// ago, where a scan reads a record just parsed: reading the columns
// (Add) weighs more here than in a scan.
//
//	LOGSCAN_BENCH_DIR=/tmp/recv6 go test ./heuristics/session -run '^$' -bench BuilderDir -benchtime 4x
func BenchmarkBuilderDir(b *testing.B) {
	dir := os.Getenv("LOGSCAN_BENCH_DIR")
	if dir == "" {
		b.Skip("LOGSCAN_BENCH_DIR not set")
	}
	var mu sync.Mutex
	var recs []arrow.Record
	if _, err := parser.Scan(context.Background(), []string{dir}, parser.ScanOptions{Workers: 1},
		func(_ int, rec arrow.Record) error {
			rec.Retain() // kept past the handler: the parser reuses released memory
			mu.Lock()
			defer mu.Unlock()
			recs = append(recs, rec)
			return nil
		}); err != nil {
		b.Fatal(err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	b.ReportAllocs()
	sessions := 0
	cpu0 := cpuNanos()
	for b.Loop() {
		sessions = 0
		bld := NewBuilder(1, 0, func(*Session) { sessions++ })
		bld.EmitInBatches(64, func(ss []*Session, _ bool) bool { sessions += len(ss); return true })
		bld.LendText()
		for _, r := range recs {
			bld.Add(0, r)
		}
		bld.Finish()
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(sessions), "sessions/op")
}
