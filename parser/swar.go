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

// span is a field's place in its line: line[start:end].
type span struct{ start, end int32 }

// splitFast splits a line of ASCII with no NUL at its commas, reading 8
// bytes at a time, into spans (offsets, not slices: the Reader keeps them
// in the heap, and storing a slice there would cost a write barrier per
// field while the collector runs). Quoting follows RFC 4180 within the
// line, as splitLine: a field that starts with a quote runs to its closing
// quote, "" inside it is a quote, and the closing quote ends the line or is
// followed by a comma. Fields with doubled quotes are unescaped in place,
// in line, once the whole line is known to be good.
//
// It returns false when the line holds a NUL or a non-ASCII byte, a quote
// out of place (bare, unclosed, or not followed by a comma), or more than
// len(spans) fields: such lines go to splitLine and the careful path, which
// reports exactly what is wrong. Nearly every real row takes this path, and
// this one pass replaces a NUL check, a quote check, a UTF-8 check and a
// search per comma.
func splitFast(line []byte, spans []span) (int, bool) {
	const (
		plain    = iota // in an unquoted field
		inQuotes        // inside a quoted field
		closed          // just after a quoted field's closing quote
	)
	n, nf, limit := len(line), 0, len(spans)
	start, closeAt, state := 0, 0, plain
	var escaped uint64 // fields (< 64) holding doubled quotes
	// bad gathers, in its high bits, a non-ASCII byte (its own high bit) or
	// a NUL (the only ASCII byte whose sum with 0x7F keeps the high bit
	// clear). It is tested once the line is split, not per word: the comma
	// and quote marks stay true meanwhile, because a byte of 0x80 or more is
	// never marked and a carry out of one can only clear the next byte's
	// mark, so the split of a line to be declined is wrong but harmless.
	var bad uint64
	i := 0
	for i < n {
		// Whole words without a quote, the most of every line, in loops
		// of their own: in an unquoted field only the commas matter, and
		// inside a quoted field not even they.
		switch state {
		case plain:
			for ; i <= n-8; i += 8 {
				x := binary.LittleEndian.Uint64(line[i : i+8])
				bad |= x | ^(x + lows)
				if zeroBytes(x^(ones*'"')) != 0 {
					break
				}
				for m := zeroBytes(x ^ (ones * ',')); m != 0; m &= m - 1 {
					pos := i + bits.TrailingZeros64(m)>>3
					if nf+2 > limit { // a comma means one more field
						return 0, false
					}
					spans[nf] = span{int32(start), int32(pos)}
					nf++
					start = pos + 1
				}
			}
		case inQuotes:
			for ; i <= n-8; i += 8 {
				x := binary.LittleEndian.Uint64(line[i : i+8])
				bad |= x | ^(x + lows)
				if zeroBytes(x^(ones*'"')) != 0 {
					break
				}
			}
		}
		if i >= n {
			break
		}
		// A word with a quote, a word just after a closing quote, or the
		// line's last, partial word: every comma and quote in turn.
		x := wordAt(line, i)
		bad |= x | ^(x + lows)
		for m := zeroBytes(x^(ones*',')) | zeroBytes(x^(ones*'"')); m != 0; m &= m - 1 {
			pos := i + bits.TrailingZeros64(m)>>3
			c := line[pos]
			switch state {
			case plain:
				if c == '"' {
					if pos != start {
						return 0, false // a bare quote
					}
					state = inQuotes
					continue
				}
				if nf+2 > limit { // a comma means one more field
					return 0, false
				}
				spans[nf] = span{int32(start), int32(pos)}
				nf++
				start = pos + 1
			case inQuotes:
				if c == '"' {
					state, closeAt = closed, pos
				}
			case closed:
				if pos != closeAt+1 {
					return 0, false // text after the closing quote
				}
				if c == '"' { // "" is a quote
					if nf >= 64 {
						return 0, false
					}
					escaped |= 1 << nf
					state = inQuotes
					continue
				}
				if nf+2 > limit {
					return 0, false
				}
				spans[nf] = span{int32(start + 1), int32(closeAt)}
				nf++
				start, state = pos+1, plain
			}
		}
		i += 8
	}
	if bad&highs != 0 {
		return 0, false
	}
	switch state {
	case plain:
		spans[nf] = span{int32(start), int32(n)}
	case inQuotes:
		return 0, false // never closed
	case closed:
		if closeAt != n-1 {
			return 0, false
		}
		spans[nf] = span{int32(start + 1), int32(closeAt)}
	}
	nf++
	for ; escaped != 0; escaped &= escaped - 1 {
		s := &spans[bits.TrailingZeros64(escaped)]
		w := s.start
		for r := s.start; r < s.end; r++ {
			line[w] = line[r]
			w++
			if line[r] == '"' {
				r++ // the second of the pair
			}
		}
		s.end = w
	}
	return nf, true
}

// wordAt returns line[i:i+8] as a little-endian word; past the end of line
// it is padded with 'a', a byte that is nothing special. The last, partial
// word of a line of 8 bytes or more is read as the line's last 8 bytes,
// shifted: no copy.
func wordAt(line []byte, i int) uint64 {
	n := len(line)
	if i+8 <= n {
		return binary.LittleEndian.Uint64(line[i:])
	}
	const pad = ones * 'a'
	if n >= 8 {
		rest := uint(n-i) * 8 // bits of line left, 8 to 56
		return binary.LittleEndian.Uint64(line[n-8:])>>(64-rest) | pad<<rest
	}
	var w [8]byte
	copy(w[copy(w[:], line[i:]):], "aaaaaaaa")
	return binary.LittleEndian.Uint64(w[:])
}
