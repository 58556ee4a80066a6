//go:build !(linux || darwin)

package parser

import "testing"

// checkMappedSame: files are not mapped here (see mmap_other.go).
func checkMappedSame(t testing.TB, dir string, in []byte, opts ...Option) {}
