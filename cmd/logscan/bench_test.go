package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/logscan/logscan/samples/gen"
)

// benchCorpus is the generated organisation the benchmarks read: 200 MB+
// of hourly files.
var benchCorpus = gen.Config{Scale: 5, TargetBytes: 200 << 20, Seed: 7}

// BenchmarkScan measures `logscan scan` end to end — parse, sessions,
// detectors, summary and the text report — on a generated organisation of
// 200 MB+ in hourly files, on every core the benchmark is given. Peak memory
// of the real binary is what `make bench` prints. Compare runs with
//
//	go test ./cmd/logscan -run '^$' -bench Scan -count 6 > new.txt && benchstat old.txt new.txt
func BenchmarkScan(b *testing.B) {
	dir := b.TempDir()
	st := genOrg(b, dir, benchCorpus)
	ios, _, _, _ := Test()
	ios.Out = io.Discard
	opts := &scanOptions{IO: ios, Paths: []string{dir}, Format: "text", Top: 5, MaxProblems: 5}
	opts.org.SubnetBitsV4, opts.org.SubnetBitsV6 = 24, 64
	b.SetBytes(st.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		if err := runScan(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Sessions)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkIngest measures `logscan ingest` to Parquet — parse, sessions,
// Snappy Parquet of rows and sessions, manifest — on the same generated
// organisation, into a fresh dataset each time.
//
//	go test ./cmd/logscan -run '^$' -bench Ingest -count 6 > new.txt && benchstat old.txt new.txt
func BenchmarkIngest(b *testing.B) {
	dir := b.TempDir()
	logs := filepath.Join(dir, "logs")
	st := genOrg(b, logs, benchCorpus)
	ios, _, _, _ := Test()
	ios.Out = io.Discard
	b.SetBytes(st.Bytes)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		out := filepath.Join(dir, fmt.Sprintf("ds%d", i))
		if err := runIngest(context.Background(), &ingestOptions{IO: ios, Paths: []string{logs}, Out: out, Format: "parquet"}); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(out)
	}
}
