//go:build linux || darwin

package parser

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// readMapped reads in through a mapping of a file holding it, dir/mapped.log
// (rewritten: a new file per fuzz input made ext4 slow to allocate inodes),
// in windows of window bytes, and returns the dump and the bytes counted
// read. It checks that reading changed nothing in the file (the unescaping
// of doubled quotes writes to the private copy-on-write pages only).
func readMapped(t testing.TB, dir string, in []byte, window int, opts ...Option) (dump, int64) {
	t.Helper()
	path := filepath.Join(dir, "mapped.log")
	if err := os.WriteFile(path, in, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := openMapped(f, int64(len(in)), window)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := newMappedReader(m, "fuzz.log", append([]Option{WithAllocator(mem)}, opts...)...)
	d := dumpReader(t, r)
	n := r.Stats().Bytes
	r.Release()
	if err := m.unmap(); err != nil {
		t.Fatal(err)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, in) {
		t.Fatalf("reading the mapped file changed it (err %v)", err)
	}
	return d, n
}

// readBuffered reads in as Scan reads a file it does not map: through a
// read buffer of readBufferSize.
func readBuffered(t testing.TB, in []byte, opts ...Option) (dump, int64) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := NewReader(bufio.NewReaderSize(bytes.NewReader(in), readBufferSize), "fuzz.log", append([]Option{WithAllocator(mem)}, opts...)...)
	defer r.Release()
	return dumpReader(t, r), r.Stats().Bytes
}

// checkMappedSame checks that reading in through a mapping, in windows of a
// page and of mapWindowBytes, gives what the read buffer gives: rows,
// problems, stats, errors and the bytes counted.
func checkMappedSame(t testing.TB, dir string, in []byte, opts ...Option) {
	t.Helper()
	if len(in) == 0 {
		return // an empty file is never mapped
	}
	want, wantBytes := readBuffered(t, in, opts...)
	for _, window := range []int{os.Getpagesize(), mapWindowBytes} {
		got, gotBytes := readMapped(t, dir, in, window, opts...)
		if !reflect.DeepEqual(want, got) || wantBytes != gotBytes {
			t.Fatalf("window %d: the mapped file reads otherwise than the buffered one (bytes %d, %d):\n%+v\n%+v",
				window, wantBytes, gotBytes, want, got)
		}
	}
}

const mapTestHeader = "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: SMTP Receive Protocol Log\r\n" +
	"#Date: 2024-03-01T00:00:00.000Z\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n"

// mapTestRow is a receive row whose data field is data (quoted as needed
// by the caller), ending in CRLF.
func mapTestRow(i int, data string) string {
	return fmt.Sprintf("2024-03-01T10:%02d:%02d.%03dZ,EX01\\Default EX01,08DC3A1B2C3D%04X,%d,10.0.0.1:25,192.0.2.%d:%d,>,%s,\r\n",
		i/3600%60, i/60%60, i%1000, i%0xFFFF, i%20, 1+i%250, 40000+i%1000, data)
}

// TestMappedMatchesBuffered compares the two ways Scan reads a plain file
// on the edge cases of lines and windows.
func TestMappedMatchesBuffered(t *testing.T) {
	page := os.Getpagesize()
	var rows strings.Builder
	rows.WriteString(mapTestHeader)
	for i := 0; rows.Len() < 5*page; i++ {
		rows.WriteString(mapTestRow(i, "250 OK"))
	}
	base := rows.String()
	big := strings.Repeat("x", 1<<20+page) // longer than Scan's read buffer
	cases := map[string]string{
		"rows":            base,
		"no last newline": strings.TrimSuffix(base, "\r\n"),
		"last line cut":   base + "2024-03-01T10:00:00.000Z,EX01\\Def",
		"doubled quotes":  base + mapTestRow(1, `"say ""hi"", then ""bye"""`) + mapTestRow(2, `"a,""b"""`),
		"bom":             "\xEF\xBB\xBF" + base,
		"blank and nul":   base + "\r\n\n" + mapTestRow(3, "a\x00b") + "\x00\x00\x00\n" + mapTestRow(4, "ok"),
		"bad utf8":        base + mapTestRow(5, "\xff\xfe") + mapTestRow(6, "ok"),
		"headers again":   base + mapTestHeader + mapTestRow(7, "again"),
		"long lines":      base + mapTestRow(8, big) + mapTestRow(9, "after") + mapTestRow(10, big[:3*page]),
		"long last line":  base + mapTestRow(11, big)[:1<<20+page/2],
		"lf only":         strings.ReplaceAll(base, "\r\n", "\n"),
	}
	// Every place of a line end around a window's end: '\r' as a window's
	// last byte, '\n' as the next window's first, and lines of a window.
	for shift := range 8 {
		cases[fmt.Sprintf("shift %d", shift)] = base[:len(mapTestHeader)] + strings.Repeat("#", shift) + "\r\n" + base[len(mapTestHeader):]
	}
	cases["page lines"] = mapTestHeader + strings.Repeat(mapTestRow(12, strings.Repeat("p", page-len(mapTestRow(12, "")))), 6)
	dir := t.TempDir()
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			checkMappedSame(t, dir, []byte(in))
			checkMappedSame(t, dir, []byte(in), WithMaxLineBytes(100), WithBatchRows(3))
			checkMappedSame(t, dir, []byte(in), withoutMemo())
		})
	}
	// A line longer than maxLine and than the read buffer is rejected; one
	// longer than the read buffer only is kept: in both ways alike.
	in := []byte(base + mapTestRow(13, big) + mapTestRow(14, "after"))
	got, _ := readMapped(t, dir, in, mapWindowBytes, WithMaxLineBytes(1<<20))
	if len(got.Problems) != 1 || !strings.Contains(got.Problems[0], ErrLineTooLong.Error()) {
		t.Fatalf("a line over maxLine and the read buffer: problems %q", got.Problems)
	}
	got, _ = readMapped(t, dir, in, mapWindowBytes, WithMaxLineBytes(64))
	if len(got.Problems) != 1 {
		t.Fatalf("maxLine 64: problems %q", got.Problems)
	}
	got, _ = readMapped(t, dir, in, mapWindowBytes)
	if len(got.Problems) != 0 || got.Rows[len(got.Rows)-2].Data != big {
		t.Fatalf("a 1 MiB line under maxLine: problems %q", got.Problems)
	}
}

