package parser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
)

const recvHead = "#Software: Microsoft Exchange Server\r\n#Version: 15.2.1544.4\r\n#Log-type: SMTP Receive Protocol Log\r\n" +
	"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n"

func recvRows(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "2026-11-02T10:00:%02d.000Z,EX01\\Default Frontend EX01,%X,0,10.0.0.1:25,203.0.113.%d:4000,+,,\r\n", i%60, i+1, i%250+1)
	}
	return b.String()
}

// incrementalRun scans dir with the previous state and returns the rows
// read per file and the new state.
func incrementalRun(t *testing.T, dir string, prev map[string]FileState) (map[string]FileResult, map[string]FileState, int64) {
	t.Helper()
	var rows atomic.Int64
	res, err := Scan(context.Background(), []string{dir}, ScanOptions{Workers: 2, Incremental: true, Previous: prev},
		func(_ int, rec arrow.Record) error { rows.Add(rec.NumRows()); return nil })
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]FileResult{}
	state := map[string]FileState{}
	for _, f := range res.Files {
		byName[filepath.Base(f.Path)] = f
		if f.State != nil {
			state[f.Path] = *f.State
		}
	}
	return byName, state, rows.Load()
}

// TestIncrementalScan: a growing file is read from where the last run
// stopped (its unfinished last line left for later), an unchanged file and
// an unchanged gzip file are not read again, and a replaced file is read
// from the start. The rows of all runs add up to one read of the end state.
func TestIncrementalScan(t *testing.T) {
	dir := t.TempDir()
	grow := filepath.Join(dir, "RECV2026110210-1.LOG")
	still := filepath.Join(dir, "RECV2026110209-1.LOG")
	packed := filepath.Join(dir, "RECV2026110208-1.LOG.gz")
	swapped := filepath.Join(dir, "RECV2026110207-1.LOG")
	full := recvHead + recvRows(0, 30)
	cut := len(recvHead+recvRows(0, 10)) + 25 // inside row 11
	os.WriteFile(grow, []byte(full[:cut]), 0o644)
	os.WriteFile(still, []byte(recvHead+recvRows(100, 105)), 0o644)
	os.WriteFile(packed, gz(recvHead+recvRows(200, 204)), 0o644)
	os.WriteFile(swapped, []byte(recvHead+recvRows(300, 303)), 0o644)

	r1, s1, n1 := incrementalRun(t, dir, nil)
	if g := r1[filepath.Base(grow)]; g.Stats.RowsEmitted != 10 || g.Stats.RowsRejected != 0 || g.State.Point.Pending != 25 || g.State.Point.Line != 14 {
		t.Fatalf("run 1 growing file: %+v state %+v", g.Stats, g.State.Point)
	}
	if n1 != 10+5+4+3 {
		t.Fatalf("run 1 read %d rows", n1)
	}

	// The writer finishes row 11 and adds more; the old file is replaced.
	os.WriteFile(grow, []byte(full), 0o644)
	os.WriteFile(swapped, []byte(recvHead+recvRows(400, 402)), 0o644)
	r2, s2, n2 := incrementalRun(t, dir, s1)
	g := r2[filepath.Base(grow)]
	if !g.Resumed || g.Stats.RowsEmitted != 20 || g.State.Point.Offset != int64(len(full)) || g.State.Point.Line != 34 {
		t.Errorf("run 2 growing file: resumed %v, %+v, point %+v", g.Resumed, g.Stats, g.State.Point)
	}
	for _, name := range []string{filepath.Base(still), filepath.Base(packed)} {
		if f := r2[name]; f.Reason != "no new lines since the last run" || f.Stats.RowsRead != 0 || f.State == nil {
			t.Errorf("run 2 %s: %q, %+v", name, f.Reason, f.Stats)
		}
	}
	if f := r2[filepath.Base(swapped)]; f.Restarted == "" || f.Stats.RowsEmitted != 2 {
		t.Errorf("run 2 replaced file: %q, %+v", f.Restarted, f.Stats)
	}
	if n2 != 20+2 {
		t.Errorf("run 2 read %d rows, want 22", n2)
	}
	// Line numbers continue: the first row of run 2 is line 15.
	var firstLine int64
	Scan(context.Background(), []string{grow}, ScanOptions{Incremental: true, Previous: s1}, func(_ int, rec arrow.Record) error {
		if firstLine == 0 {
			firstLine = rec.Column(ColLine).(interface{ Value(int) int64 }).Value(0)
		}
		return nil
	})
	if firstLine != 15 {
		t.Errorf("resumed rows start at line %d, want 15", firstLine)
	}
	_, _, n3 := incrementalRun(t, dir, s2)
	if n3 != 0 {
		t.Errorf("run 3 over an unchanged folder read %d rows", n3)
	}
}
