package heuristics

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// FuzzSessions feeds arbitrary logs, cut into two files, to the session
// builder in both orders, with one worker and with two, then runs the
// detectors. It must never panic, every kept row must land in exactly one
// session, the same sessions (by key) must come out whatever the order,
// and replies must be paired with sane codes.
//
//	go test ./heuristics -run '^$' -fuzz FuzzSessions -fuzztime 10m
func FuzzSessions(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "parser", "testdata", "realdata", "*.log"))
	hostile, _ := filepath.Glob(filepath.Join("..", "cmd", "logscan", "testdata", "hostile", "*.log"))
	for _, p := range append(seeds, hostile...) {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b, uint16(len(b)/2), false)
			f.Add(b, uint16(len(b)/3), true)
		}
	}
	sample, _ := os.ReadFile(filepath.Join("..", "samples", "contoso", "EX01", "Hub", "ProtocolLog", "SmtpReceive", "RECV2026110210-1.LOG"))
	if len(sample) > 0 {
		f.Add(sample[:min(len(sample), 16<<10)], uint16(8000), false)
	}
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, data []byte, cut uint16, send bool) {
	{
		if len(data) > 1<<20 {
			return
		}
		c := int(cut) % (len(data) + 1)
		// Cut at a line end, as files are.
		if i := bytes.IndexByte(data[c:], '\n'); i >= 0 {
			c += i + 1
		} else {
			c = len(data)
		}
		lt := parser.LogTypeReceive
		if send {
			lt = parser.LogTypeSend
		}
		a, b := data[:c], data[c:]
		var emitted int64
		var keys [][]string
		for _, order := range []struct {
			workers int
			first   bool
		}{{1, true}, {1, false}, {2, true}, {2, false}} {
			var got []*session.Session
			sb := session.NewBuilder(order.workers, 0, func(s *session.Session) { got = append(got, s) })
			files := [][]byte{a, b}
			names := []string{"a.log", "b.log"}
			if !order.first {
				files, names = [][]byte{b, a}, []string{"b.log", "a.log"}
			}
			var kept int64
			for i, file := range files {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				r := parser.NewReader(bytes.NewReader(file), names[i], parser.WithAllocator(mem), parser.WithLogType(lt), parser.WithServer("EXS"))
				for r.Next() {
					sb.Add(i%order.workers, r.Record())
				}
				kept += r.Stats().RowsEmitted
				r.Release()
				mem.AssertSize(t, 0)
			}
			sb.Finish()
			var rows int64
			var k []string
			for _, s := range got {
				rows += int64(s.Rows)
				k = append(k, fmt.Sprintf("%s|%v|%016X", s.Server, s.LogType, s.ID))
				for _, m := range s.Messages {
					for _, r := range m.Rcpts {
						if r.Code != 0 && (r.Code < 200 || r.Code > 599) {
							t.Fatalf("reply code %d paired with a RCPT", r.Code)
						}
					}
				}
			}
			if rows != kept {
				t.Fatalf("workers %d first %v: %d rows in sessions, %d kept", order.workers, order.first, rows, kept)
			}
			if emitted == 0 {
				emitted = kept
			} else if kept != emitted {
				t.Fatalf("kept %d rows in one order, %d in another", kept, emitted)
			}
			sort.Strings(k)
			k = compactStrings(k)
			keys = append(keys, k)
			// The detectors must take whatever the builder makes.
			an := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 1})
			for _, s := range got {
				an.observe(s)
			}
			an.Result()
		}
		for i := 1; i < len(keys); i++ {
			if strings.Join(keys[i], ",") != strings.Join(keys[0], ",") {
				t.Fatalf("order %d gives sessions %v, order 0 %v", i, keys[i], keys[0])
			}
		}
	}
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
