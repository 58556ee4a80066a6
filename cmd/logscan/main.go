// Command logscan analyses Microsoft Exchange SMTP protocol logs.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// defaultMemoryLimit is the soft memory limit logscan runs under unless
// GOMEMLIMIT says otherwise: the garbage collector works harder as the heap
// nears it, instead of letting it grow to twice what is live. It keeps peak
// RSS near 200 MiB (under 256 MiB) at any input size: what a scan keeps live
// is about 60 MiB, an ingest's Parquet writers about 150 MiB.
const defaultMemoryLimit = 200 << 20

// scanGCPercent is GOGC for scan (unless GOGC says otherwise). Its live heap
// is small and steady (batches being parsed, open sessions, the detectors'
// tallies), so collecting when the heap is five times that, or at the memory
// limit, costs less CPU (4%) and stays within the limit. Ingest keeps 100:
// its Parquet writers live near the limit, where a larger GOGC only makes
// the collector run at the limit more often.
const scanGCPercent = 400

func main() { os.Exit(runMain(os.Args[1:])) }

// runMain is the process: memory limit, signals, the command line.
func runMain(args []string) int {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if os.Getenv("GOGC") == "" && len(args) > 0 && args[0] == "scan" {
		debug.SetGCPercent(scanGCPercent)
	}
	// LOGSCAN_CPUPROFILE=FILE writes a CPU profile of the run, for
	// `go tool pprof`: how the speed work is measured on real folders.
	if path := os.Getenv("LOGSCAN_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			defer f.Close()
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	// LOGSCAN_MEMPROFILE=FILE writes a heap profile when the run ends:
	// what the analysis still holds (in use) and what it allocated.
	if path := os.Getenv("LOGSCAN_MEMPROFILE"); path != "" {
		defer func() {
			if f, err := os.Create(path); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	// Ctrl-C (or a service stop) cancels the run's context: every worker
	// stops, an ingest leaves the dataset as its last completed run, and
	// logscan exits 130. A second Ctrl-C kills at once, as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return executeContext(ctx, args, System())
}

// execute runs the command line and maps its outcome to an exit status.
func execute(args []string, io *IOStreams) int {
	return executeContext(context.Background(), args, io)
}

func executeContext(ctx context.Context, args []string, io *IOStreams) int {
	cmd := newRootCmd(io, version)
	cmd.SetArgs(args)
	_, err := cmd.ExecuteContextC(ctx)
	return exitCode(io, err)
}
