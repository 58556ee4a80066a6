package heuristics

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/logscan/logscan/parser"
)

const fields = "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\n"

// feed parses a log and adds its records to a as worker w.
func feed(t *testing.T, s *Analyzer, w int, log string, opts ...parser.Option) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := parser.NewReader(strings.NewReader(log), "t.log", append([]parser.Option{parser.WithAllocator(mem)}, opts...)...)
	defer r.Release()
	for r.Next() {
		s.Add(w, r.Record())
	}
	if r.Stats().RowsRejected != 0 {
		t.Fatalf("rejected rows: %v", r.Problems().Rejects)
	}
}

func TestSummary(t *testing.T) {
	// Session 1 spans two files read by two workers (an hourly rollover).
	fileA := "#Log-type: SMTP Receive Protocol Log\n" + fields +
		"2026-11-02T10:59:59.000Z,EX01\\Default Frontend EX01,1,0,10.0.0.11:25,203.0.113.7:1,+,,\n" +
		"2026-11-02T10:59:59.500Z,EX01\\Default Frontend EX01,2,0,10.0.0.11:25,203.0.113.8:1,+,,\n" +
		"2026-11-02T10:59:59.600Z,EX01\\Default Frontend EX01,3,0,10.0.0.12:25,203.0.113.8:2,+,,\n"
	fileB := "#Log-type: SMTP Receive Protocol Log\n" + fields +
		"2026-11-02T11:00:03.000Z,EX01\\Default Frontend EX01,1,1,10.0.0.11:25,203.0.113.7:1,-,,Local\n" +
		"2026-11-02T11:00:04.000Z,EX01\\Default Frontend EX01,4,0,10.0.0.11:25,203.0.113.8:3,+,,\n"
	send := "#Log-type: SMTP Send Protocol Log\n" + fields +
		"2026-11-02T11:00:05.000Z,Outbound to Internet,1,0,,198.51.100.1:25,*,,attempting to connect\n" +
		"2026-11-02T11:00:06.000Z,Outbound to Internet,1,1,10.0.0.11:4000,198.51.100.1:25,+,,\n"
	s := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 3, TopRemote: 1})
	feed(t, s, 0, fileA)
	feed(t, s, 1, fileB)
	feed(t, s, 2, send, parser.WithServer("EX01"))
	got := s.Result().Summary

	if got.Rows != 7 || got.Sessions != 5 {
		t.Errorf("rows %d sessions %d, want 7 and 5 (session 1 counted once, send session 1 apart from receive session 1)", got.Rows, got.Sessions)
	}
	if want := time.Date(2026, 11, 2, 10, 59, 59, 0, time.UTC); !got.First.Equal(want) {
		t.Errorf("first %v", got.First)
	}
	if len(got.Servers) != 1 || got.Servers[0].Name != "EX01" || strings.Join(got.Servers[0].LocalAddrs, " ") != "10.0.0.11-10.0.0.12" {
		t.Errorf("servers %+v", got.Servers)
	}
	if len(got.Connectors) != 2 {
		t.Fatalf("connectors %+v", got.Connectors)
	}
	fe := got.Connectors[0]
	if fe.Name != `EX01\Default Frontend EX01` || fe.LogType != "receive" || fe.Sessions != 4 || fe.Rows != 5 {
		t.Errorf("receive connector %+v", fe)
	}
	// 203.0.113.8 has three sessions, .7 one; top=1 keeps the busiest.
	if len(fe.TopRemote) != 1 || fe.TopRemote[0] != (AddrCount{netip.MustParseAddr("203.0.113.8"), 3}) {
		t.Errorf("top remote %+v", fe.TopRemote)
	}
	// Session 1 lasted 4 s across the two files; the others 0 s.
	if fe.P95Seconds != 4 || fe.MedianSeconds != 0 {
		t.Errorf("durations median %v p95 %v", fe.MedianSeconds, fe.P95Seconds)
	}
	if sc := got.Connectors[1]; sc.LogType != "send" || sc.Server != "EX01" || sc.Sessions != 1 || sc.TopRemote[0].Addr.String() != "198.51.100.1" {
		t.Errorf("send connector %+v", sc)
	}
}

func TestSummaryUnknownServer(t *testing.T) {
	s := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 1})
	feed(t, s, 0, "#Log-type: SMTP Send Protocol Log\n"+fields+"2026-11-02T11:00:05.000Z,Outbound to Internet,1,0,,198.51.100.1:25,*,,attempting to connect\n")
	got := s.Result().Summary
	if len(got.Servers) != 1 || got.Servers[0].Name != "" || got.Sessions != 1 {
		t.Errorf("%+v", got)
	}
}

func TestSummaryEmpty(t *testing.T) {
	got := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 2}).Result().Summary
	if got.Rows != 0 || got.Sessions != 0 || !got.First.IsZero() || len(got.Connectors) != 0 {
		t.Errorf("%+v", got)
	}
}

// TestSummaryForgetsCompleteSessions: memory must not grow with the number of
// sessions, so a session seen from its first row to its disconnect leaves
// nothing behind but its connector's totals.
func TestSummaryForgetsCompleteSessions(t *testing.T) {
	var b strings.Builder
	b.WriteString("#Log-type: SMTP Receive Protocol Log\n" + fields)
	for i := 1; i <= 2000; i++ {
		b.WriteString(fmt.Sprintf("2026-11-02T10:00:01.000Z,EX01\\Default Frontend EX01,%X,0,10.0.0.11:25,203.0.113.7:1,+,,\n", i))
		b.WriteString(fmt.Sprintf("2026-11-02T10:00:02.000Z,EX01\\Default Frontend EX01,%X,1,10.0.0.11:25,203.0.113.7:1,-,,Local\n", i))
	}
	b.WriteString("2026-11-02T10:00:03.000Z,EX01\\Default Frontend EX01,FFFF,0,10.0.0.11:25,203.0.113.9:1,+,,\n") // still open
	s := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 1})
	feed(t, s, 0, b.String())
	if n := s.builder.HeldOpen(); n != 1 {
		t.Errorf("%d sessions held open, want only the unfinished one", n)
	}
	got := s.Result().Summary
	if got.Sessions != 2001 || got.Connectors[0].Sessions != 2001 || got.Connectors[0].TopRemote[0].Sessions != 2000 {
		t.Errorf("sessions %d, connector %+v", got.Sessions, got.Connectors[0])
	}
}
