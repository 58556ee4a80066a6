package parser

import (
	"strings"
	"testing"
)

// TestNULBlockIsItsOwnProblem: a crash leaves a block of NUL bytes where a
// row was being written; the row is rejected as NUL bytes, not as a wrong
// number of fields, with file:line.
func TestNULBlockIsItsOwnProblem(t *testing.T) {
	rows := strings.Split(recvLog, "\r\n")
	in := recvLog + rows[5][:50] + strings.Repeat("\x00", 4000) + rows[6] + "\r\n" + // a row cut by the crash, NULs, then the next row
		strings.Repeat("\x00", 300) + rows[5][:30] + "\r\n" + // NULs, then a cut row
		rows[6] + "\r\n"
	d := readAll(t, strings.NewReader(in), "RECV.LOG")
	if d.Stats.RowsEmitted != 3 || d.Stats.RowsRejected != 2 {
		t.Fatalf("kept %d rejected %d: %q", d.Stats.RowsEmitted, d.Stats.RowsRejected, d.Problems)
	}
	r := NewReader(strings.NewReader(in), "RECV.LOG")
	for r.Next() {
	}
	defer r.Release()
	p := r.Problems()
	if p.RejectCounts[ErrNULBytes] != 2 || p.RejectCounts[ErrFieldCount] != 0 {
		t.Errorf("reject counts %v, want 2 NUL-byte rows and no field-count rows", p.RejectCounts)
	}
	for i, e := range p.Rejects {
		if want := int64(8 + i); e.Line != want || !strings.HasPrefix(e.Error(), "RECV.LOG:") || Kind(e) != ErrNULBytes {
			t.Errorf("reject %d: %v (kind %v), want line %d", i, e, Kind(e), want)
		}
	}
	if len(p.Warnings) != 0 {
		t.Errorf("warnings on rejected rows: %v", p.Warnings)
	}
}
