package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
	"github.com/logscan/logscan/store"
)

// State is what an incremental run (ingest, or scan with a state file)
// leaves for the next: where each file was left, and the sessions still
// open. It is the only thing carried between runs.
type State struct {
	Files map[string]parser.FileState `json:"files"`
	Open  []session.Open              `json:"open_sessions"`
}

// next is the state after a run that read res and left open sessions open.
func (s State) next(res *parser.ScanResult, open []session.Open) State {
	n := State{Files: make(map[string]parser.FileState, len(s.Files)), Open: open}
	maps.Copy(n.Files, s.Files)
	for _, f := range res.Files {
		if f.State != nil {
			n.Files[f.Path] = *f.State
		}
	}
	return n
}

// readStateFile reads a state file; a missing one is a first run.
func readStateFile(name string, st *State) error {
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return fmt.Errorf("%s is not a logscan state file: %w", name, err)
	}
	return nil
}

// writeStateFile replaces the state file atomically: a run killed while
// writing it leaves the previous state whole.
func writeStateFile(name string, st *State) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(name, b)
}
