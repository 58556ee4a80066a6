//go:build !(linux || darwin)

package parser

import "os"

// Elsewhere (Windows) files are read with read calls into a bufio buffer.

func mapRegion(f *os.File, off int64, n int) ([]byte, error) { return nil, errNoMapping }

func unmapRegion(mem []byte) error { return errNoMapping }
