package parser

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"
)

// TestMissingColumnsAreReported: a log whose #Fields lacks columns the
// analyses need says so, at the #Fields line, naming the columns.
func TestMissingColumnsAreReported(t *testing.T) {
	in := "#Software: Microsoft Exchange Server\r\n#Log-type: SMTP Receive Protocol Log\r\n" +
		"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,event\r\n" +
		"2026-11-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE000000000001,0,10.0.0.1:25,+\r\n"
	d := readAll(t, strings.NewReader(in), "RECV.LOG")
	if d.Stats.RowsEmitted != 1 {
		t.Errorf("kept %d rows", d.Stats.RowsEmitted)
	}
	var said string
	for _, p := range d.Problems {
		if strings.Contains(p, "RECV.LOG:3:") {
			said = p
		}
	}
	for _, col := range []string{"remote-endpoint", "data", "context"} {
		if !strings.Contains(said, col) {
			t.Errorf("no problem at the #Fields line naming %s: %q", col, d.Problems)
		}
	}
	if strings.Contains(said, "local-endpoint") {
		t.Errorf("present column named missing: %q", said)
	}
}

// TestMissingColumnsInScan: Scan gives the caller the missing columns per
// file, and a protocol log lacking a column rows need rejects every row,
// counted, instead of being skipped.
func TestMissingColumnsInScan(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "RECV2026110210-1.LOG"), []byte("#Log-type: SMTP Receive Protocol Log\r\n"+
		"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,event\r\n"+
		"2026-11-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE000000000001,0,10.0.0.1:25,+\r\n"))
	writeFile(t, filepath.Join(dir, "SEND2026110210-1.LOG"), []byte("#Log-type: SMTP Send Protocol Log\r\n"+
		"#Fields: date-time,connector-id,event,data\r\n"+
		"2026-11-02T10:00:01.000Z,Outbound,+,\r\n2026-11-02T10:00:02.000Z,Outbound,-,\r\n"))
	got, res := scanDir(t, dir, false, nil)
	if f := got["RECV2026110210-1.LOG"]; fmt.Sprint(f.MissingColumns) != "[remote-endpoint data context]" || f.Stats.RowsEmitted != 1 {
		t.Errorf("receive log: missing %v, %+v", f.MissingColumns, f.Stats)
	}
	f := got["SEND2026110210-1.LOG"]
	if f.Status != FileParsed || fmt.Sprint(f.MissingColumns) != "[session-id sequence-number local-endpoint remote-endpoint context]" ||
		f.Stats.RowsRejected != 2 || f.Problems.RejectCounts[ErrFieldsHeader] != 2 {
		t.Errorf("send log: %v (%s), missing %v, %+v", f.Status, f.Reason, f.MissingColumns, f.Stats)
	}
	var notice *KindCount
	for i := range res.Problems {
		if res.Problems[i].Kind == ErrMissingColumns {
			notice = &res.Problems[i]
		}
	}
	if notice == nil || notice.Count != 2 || notice.Files != 2 || notice.Severity != Notice || notice.First[0].Line != 2 {
		t.Errorf("no notice per file at the #Fields line: %+v", notice)
	}
}

// TestServerPerConnector mixes receive connectors of many servers (more
// connectors than a batch remembers the servers of), one without a server
// in its name, and a change of log type, in batches of several sizes: each
// row's server is its own connector's (or the hint), though the batch looks
// each connector-id into only once.
func TestServerPerConnector(t *testing.T) {
	row := func(conn string, seq int) string {
		return fmt.Sprintf("2026-11-02T10:00:00.000Z,%s,08DE1A10BC92E4FC,%d,10.0.0.1:25,10.0.0.2:4000,<,EHLO x,\n", conn, seq)
	}
	// More connectors than the batch remembers servers of (16).
	connectors := func(n int) string {
		var s string
		for i := range n {
			s += row(fmt.Sprintf(`S%d\C%d`, i%17, i), 100+i)
		}
		return s
	}
	in := "#Log-type: SMTP Receive Protocol Log\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\n" +
		row(`EX01\Default`, 0) + row(`EX02\Relay`, 1) + connectors(20) + row(`EX01\Default`, 2) + row("Internet", 3) + row(`EX02\Relay`, 4) + row(`\Odd`, 5) +
		"#Log-type: SMTP Send Protocol Log\n" + row(`EX01\Default`, 6) + row("Internet", 7) +
		"#Log-type: SMTP Receive Protocol Log\n" + row(`EX01\Default`, 8) + row("Internet", 9)
	for _, hint := range []string{"", "HINT"} {
		want := []string{"EX01", "EX02"}
		for i := range 20 {
			want = append(want, fmt.Sprintf("S%d", i%17))
		}
		want = append(want, "EX01", hint, "EX02", hint, hint, hint, "EX01", hint)
		for _, batch := range []int{1, 2, 3, 1000} {
			d := readAll(t, strings.NewReader(in), "t.log", WithBatchRows(batch), WithServer(hint))
			if len(d.Rows) != len(want) {
				t.Fatalf("hint %q batch %d: %d rows", hint, batch, len(d.Rows))
			}
			for i, r := range d.Rows {
				w := want[i]
				if w == "" {
					w = "null"
				}
				if r.Server != w {
					t.Errorf("hint %q batch %d row %d (%s): server %q, want %q", hint, batch, i, r.Connector, r.Server, w)
				}
			}
		}
	}
}

// TestValidityBitmaps puts nulls at scattered rows of batches that grow
// past their first room (1,024 rows) and end mid-byte: every row's validity
// is its own, and no bit is set past a record's last row.
func TestValidityBitmaps(t *testing.T) {
	var in strings.Builder
	in.WriteString("#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\n")
	const rows = 3001
	null := func(i int) bool { return i%7 == 3 || i%1024 == 1023 || i == rows-1 }
	for i := range rows {
		local, ev := "10.0.0.1:25", "<"
		if null(i) {
			local, ev = "", ""
		}
		fmt.Fprintf(&in, "2026-11-02T10:00:00.000Z,EX01\\Default,08DE1A10BC92E4FC,%d,%s,10.0.0.2:4000,%s,x,\n", i, local, ev)
	}
	for _, batch := range []int{rows, 2000, 13} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		r := NewReader(strings.NewReader(in.String()), "t.log", WithAllocator(mem), WithBatchRows(batch))
		seen := 0
		for r.Next() {
			rec := r.Record()
			for _, col := range []int{ColLocalIP, ColLocalPort, ColEvent} {
				c := rec.Column(col)
				for i := range c.Len() {
					if c.IsValid(i) == null(seen+i) {
						t.Fatalf("batch %d: column %d row %d: valid %v", batch, col, seen+i, c.IsValid(i))
					}
				}
				if n := c.Len(); c.NullN() > 0 && n%8 != 0 {
					if last := c.Data().Buffers()[0].Bytes()[n/8]; last>>(n%8) != 0 {
						t.Fatalf("batch %d: column %d: bits past the last row: %08b", batch, col, last)
					}
				}
			}
			seen += int(rec.NumRows())
		}
		if seen != rows || r.Err() != nil {
			t.Fatalf("batch %d: %d rows, %v", batch, seen, r.Err())
		}
		r.Release()
		mem.AssertSize(t, 0)
	}
}
