package heuristics

import (
	"slices"
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
