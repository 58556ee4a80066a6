package parser

import (
	"path/filepath"
	"testing"
)

// TestIncrementalSkippedFilesAreNotReread: a file skipped as not a log by
// run 1 is not read as rows by run 2 while it is unchanged; read again
// (and skipped again) when it changes.
func TestIncrementalSkippedFilesAreNotReread(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "RECV2026110210-1.LOG"), []byte(recvHead+recvRows(0, 5)))
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("copied from EX01 on Monday\n"))
	r1, res1 := scanDir(t, dir, true, nil)
	if r1["notes.txt"].Status != FileSkipped {
		t.Fatalf("run 1: notes.txt %v", r1["notes.txt"].Status)
	}
	state := func(res *ScanResult) map[string]FileState {
		m := map[string]FileState{}
		for _, f := range res.Files {
			if f.State != nil {
				m[f.Path] = *f.State
			}
		}
		return m
	}
	r2, res2 := scanDir(t, dir, true, state(res1))
	if f := r2["notes.txt"]; f.Status != FileSkipped || f.Stats.RowsRead != 0 || res2.Totals.RowsRejected != 0 {
		t.Errorf("run 2: notes.txt %v, %d rows read, %d rejected in all", f.Status, f.Stats.RowsRead, res2.Totals.RowsRejected)
	}
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("copied from EX01 on Monday\nand again on Tuesday\n"))
	r3, res3 := scanDir(t, dir, true, state(res2))
	if f := r3["notes.txt"]; f.Status != FileSkipped || res3.Totals.RowsRejected != 0 {
		t.Errorf("run 3 after a change: notes.txt %v (%s), %d rejected in all", f.Status, f.Reason, res3.Totals.RowsRejected)
	}
}

// TestIncrementalCutLineOfStoppedFileIsReported: run 1 leaves the cut last
// line of the newest log for later; once a newer log exists beside it the
// file has stopped growing, and run 2 reports the line as lost, with
// file:line, counted. Run 3 does not report it again.
func TestIncrementalCutLineOfStoppedFileIsReported(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "RECV2026110209-1.LOG")
	body := recvHead + recvRows(0, 5)
	writeFile(t, old, []byte(body+"2026-11-02T10:00:59.000Z,EX01\\Default Fro"))
	r1, res1 := scanDir(t, dir, true, nil)
	if f := r1[filepath.Base(old)]; f.Stats.RowsEmitted != 5 || f.Stats.RowsRejected != 0 {
		t.Fatalf("run 1: the newest file's cut line must wait: %+v", f.Stats)
	}
	state := map[string]FileState{}
	for _, f := range res1.Files {
		state[f.Path] = *f.State
	}
	writeFile(t, filepath.Join(dir, "RECV2026110210-1.LOG"), []byte(recvHead+recvRows(5, 7)))
	r2, res2 := scanDir(t, dir, true, state)
	f := r2[filepath.Base(old)]
	if f.Stats.RowsRejected != 1 || len(f.Problems.Rejects) != 1 || f.Problems.Rejects[0].Line != 10 || Kind(f.Problems.Rejects[0]) != ErrTruncated {
		t.Fatalf("run 2: the stopped file's cut line is not reported: %+v %v", f.Stats, f.Problems.Rejects)
	}
	for _, g := range res2.Files {
		state[g.Path] = *g.State
	}
	if _, res3 := scanDir(t, dir, true, state); res3.Totals.RowsRead != 0 {
		t.Errorf("run 3 read %d rows of an unchanged folder", res3.Totals.RowsRead)
	}
}

// TestMarkFinal: in each folder, every Exchange log but the newest of its
// kind has stopped growing; -10 comes after -9, and other names never stop.
func TestMarkFinal(t *testing.T) {
	units := []unit{
		{path: "a/RECV2026110210-10.LOG"}, {path: "a/RECV2026110210-9.LOG"}, {path: "a/SEND2026110209-1.LOG"},
		{path: "a/recv20261101-1.log"}, {path: "b/RECV2026110208-1.LOG"}, {path: "a/notes.txt"}, {path: "a/excerpt.log"},
	}
	markFinal(units)
	want := []bool{false, true, false, true, false, false, false}
	for i, u := range units {
		if u.final != want[i] {
			t.Errorf("%s: final %v, want %v", u.path, u.final, want[i])
		}
	}
}
