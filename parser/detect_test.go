package parser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagedFirstLineIsNotSkippedWhole: real excerpts whose first line was
// damaged (cut by the forum, prefixed by the poster's words) are read; the
// damaged line is one rejected row with file:line, every other row is kept.
func TestDamagedFirstLineIsNotSkippedWhole(t *testing.T) {
	tests := []struct {
		name, excerpt string
		damage        func(first string) string
		lost          int64 // good rows the damage destroyed
	}{
		{"cut first row", "recv-2013-relay-denied-pipelined-excerpt.log", func(s string) string { return s[40:] }, 1},
		{"poster's words before the rows", "recv-2010-auth-probe-multiline-ehlo.log", func(s string) string { return "Here is what the log shows:\r\n" + s }, 0},
		{"first row's time garbled", "send-2016-outbound-ndr-anonymised.log", nil, 1}, // has a header: damage its first row instead
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig, err := os.ReadFile(filepath.Join("testdata", "realdata", tt.excerpt))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(orig), "\n")
			var good int64
			for _, l := range lines {
				if l = strings.TrimSpace(l); l != "" && l[0] != '#' {
					good++
				}
			}
			var damaged string
			if tt.damage != nil {
				damaged = tt.damage(lines[0]) + strings.Join(lines[1:], "")
			} else {
				// Lose the header's '#' and garble the first row: no header, first line bad.
				var b strings.Builder
				for i, l := range lines {
					switch {
					case strings.HasPrefix(l, "#"):
						continue
					case i == 5:
						l = "2022-XX" + l[7:]
					}
					b.WriteString(l)
				}
				damaged = b.String()
			}
			dir := t.TempDir()
			good -= tt.lost
			writeFile(t, filepath.Join(dir, tt.excerpt), []byte(damaged))
			got, _ := scanDir(t, dir, false, nil)
			f := got[tt.excerpt]
			if f.Status != FileParsed {
				t.Fatalf("%s: %v: %s", tt.excerpt, f.Status, f.Reason)
			}
			if f.Stats.RowsEmitted != good || f.Stats.RowsRejected != 1 {
				t.Errorf("kept %d rejected %d, want %d kept and the damaged line rejected", f.Stats.RowsEmitted, f.Stats.RowsRejected, good)
			}
			if len(f.Problems.Rejects) != 1 || f.Problems.Rejects[0].Line != 1 || f.Problems.Rejects[0].File == "" {
				t.Errorf("the damaged line is not reported at line 1: %v", f.Problems.Rejects)
			}
		})
	}
	// Not every file is a log: text with no row in it is still skipped.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte(strings.Repeat("copied from EX01, see the ticket\r\n", 100)))
	if got, _ := scanDir(t, dir, false, nil); got["notes.txt"].Status != FileSkipped {
		t.Errorf("notes.txt: %v", got["notes.txt"].Status)
	}
}
