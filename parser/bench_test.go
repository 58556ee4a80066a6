package parser_test

import (
	"bufio"
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/logscan/logscan/parser"
	"github.com/logscan/logscan/samples/gen"
)

// benchCorpus is the organisation the benchmarks parse: a day of hourly
// files (188 MB) with every incident in it — a 1,600-address botnet
// relaying, the NAT relay, 451 5.7.3, a blocklisting, a compromised
// account, password spraying, AUTH users — the organisation
// `make bench-compare` measures at a fifth of its traffic (cmd/logscan's
// BenchmarkScan reads the same, with connectivity logs). Large enough that
// caches and the read buffer do not flatter the figure.
var benchCorpus = gen.Config{Scale: 1.2, Hours: 24, Seed: 2, Botnet: 1600, Auth: true, Compromise: true, MoreIncidents: true}

// corpusFiles is benchCorpus, file by file.
var corpusFiles = sync.OnceValue(func() (files []benchFile) {
	_, err := gen.Generate(benchCorpus, func(name string) (io.WriteCloser, error) {
		files = append(files, benchFile{name: name})
		return &fileSink{&files[len(files)-1]}, nil
	})
	if err != nil {
		panic(err)
	}
	return files
})

// corpus is every file of benchCorpus concatenated.
var corpus = sync.OnceValue(func() []byte {
	var all []byte
	for _, f := range corpusFiles() {
		all = append(all, f.data...)
	}
	return all
})

type benchFile struct {
	name string
	data []byte
}

type fileSink struct{ f *benchFile }

func (s *fileSink) Write(p []byte) (int, error) {
	s.f.data = append(s.f.data, p...)
	return len(p), nil
}
func (s *fileSink) Close() error { return nil }

// BenchmarkParse measures one Reader on one core turning bytes into complete
// Arrow records: every file of the generated organisation concatenated, so
// header blocks recur as they do after restarts. Compare runs with
//
//	go test ./parser -run '^$' -bench Parse -count 6 -cpu 1 > new.txt && benchstat old.txt new.txt
func BenchmarkParse(b *testing.B) {
	data := corpus()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var rows int64
	cpu0 := cpuNanos()
	for b.Loop() {
		r := parser.NewReader(bytes.NewReader(data), "bench.log", parser.WithAllocator(mem))
		for r.Next() {
			rows += r.Record().NumRows()
		}
		if st := r.Stats(); st.RowsRejected != 0 || r.Err() != nil {
			b.Fatalf("%d rows rejected, err %v", st.RowsRejected, r.Err())
		}
		r.Release()
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkParseFiles measures what one Scan worker does: a Reader per
// file (Exchange rolls logs over at 10 MB), one after another on one core,
// reusing the worker's read buffer and record memory (parser.Buffers).
//
//	go test ./parser -run '^$' -bench ParseFiles -count 6 -cpu 1 > new.txt && benchstat old.txt new.txt
func BenchmarkParseFiles(b *testing.B) {
	files := corpusFiles()
	var size int64
	for _, f := range files {
		size += int64(len(f.data))
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	bufs := parser.NewBuffers(mem)
	defer bufs.Release()
	br := bufio.NewReaderSize(nil, 1<<20)
	b.SetBytes(size)
	b.ReportAllocs()
	var rows int64
	cpu0 := cpuNanos()
	for b.Loop() {
		for _, f := range files {
			br.Reset(bytes.NewReader(f.data))
			r := parser.NewReader(br, f.name, parser.WithAllocator(mem), parser.WithBuffers(bufs))
			for r.Next() {
				rows += r.Record().NumRows()
			}
			if st := r.Stats(); st.RowsRejected != 0 || r.Err() != nil {
				b.Fatalf("%s: %d rows rejected, err %v", f.name, st.RowsRejected, r.Err())
			}
			r.Release()
		}
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
