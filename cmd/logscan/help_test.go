package main

import (
	"strings"
	"testing"

	"github.com/logscan/logscan/heuristics"
)

// TestScanHelpNamesEveryDetector: scan --help lists every registered
// detector, so none is a surprise in a report.
func TestScanHelpNamesEveryDetector(t *testing.T) {
	_, out, _ := runCLI(t, "scan", "--help")
	for _, c := range heuristics.Checks() {
		if !strings.Contains(out, "  "+c.Detector+" ") {
			t.Errorf("scan --help does not name the detector %q", c.Detector)
		}
	}
}
