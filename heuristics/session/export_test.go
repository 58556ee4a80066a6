package session

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/logscan/logscan/parser"
	"github.com/logscan/logscan/store"
)

func recordLines(rec arrow.Record) []string {
	out := make([]string, rec.NumRows())
	for i := range out {
		var b strings.Builder
		for c := 0; c < int(rec.NumCols()); c++ {
			b.WriteString(rec.Column(c).ValueStr(i))
			b.WriteByte('|')
		}
		out[i] = b.String()
	}
	return out
}

// TestSessionsTableRoundTrip: the sample's sessions written as the
// sessions table, in both formats, read back identical.
func TestSessionsTableRoundTrip(t *testing.T) {
	for _, format := range []store.Format{store.FormatParquet, store.FormatArrow} {
		t.Run(string(format), func(t *testing.T) {
			dir := t.TempDir()
			d, err := store.Open(dir, "sessions")
			if err != nil {
				t.Fatal(err)
			}
			txn := d.Begin(format)
			w, err := txn.Table("sessions", Schema, SchemaVersion,
				store.PartitionKey{Name: "server", Col: ColServer}, store.PartitionKey{Name: "date", Col: ColStart, Date: true})
			if err != nil {
				t.Fatal(err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			var mu sync.Mutex
			var want []string
			recs := NewRecords(mem, 100, func(rec arrow.Record) error {
				mu.Lock()
				want = append(want, recordLines(rec)...)
				mu.Unlock()
				return w.Write(rec)
			})
			sb := NewBuilder(2, 0, func(s *Session) { recs.Add(s) })
			_, err = parser.Scan(context.Background(), []string{filepath.Join("..", "..", "samples", "contoso")}, parser.ScanOptions{Workers: 2},
				func(wk int, rec arrow.Record) error { sb.Add(wk, rec); return nil })
			if err != nil {
				t.Fatal(err)
			}
			sb.Finish()
			if err := recs.Close(); err != nil {
				t.Fatal(err)
			}
			mem.AssertSize(t, 0)
			if err := txn.Commit(nil); err != nil {
				t.Fatal(err)
			}
			var got []string
			err = d.Read(context.Background(), "sessions", Schema, 2, nil, func(_ int, rec arrow.Record) error {
				mu.Lock()
				got = append(got, recordLines(rec)...)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			slices.Sort(want)
			if len(want) != 4438 || !slices.Equal(got, want) {
				t.Fatalf("read back %d sessions, wrote %d", len(got), len(want))
			}
			// EX02's failed 451 5.7.3 attempts (no 451 row: an EHLO reply
			// without X-EXPS, then QUIT) are in the table as such.
			n := 0
			for _, l := range got {
				if strings.HasPrefix(l, "EX02|send|") && strings.Contains(l, "|Intra-Organization SMTP Send Connector|") && strings.Contains(l, "|10.20.0.11|2525|") && strings.Contains(l, "|true|false|[]|") {
					n++
				}
			}
			if n != 89 {
				t.Errorf("%d failed 451 5.7.3 attempts of EX02 in the sessions table, want 89", n)
			}
		})
	}
}

// TestRecordsSizeNextBatchAsLast: once a batch is cut, the builders of the
// next one already have room for as many strings, messages and recipients
// as it held, nested ones too, rather than growing them from nothing; and
// the batches read the same.
func TestRecordsSizeNextBatchAsLast(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	var batches [][]string
	recs := NewRecords(mem, 2, func(rec arrow.Record) error {
		batches = append(batches, recordLines(rec))
		return nil
	})
	session := func(i int) *Session {
		s := &Session{EHLO: strings.Repeat("h", 300+i), Connector: `EX01\Default Frontend EX01`}
		for m := range 3 {
			msg := Message{From: "sender@example.org"}
			for r := range 40 {
				addr := strings.Repeat("r", 20) + string(rune('a'+m)) + string(rune('a'+r%26)) + "@outside.example"
				msg.Rcpts = append(msg.Rcpts, Rcpt{Addr: addr, Domain: DomainOf(addr), Code: 250, Reply: "250 2.1.5 Recipient OK"})
			}
			s.Messages = append(s.Messages, msg)
		}
		return s
	}
	for i := range 2 {
		if err := recs.Add(session(i)); err != nil {
			t.Fatal(err)
		}
	}
	ehlo := recs.b.Field(Schema.FieldIndices("ehlo")[0]).(*array.StringBuilder)
	if ehlo.DataCap() < 601 {
		t.Errorf("ehlo: room for %d bytes after a batch of 601", ehlo.DataCap())
	}
	msgs := recs.b.Field(Schema.FieldIndices("messages")[0]).(*array.ListBuilder).ValueBuilder().(*array.StructBuilder)
	if msgs.Cap() < 6 {
		t.Errorf("messages: room for %d after a batch of 6", msgs.Cap())
	}
	rcpts := msgs.FieldBuilder(msgRecipients).(*array.ListBuilder).ValueBuilder().(*array.StructBuilder)
	addrs := rcpts.FieldBuilder(rcptAddress).(*array.StringBuilder)
	if rcpts.Cap() < 240 || addrs.DataCap() < 240*38 {
		t.Errorf("recipients: room for %d, %d bytes of addresses, after a batch of 240, %d bytes", rcpts.Cap(), addrs.DataCap(), 240*38)
	}
	for i := 2; i < 5; i++ {
		if err := recs.Add(session(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := recs.Close(); err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	if len(batches) != 3 || len(batches[0]) != 2 || len(batches[2]) != 1 {
		t.Fatalf("batches of %d", len(batches))
	}
	for i, b := range batches {
		for j, line := range b {
			if !strings.Contains(line, "|"+strings.Repeat("h", 300+2*i+j)+"|") {
				t.Errorf("batch %d row %d: not session %d", i, j, 2*i+j)
			}
		}
	}
}

// TestRecordsSizeNextBatchWithoutExtra: sessions other workers add while
// a batch is written count towards the room the next batch gets; it is
// not made on top of them (which sized it for two batches).
func TestRecordsSizeNextBatchWithoutExtra(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	const batch, ehloLen = 100, 1000
	session := func() *Session { return &Session{EHLO: strings.Repeat("e", ehloLen)} }
	var recs *Records
	flushes := 0
	recs = NewRecords(mem, batch, func(rec arrow.Record) error {
		flushes++
		if flushes == 1 {
			// Another worker goes on adding while the batch is written.
			for range batch - 1 {
				if err := recs.Add(session()); err != nil {
					t.Fatal(err)
				}
			}
		}
		return nil
	})
	for range batch {
		if err := recs.Add(session()); err != nil {
			t.Fatal(err)
		}
	}
	ehlo := recs.b.Field(Schema.FieldIndices("ehlo")[0]).(*array.StringBuilder)
	if held := ehlo.DataLen(); held != (batch-1)*ehloLen {
		t.Fatalf("holds %d bytes, want %d", held, (batch-1)*ehloLen)
	}
	// A batch's worth is 100,000 bytes; growing by doubling gives 131,072.
	if c := ehlo.DataCap(); c < batch*ehloLen || c > 3*batch*ehloLen/2 {
		t.Errorf("room for %d bytes of EHLO, want a batch's %d (at most half more)", c, batch*ehloLen)
	}
	if err := recs.Close(); err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
}
