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

// unusual marks with its high bit each byte of x that is a control
// character (below 0x20: a line end, a NUL, a tab) or not ASCII (0x80 or
// more): one test for the bytes the split must look at one by one. It is
// exact: a byte's low 7 bits plus 0x60 never carry into the next byte.
func unusual(x uint64) uint64 { return (x | ^(x&lows + ones*0x60)) & highs }

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
	var m splitMemo
	return m.split(line, spans)
}

// memoWords is how much of a line's start a splitMemo remembers: 16 words,
// 128 bytes, past the date-time, connector-id, session-id, sequence-number
// and both endpoints of a typical row.
const memoWords = 16

// splitMemo remembers the start of the last line split into the same spans:
// its first words while it was in an unquoted field, and after each word
// how many fields were complete and where the open one started. Rows of a
// log repeat their start (the second, the connector-id, the session-id, the
// endpoints), and a word of the new line that equals the remembered one, or
// differs only in bytes that are neither commas, quotes, NUL nor non-ASCII
// (a millisecond, a sequence number), leaves the split exactly where it was:
// such words are compared instead of scanned, and the spans of the fields
// they hold are already in place.
//
// It also says which fields of the line just split are byte for byte those
// of the line before (same): the Reader then takes their values from the
// row before instead of comparing them with its caches.
type splitMemo struct {
	n     int // words remembered; 0 when spans no longer hold the last line's
	words [memoWords]uint64
	nf    [memoWords]int32
	start [memoWords]int32

	// Of the line just split: sameFields is how many of its first fields
	// lie in the words compared with the line before, and diff marks the
	// words of those (bit w for word w) that differed from it.
	sameFields int32
	diff       uint32
}

// forget is called when spans is written by anything but split, or given
// up for another.
func (m *splitMemo) forget() { m.n, m.sameFields = 0, 0 }

// same says whether field k of the line just split, in spans, is byte for
// byte field k of the line split before it.
func (m *splitMemo) same(spans []span, k int) bool {
	if k >= int(m.sameFields) {
		return false
	}
	// The bits of the words from the one holding the field's first byte
	// to the one before past (an empty field: none, or the word it is in).
	// Both are at most memoWords; the masks tell the compiler the shifts
	// are smaller than 32, so it adds no test for larger ones.
	s := spans[k]
	first, past := uint(s.start)>>3&15, uint(s.end+7)>>3&31
	return m.diff&(1<<past-1<<first) == 0
}

// split is splitFast, starting where the remembered words of the last line,
// split into the same spans, stop matching. spans must hold what the last
// call left there unless m.forget was called since.
func (m *splitMemo) split(line []byte, spans []span) (int, bool) {
	// The memo is forgotten here, not by a deferred call in splitWords:
	// a defer costs its set-up on every row.
	_, nf, ok := m.splitWords(line, spans, true)
	if !ok {
		m.forget() // spans were overwritten in part
	}
	return nf, ok
}

// splitNext is split for the line at the start of buf, which runs to buf's
// first '\n': it finds the line's end in the same pass that finds its
// commas and quotes, instead of a search of its own before the split. It
// returns the line without its line end ('\n', and a '\r' before it) and
// how many bytes of buf the line took with its line end.
//
// It declines (ok false) what the Reader's line-by-line path must judge: a
// line with no '\n' in buf, a blank line, a header line, a line starting
// with a BOM or '\r', and every line split declines. A declined line is
// left in buf; what splitNext wrote in it then (nothing but spans and
// unescaped quotes, which only a line split accepts has) changes nothing.
func (m *splitMemo) splitNext(buf []byte, spans []span) (line []byte, took, nf int, ok bool) {
	if len(buf) == 0 {
		return nil, 0, 0, false
	}
	switch buf[0] {
	case '\n', '\r', '#', bom[0]:
		return nil, 0, 0, false
	}
	end, nf, ok := m.splitWords(buf, spans, false)
	if !ok {
		m.forget() // spans were overwritten in part
		return nil, 0, 0, false
	}
	n := end
	if buf[n-1] == '\r' { // n >= 1: buf[0] is not the line end
		n--
	}
	return buf[:n], end + 1, nf, true
}

