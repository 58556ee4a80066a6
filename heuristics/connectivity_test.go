package heuristics

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// TestConnTargetKey: a connectivity session's id is kept as a number only
// when it is Exchange's 16 upper-case hex digits, so two ids that differ as
// text never share a target.
func TestConnTargetKey(t *testing.T) {
	a, b := targetKey(0, "08DE1A20675F93C5", false), targetKey(0, "08de1a20675f93c5", false)
	if a == b || a.text != "" || a.id != 0x08DE1A20675F93C5 || b.text != "08de1a20675f93c5" {
		t.Errorf("keys %+v %+v", a, b)
	}
	if targetKey(0, "1", false) == targetKey(0, "0000000000000001", false) || targetKey(0, "08DE1A20675F93C5", false) == targetKey(1, "08DE1A20675F93C5", false) {
		t.Error("different sessions share a key")
	}
}

// TestCompareRefText: compareRefText orders as Ref.String does.
func TestCompareRefText(t *testing.T) {
	files := []string{"", "a", "a:", "a:1", "a1", "b", "EX01/RECV2026110214-1.LOG", "EX01/RECV2026110214-10.LOG", "EX01/RECV2026110214-1.LOG:"}
	lines := []int64{0, 1, 2, 9, 10, 11, 100, -1, 1 << 40}
	var refs []session.Ref
	for _, f := range files {
		for _, l := range lines {
			refs = append(refs, session.Ref{File: f, Line: l})
		}
	}
	for _, x := range refs {
		for _, y := range refs {
			if got, want := compareRefText(x, y), cmp.Compare(x.String(), y.String()); got != want {
				t.Fatalf("compareRefText(%q, %q) = %d, want %d", x.String(), y.String(), got, want)
			}
		}
	}
}

