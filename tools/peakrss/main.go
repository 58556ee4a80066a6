// Command peakrss runs a command and prints its wall time and peak resident
// memory, so `make bench` needs nothing beyond Go (GNU time may be absent).
//
//	go run ./tools/peakrss -- ./bin/logscan scan /tmp/corpus
package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/logscan/logscan/tools/internal/rusage"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: peakrss -- COMMAND [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "peakrss: %s: %.2fs wall, peak RSS %.1f MiB, exit %d\n",
		args[0], elapsed.Seconds(), float64(rusage.MaxRSS(cmd.ProcessState))/(1<<20), cmd.ProcessState.ExitCode())
	os.Exit(cmd.ProcessState.ExitCode())
}
