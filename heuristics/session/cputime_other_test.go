//go:build !unix

package session

func cpuNanos() int64 { return 0 }
