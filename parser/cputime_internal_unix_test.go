//go:build unix

package parser

import "syscall"

// processCPUNanos is the CPU time this process has used, for the internal
// benchmarks (cpuNanos, in package parser_test, for the others).
func processCPUNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
