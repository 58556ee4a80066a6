package heuristics

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/logscan/logscan/samples/gen"
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

// TestAloneReportsNeedNothing: a detector that reports beside the others
// reads no other's result (Analyzer.report gives it none).
func TestAloneReportsNeedNothing(t *testing.T) {
	for _, reg := range detectors {
		if reg.alone && len(reg.needs) > 0 {
			t.Errorf("detector %q reports alone but needs %v", reg.name, reg.needs)
		}
	}
}

// TestReportAddCarriesEveryList: Report.add carries every list a detector
// can write, so a detector reporting alone loses nothing; the lists
// Result fills itself are the exceptions named here.
func TestReportAddCarriesEveryList(t *testing.T) {
	setByResult := map[string]bool{"WhatHappened": true, "Checked": true, "Assumptions": true}
	var part, r Report
	pv := reflect.ValueOf(&part).Elem()
	for i := range pv.NumField() {
		if f := pv.Field(i); f.Kind() == reflect.Slice && !setByResult[pv.Type().Field(i).Name] {
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		}
	}
	r.add(&part)
	r.add(&part)
	rv := reflect.ValueOf(r)
	for i := range rv.NumField() {
		name := rv.Type().Field(i).Name
		if f := rv.Field(i); f.Kind() == reflect.Slice && !setByResult[name] && f.Len() != 2 {
			t.Errorf("Report.add carries %d of 2 entries of %s", f.Len(), name)
		}
	}
}

// TestConcurrentReportsAsInOrder: the report made with the summary and the
// alone detectors reporting beside the others is the one made by reporting
// one after the other, for an organisation with every incident.
func TestConcurrentReportsAsInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and scans an organisation three times")
	}
	dir := generate(t, gen.Config{Scale: 0.3, Hours: 24, Seed: 3, ConnectivityLogs: true,
		Botnet: 200, Auth: true, Compromise: true, MoreIncidents: true})
	reportInOrder = true
	want := scanDir(t, Org{}, dir)
	reportInOrder = false
	if len(want.Findings) < 5 || len(want.AuthAttacks) == 0 || len(want.Probes) == 0 {
		t.Fatalf("the organisation has too little to report: %d findings, %d auth attacks, %d probes", len(want.Findings), len(want.AuthAttacks), len(want.Probes))
	}
	for range 2 {
		if got := scanDir(t, Org{}, dir); !reflect.DeepEqual(got, want) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			t.Fatalf("reports differ:\n%s\nin order:\n%s", gj, wj)
		}
	}
}

// TestEveryDetectorObservedOnce: each detector is in exactly one of the
// Analyzer's two lock groups, so each sees every session once.
func TestEveryDetectorObservedOnce(t *testing.T) {
	a := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 2})
	for i, reg := range detectors {
		n := 0
		for _, group := range [][]detector{a.apart, a.shared} {
			for _, d := range group {
				if d == a.detectors[i] {
					n++
				}
			}
		}
		if n != 1 {
			t.Errorf("detector %q is in %d lock groups", reg.name, n)
		}
	}
}
