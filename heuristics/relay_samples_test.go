package heuristics

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// TestRelaySamplesAsSamples: relaySamples keep, added and merged, the
// examples samples keep of the same sessions' rows (one server, as a
// group's), ties of start, file and line included, whatever the order
// files were numbered in.
func TestRelaySamplesAsSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	fileNames := []string{"RECV2026113001-1.LOG", "RECV2026113001-2.LOG", "RECV2026113002-1.LOG", "a.log"}
	for round := range 3000 {
		var files relayFiles
		// Number the files in a random order: the order of samples is by name.
		for _, i := range rng.Perm(len(fileNames)) {
			if rng.IntN(2) == 0 {
				files.id(fileNames[i])
			}
		}
		var plain, plainB samples
		var compact, compactB relaySamples
		n := rng.IntN(12)
		for k := range n {
			s := &session.Session{Server: "EX01", ID: uint64(rng.IntN(8)), Start: time.UnixMilli(1_700_000_000_000 + int64(rng.IntN(4))*1000).UTC()}
			at := session.Ref{File: fileNames[rng.IntN(len(fileNames))], Line: int64(rng.IntN(3))}
			if k%3 == 2 {
				plainB.add(sampleOf(s, at))
				compactB.add(files.sample(s, at), files.names)
				continue
			}
			plain.add(sampleOf(s, at))
			compact.add(files.sample(s, at), files.names)
		}
		var got samples
		compact.addTo(&got, "EX01", files.names)
		if !reflect.DeepEqual(got.list, plain.list) {
			t.Fatalf("round %d: kept %v, samples %v", round, fmt.Sprint(got.list), fmt.Sprint(plain.list))
		}
		plain.merge(plainB)
		compact.merge(compactB, files.names)
		got = samples{}
		compact.addTo(&got, "EX01", files.names)
		if !reflect.DeepEqual(got.list, plain.list) {
			t.Fatalf("round %d, merged: kept %v, samples %v", round, fmt.Sprint(got.list), fmt.Sprint(plain.list))
		}
	}
}
