package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// goldenInputs are the inputs whose every output format is pinned: the
// bundled sample and each real excerpt. A refactor must leave all of them
// byte-for-byte as they were; a change of behaviour shows up here as a diff
// to review (go test ./cmd/logscan -run TestGoldenOutputs -update).
func goldenInputs(t *testing.T) map[string]string {
	t.Helper()
	in := map[string]string{"contoso": filepath.Join("..", "..", "samples", "contoso")}
	logs, err := filepath.Glob(filepath.Join("..", "..", "parser", "testdata", "realdata", "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no real excerpts: %v", err)
	}
	for _, p := range logs {
		in[strings.TrimSuffix(filepath.Base(p), ".log")] = p
	}
	return in
}

func TestGoldenOutputs(t *testing.T) {
	for name, path := range goldenInputs(t) {
		for _, format := range []string{"text", "json", "csv"} {
			t.Run(name+"."+format, func(t *testing.T) {
				code, out, errOut := runCLI(t, "scan", "--workers", "1", "--format", format, path)
				if code != exitOK && code != exitError {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				golden(t, filepath.Join("golden", name+"."+format), out)
			})
		}
	}
}
