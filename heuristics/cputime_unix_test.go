//go:build unix

package heuristics

import "syscall"

// cpuNanos is the CPU time (user and system) the process has used: on a
// machine shared with other work it varies far less than wall time.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
