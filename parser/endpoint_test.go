package parser

import (
	"strings"
	"testing"
)

// TestBadEndpointOnEveryRowIsCounted: 23 rows with a redacted or null
// endpoint give 23 warnings, one per row, not one per change of text.
func TestBadEndpointOnEveryRowIsCounted(t *testing.T) {
	var b strings.Builder
	b.WriteString(recvHead)
	for i := range 23 {
		remote := "x.x.x.x:25"
		if i >= 20 {
			remote = "null"
		}
		b.WriteString("2026-11-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE000000000001," + string(rune('0'+i%10)) + ",10.0.0.1:25," + remote + ",*,,\r\n")
	}
	d := readAll(t, strings.NewReader(b.String()), "RECV.LOG")
	r := NewReader(strings.NewReader(b.String()), "RECV.LOG")
	for r.Next() {
	}
	defer r.Release()
	if d.Stats.RowsEmitted != 23 || r.Problems().WarningCounts[ErrBadEndpoint] != 23 || d.Stats.Warnings != 23 {
		t.Errorf("kept %d, %d bad-endpoint warnings (%d in all), want 23 of each", d.Stats.RowsEmitted, r.Problems().WarningCounts[ErrBadEndpoint], d.Stats.Warnings)
	}
}
