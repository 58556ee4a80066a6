package run

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/logscan/logscan/store"
)

// TestIngestManyPartsPerPartition: a dataset whose partitions hold many
// part files (parts finished when full or when others need the room, over
// two incremental runs) scans exactly as one written in one run with the
// default bounds, and holds the same rows and sessions.
func TestIngestManyPartsPerPartition(t *testing.T) {
	sample, _ := filepath.Abs(filepath.Join("..", "..", "samples", "contoso"))
	ctx := context.Background()
	one := filepath.Join(t.TempDir(), "one")
	if _, err := Ingest(ctx, IngestConfig{Paths: []string{sample}, Out: one, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	many := filepath.Join(t.TempDir(), "many")
	testPartRows = 3000
	defer func() { testPartRows = 0 }()
	for _, paths := range [][]string{{filepath.Join(sample, "EX01"), filepath.Join(sample, "EX03")}, {sample}} {
		if _, err := Ingest(ctx, IngestConfig{Paths: paths, Out: many, Workers: 2}); err != nil {
			t.Fatal(err)
		}
	}
	d1, err := store.OpenRead(one)
	if err != nil {
		t.Fatal(err)
	}
	dn, err := store.OpenRead(many)
	if err != nil {
		t.Fatal(err)
	}
	perPartition := map[string]int{}
	for _, p := range dn.Manifest.Parts {
		if p.Table == "rows" {
			perPartition[p.Partition]++
		}
	}
	for part, n := range perPartition {
		if n < 3 {
			t.Errorf("%s: %d parts, want several", part, n)
		}
	}
	for _, table := range []string{"rows", "sessions"} {
		r1, p1 := d1.Rows(table)
		rn, pn := dn.Rows(table)
		if r1 != rn || (table == "rows" && pn <= p1) {
			t.Errorf("%s: %d rows in %d parts, written in small parts %d rows in %d parts", table, r1, p1, rn, pn)
		}
	}
	report := func(ds string) string {
		res, err := Scan(ctx, Config{Paths: []string{ds}, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(res.Analysis)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if a, b := report(one), report(many); a != b {
		t.Errorf("scan of the dataset in small parts differs from the one in large parts:\n%.600s\n%.600s", b, a)
	}
}
