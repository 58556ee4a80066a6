//go:build !linux

package parser

import "testing"

// guardedPage needs mmap and mprotect: the test is Linux's.
func guardedPage(t *testing.T) (page []byte, release func()) {
	t.Helper()
	t.Skip("no guard page on this system")
	return nil, nil
}
