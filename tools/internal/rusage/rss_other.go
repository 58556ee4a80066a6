//go:build !unix

package rusage

import "os"

// MaxRSS is not measured off Unix.
func MaxRSS(*os.ProcessState) int64 { return 0 }
