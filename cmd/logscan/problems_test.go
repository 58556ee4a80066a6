package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const problemsHead = "#Software: Microsoft Exchange Server\r\n#Log-type: SMTP Receive Protocol Log\r\n" +
	"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n"

// TestProblemsRenderEveryKind: 120 bad timestamps, then a cut last line.
// Text and JSON give every kind with its exact count: the cut line is
// mentioned, with file:line, though it comes after 100 other problems.
func TestProblemsRenderEveryKind(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(problemsHead)
	b.WriteString("2026-11-02T10:00:00.000Z,EX01\\Default Frontend EX01,08DE000000000001,0,10.0.0.1:25,203.0.113.7:4000,+,,\r\n")
	for range 120 {
		b.WriteString("2026-13-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE000000000001,1,10.0.0.1:25,203.0.113.7:4000,*,,\r\n")
	}
	b.WriteString("2026-11-02T10:00:02.000Z,EX01\\Default Fro")
	log := filepath.Join(dir, "RECV2026110210-1.LOG")
	if err := os.WriteFile(log, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, text := scanJSON(t, dir)
	for _, want := range []string{"120 rows rejected: bad date-time", "1 row rejected: last line cut short", "RECV2026110210-1.LOG:125:"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q", want)
		}
	}
	counts := map[string]int64{}
	for _, k := range rep.ProblemKinds {
		counts[k.Kind] = k.Count
		if len(k.First) == 0 || k.First[0].Line == 0 {
			t.Errorf("kind %q without its first places", k.Kind)
		}
	}
	if counts["bad date-time"] != 120 || counts["last line cut short (file still being written, or cut while copying)"] != 1 || len(counts) != 2 {
		t.Errorf("JSON problem_kinds %v", counts)
	}
	if f := rep.FileList[0]; f.ProblemCounts["bad date-time"] != 120 {
		t.Errorf("JSON file problem_counts %v", f.ProblemCounts)
	}
}

// TestKeptWithWarningsNeverExceedsKept: rows with bad endpoints all outside
// --since are not "kept with warnings"; the figure counts kept rows only.
func TestKeptWithWarningsNeverExceedsKept(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(problemsHead)
	for i := range 30 {
		b.WriteString("2026-11-02T10:00:00.000Z,EX01\\Default Frontend EX01,08DE000000000001," + string(rune('0'+i%10)) + ",x.x.x.x:25,y.y.y.y:4000,*,,\r\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "RECV2026110210-1.LOG"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, text, _ := runCLI(t, "scan", "--since", "2026-11-03T00:00:00Z", dir)
	if strings.Contains(text, "with warnings") || strings.Contains(text, "kept with a warning") {
		t.Errorf("0 rows kept, yet the report speaks of rows kept with warnings:\n%s", text)
	}
	_, text, _ = runCLI(t, "scan", dir)
	if !strings.Contains(text, "30 read = 30 kept + 0 rejected (30 of the kept with warnings)") || !strings.Contains(text, "60 endpoints in kept rows: endpoint is not ip:port") {
		t.Errorf("text output:\n%s", text)
	}
}
