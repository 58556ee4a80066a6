package parser

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/logscan/logscan/samples/gen"
)

// benchRows is a few hours of generated rows, line ends removed, without
// the rows with doubled quotes (splitFast unescapes those in place, so a
// second pass would see other bytes) or header lines.
var benchRows = sync.OnceValue(func() (rows [][]byte) {
	for _, l := range bytes.Split(benchLog(), []byte("\n")) {
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(l) > 0 && l[0] != '#' && !bytes.Contains(l, []byte(`""`)) {
			rows = append(rows, l)
		}
	}
	return rows
})

// benchLog is a few hours of a generated organisation's logs, end to end.
var benchLog = sync.OnceValue(func() []byte {
	var all bytes.Buffer
	_, err := gen.Generate(gen.Config{Scale: 1, Hours: 3, Seed: 2}, func(string) (io.WriteCloser, error) {
		return nopCloser{&all}, nil
	})
	if err != nil {
		panic(err)
	}
	return all.Bytes()
})

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// BenchmarkSplitFast measures the row splitter alone, per byte of rows,
// each row split on its own.
func BenchmarkSplitFast(b *testing.B) {
	rows := benchRows()
	var size int64
	for _, r := range rows {
		size += int64(len(r))
	}
	spans := make([]span, 9)
	b.SetBytes(size)
	cpu0 := processCPUNanos()
	for b.Loop() {
		for _, r := range rows {
			if _, ok := splitFast(r, spans); !ok {
				b.Fatalf("declined %q", r)
			}
		}
	}
	b.ReportMetric(float64(processCPUNanos()-cpu0)/float64(b.N)/float64(len(rows)), "cpu-ns/row")
	b.ReportMetric(float64(size)/float64(len(rows)), "bytes/row")
}

// BenchmarkSplitMemo splits the same rows in turn, as the Reader does,
// with what the last row's start saves.
func BenchmarkSplitMemo(b *testing.B) {
	rows := benchRows()
	var size int64
	for _, r := range rows {
		size += int64(len(r))
	}
	var m splitMemo
	spans := make([]span, 9)
	b.SetBytes(size)
	cpu0 := processCPUNanos()
	for b.Loop() {
		for _, r := range rows {
			if _, ok := m.split(r, spans); !ok {
				b.Fatalf("declined %q", r)
			}
		}
	}
	b.ReportMetric(float64(processCPUNanos()-cpu0)/float64(b.N)/float64(len(rows)), "cpu-ns/row")
}

// BenchmarkSplitNext splits the rows where they lie in a read buffer, one
// after another, as the Reader's common path does, with each splitter.
func BenchmarkSplitNext(b *testing.B) {
	data := bytes.Clone(benchLog()) // rows with doubled quotes are unescaped in place
	for _, mode := range []struct {
		name string
		mode splitMode
	}{{"swar", modeSWAR}, {"blocks", modeBlocks}} {
		b.Run(mode.name, func(b *testing.B) {
			m := splitMemo{mode: mode.mode}
			spans := make([]span, 9)
			b.SetBytes(int64(len(data)))
			rows := 0
			cpu0 := processCPUNanos()
			for b.Loop() {
				rows = 0
				for pos := 0; pos < len(data); {
					if _, took, _, ok := m.splitNext(data[pos:], spans); ok {
						pos += took
						rows++
						continue
					}
					m.forget() // a header line, or a row with doubled quotes: the Reader's other path
					end := bytes.IndexByte(data[pos:], '\n')
					if end < 0 {
						break
					}
					pos += end + 1
				}
			}
			b.ReportMetric(float64(processCPUNanos()-cpu0)/float64(b.N)/float64(rows), "cpu-ns/row")
		})
	}
}
