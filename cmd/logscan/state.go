package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/logscan/logscan/store"
)

// readState reads a --state file; a missing one is a first run.
func readState(name string, v any) error {
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("--state %s is not a logscan state file: %w", name, err)
	}
	return nil
}

// writeState replaces the state file atomically: a run killed while
// writing it leaves the previous state whole.
func writeState(name string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(name, b)
}