// connectivityLogOf reads connectivity log files into a connectivityLog, in
// the order given, each file in records of batch rows.
func connectivityLogOf(t *testing.T, c *connectivityLog, files map[string]string, order []string, batch int) {
	t.Helper()
	for _, name := range order {
		r := parser.NewConnectivityReader(strings.NewReader(files[name]), name, memory.DefaultAllocator, parser.WithBatchRows(batch))
		for r.Next() {
			c.add(r.Record())
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Release()
	}
}

// connLogFiles writes n connectivity sessions of server EX02 over three
// files: every third fails with 451 5.7.3 after connecting (its disconnect
// row, and for some an earlier failed connection), the rest deliver; some
// sessions' rows continue in the next file.
func connLogFiles(n int) map[string]string {
	const header = "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: Transport Connectivity Log\r\n#Date: 2026-11-02T09:00:00.000Z\r\n#Fields: date-time,session,source,Destination,direction,description\r\n"
	files := map[string]string{}
	var b [3]strings.Builder
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for i := range n {
		f := i * 3 / n
		id := fmt.Sprintf("08DE3A1B2C%06X", i)
		at := func(ms int) string {
			return t0.Add(time.Duration(i)*time.Second + time.Duration(ms)*time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		}
		dest := fmt.Sprintf("d%d.example", i%7)
		fmt.Fprintf(&b[f], "%s,%s,SMTP,%s,+,DnsConnectorDelivery 00000000-0000-0000-0000-000000000000;QueueLength=TQ=1;AN=1;. \r\n", at(0), id, dest)
		if i%3 == 0 && i%2 == 0 {
			fmt.Fprintf(&b[f], "%s,%s,SMTP,%s,>,Failed connection to 198.51.100.%d:25 (TimedOut:0000274C)\r\n", at(1), id, dest, i%200)
		}
		fmt.Fprintf(&b[f], "%s,%s,SMTP,%s,>,Established connection to 10.0.%d.%d\r\n", at(2), id, dest, i%7, 5+i%3)
		end := f
		if i%10 == 6 && f < 2 {
			end = f + 1 // the session's end is in the next file
		}
		if i%3 == 0 {
			fmt.Fprintf(&b[end], "%s,%s,SMTP,%s,-,Messages: 0 Bytes: 0 (Retry : Cannot achieve Exchange Server authentication)\r\n", at(40), id, dest)
		} else {
			fmt.Fprintf(&b[end], "%s,%s,SMTP,%s,-,Messages: 1 Bytes: 2048 (Message for this destination delivered)\r\n", at(40), id, dest)
		}
	}
	for f := range 3 {
		files[fmt.Sprintf(`EX02\CONNECTLOG20261102-%d.LOG`, f+1)] = header + b[f].String()
	}
	return files
}

// TestConnectivityBoundedWhateverTheOrder: a connectivity session counts
// once, by its earliest failure, with the address it connected to, whatever
// the order files and records come in; sessions that delivered keep
// nothing; past the bound on failed sessions, the same ones are kept
// whatever the order, and the outbound finding says its counts are lower
// bounds.
func TestConnectivityBoundedWhateverTheOrder(t *testing.T) {
	files := connLogFiles(3000)
	orders := [][]string{
		{`EX02\CONNECTLOG20261102-1.LOG`, `EX02\CONNECTLOG20261102-2.LOG`, `EX02\CONNECTLOG20261102-3.LOG`},
		{`EX02\CONNECTLOG20261102-3.LOG`, `EX02\CONNECTLOG20261102-2.LOG`, `EX02\CONNECTLOG20261102-1.LOG`},
		{`EX02\CONNECTLOG20261102-2.LOG`, `EX02\CONNECTLOG20261102-3.LOG`, `EX02\CONNECTLOG20261102-1.LOG`},
	}
	for _, bound := range []int{0, 300} {
		var first string
		for i, order := range orders {
			c := newConnectivityLog()
			if bound > 0 {
				c.bound = newHashBound(bound)
			}
			connectivityLogOf(t, c, files, order, 1+i*97)
			// In file order every delivered session lets its address go;
			// in another, those whose end was read before their start
			// (300 sessions end in the next file) may keep theirs.
			if bound == 0 && (i == 0 && len(c.targets) != 1000 || len(c.targets) > 1300) {
				t.Errorf("order %d: %d addresses kept for %d failed sessions: delivered sessions keep theirs", i, len(c.targets), len(c.failed))
			}
			cf := c.result()
			var failures int64
			var got strings.Builder
			for _, g := range cf.groups {
				failures += g.count
				fmt.Fprintf(&got, "%s %s %v %v %d %s %s %s %v\n", g.server, g.destination, g.kind, g.target, g.count, g.first, g.last, g.description, g.samples)
			}
			switch {
			case bound == 0 && (failures != 1000 || cf.dropped != 0):
				t.Errorf("order %d: %d failures counted (%d dropped), want each of the 1,000 failed sessions once", i, failures, cf.dropped)
			case bound > 0 && (failures > int64(bound) || failures < int64(bound)/2 || cf.dropped == 0):
				t.Errorf("order %d, bound %d: %d failures counted, %d dropped", i, bound, failures, cf.dropped)
			}
			for _, g := range cf.groups {
				if g.kind == parser.ConnExchangeAuth451 && !g.target.IsValid() {
					t.Errorf("order %d: %d failures to %s without the address connected to", i, g.count, g.destination)
				}
			}
			if i == 0 {
				first = got.String()
			} else if got.String() != first {
				t.Fatalf("bound %d: order %d counts otherwise than order 0:\n%s\nwant\n%s", bound, i, got.String(), first)
			}
			if bound > 0 {
				var r Report
				outboundDetector{}.report(&detectorInputs{conn: cf}, &r)
				for _, f := range r.Findings {
					if !slices.Contains(f.LowerBounds, "failures") || !strings.Contains(f.Title, "at least") {
						t.Errorf("order %d: finding %q (lower bounds %v) does not say its count is a lower bound", i, f.Title, f.LowerBounds)
					}
				}
			}
		}
	}
}