// TestMappedUnescapesPrivately reads a file with doubled quotes inside a
// quoted field: the field reads unescaped and the file is left as it was
// (readMapped checks it).
func TestMappedUnescapesPrivately(t *testing.T) {
	in := []byte(mapTestHeader + mapTestRow(1, `"EHLO ""x"", y"`) + mapTestRow(2, "ok"))
	d, _ := readMapped(t, t.TempDir(), in, os.Getpagesize())
	if len(d.Rows) != 2 || d.Rows[0].Data != `EHLO "x", y` {
		t.Fatalf("rows %+v", d.Rows)
	}
}

// TestMappedFileShrinks truncates a file while it is read through its
// mapping: the pages past its new end fault (SIGBUS), which must end the
// file as damaged, with the rows before kept and the counts consistent,
// not crash the process.
func TestMappedFileShrinks(t *testing.T) {
	var b strings.Builder
	b.WriteString(mapTestHeader)
	for i := 0; b.Len() < 64*os.Getpagesize(); i++ {
		b.WriteString(mapTestRow(i, "250 2.0.0 OK"))
	}
	in := []byte(b.String())
	path := filepath.Join(t.TempDir(), "shrinks.log")
	if err := os.WriteFile(path, in, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := openMapped(f, int64(len(in)), mapWindowBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer m.unmap()
	r := newMappedReader(m, "shrinks.log", WithBatchRows(100))
	defer r.Release()
	if !r.Next() {
		t.Fatal("no first record")
	}
	if err := os.Truncate(path, int64(os.Getpagesize())); err != nil {
		t.Fatal(err)
	}
	rows := r.Record().NumRows()
	for r.Next() {
		rows += r.Record().NumRows()
	}
	st := r.Stats()
	if !strings.Contains(fmt.Sprint(r.Err()), "memory fault") {
		t.Fatalf("err %v, want damaged", r.Err())
	}
	if rows != st.RowsEmitted || st.RowsRead != st.RowsEmitted+st.RowsRejected+st.RowsOutside {
		t.Fatalf("%d rows in records, stats %+v", rows, st)
	}
	if st.RowsEmitted < 100 || st.Bytes >= int64(len(in)) {
		t.Fatalf("stats %+v", st)
	}
}

// TestScanMapsLargeFiles scans a file large enough to be mapped and one too
// small, both the same rows, and compares what each gave with the read
// buffer's reading.
func TestScanMapsLargeFiles(t *testing.T) {
	var b strings.Builder
	b.WriteString(mapTestHeader)
	for i := 0; b.Len() < minMapBytes+mapWindowBytes/4; i++ {
		b.WriteString(mapTestRow(i, `"a ""quoted"" reply"`))
	}
	large := []byte(b.String())
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "RECV2024030110-1.LOG"), large)
	writeFile(t, filepath.Join(dir, "RECV2024030110-2.LOG"), large[:minMapBytes/2])
	var got [2][]dumpRow
	res, err := Scan(context.Background(), []string{dir}, ScanOptions{Workers: 1}, func(_ int, rec arrow.Record) error {
		i := 0
		if src, _ := DictString(rec.Column(ColSourceFile).(*array.Dictionary), 0); strings.HasSuffix(src, "-2.LOG") {
			i = 1
		}
		got[i] = append(got[i], rowsOf(t, rec)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range [][]byte{large, large[:minMapBytes/2]} {
		want, n := readBuffered(t, in)
		if !reflect.DeepEqual(want.Rows, got[i]) || res.Files[i].Stats.Bytes != n || res.Files[i].Err != nil {
			t.Fatalf("file %d: %d rows, want %d; bytes %d, want %d; err %v", i, len(got[i]), len(want.Rows), res.Files[i].Stats.Bytes, n, res.Files[i].Err)
		}
	}
}
