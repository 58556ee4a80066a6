package heuristics

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDetectorRegistry: names are unique and every need is a detector
// declared earlier, so reports can run in list order.
func TestDetectorRegistry(t *testing.T) {
	var seen []string
	for _, reg := range detectors {
		if slices.Contains(seen, reg.name) {
			t.Errorf("detector %q declared twice", reg.name)
		}
		for _, n := range reg.needs {
			if !slices.Contains(seen, n) {
				t.Errorf("detector %q needs %q, which is not declared before it", reg.name, n)
			}
		}
		seen = append(seen, reg.name)
		if reg.new(Org{}) == nil {
			t.Errorf("detector %q: constructor returned nil", reg.name)
		}
	}
}

// TestFindingIDsStartWithDetector: every finding's id starts with the name
// of the detector that made it, on the sample and every real excerpt.
func TestFindingIDsStartWithDetector(t *testing.T) {
	paths := []string{filepath.Join("..", "samples", "contoso")}
	logs, _ := filepath.Glob(filepath.Join("..", "parser", "testdata", "realdata", "*.log"))
	for _, p := range append(paths, logs...) {
		if strings.Contains(p, "columns-trimmed") {
			continue // no well-formed row (see TestRealData)
		}
		rep := scanDir(t, Org{}, p)
		for _, list := range [][]Finding{rep.Findings, rep.Probes, rep.Inventory, rep.AuthAttacks} {
			for _, f := range list {
				if !strings.HasPrefix(f.ID, f.Detector+"-") {
					t.Errorf("%s: finding %q of detector %q", p, f.ID, f.Detector)
				}
			}
		}
	}
}
