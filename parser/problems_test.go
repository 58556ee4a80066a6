package parser

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProblemsAreNotCapped: 120 bad timestamps, then a cut last line: the
// cut line is reported with its place, and counts are exact.
func TestProblemsAreNotCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(recvHead)
	for range 120 {
		b.WriteString("2026-13-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE000000000001,0,10.0.0.1:25,10.0.0.2:25,+,,\r\n")
	}
	b.WriteString("2026-11-02T10:00:01.000Z,EX01\\Default Fro")
	r := NewReader(strings.NewReader(b.String()), "RECV.LOG")
	for r.Next() {
	}
	defer r.Release()
	p := r.Problems()
	if p.RejectCounts[ErrBadTimestamp] != 120 || p.RejectCounts[ErrTruncated] != 1 {
		t.Errorf("counts %v", p.RejectCounts)
	}
	found := false
	for _, e := range p.Rejects {
		found = found || (Kind(e) == ErrTruncated && e.Line == 125)
	}
	if !found {
		t.Errorf("the cut last line (RECV.LOG:125) is not among the places kept (%d places)", len(p.Rejects))
	}
}

// TestKindsCountEveryKind: Kinds gives every kind with its exact count and
// its own first places, rejections before warnings before notices; the scan
// adds them up over files.
func TestKindsCountEveryKind(t *testing.T) {
	var b strings.Builder
	b.WriteString(strings.Replace(recvHead, "event,data", "event,x-extra,data", 1))
	for range 120 {
		b.WriteString("2026-13-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE000000000001,0,10.0.0.1:25,10.0.0.2:25,+,,,\r\n")
	}
	b.WriteString("2026-11-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE000000000001,0,10.0.0.1:25,x.x.x.x:25,+,,,\r\n")
	b.WriteString("2026-11-02T10:00:01.000Z,EX01\\Default Fro")
	r := NewReader(strings.NewReader(b.String()), "RECV.LOG", WithMaxProblems(3))
	for r.Next() {
	}
	defer r.Release()
	type kc struct {
		kind  error
		sev   Severity
		count int64
		lines []int64
	}
	var got []kc
	for _, k := range r.Problems().Kinds() {
		c := kc{k.Kind, k.Severity, k.Count, nil}
		for _, e := range k.First {
			c.lines = append(c.lines, e.Line)
		}
		got = append(got, c)
	}
	want := []kc{
		{ErrBadTimestamp, Rejected, 120, []int64{5, 6, 7}},
		{ErrTruncated, Rejected, 1, []int64{126}},
		{ErrBadEndpoint, Warning, 1, []int64{125}},
		{ErrUnknownField, Notice, 1, []int64{4}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("kinds\n got %v\nwant %v", got, want)
	}
	if st := r.Stats(); st.RowsWarned != 1 || st.Warnings != 2 || st.RowsEmitted != 1 {
		t.Errorf("stats %+v: want 1 row kept, with a warning; 2 warnings (one a notice)", st)
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.log"), []byte(b.String()))
	// b.log differs by a header line, so it is not read once as a copy.
	writeFile(t, filepath.Join(dir, "b.log"), []byte("#Software: Microsoft Exchange Server\r\n"+b.String()))
	_, res := scanDir(t, dir, false, nil)
	ts := res.Problems[0]
	if len(res.Problems) != 4 || ts.Kind != ErrBadTimestamp || ts.Count != 240 || ts.Files != 2 || len(ts.First) != DefaultMaxProblems ||
		ts.First[0].File != filepath.Join(dir, "a.log") || ts.First[DefaultMaxProblems-1].File != filepath.Join(dir, "a.log") {
		t.Errorf("totals: %d kinds, first %v x%d in %d files, %d places", len(res.Problems), ts.Kind, ts.Count, ts.Files, len(ts.First))
	}
	if tr := res.Problems[1]; tr.Kind != ErrTruncated || tr.Count != 2 || len(tr.First) != 2 || tr.First[1].File != filepath.Join(dir, "b.log") {
		t.Errorf("totals: %+v", tr)
	}
}

// TestWarningsOnlyOnKeptRows: a warning says what a kept row lacks, so rows
// that are rejected or left out by the time range get none, and
// RowsWarned never exceeds RowsEmitted.
func TestWarningsOnlyOnKeptRows(t *testing.T) {
	in := recvHead +
		"2026-11-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE000000000001,0,10.0.0.1:25,x.x.x.x:25,+,,\r\n" + // outside
		"2026-11-02T10:00:0\xff.000Z,EX01\\Default Frontend EX01,08DE000000000001,1,10.0.0.1:25,10.0.0.2:25,+,,\r\n" + // rejected, invalid UTF-8
		"2026-11-03T10:00:01.000Z,EX01\\Default Frontend EX01,08DE000000000001,2,10.0.0.1:25,x.x.x.x:25,<,caf\xe9,\r\n" // kept: 2 warnings
	since := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	d := readAll(t, strings.NewReader(in), "RECV.LOG", WithTimeRange(since, time.Time{}))
	r := NewReader(strings.NewReader(in), "RECV.LOG", WithTimeRange(since, time.Time{}))
	for r.Next() {
	}
	defer r.Release()
	st := r.Stats()
	if st.RowsEmitted != 1 || st.RowsOutside != 1 || st.RowsRejected != 1 || st.Warnings != 2 || st.RowsWarned != 1 {
		t.Errorf("stats %+v, problems %q", st, d.Problems)
	}
	for _, e := range r.Problems().Warnings {
		if e.Line != 7 {
			t.Errorf("warning on a row not kept: %v", e)
		}
	}
}
