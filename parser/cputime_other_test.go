//go:build !unix

package parser_test

// cpuNanos is not measured off Unix.
func cpuNanos() int64 { return 0 }
