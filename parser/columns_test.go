package parser

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
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
