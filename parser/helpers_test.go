package parser

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// dump is everything a Reader produced, in a form golden files can hold.
type dump struct {
	LogType  string    `json:"log_type"`
	Version  string    `json:"version,omitempty"`
	Stats    dumpStats `json:"stats"`
	Rows     []dumpRow `json:"rows"`
	Problems []string  `json:"problems"`
	Err      string    `json:"err,omitempty"`
}

type dumpStats struct {
	Lines, HeaderLines, BlankLines, RowsRead, RowsEmitted, RowsRejected, Warnings int64
}

type dumpRow struct {
	Line      int64  `json:"line"`
	LogType   string `json:"log_type"`
	Time      string `json:"time"`
	Server    string `json:"server"`
	Connector string `json:"connector"`
	Session   string `json:"session"`
	Seq       uint32 `json:"seq"`
	Local     string `json:"local"`
	Remote    string `json:"remote"`
	Event     string `json:"event"`
	Data      string `json:"data"`
	Context   string `json:"context"`
}

func endpointString(ips *array.FixedSizeBinary, ports *array.Uint16, i int) string {
	ip, port := "null", "null"
	if a := IPAt(ips, i); a.IsValid() {
		ip = a.String()
	}
	if ports.IsValid(i) {
		port = fmt.Sprint(ports.Value(i))
	}
	return ip + " " + port
}

// rowsOf converts a record to dumpRows, checking that every column has the
// record's length and the schema is Schema.
func rowsOf(t testing.TB, rec arrow.Record) []dumpRow {
	t.Helper()
	if !rec.Schema().Equal(Schema) {
		t.Fatalf("schema differs:\n%v", rec.Schema())
	}
	n := int(rec.NumRows())
	for i, c := range rec.Columns() {
		if c.Len() != n {
			t.Fatalf("column %d has %d rows, record %d", i, c.Len(), n)
		}
	}
	var out []dumpRow
	for i := range n {
		s := func(col int) string {
			v, ok := DictString(rec.Column(col).(*array.Dictionary), i)
			if !ok {
				return "null"
			}
			return v
		}
		out = append(out, dumpRow{
			Line:      rec.Column(ColLine).(*array.Int64).Value(i),
			LogType:   s(ColLogType),
			Time:      rec.Column(ColDateTime).(*array.Timestamp).Value(i).ToTime(arrow.Millisecond).UTC().Format(time.RFC3339Nano),
			Server:    s(ColServer),
			Connector: s(ColConnectorID),
			Session:   fmt.Sprintf("%016X", rec.Column(ColSessionID).(*array.Uint64).Value(i)),
			Seq:       rec.Column(ColSequenceNumber).(*array.Uint32).Value(i),
			Local:     endpointString(rec.Column(ColLocalIP).(*array.FixedSizeBinary), rec.Column(ColLocalPort).(*array.Uint16), i),
			Remote:    endpointString(rec.Column(ColRemoteIP).(*array.FixedSizeBinary), rec.Column(ColRemotePort).(*array.Uint16), i),
			Event:     s(ColEvent),
			// Cloned: the record's memory is reused once it is released.
			Data:    strings.Clone(rec.Column(ColData).(*array.String).Value(i)),
			Context: strings.Clone(rec.Column(ColContext).(*array.String).Value(i)),
		})
	}
	return out
}

// readAll reads input with a checked allocator and asserts the invariants
// every stream must keep, whatever its content.
func readAll(t testing.TB, input io.Reader, name string, opts ...Option) dump {
	t.Helper()
	return readAllWith(t, input, name, nil, opts...)
}

// readAllWith is readAll with setup called on the Reader before it reads.
func readAllWith(t testing.TB, input io.Reader, name string, setup func(*Reader), opts ...Option) dump {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := NewReader(input, name, append([]Option{WithAllocator(mem)}, opts...)...)
	defer r.Release()
	if setup != nil {
		setup(r)
	}
	d := dump{Rows: []dumpRow{}, Problems: []string{}}
	for r.Next() {
		d.Rows = append(d.Rows, rowsOf(t, r.Record())...)
	}
	if err := r.Err(); err != nil {
		d.Err = err.Error()
	}
	st := r.Stats()
	if st.RowsRead != st.RowsEmitted+st.RowsRejected+st.RowsOutside {
		t.Errorf("rows read %d != emitted %d + rejected %d", st.RowsRead, st.RowsEmitted, st.RowsRejected)
	}
	if int64(len(d.Rows)) != st.RowsEmitted {
		t.Errorf("records hold %d rows, stats say %d emitted", len(d.Rows), st.RowsEmitted)
	}
	var nrej, nwarn int64
	for _, n := range r.Problems().RejectCounts {
		nrej += n
	}
	for _, n := range r.Problems().WarningCounts {
		nwarn += n
	}
	if nrej != st.RowsRejected || nwarn != st.Warnings {
		t.Errorf("problem counts (%d rejected, %d warnings) disagree with stats (%d, %d)", nrej, nwarn, st.RowsRejected, st.Warnings)
	}
	d.LogType, d.Version = r.LogType().String(), r.Version()
	d.Stats = dumpStats{st.Lines, st.HeaderLines, st.BlankLines, st.RowsRead, st.RowsEmitted, st.RowsRejected, st.Warnings}
	for _, e := range r.Problems().Rejects {
		d.Problems = append(d.Problems, "rejected "+e.Error())
	}
	for _, e := range r.Problems().Warnings {
		d.Problems = append(d.Problems, "warning "+e.Error())
	}
	return d
}

// golden compares got (as indented JSON) with testdata/<name>, or rewrites
// it under -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./parser -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from what the parser produced (go test ./parser -update rewrites it):\n%s", path, lineDiff(string(want), string(b)))
	}
}

// lineDiff shows the first differing lines.
func lineDiff(want, got string) string {
	wl, gl := bytes.Split([]byte(want), []byte("\n")), bytes.Split([]byte(got), []byte("\n"))
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, w, g)
		}
	}
	return ""
}