// splitWords splits the line at the start of buf: all of buf when whole,
// else buf up to its first '\n' (declining when there is none), and
// returns where the line ended (len(buf), or the '\n'). When the line ends
// in "\r\n" the '\r' ends the last field's span or follows its closing
// quote, as if the line had been cut before it. It leaves m.n as it stands
// when it declines a line.
func (m *splitMemo) splitWords(buf []byte, spans []span, whole bool) (end, nfields int, ok bool) {
	const (
		plain    = iota // in an unquoted field
		inQuotes        // inside a quoted field
		closed          // just after a quoted field's closing quote
	)
	nb, nf, limit := len(buf), 0, len(spans)
	start, closeAt, state := 0, 0, plain
	i, w := 0, 0
	var diff uint32
	for known := min(m.n, nb/8); w < known; w++ {
		x := binary.LittleEndian.Uint64(buf[8*w : 8*w+8])
		if x == m.words[w] {
			continue
		}
		was := m.words[w]
		if unusual(x)|zeroBytes(x^(ones*'"')) != 0 ||
			zeroBytes(x^(ones*',')) != zeroBytes(was^(ones*',')) {
			break
		}
		// Remembered as this line's, so that the next line is compared
		// with this one: same means the line before.
		m.words[w] = x
		diff |= 1 << w
	}
	m.sameFields, m.diff = 0, diff
	if w > 0 {
		nf, start, i = int(m.nf[w-1]), int(m.start[w-1]), 8*w
		m.sameFields = int32(nf)
	}
	m.n = w
	recording := true  // the words split so far are all remembered
	var escaped uint64 // fields (< 64) holding doubled quotes
	for {
		// Whole words without a quote, a control character (a line end,
		// a NUL) or a non-ASCII byte, the most of every line, in loops of
		// their own: in an unquoted field only the commas matter, and
		// inside a quoted field not even they. The marks of a word
		// without those bytes are exact.
		switch state {
		case plain:
			for ; i <= nb-8; i += 8 {
				x := binary.LittleEndian.Uint64(buf[i : i+8])
				if unusual(x)|zeroBytes(x^(ones*'"')) != 0 {
					break
				}
				for c := zeroBytes(x ^ (ones * ',')); c != 0; c &= c - 1 {
					pos := i + bits.TrailingZeros64(c)>>3
					if nf+2 > limit { // a comma means one more field
						return 0, 0, false
					}
					spans[nf] = span{int32(start), int32(pos)}
					nf++
					start = pos + 1
				}
				if recording && i < 8*memoWords {
					w := i >> 3
					m.words[w], m.nf[w], m.start[w] = x, int32(nf), int32(start)
					m.n = w + 1
				}
			}
		case inQuotes:
			for ; i <= nb-8; i += 8 {
				x := binary.LittleEndian.Uint64(buf[i : i+8])
				if unusual(x)|zeroBytes(x^(ones*'"')) != 0 {
					break
				}
			}
		}
		if i >= nb {
			if !whole {
				return 0, 0, false // no line end in buf
			}
			end = nb
			break
		}
		// A word with a quote, a control character or a non-ASCII byte,
		// a word just after a closing quote, or buf's last, partial word:
		// every comma and quote in turn. bad marks a NUL or a non-ASCII
		// byte (x|^(x+lows): a NUL is the only ASCII byte whose sum with
		// 0x7F keeps the high bit clear), exactly for the first of them.
		// A line with one is declined here, at its first such word, never
		// searched on for a '\n' whose mark the byte may have hidden: a
		// buffer of such lines costs its length, not its length per line.
		recording = false
		x := wordAt(buf, i)
		marks := zeroBytes(x^(ones*',')) | zeroBytes(x^(ones*'"'))
		bad := (x | ^(x + lows)) & highs
		last := false
		if nl := zeroBytes(x ^ (ones * '\n')); nl != 0 && !whole {
			// Only what comes before the first '\n' is this line's. The
			// marks before the first bad byte are exact, and a '\n' the
			// marks missed comes after a bad byte, which declines the line.
			below := nl&-nl - 1
			marks &= below
			bad &= below
			end, last = i+bits.TrailingZeros64(nl)>>3, true
		} else if i+8 >= nb {
			if !whole {
				return 0, 0, false // no line end in buf
			}
			end, last = nb, true
		}
		if bad != 0 {
			return 0, 0, false
		}
		for ; marks != 0; marks &= marks - 1 {
			pos := i + bits.TrailingZeros64(marks)>>3
			c := buf[pos]
			switch state {
			case plain:
				if c == '"' {
					if pos != start {
						return 0, 0, false // a bare quote
					}
					state = inQuotes
					continue
				}
				if nf+2 > limit { // a comma means one more field
					return 0, 0, false
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
					return 0, 0, false // text after the closing quote
				}
				if c == '"' { // "" is a quote
					if nf >= 64 {
						return 0, 0, false
					}
					escaped |= 1 << nf
					state = inQuotes
					continue
				}
				if nf+2 > limit {
					return 0, 0, false
				}
				spans[nf] = span{int32(start + 1), int32(closeAt)}
				nf++
				start, state = pos+1, plain
			}
		}
		if last {
			break
		}
		i += 8
	}
	n := end // the line's end, a '\r' before a '\n' cut off
	if !whole && n > 0 && buf[n-1] == '\r' {
		n--
	}
	switch state {
	case plain:
		spans[nf] = span{int32(start), int32(n)}
	case inQuotes:
		return 0, 0, false // never closed
	case closed:
		if closeAt != n-1 {
			return 0, 0, false
		}
		spans[nf] = span{int32(start + 1), int32(closeAt)}
	}
	nf++
	for ; escaped != 0; escaped &= escaped - 1 {
		s := &spans[bits.TrailingZeros64(escaped)]
		w := s.start
		for r := s.start; r < s.end; r++ {
			buf[w] = buf[r]
			w++
			if buf[r] == '"' {
				r++ // the second of the pair
			}
		}
		s.end = w
	}
	return end, nf, true
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
