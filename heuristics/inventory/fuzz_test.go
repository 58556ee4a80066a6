package inventory

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// FuzzInventory feeds arbitrary logs to the inventory and the coverage,
// with a budget that may be tiny. It must never panic; the sessions listed
// must add up to the sessions counted; the rows must add up to the rows
// kept; and sessions in the reverse order must give the same result.
//
//	go test ./heuristics/inventory -run '^$' -fuzz FuzzInventory -fuzztime 10m
func FuzzInventory(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "parser", "testdata", "realdata", "*.log"))
	hostile, _ := filepath.Glob(filepath.Join("..", "..", "cmd", "logscan", "testdata", "hostile", "*.log"))
	for _, p := range append(seeds, hostile...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, uint8(3), false)
		}
	}
	for _, lf := range org() {
		f.Add([]byte(lf.text), uint8(2), lf.name[len(lf.name)-12:len(lf.name)-8] == "SEND")
	}
	f.Fuzz(func(t *testing.T, data []byte, budget uint8, send bool) {
		if len(data) > 1<<20 {
			return
		}
		lt := parser.LogTypeReceive
		if send {
			lt = parser.LogTypeSend
		}
		var sessions []*session.Session
		sb := session.NewBuilder(1, 0, func(s *session.Session) { sessions = append(sessions, s) })
		cov := NewCoverage(1)
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		r := parser.NewReader(bytes.NewReader(data), "EX01/FrontEnd/x.log", parser.WithAllocator(mem), parser.WithLogType(lt), parser.WithServer("EX01"))
		for r.Next() {
			sb.Add(0, r.Record())
			cov.Add(0, r.Record())
		}
		kept := r.Stats().RowsEmitted
		r.Release()
		mem.AssertSize(t, 0)
		sb.Finish()

		opts := Options{MaxClients: 1 + int(budget%8)}
		run := func(order []*session.Session) *Result {
			inv := New(opts)
			for _, s := range order {
				inv.Observe(s)
			}
			return inv.Result(Query{})
		}
		res := run(sessions)
		var listed int64
		for _, c := range res.Clients {
			listed += c.Sessions
			if len(c.Names.Values) > maxNames || !slices.IsSorted(c.Names.Values) || c.Recipients < c.Accepted || c.Relay.Granted > c.Anonymous {
				t.Fatalf("client %+v", c)
			}
		}
		if listed != res.Sessions || res.Sessions != int64(len(sessions)) {
			t.Fatalf("%d sessions listed, %d counted, %d built", listed, res.Sessions, len(sessions))
		}
		rev := slices.Clone(sessions)
		slices.Reverse(rev)
		if back := run(rev); !reflect.DeepEqual(back, res) {
			t.Fatal("sessions in the reverse order give another result")
		}
		var rows int64
		for _, s := range cov.Result(&parser.ScanResult{}, nil).Streams {
			rows += s.Rows
		}
		if rows != kept {
			t.Fatalf("coverage counts %d rows, the parser kept %d", rows, kept)
		}
	})
}
