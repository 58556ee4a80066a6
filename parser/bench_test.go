package parser_test

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/logscan/logscan/parser"
	"github.com/logscan/logscan/samples/gen"
)

// benchCorpusBytes is the size of the generated corpus the benchmarks parse:
// large enough that caches and the read buffer do not flatter the figure.
const benchCorpusBytes = 200 << 20

var corpus = sync.OnceValue(func() []byte {
	var all bytes.Buffer
	all.Grow(benchCorpusBytes + 16<<20)
	_, err := gen.Generate(gen.Config{Scale: 5, TargetBytes: benchCorpusBytes, Seed: 7}, func(string) (io.WriteCloser, error) {
		return nopCloser{&all}, nil
	})
	if err != nil {
		panic(err)
	}
	return all.Bytes()
})

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

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
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
