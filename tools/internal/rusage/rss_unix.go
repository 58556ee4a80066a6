//go:build unix

// Package rusage reads a finished child process's peak memory, for the
// measuring tools.
package rusage

import (
	"os"
	"runtime"
	"syscall"
)

// MaxRSS returns the child's peak resident set in bytes.
func MaxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return ru.Maxrss // bytes on macOS
	}
	return ru.Maxrss * 1024 // KiB on Linux
}
