//go:build unix

package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/logscan/logscan/samples/gen"
)

// runWithStderr runs this test binary as logscan (TestMain's LOGSCAN_MAIN)
// with stderr on a pseudo-terminal, or on a pipe.
func runWithStderr(t *testing.T, tty bool, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LOGSCAN_MAIN=1")
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	if !tty {
		cmd.Stderr = &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("logscan %v: %v: %s", args, err, errOut.String())
		}
		return out.String(), errOut.String()
	}
	ptmx, tt, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	defer ptmx.Close()
	cmd.Stderr = tt
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tt.Close() // the child holds it now
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(ptmx); done <- b }() // EIO when the child exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("logscan %v: %v", args, err)
	}
	return out.String(), string(<-done)
}

// TestProgressOnTerminalOnly: on a terminal a scan shows its progress on
// stderr (bytes of the total, files, rows per second, time left); piped,
// or with --quiet, stderr gets nothing of it; stdout is the same report.
func TestProgressOnTerminalOnly(t *testing.T) {
	dir := t.TempDir()
	genOrg(t, dir, gen.Config{Hours: 24, Scale: 2, Seed: 4})
	args := []string{"scan", "--format", "json", "--workers", "1", dir}
	outTTY, errTTY := runWithStderr(t, true, args...)
	for _, want := range []string{"%", "MB/s", "files ", "rows/s", "[0s:"} {
		if !strings.Contains(errTTY, want) {
			t.Errorf("on a terminal, stderr lacks %q: %q", want, errTTY)
		}
	}
	outPipe, errPipe := runWithStderr(t, false, args...)
	if errPipe != "" {
		t.Errorf("piped, stderr got %q", errPipe)
	}
	if strings.Contains(outTTY, "rows/s") || strings.Contains(outPipe, "rows/s") || strings.Contains(outTTY, "\r") {
		t.Errorf("progress reached stdout")
	}
	_, errQuiet := runWithStderr(t, true, append([]string{"scan", "--quiet", "--format", "json"}, dir)...)
	if strings.Contains(errQuiet, "rows/s") || strings.Contains(errQuiet, "%") {
		t.Errorf("--quiet on a terminal: stderr got %q", errQuiet)
	}
}
