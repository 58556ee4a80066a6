package parser

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow/go/v15/arrow/memory"
)

// Buffers recycles the memory of the records' buffers: a Reader writes each
// row straight into buffers taken from it, the record it yields is built on
// them, and when the last reference to that record is released they come
// back here for the next batch. One Buffers serves the Readers of one
// goroutine in turn (Scan keeps one per worker), so a folder of many files
// costs the memory of one batch per worker, not a batch per file that
// grows from nothing. It is an arrow memory.Allocator for those buffers,
// safe for concurrent use: records may be released on any goroutine.
//
// A record kept (Retain) keeps its memory; nothing is reused while
// referenced.
type Buffers struct {
	mu     sync.Mutex
	mem    memory.Allocator
	free   [][]byte // slabs, each with len == cap == its size class
	held   int      // bytes in free
	limit  int      // most bytes kept in free
	closed bool

	rows  int // rows of the largest batch so far: a new batch starts with room for them
	bytes int // bytes of data and context in the largest batch so far
}

// NewBuffers returns an empty Buffers taking memory from mem (nil: the
// default allocator). Release it when done.
func NewBuffers(mem memory.Allocator) *Buffers {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	return &Buffers{mem: mem, limit: minPoolBytes}
}

// minPoolBytes is what Buffers may keep before it has seen a batch.
const minPoolBytes = 1 << 20

// Release gives the memory kept back to the allocator. Records still
// referenced give theirs back when released.
func (p *Buffers) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, s := range p.free {
		p.mem.Free(s)
	}
	p.free, p.held = nil, 0
}

// sizeClass rounds n up to a power of two, at least 64 bytes.
func sizeClass(n int) int {
	if n <= 64 {
		return 64
	}
	return 1 << bits.Len(uint(n-1))
}

// Allocate returns n bytes; they are not zeroed when reused.
func (p *Buffers) Allocate(n int) []byte {
	c := sizeClass(n)
	p.mu.Lock()
	for i := len(p.free) - 1; i >= 0; i-- {
		if s := p.free[i]; len(s) == c {
			last := len(p.free) - 1
			p.free[i], p.free[last] = p.free[last], nil
			p.free = p.free[:last]
			p.held -= c
			p.mu.Unlock()
			return s[:n:c]
		}
	}
	p.mu.Unlock()
	s := p.mem.Allocate(c)
	return s[:n:len(s)]
}

// Reallocate returns n bytes starting with b's.
func (p *Buffers) Reallocate(n int, b []byte) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	s := p.Allocate(n)
	copy(s, b)
	p.Free(b)
	return s
}

// Free takes back memory from Allocate.
func (p *Buffers) Free(b []byte) {
	s := b[:cap(b)]
	if len(s) == 0 {
		return
	}
	p.mu.Lock()
	if p.closed || p.held+len(s) > p.limit {
		p.mu.Unlock()
		p.mem.Free(s)
		return
	}
	p.free = append(p.free, s)
	p.held += len(s)
	p.mu.Unlock()
}

// sawBatch records a batch's shape: later batches start with room for as
// many rows and bytes, and the pool keeps enough to build two such batches
// without allocating.
func (p *Buffers) sawBatch(rows, textBytes, footprint int) {
	p.mu.Lock()
	p.rows, p.bytes = max(p.rows, rows), max(p.bytes, textBytes)
	p.limit = max(p.limit, 2*footprint)
	p.mu.Unlock()
}

func (p *Buffers) hints() (rows, textBytes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rows, p.bytes
}

var _ memory.Allocator = (*Buffers)(nil)
