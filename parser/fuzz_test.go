package parser

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the Reader. Run it with
//
//	go test ./parser -run '^$' -fuzz FuzzParse -fuzztime 5m
//
// Crashers land in testdata/fuzz/FuzzParse and are replayed by go test.
// For every input: no panic, no leak, read == emitted + rejected, parsing
// twice gives the same result, and every emitted row's data and context
// equal what encoding/csv reads from the same line.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"realdata", "damage"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.log"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<20 {
			return
		}
		d1 := readAll(t, bytes.NewReader(in), "fuzz.log", WithBatchRows(7))
		d2 := readAll(t, bytes.NewReader(in), "fuzz.log", WithBatchRows(1000))
		if len(d1.Rows) != len(d2.Rows) || len(d1.Problems) != len(d2.Problems) {
			t.Fatalf("batch size changed the result: %d/%d rows, %d/%d problems", len(d1.Rows), len(d2.Rows), len(d1.Problems), len(d2.Problems))
		}
		for i, r := range d1.Rows {
			if r != d2.Rows[i] {
				t.Fatalf("row %d differs between runs: %+v vs %+v", i, r, d2.Rows[i])
			}
		}
		// What the split memo saves never changes a record or a problem.
		d3 := readAll(t, bytes.NewReader(in), "fuzz.log", WithBatchRows(1000), withoutMemo())
		if !reflect.DeepEqual(d2, d3) {
			t.Fatalf("the split memo changed the result:\n%+v\n%+v", d2, d3)
		}
		// Splitting the lines in turn, as the Reader does, gives what
		// splitting each alone gives.
		var lines [][]byte
		for _, pl := range physicalLines(in) {
			lines = append(lines, pl.stripped)
		}
		checkSplitMemo(t, lines, maxFields)
		checkSplitMemo(t, lines, 9)
		// The tokenizer agrees with encoding/csv on every line it can judge.
		for n, pl := range physicalLines(in) {
			line := pl.stripped
			if len(line) == 0 || line[0] == '#' || !validUTF8AndNoNUL(line) {
				continue
			}
			scratch := make([]byte, 0, len(line))
			got, _, err := splitLine(line, nil, scratch, maxFields)
			checkSplitFast(t, n+1, line, got, err)
			cr := csv.NewReader(bytes.NewReader(pl.raw))
			cr.FieldsPerRecord = -1
			want, cerr := cr.Read()
			if err == ErrFieldCount {
				continue // more fields than any log has: rejected before csv would be asked
			}
			if (err == nil) != (cerr == nil) {
				t.Fatalf("line %d %q: splitLine err %v, encoding/csv err %v", n+1, line, err, cerr)
			}
			if err != nil {
				continue
			}
			if len(got) != len(want) {
				t.Fatalf("line %d %q: %d fields, encoding/csv %d", n+1, line, len(got), len(want))
			}
			for i := range got {
				if string(got[i]) != want[i] {
					t.Fatalf("line %d %q field %d: %q, encoding/csv %q", n+1, line, i, got[i], want[i])
				}
			}
		}
	})
}

type physicalLine struct {
	raw      []byte // as in the input, line end included, BOM removed
	stripped []byte // as the Reader parses it
}

// physicalLines splits as the Reader does: at '\n', the '\n' and one '\r'
// before it removed, and a leading BOM dropped.
func physicalLines(in []byte) []physicalLine {
	var out []physicalLine
	for len(in) > 0 {
		var raw []byte
		if i := bytes.IndexByte(in, '\n'); i >= 0 {
			raw, in = in[:i+1], in[i+1:]
		} else {
			raw, in = in, nil
		}
		raw = bytes.TrimPrefix(raw, bom)
		line := bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte("\n")), []byte("\r"))
		out = append(out, physicalLine{raw: raw, stripped: line})
	}
	return out
}

func validUTF8AndNoNUL(b []byte) bool {
	return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) && bytes.IndexByte(b, 0) < 0
}
