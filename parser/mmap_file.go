package parser

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
)

// A plain log file of some size is read through a memory mapping instead of
// read calls into a bufio buffer: the kernel's copy of every byte into the
// buffer cost 6-7% of a scan's CPU. The Reader parses the mapped bytes in
// place (its ahead is the window mapped), so nothing but the mapping stands
// between the page cache and the split.
//
// The file is mapped a window at a time, so that a large file adds at most
// a window of mapped pages to the process's RSS (pages touched count), not
// its size. Only the size fstat gave when the file was opened is read: a log
// Exchange is still writing is read up to that size, like by read calls
// that stopped there.
//
// The mapping is private and writable: splitWords unescapes doubled quotes
// in place, and those writes go to copies of the pages (copy-on-write),
// never to the file.

const (
	// mapWindowBytes is how much of a file one mapping holds: a 10 MB
	// Exchange log in one, and two workers' windows far below the memory a
	// scan is allowed, whatever the size of the files.
	mapWindowBytes = 16 << 20
	// minMapBytes is the smallest file worth a mapping. Below it the
	// mapping's own cost (mmap, page table set-up, munmap) is not won back
	// by the copy saved.
	minMapBytes = 256 << 10
)

// errNoMapping says the platform reads files with read calls only.
var errNoMapping = errors.New("memory mapping not supported here")

// mappedFile is a file read through a mapping of one window of it at a time.
type mappedFile struct {
	f      *os.File
	size   int64  // the file's size when it was opened: the most read
	window int    // bytes per mapping, a multiple of the page size
	mem    []byte // the window mapped; nil when none is
	off    int64  // the file offset of mem[0], a multiple of the page size
}

// openMapped maps the first window of f, whose size is size (> 0), with
// windows of window bytes (rounded up to whole pages).
func openMapped(f *os.File, size int64, window int) (*mappedFile, error) {
	page := os.Getpagesize()
	window = (max(window, page) + page - 1) / page * page
	m := &mappedFile{f: f, size: size, window: window}
	if _, _, err := m.mapAt(0); err != nil {
		return nil, err
	}
	return m, nil
}

// atEnd says the window mapped runs to the end of what is read.
func (m *mappedFile) atEnd() bool { return m.off+int64(len(m.mem)) >= m.size }

// mapAt replaces the window mapped with one holding the file from offset
// at (< size), and returns it and where at is in it. Nothing may alias the
// window before: it is unmapped.
func (m *mappedFile) mapAt(at int64) ([]byte, int, error) {
	start := at - at%int64(os.Getpagesize())
	n := int(min(int64(m.window), m.size-start))
	if err := m.unmap(); err != nil {
		return nil, 0, err
	}
	mem, err := mapRegion(m.f, start, n)
	if err != nil {
		return nil, 0, fmt.Errorf("mapping %d bytes at %d: %w", n, start, err)
	}
	m.mem, m.off = mem, start
	return mem, int(at - start), nil
}

// unmap unmaps the window mapped, if any.
func (m *mappedFile) unmap() error {
	if m.mem == nil {
		return nil
	}
	mem := m.mem
	m.mem = nil
	return unmapRegion(mem)
}

// faultAddr returns the address of a memory fault that panicked (see
// debug.SetPanicOnFault), and whether p is one.
func faultAddr(p any) (uintptr, bool) {
	e, ok := p.(interface{ Addr() uintptr })
	if !ok {
		return 0, false
	}
	return e.Addr(), true
}

// sniffMapped calls fn with the start of the window mapped, up to n bytes,
// and reports whether it returned without a memory fault: the file may
// have shrunk since it was mapped (see Reader.Next).
func (m *mappedFile) sniffMapped(n int, fn func(head []byte)) (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if _, fault := faultAddr(p); !fault {
				panic(p)
			}
			ok = false
		}
	}()
	fn(m.mem[:min(n, len(m.mem))])
	return true
}
