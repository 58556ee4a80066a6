package parser

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"
)

// chunkReader returns at most n bytes a Read, so that lines are cut at
// every place in the read buffer.
type chunkReader struct {
	r io.Reader
	n int
}

func (c chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// TestReadLineAhead reads the same bytes however the input hands them over:
// in one piece, in chunks that cut lines at every place of the buffer, a
// byte at a time, through a read buffer smaller than a line. The lines the
// Reader takes from what is already buffered (Reader.ahead) and those
// ReadSlice returns must give the same records, problems and counts.
func TestReadLineAhead(t *testing.T) {
	var in []byte
	in = append(in, benchLog()[:2<<20]...)
	damage, _ := filepath.Glob("testdata/damage/*.log")
	for _, f := range damage {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, b...)
		in = append(in, '\n')
	}
	// A line longer than the read buffer below, between good rows.
	long := append([]byte("2026-11-02T00:00:01.123Z,EX01\\Default Frontend EX01,08DE1A10BC92E4FC,1,10.20.0.11:25,203.0.113.7:50123,<,"), bytes.Repeat([]byte("x"), 100<<10)...)
	in = append(append(in, long...), "\r\n"...)
	in = append(in, benchLog()[:64<<10]...)
	in = append(in, "2026-11-02T00:00:01.123Z,EX01\\Default Frontend EX01,08DE1A10BC92E4FC,2,10.20.0.11:25,203.0.113.7:50123,<,no line end"...)

	for _, c := range []struct {
		name string
		in   []byte
		src  func([]byte) io.Reader
	}{
		{"chunks of 4093", in, func(b []byte) io.Reader { return chunkReader{bytes.NewReader(b), 4093} }},
		{"chunks of 97", in, func(b []byte) io.Reader { return chunkReader{bytes.NewReader(b), 97} }},
		{"half reads", in, func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
		{"a byte at a time", in[len(in)-300<<10:], func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
	} {
		want, wantBytes := readThrough(t, func() io.Reader { return bytes.NewReader(c.in) })
		got, gotBytes := readThrough(t, func() io.Reader { return c.src(c.in) })
		if len(want.Rows) < 1000 || len(want.Problems) == 0 {
			t.Fatalf("%s: %d rows, %d problems: not the input the test needs", c.name, len(want.Rows), len(want.Problems))
		}
		if !reflect.DeepEqual(got, want) || gotBytes != wantBytes || wantBytes != int64(len(c.in)) {
			t.Errorf("%s: the result differs from reading in one piece (%d bytes counted, %d, of %d)", c.name, gotBytes, wantBytes, len(c.in))
		}
	}
}

// readThrough reads src() through a read buffer smaller than a long line,
// twice: for the dump and for the bytes the Reader counts.
func readThrough(t *testing.T, src func() io.Reader) (dump, int64) {
	d := readAll(t, bufio.NewReaderSize(src(), 64<<10), "ahead.log", WithBatchRows(1000))
	r := NewReader(bufio.NewReaderSize(src(), 64<<10), "ahead.log")
	defer r.Release()
	for r.Next() {
	}
	return d, r.Stats().Bytes
}
