package run

import (
	"fmt"

	"github.com/logscan/logscan/parser"
)

// Nothing says why a run analysed nothing.
type Nothing uint8

const (
	NoFiles Nothing = iota + 1 // no file under the paths
	NoLogs                     // files, but none is a protocol log
	NoRows                     // protocol logs, but no row in them
)

// NothingReadError means no input held a readable protocol log: the run
// analysed nothing, which is an error, never "no findings". The command
// words it (it quotes the paths, which are user text).
type NothingReadError struct {
	Why   Nothing
	Paths []string
	Files int // files found under Paths
}

func (e *NothingReadError) Error() string {
	switch e.Why {
	case NoFiles:
		return fmt.Sprintf("no files found in %q", e.Paths)
	case NoLogs:
		return fmt.Sprintf("none of the %d files in %q is an Exchange SMTP protocol log", e.Files, e.Paths)
	}
	return "the protocol logs found hold no rows"
}

// nothingRead classifies an empty run.
func nothingRead(res *parser.ScanResult, paths []string) error {
	e := &NothingReadError{Why: NoRows, Paths: paths, Files: len(res.Files)}
	switch {
	case len(res.Files) == 0:
		e.Why = NoFiles
	case res.Count(parser.FileParsed)+res.Count(parser.FileEmpty) == 0:
		e.Why = NoLogs
	}
	return e
}
