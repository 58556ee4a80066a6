package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/logscan/logscan/heuristics/run"
	"github.com/logscan/logscan/samples/gen"
)

// benchCorpus is the generated organisation the benchmarks read: a day of
// hourly files (188 MB) with every incident in it — 1,600 public addresses
// relaying through EX02's open connector, the hidden NAT and the relay
// through it, 451 5.7.3 both ways, the blocklisting that follows, a
// compromised account, password spraying, hundreds of users sending with
// AUTH, relay probes, the printer's relay — and the connectivity logs, so
// that every detector has work, not only the parser. It is the
// organisation `make bench-compare` measures (seed 2) at a fifth of its
// traffic.
var benchCorpus = gen.Config{Scale: 1.2, Hours: 24, Seed: 2, ConnectivityLogs: true,
	Botnet: 1600, Auth: true, Compromise: true, MoreIncidents: true}

// benchDir generates benchCorpus, or returns $LOGSCAN_BENCH_DIR when set (a
// folder of logs, e.g. the organisation `make bench-compare` keeps under
// /tmp/logscan-bench-compare), with its size in bytes.
func benchDir(b *testing.B, dir string) (string, int64) {
	if d := os.Getenv("LOGSCAN_BENCH_DIR"); d != "" {
		var n int64
		err := filepath.WalkDir(d, func(_ string, e fs.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				fi, err := e.Info()
				if err != nil {
					return err
				}
				n += fi.Size()
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		return d, n
	}
	return dir, genOrg(b, dir, benchCorpus).Bytes
}

// requireBusy fails the benchmark when a detector had nothing to find (a
// quiet corpus measures the parser, not the scan), and returns the sessions.
func requireBusy(b *testing.B, dir string) int64 {
	res, err := run.Scan(context.Background(), run.Config{Paths: []string{dir}})
	if err != nil {
		b.Fatal(err)
	}
	found := map[string]int{}
	for _, f := range res.Analysis.Findings {
		found[f.Detector]++
	}
	for range res.Analysis.Probes {
		found["probes"]++
	}
	for range res.Analysis.Inventory {
		found["inventory"]++
	}
	for range res.Analysis.AuthAttacks {
		found["auth-attacks"]++
	}
	for _, want := range []struct {
		what string
		n    int
	}{{"hidden-snat", 1}, {"anonymous-relay", 2}, {"exchange-auth-5.7.3", 2}, {"blocklisted", 1}, {"compromised-account", 1},
		{"probes", 1}, {"inventory", 1}, {"auth-attacks", 1}} {
		if found[want.what] < want.n {
			b.Fatalf("the benchmark corpus is too quiet: %d %s findings, want %d or more (found %v)", found[want.what], want.what, want.n, found)
		}
	}
	return res.Analysis.Sessions.Total
}

// BenchmarkScan measures `logscan scan` end to end — parse, sessions,
// detectors, summary and the JSON report — on benchCorpus, on every core
// the benchmark is given. Peak memory of the real binary is what
// `make bench` and `make bench-compare` print. Compare runs with
//
//	go test ./cmd/logscan -run '^$' -bench Scan -count 6 > new.txt && benchstat old.txt new.txt
func BenchmarkScan(b *testing.B) {
	dir, size := benchDir(b, b.TempDir())
	sessions := requireBusy(b, dir)
	ios, _, _, _ := Test()
	ios.Out = io.Discard
	opts := &scanOptions{IO: ios, Paths: []string{dir}, Format: "json", Top: 5, MaxProblems: 5}
	opts.org.SubnetBitsV4, opts.org.SubnetBitsV6 = 24, 64
	b.SetBytes(size)
	b.ReportAllocs()
	cpu0 := cpuNanos()
	for b.Loop() {
		if err := runScan(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(sessions)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkIngest measures `logscan ingest` to Parquet — parse, sessions,
// Snappy Parquet of rows and sessions, manifest — on the same generated
// organisation, into a fresh dataset each time.
//
//	go test ./cmd/logscan -run '^$' -bench Ingest -count 6 > new.txt && benchstat old.txt new.txt
func BenchmarkIngest(b *testing.B) {
	dir := b.TempDir()
	logs, size := benchDir(b, filepath.Join(dir, "logs"))
	ios, _, _, _ := Test()
	ios.Out = io.Discard
	b.SetBytes(size)
	b.ReportAllocs()
	i := 0
	cpu0 := cpuNanos()
	for b.Loop() {
		i++
		out := filepath.Join(dir, fmt.Sprintf("ds%d", i))
		if err := runIngest(context.Background(), &ingestOptions{IO: ios, Paths: []string{logs}, Out: out, Format: "parquet"}); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(out)
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRenderJSON measures the JSON report alone, which is written
// after everything else, on one core: the report of benchCorpus (or of
// $LOGSCAN_BENCH_DIR, e.g. /tmp/recv6, whose relay finding lists 1,600
// sources).
//
//	go test ./cmd/logscan -run '^$' -bench RenderJSON -count 6 > new.txt && benchstat old.txt new.txt
func BenchmarkRenderJSON(b *testing.B) {
	dir, _ := benchDir(b, b.TempDir())
	res, err := run.Scan(context.Background(), run.Config{Paths: []string{dir}})
	if err != nil {
		b.Fatal(err)
	}
	rep := &scanReport{Result: res.Files, Summary: res.Analysis.Summary, Analysis: res.Analysis, Datasets: res.Datasets,
		Elapsed: res.Elapsed, Incremental: res.Incremental}
	b.ReportAllocs()
	for b.Loop() {
		if err := renderJSON(io.Discard, rep); err != nil {
			b.Fatal(err)
		}
	}
}
