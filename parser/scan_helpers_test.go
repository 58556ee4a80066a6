package parser

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
)

// scanDir scans dir (incrementally when prev is not nil) and returns the
// results by base name, checking read == kept + rejected + outside.
func scanDir(t *testing.T, dir string, incremental bool, prev map[string]FileState) (map[string]FileResult, *ScanResult) {
	t.Helper()
	res, err := Scan(context.Background(), []string{dir}, ScanOptions{Workers: 2, Incremental: incremental, Previous: prev},
		func(int, arrow.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]FileResult{}
	for _, f := range res.Files {
		byName[filepath.Base(f.Path)] = f
		if st := f.Stats; st.RowsRead != st.RowsEmitted+st.RowsRejected+st.RowsOutside {
			t.Errorf("%s: read %d != kept %d + rejected %d + outside %d", f.Path, st.RowsRead, st.RowsEmitted, st.RowsRejected, st.RowsOutside)
		}
	}
	return byName, res
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
