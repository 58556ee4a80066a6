package session

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/logscan/logscan/parser"
)

// sampleSessions rebuilds the sessions of the committed sample with two
// workers and returns each as text, printed while emit runs, sorted; keep,
// when set, is given every session to hold on to.
func sampleSessions(t *testing.T, lend, check bool, keep func(*Session)) []string {
	t.Helper()
	var mu sync.Mutex
	var out []string
	b := NewBuilder(2, 0, func(s *Session) {
		text := fmt.Sprintf("%+v", *s) // deep: messages, recipients, replies
		mu.Lock()
		defer mu.Unlock()
		out = append(out, text)
		if keep != nil {
			keep(s)
		}
	})
	if lend {
		b.LendText()
	}
	b.checkReuse = check
	dir := filepath.Join("..", "..", "samples", "contoso")
	if _, err := parser.Scan(context.Background(), []string{dir}, parser.ScanOptions{Workers: 2},
		func(w int, rec arrow.Record) error { b.Add(w, rec); return nil }); err != nil {
		t.Fatal(err)
	}
	b.Finish()
	slices.Sort(out)
	return out
}

// TestLendText: sessions with lent text (and lent, reused, Session
// memory) read, while emit runs, exactly as sessions with their own copy;
// and what a consumer keeps past emit is overwritten under
// LOGSCAN_CHECK_REUSE, so that tests catch it.
func TestLendText(t *testing.T) {
	want := sampleSessions(t, false, false, nil)
	if len(want) < 1000 {
		t.Fatalf("only %d sessions in the sample", len(want))
	}
	if got := sampleSessions(t, true, true, nil); !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("lent session %d differs:\n%s\nwant\n%s", i, got[i], want[i])
			}
		}
		t.Fatalf("%d sessions lent, %d copied", len(got), len(want))
	}
	var kept []string
	sampleSessions(t, true, true, func(s *Session) { kept = append(kept, s.EHLO) })
	bad := 0
	for _, e := range kept {
		if strings.Contains(e, "~") {
			bad++
		}
	}
	if bad == 0 {
		t.Error("EHLO names kept past emit were not overwritten: the check would miss a consumer that keeps lent text")
	}
	// The Session itself is lent: one kept past emit reads, later, as
	// another session or as overwritten, never as the one it was.
	// (What is compared holds no lent text, overwritten anyway.)
	type keptSession struct {
		s    *Session
		text string
	}
	identity := func(s *Session) string {
		return fmt.Sprint(s.ID, s.Rows, s.First, s.Last, s.Start, s.Local, s.Remote, len(s.Messages), len(s.Errors))
	}
	// So are the arrays of its messages and recipients.
	messages := func(msgs []Message) string {
		var b strings.Builder
		for _, m := range msgs {
			fmt.Fprint(&b, m.At, m.Queued, m.RcptsOver, len(m.Rcpts))
			for _, r := range m.Rcpts {
				fmt.Fprint(&b, r.At, r.Code)
			}
		}
		return b.String()
	}
	type keptMessages struct {
		msgs []Message
		text string
	}
	var keptSessions []keptSession
	var keptMsgs []keptMessages
	sampleSessions(t, true, true, func(s *Session) {
		keptSessions = append(keptSessions, keptSession{s, identity(s)})
		if len(s.Messages) > 0 {
			keptMsgs = append(keptMsgs, keptMessages{s.Messages, messages(s.Messages)})
		}
	})
	same := 0
	for _, k := range keptSessions {
		if identity(k.s) == k.text {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d of %d sessions kept past emit still read as they did: a consumer that keeps one would go unnoticed", same, len(keptSessions))
	}
	same = 0
	for _, k := range keptMsgs {
		if messages(k.msgs) == k.text {
			same++
		}
	}
	if same > 0 || len(keptMsgs) < 100 {
		t.Errorf("%d of %d sessions' messages kept past emit still read as they did: a consumer that keeps them would go unnoticed", same, len(keptMsgs))
	}
}

// TestEmitInBatches: sessions handed over in batches read, while emitMany
// runs, exactly as sessions handed one by one with their own copy of the
// text, each once, whether the consumer takes every batch or declines
// those it is offered without wait; a batch holds at least the size asked
// (but the last ones, at Finish) and no more than maxPendingBatches of
// them; and no worker holds more than that when its Add returns.
func TestEmitInBatches(t *testing.T) {
	want := sampleSessions(t, false, false, nil)
	for _, workers := range []int{1, 2} {
		for _, decline := range []bool{false, true} {
			var mu sync.Mutex
			var got []string
			largest, smallest, offers := 0, 1<<30, 0
			finishing := false
			b := NewBuilder(workers, 0, func(s *Session) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, fmt.Sprintf("%+v", *s))
			})
			b.LendText()
			b.checkReuse = true
			b.EmitInBatches(7, func(ss []*Session, wait bool) bool {
				mu.Lock()
				defer mu.Unlock()
				offers++
				if decline && !wait && offers%2 == 1 {
					return false
				}
				largest = max(largest, len(ss))
				if !finishing {
					smallest = min(smallest, len(ss))
				}
				for _, s := range ss {
					got = append(got, fmt.Sprintf("%+v", *s))
				}
				return true
			})
			dir := filepath.Join("..", "..", "samples", "contoso")
			if _, err := parser.Scan(context.Background(), []string{dir}, parser.ScanOptions{Workers: workers},
				func(w int, rec arrow.Record) error {
					b.Add(w, rec)
					if workers == 1 {
						mu.Lock()
						defer mu.Unlock()
						if held := b.Stats().Sessions.Load() - int64(len(got)); held >= maxPendingBatches*7 {
							t.Errorf("%d sessions held when Add returned, want fewer than %d", held, maxPendingBatches*7)
						}
					}
					return nil
				}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			finishing = true
			mu.Unlock()
			b.Finish()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%d workers, decline %v: %d sessions in batches differ from the %d handed one by one", workers, decline, len(got), len(want))
			}
			if smallest < 7 || largest > maxPendingBatches*7 {
				t.Errorf("%d workers, decline %v: batches of %d to %d sessions, want 7 to %d", workers, decline, smallest, largest, maxPendingBatches*7)
			}
		}
	}
}
