// Command logscan analyses Microsoft Exchange SMTP protocol logs.
package main

import (
	"os"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], System()))
}

// run executes the command line and maps its outcome to an exit status.
func run(args []string, io *IOStreams) int {
	cmd := newRootCmd(io, version)
	cmd.SetArgs(args)
	_, err := cmd.ExecuteC()
	return exitCode(io, err)
}
