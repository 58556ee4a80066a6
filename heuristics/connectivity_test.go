package heuristics

import (
	"cmp"
	"testing"

	"github.com/logscan/logscan/heuristics/session"
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
