// Command logscan analyses Microsoft Exchange SMTP protocol logs.
package main

import (
	"os"
	"runtime/debug"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// defaultMemoryLimit is the soft memory limit logscan runs under unless
// GOMEMLIMIT says otherwise: the garbage collector works harder as the heap
// nears it, instead of letting it grow to twice what is live. Parsing and
// Parquet writing churn through buffers; without it a 2 GB ingest peaks
// near 600 MiB, with it under 400 MiB.
const defaultMemoryLimit = 384 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	os.Exit(run(os.Args[1:], System()))
}

// run executes the command line and maps its outcome to an exit status.
func run(args []string, io *IOStreams) int {
	cmd := newRootCmd(io, version)
	cmd.SetArgs(args)
	_, err := cmd.ExecuteC()
	return exitCode(io, err)
}
