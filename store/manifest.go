package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
)

// ManifestName is the file that says what a dataset holds. A part not
// listed in it does not exist: it is left over from a run that did not
// finish, and Open deletes it.
const ManifestName = "manifest.json"

// FormatVersion is the dataset layout's version; it changes only when a
// reader of the old layout would misread the new one.
const FormatVersion = 1

// Manifest lists a dataset's tables, parts and runs, and carries the
// caller's state (where each input file was left), committed with them.
type Manifest struct {
	Format        string               `json:"format"` // "logscan-dataset"
	FormatVersion int                  `json:"format_version"`
	Tables        map[string]TableInfo `json:"tables"`
	Parts         []Part               `json:"parts"`
	Runs          []Run                `json:"runs"`
	State         json.RawMessage      `json:"state,omitempty"`
}

// TableInfo records a table's schema as text, for people and for checks.
type TableInfo struct {
	SchemaVersion int      `json:"schema_version"`
	Columns       []string `json:"columns"` // "name: type"
}

// Part is one data file.
type Part struct {
	Table     string `json:"table"`
	Path      string `json:"path"`      // slash-separated, relative to the dataset
	Partition string `json:"partition"` // e.g. server=EX01/date=2026-11-02
	Format    Format `json:"format"`
	Rows      int64  `json:"rows"`
	Run       int    `json:"run"`
}

// Run is one committed write.
type Run struct {
	ID       int              `json:"id"`
	Started  time.Time        `json:"started"`
	Finished time.Time        `json:"finished"`
	Rows     map[string]int64 `json:"rows"` // per table
}

// Format is how parts are written.
type Format string

const (
	FormatParquet Format = "parquet" // Snappy-compressed Parquet, Arrow schema stored
	FormatArrow   Format = "arrow"   // Arrow IPC stream (.arrows), dictionary deltas allowed
)

func describe(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		n := ""
		if f.Nullable {
			n = ", nullable"
		}
		out = append(out, f.Name+": "+f.Type.String()+n)
	}
	return out
}

// IsDataset reports whether dir holds a dataset manifest.
func IsDataset(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, ManifestName))
	return err == nil && fi.Mode().IsRegular()
}

func readManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return &Manifest{Format: "logscan-dataset", FormatVersion: FormatVersion, Tables: map[string]TableInfo{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestName), err)
	}
	if m.Format != "logscan-dataset" || m.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("%s: not a logscan dataset of format version %d or older", filepath.Join(dir, ManifestName), FormatVersion)
	}
	if m.Tables == nil {
		m.Tables = map[string]TableInfo{}
	}
	return &m, nil
}

// WriteFileAtomic writes name through a temporary file, synced, renamed
// over it, for state files kept beside a dataset or alone.
func WriteFileAtomic(name string, data []byte) error { return writeFileAtomic(name, data) }

// writeFileAtomic writes name through a temporary file, synced, renamed
// over it: a reader, or a run killed at any point, sees the old or the new
// file whole.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	syncDir(filepath.Dir(name))
	return nil
}

// syncDir makes a rename durable where the OS allows it (not on Windows).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// removeOrphans deletes the data files under the given tables' folders
// that the manifest does not list: what a killed run left behind.
func removeOrphans(dir string, m *Manifest, tables []string) error {
	listed := map[string]bool{}
	for _, p := range m.Parts {
		listed[filepath.FromSlash(p.Path)] = true
	}
	for _, table := range tables {
		root := filepath.Join(dir, table)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			if !listed[rel] && (strings.HasSuffix(p, ".parquet") || strings.HasSuffix(p, ".arrows") || strings.HasSuffix(p, ".tmp")) {
				return os.Remove(p)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
