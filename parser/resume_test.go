package parser

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/memory"
)

// TestResume cuts a growing log at every byte: a first run reads up to the
// cut holding back the unfinished line, a second run goes on from its
// ResumePoint over the rest. Together they must give exactly the rows,
// line numbers and fields of one read of the whole file — including a
// header repeated mid-file (a service restart) and a file without header.
func TestResume(t *testing.T) {
	logs := map[string]string{
		"restart": "#Software: Microsoft Exchange Server\r\n#Version: 15.2.1544.4\r\n#Log-type: SMTP Send Protocol Log\r\n" +
			"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n" +
			"2026-11-02T10:00:00.000Z,Outbound,0A,0,10.0.0.1:5000,203.0.113.1:25,+,,\r\n" +
			"2026-11-02T10:00:00.100Z,Outbound,0A,1,10.0.0.1:5000,203.0.113.1:25,<,\"220 mx, ready\",\r\n" +
			"#Software: Microsoft Exchange Server\r\n#Version: 15.2.1544.4\r\n#Log-type: SMTP Send Protocol Log\r\n" +
			"#Fields: date-time,session-id,sequence-number,connector-id,local-endpoint,remote-endpoint,event,data,context\r\n" +
			"2026-11-02T10:00:01.000Z,0B,0,Outbound,10.0.0.1:5001,203.0.113.2:25,+,,\r\n" +
			"2026-11-02T10:00:01.100Z,0B,1,Outbound,10.0.0.1:5001,203.0.113.2:25,-,,Local\r\n",
		"headerless": "2016-12-14T01:17:34.808Z,EX\\Default ,0000000000000000,0,x.x.x.x:25,91.112.61.94:55171,+,,\r\n" +
			"2016-12-14T01:17:36.340Z,EX\\Default ,0000000000000000,3,x.x.x.x:25,91.112.61.94:55171,<,EHLO ylmf-pc,\r\n",
	}
	for name, log := range logs {
		whole := readAll(t, bytes.NewReader([]byte(log)), "f.log")
		for cut := 0; cut <= len(log); cut++ {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			first := NewReader(bytes.NewReader([]byte(log[:cut])), "f.log", WithAllocator(mem), WithHoldTail())
			var rows []dumpRow
			for first.Next() {
				rows = append(rows, rowsOf(t, first.Record())...)
			}
			p := first.ResumePoint()
			first.Release()
			if p.Offset+p.Pending != int64(cut) {
				t.Fatalf("%s cut %d: offset %d + pending %d", name, cut, p.Offset, p.Pending)
			}
			second := NewReader(bytes.NewReader([]byte(log[p.Offset:])), "f.log", WithAllocator(mem), WithResume(p), WithHoldTail())
			for second.Next() {
				rows = append(rows, rowsOf(t, second.Record())...)
			}
			end := second.ResumePoint()
			second.Release()
			mem.AssertSize(t, 0)
			if !reflect.DeepEqual(rows, whole.Rows) {
				t.Fatalf("%s cut %d: rows differ from one read:\n%+v\n%+v", name, cut, rows, whole.Rows)
			}
			if end.Offset != int64(len(log)) || end.Pending != 0 || end.LogType.String() != whole.LogType {
				t.Fatalf("%s cut %d: end %+v", name, cut, end)
			}
		}
	}
}

func TestTimeRange(t *testing.T) {
	log := recvHead + recvRows(0, 60) // 10:00:00 .. 10:00:59
	since := time.Date(2026, 11, 2, 10, 0, 10, 0, time.UTC)
	until := time.Date(2026, 11, 2, 10, 0, 20, 0, time.UTC)
	for _, tt := range []struct {
		since, until time.Time
		kept         int64
	}{{since, until, 10}, {since, time.Time{}, 50}, {time.Time{}, until, 20}, {time.Time{}, time.Time{}, 60}} {
		d := readAll(t, bytes.NewReader([]byte(log)), "w.log", WithTimeRange(tt.since, tt.until))
		if int64(len(d.Rows)) != tt.kept {
			t.Errorf("since %v until %v: kept %d, want %d", tt.since, tt.until, len(d.Rows), tt.kept)
		}
	}
}
