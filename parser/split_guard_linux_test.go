package parser

import (
	"syscall"
	"testing"
)

// guardedPage returns a page of memory followed by one that cannot be
// read: a read past the first page's end faults.
func guardedPage(t *testing.T) (page []byte, release func()) {
	t.Helper()
	size := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	if err := syscall.Mprotect(mem[size:], syscall.PROT_NONE); err != nil {
		syscall.Munmap(mem)
		t.Skipf("mprotect: %v", err)
	}
	return mem[:size], func() { syscall.Munmap(mem) }
}
