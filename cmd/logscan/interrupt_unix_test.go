//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logscan/logscan/samples/gen"
)

// TestInterrupt: Ctrl-C (SIGINT) during a scan or an ingest cancels the
// run: exit 130, one line on stderr, no stack trace, no report; an
// interrupted ingest leaves the dataset as its last completed run.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("slow tier: make test runs it, make test-short does not")
	}
	logs := t.TempDir()
	genOrg(t, logs, gen.Config{Hours: 24, Scale: 2, Seed: 5})
	ds := filepath.Join(t.TempDir(), "ds")
	child := func(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "LOGSCAN_MAIN=1", "GOMAXPROCS=2")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		return cmd, &out, &errOut
	}
	// One whole ingest first: the dataset an interrupted run must leave.
	first, _, errOut := child("ingest", "--out", ds, logs)
	began := time.Now()
	if err := first.Run(); err != nil {
		t.Fatalf("first ingest: %v\n%s", err, errOut)
	}
	whole := time.Since(began)
	manifest, err := os.ReadFile(filepath.Join(ds, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Grow the logs so that the next ingest has work to do.
	more := filepath.Join(logs, "more")
	genOrg(t, more, gen.Config{Hours: 24, Scale: 2, Seed: 6, Start: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)})

	for _, args := range [][]string{{"scan", "--format", "json", logs}, {"ingest", "--out", ds, logs}} {
		t.Run(args[0], func(t *testing.T) {
			// Signal a third of the way in; a run that beat the signal is
			// tried again with an earlier one.
			var cmd *exec.Cmd
			var out, errOut *bytes.Buffer
			var err error
			code := 0
			for delay := whole / 3; code == 0; delay /= 4 {
				if delay < time.Millisecond {
					t.Fatal("every run finished before the signal: nothing was interrupted")
				}
				cmd, out, errOut = child(args...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(delay)
				cmd.Process.Signal(syscall.SIGINT)
				signalled := time.Now()
				err = cmd.Wait()
				code = cmd.ProcessState.ExitCode()
				t.Logf("signal %v after start; exit %d %v later", delay, code, time.Since(signalled).Round(time.Millisecond))
			}
			if code != exitInterrupted || err == nil {
				t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, errOut)
			}
			if e := errOut.String(); !strings.Contains(e, "interrupted") || strings.Contains(e, "goroutine") || strings.Count(e, "\n") != 1 {
				t.Errorf("stderr %q, want one line saying it was interrupted", e)
			}
			if out.Len() != 0 {
				t.Errorf("an interrupted run printed %d bytes of report", out.Len())
			}
		})
	}
	after, err := os.ReadFile(filepath.Join(ds, "manifest.json"))
	if err != nil || !bytes.Equal(after, manifest) {
		t.Errorf("the interrupted ingest changed the manifest (%v)", err)
	}
	// What the interrupted run left behind is cleaned up by the next one.
	next, _, errOut := child("ingest", "--out", ds, logs)
	if err := next.Run(); err != nil {
		t.Fatalf("ingest after the interrupted one: %v\n%s", err, errOut)
	}
}
