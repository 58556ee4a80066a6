//go:build unix

package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestUnreadable: a file and a folder that logscan may not read are reported
// with their path and "permission denied", and the readable log beside them
// is read. Root reads everything, so as root the test runs itself again as
// nobody (uid 65534) — the check always runs.
func TestUnreadable(t *testing.T) {
	if dir := os.Getenv("LOGSCAN_UNREADABLE_DIR"); dir != "" {
		checkUnreadable(t, dir)
		return
	}
	base, err := os.MkdirTemp("", "logscan-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		filepath.Walk(base, func(p string, _ os.FileInfo, _ error) error { os.Chmod(p, 0o755); return nil })
		os.RemoveAll(base)
	}()
	os.Chmod(base, 0o755)
	dir := filepath.Join(base, "logs")
	os.MkdirAll(filepath.Join(dir, "locked"), 0o755)
	log := []byte(hostileCases()["ansi-escapes.log"])
	os.WriteFile(filepath.Join(dir, "RECV2026110210-1.LOG"), log, 0o644)
	os.WriteFile(filepath.Join(dir, "RECV2026110211-1.LOG"), log, 0o000)
	os.WriteFile(filepath.Join(dir, "locked", "RECV2026110212-1.LOG"), log, 0o644)
	os.Chmod(filepath.Join(dir, "locked"), 0o000)
	if os.Geteuid() != 0 {
		checkUnreadable(t, dir)
		return
	}
	// Copy the test binary where nobody may run it.
	bin := filepath.Join(base, "logscan.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	io.Copy(dst, src)
	src.Close()
	dst.Close()
	cmd := exec.Command(bin, "-test.run=^TestUnreadable$", "-test.v")
	cmd.Env = append(os.Environ(), "LOGSCAN_UNREADABLE_DIR="+dir, "HOME="+base, "GOCOVERDIR=")
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestUnreadable") || !strings.Contains(string(out), "checked as uid 65534") {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

func checkUnreadable(t *testing.T, dir string) {
	t.Logf("checked as uid %d", os.Geteuid())
	code, out, errOut := runCLI(t, "scan", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"could not read " + filepath.Join(dir, "RECV2026110211-1.LOG") + ": open " + filepath.Join(dir, "RECV2026110211-1.LOG") + ": permission denied",
		"could not read " + filepath.Join(dir, "locked") + ": open " + filepath.Join(dir, "locked") + ": permission denied",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "Files:     1 read as protocol logs, 0 empty, 0 skipped, 2 failed") || !strings.Contains(out, "Rows:      14 read = 14 kept + 0 rejected") {
		t.Errorf("output:\n%s", out)
	}
}
