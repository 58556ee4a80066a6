//go:build linux || darwin

package parser

import (
	"bufio"
	"os"
	"syscall"
	"testing"
)

// userSysNanos is the user and system CPU time this process has used.
func userSysNanos() (int64, int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return ru.Utime.Nano(), ru.Stime.Nano()
}

// reportCPU reports the user and system CPU time per op since u0, s0: on a
// shared machine they vary far less than wall time.
func reportCPU(b *testing.B, u0, s0 int64) {
	u, s := userSysNanos()
	b.ReportMetric(float64(u-u0)/float64(b.N), "user-ns/op")
	b.ReportMetric(float64(s-s0)/float64(b.N), "sys-ns/op")
}

// BenchmarkReadFile reads one log file, LOGSCAN_BENCH_FILE, through the
// read buffer and through a mapping, as Scan would.
func BenchmarkReadFile(b *testing.B) {
	path := os.Getenv("LOGSCAN_BENCH_FILE")
	if path == "" {
		b.Skip("LOGSCAN_BENCH_FILE not set")
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	bufs := NewBuffers(nil)
	defer bufs.Release()
	drain := func(r *Reader) {
		for r.Next() {
		}
		r.Release()
	}
	b.Run("buffered", func(b *testing.B) {
		br := bufio.NewReaderSize(nil, readBufferSize)
		b.SetBytes(fi.Size())
		u0, s0 := userSysNanos()
		defer func() { reportCPU(b, u0, s0) }()
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			br.Reset(f)
			drain(NewReader(br, path, WithBuffers(bufs)))
			f.Close()
		}
	})
	b.Run("mapped", func(b *testing.B) {
		b.SetBytes(fi.Size())
		u0, s0 := userSysNanos()
		defer func() { reportCPU(b, u0, s0) }()
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			m, err := openMapped(f, fi.Size(), mapWindowBytes)
			if err != nil {
				b.Fatal(err)
			}
			drain(newMappedReader(m, path, WithBuffers(bufs)))
			m.unmap()
			f.Close()
		}
	})
}
