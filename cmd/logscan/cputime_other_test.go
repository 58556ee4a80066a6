//go:build !unix

package main

// cpuNanos is not measured off Unix.
func cpuNanos() int64 { return 0 }
