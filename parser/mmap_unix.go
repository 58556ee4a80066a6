//go:build linux || darwin

package parser

import (
	"os"
	"syscall"
)

// mapRegion maps n bytes of f from offset off (a multiple of the page
// size), private and writable: writes go to copies of the pages, never to
// the file (splitWords unescapes doubled quotes in place).
//
// MAP_POPULATE, to map the window's pages in one call instead of a fault
// per 64 KB, was measured and not kept: populating a private writable
// mapping copies every page, and mapped read-only, populated, then made
// writable (mprotect) it cost more kernel time than the faults it saved.
func mapRegion(f *os.File, off int64, n int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), off, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
}

func unmapRegion(mem []byte) error { return syscall.Munmap(mem) }
