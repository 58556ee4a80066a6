//go:build !unix

package main

import "os"

// maxRSS is not measured off Unix.
func maxRSS(*os.ProcessState) int64 { return 0 }
