package heuristics

import (
	"cmp"
	"runtime"
	"sync"
	"sync/atomic"
)

// relayReportWorkers is how many goroutines the relay report splits its
// per-client work over; 0 is runtime.GOMAXPROCS(0). Tests vary it: the
// report must be the same for any number.
var relayReportWorkers = 0

// relayParallelChunk is how many items a goroutine of relayParallel takes
// at a time: a client's share of the report costs tens of microseconds,
// so taking them one by one would make the shared counter contended.
const relayParallelChunk = 32

// relayParallel calls work(i) for every i below n, over relayReportWorkers
// goroutines, and returns when all calls have. The goroutines take chunks
// of indexes from a shared counter, so which goroutine does which i varies
// from run to run: work(i) must write only what belongs to i.
func relayParallel(n int, work func(i int)) { relayParallelChunks(n, relayParallelChunk, work) }

// relayWorkers is how many goroutines relayParallel starts at most.
func relayWorkers() int { return max(1, cmp.Or(relayReportWorkers, runtime.GOMAXPROCS(0))) }

// relayParallelChunks is relayParallel taking chunk items at a time.
func relayParallelChunks(n, chunk int, work func(i int)) {
	workers := min(relayWorkers(), (n+chunk-1)/chunk)
	if workers <= 1 {
		for i := range n {
			work(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					work(i)
				}
			}
		})
	}
	wg.Wait()
}
