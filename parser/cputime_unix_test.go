//go:build unix

package parser_test

import "syscall"

// cpuNanos is the CPU time this process has used (all threads, the
// garbage collector's included): on a shared machine it varies far less
// than wall time, so benchmarks report it per op beside ns/op.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
