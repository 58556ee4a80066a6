//go:build !unix

package parser

// processCPUNanos is not measured off Unix.
func processCPUNanos() int64 { return 0 }
