package main

import (
	"context"
	"io"
	"testing"
)

// BenchmarkClients measures `logscan clients` end to end — parse,
// sessions, inventory, coverage and the text report — on the organisation
// BenchmarkScan reads. It must cost no more than BenchmarkScan: one read,
// the same session builder, no detectors. Compare with
//
//	go test ./cmd/logscan -run '^$' -bench 'Scan$|Clients' -count 6 > new.txt && benchstat new.txt
func BenchmarkClients(b *testing.B) {
	dir := b.TempDir()
	st := genOrg(b, dir, benchCorpus)
	ios, _, _, _ := Test()
	ios.Out = io.Discard
	opts := &clientsOptions{IO: ios, Paths: []string{dir}, Format: "text", Top: 10, MaxClients: 100_000, LogType: "all"}
	if err := opts.resolve(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		if err := runClients(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Sessions)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkCoverage measures `logscan coverage`: parse and the per-row
// coverage counts, no sessions.
func BenchmarkCoverage(b *testing.B) {
	dir := b.TempDir()
	st := genOrg(b, dir, benchCorpus)
	ios, _, _, _ := Test()
	ios.Out = io.Discard
	opts := &coverageOptions{IO: ios, Paths: []string{dir}, Format: "text"}
	b.SetBytes(st.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		if err := runCoverage(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
}
