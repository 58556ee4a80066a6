package parser

import (
	"encoding/binary"
	"math/bits"
)

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
	lows  = 0x7F7F7F7F7F7F7F7F
)

// zeroBytes marks each zero byte of x (whose bytes are all < 0x80) with its
// high bit. Unlike the usual (x-ones)&^x&highs it has no false positives, so
// the marks give exact positions.
func zeroBytes(x uint64) uint64 { return ^((x + lows) | x) & highs }

// splitPlain splits a line of plain ASCII with no quote and no NUL at its
// commas, reading 8 bytes at a time. It returns ok=false when the line holds
// a quote, a NUL or a non-ASCII byte, or more than max fields: such lines go
// to splitLine and the careful path, which reports exactly what is wrong.
// Nearly every real row is plain, and this one pass replaces a NUL check, a
// quote check, a UTF-8 check and a search per comma.
func splitPlain(line []byte, fields [][]byte, max int) ([][]byte, bool) {
	fields = fields[:0]
	start, i, n := 0, 0, len(line)
	for ; i+8 <= n; i += 8 {
		x := binary.LittleEndian.Uint64(line[i:])
		if x&highs != 0 || zeroBytes(x)|zeroBytes(x^(ones*'"')) != 0 {
			return fields, false
		}
		for c := zeroBytes(x ^ (ones * ',')); c != 0; c &= c - 1 {
			pos := i + bits.TrailingZeros64(c)>>3
			if len(fields)+2 > max {
				return fields, false
			}
			fields = append(fields, line[start:pos])
			start = pos + 1
		}
	}
	for ; i < n; i++ {
		switch c := line[i]; {
		case c >= 0x80 || c == 0 || c == '"':
			return fields, false
		case c == ',':
			if len(fields)+2 > max {
				return fields, false
			}
			fields = append(fields, line[start:i])
			start = i + 1
		}
	}
	return append(fields, line[start:]), true
}
