package run

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/logscan/logscan/parser"
)

// Nothing says why a run analysed nothing.
type Nothing uint8

const (
	NoFiles       Nothing = iota + 1 // no file under the paths
	NoLogs                           // files, but none is a protocol log
	NoRows                           // protocol logs, but no row in them
	NoPath                           // a path given does not exist
	AllRejected                      // rows were read, and every one was rejected
	EmptyDataset                     // the datasets given hold no rows
	OutsideWindow                    // every row kept was outside --since/--until
)

// NothingReadError means no input held a readable protocol log row: the
// run analysed nothing, which is an error, never "no findings". The
// command words it (it quotes the paths, which are user text).
type NothingReadError struct {
	Why     Nothing
	Paths   []string
	Missing []string // paths that do not exist
	Files   int      // files found under Paths
	// Rows and FirstReject, for AllRejected: how many rows were read and
	// the first rejected (in path order).
	Rows        int64
	FirstReject *parser.Error
	Datasets    []string // for EmptyDataset
}

func (e *NothingReadError) Error() string {
	switch e.Why {
	case NoPath:
		return fmt.Sprintf("%q: no such file or folder", e.Missing)
	case NoFiles:
		return fmt.Sprintf("no files found in %q", e.Paths)
	case NoLogs:
		return fmt.Sprintf("none of the %d files in %q is an Exchange SMTP protocol log", e.Files, e.Paths)
	case AllRejected:
		return fmt.Sprintf("no row could be analysed: all %d rows read were rejected", e.Rows)
	case OutsideWindow:
		return fmt.Sprintf("none of the %d rows read is inside the time window", e.Rows)
	case EmptyDataset:
		return fmt.Sprintf("the dataset %q holds no rows", e.Datasets)
	}
	return "the protocol logs found hold no rows"
}

// missingPaths returns the paths that do not exist.
func missingPaths(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			out = append(out, p)
		}
	}
	return out
}

// nothingRead classifies a run that kept no row; datasets are the
// datasets read (all empty). It returns nil when rows were kept.
func nothingRead(res *parser.ScanResult, paths, datasets []string) error {
	if res.Totals.RowsEmitted > 0 || res.ConnTotals.RowsEmitted > 0 {
		return nil
	}
	e := &NothingReadError{Why: NoRows, Paths: paths, Files: len(res.Files), Rows: res.Totals.RowsRead, Missing: missingPaths(paths)}
	switch {
	case len(e.Missing) > 0:
		// What the user must fix first: the path itself.
		e.Why = NoPath
	case res.Totals.RowsOutside > 0:
		e.Why = OutsideWindow
	case res.Totals.RowsRead > 0:
		e.Why = AllRejected
		for _, f := range res.Files {
			if len(f.Problems.Rejects) > 0 {
				e.FirstReject = f.Problems.Rejects[0]
				break
			}
		}
	case len(datasets) > 0 && len(res.Files) == 0:
		e.Why, e.Datasets = EmptyDataset, datasets
	case len(res.Files) == 0:
		e.Why = NoFiles
	case res.Count(parser.FileParsed)+res.Count(parser.FileEmpty) == 0:
		e.Why = NoLogs
	}
	return e
}
