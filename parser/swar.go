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

// nonzeroPairs returns a bit for each of x's 16-bit pairs of bytes that is
// not zero: bit i for bytes 2i and 2i+1. The mark of pair i, its high bit,
// is moved to bit 0 of the pair and then by the product to bit 48+i: the
// partial products that are not those lie below bit 48 or at 64 and above,
// each in a bit of its own, so nothing carries into bits 48 to 51.
func nonzeroPairs(x uint64) uint64 {
	const lows16, highs16 = 0x7FFF7FFF7FFF7FFF, 0x8000800080008000
	marks := (x&lows16 + lows16 | x) & highs16
	return (marks >> 15) * (1<<48 | 1<<33 | 1<<18 | 1<<3) >> 48
}

// unusual marks with its high bit each byte of x that is a control
// character (below 0x20: a line end, a NUL, a tab) or not ASCII (0x80 or
// more): one test for the bytes the split must look at one by one. It is
// exact: a byte's low 7 bits plus 0x60 never carry into the next byte.
func unusual(x uint64) uint64 { return (x | ^(x&lows + ones*0x60)) & highs }

// span is a field's place in its line: line[start:end].
type span struct{ start, end int32 }

// splitFast splits a line of ASCII with no NUL at its commas, reading 64
// bytes (splitBlocks) or 8 bytes (splitWordsSWAR) at a time, into spans (offsets, not slices: the Reader keeps them
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
const (
	memoWords = 16
	memoBytes = 8 * memoWords
)

// splitMemo remembers the start of the last line split into the same spans.
// Rows of a log repeat their start (the second, the connector-id, the
// session-id, the endpoints), and a new line whose commas lie where the
// last line's did, with no quote, NUL or non-ASCII byte among them, has
// the same fields there: the same spans, and each field whose bytes are
// all unchanged is byte for byte the field of the line before (same): the
// Reader then takes its value from the row before instead of parsing it or
// comparing it with its caches.
//
// Two splitters keep it, one per process (useBlocks): splitBlocks, 32
// bytes a compare with AVX2, and splitWordsSWAR, 8 bytes at a time, for
// CPUs without AVX2. Each keeps its own part below; same reads what both
// leave. splitRowAVX2 (split_amd64.s) reads and writes splitBlocks's part
// and sameFields and differ at the offsets go_asm.h gives.
type splitMemo struct {
	// splitWordsSWAR's: the line's first words while it was in an
	// unquoted field, and after each word how many fields were complete
	// and where the open one started. A word of the new line that equals
	// the remembered one, or differs only in bytes that are neither
	// commas, quotes, NUL nor non-ASCII (a millisecond, a sequence
	// number), leaves the split exactly where it was: such words are
	// compared instead of scanned, and the spans of the fields they hold
	// are already in place.
	n     int // words remembered; 0 when spans no longer hold the last line's
	words [memoWords]uint64
	nf    [memoWords]int32
	start [memoWords]int32

	// splitBlocks's: the line's first bytes (the classifier compares them
	// with the next line's and stores those in their place), how many of
	// them lie before its first quote and line end (plain; 0 when nothing
	// is remembered), and where its commas were among them.
	prev   [memoBytes]byte
	plain  int
	commas [2]uint64

	// Of the line just split: its first sameFields fields lie where the
	// line before's did, and differ marks the pairs of bytes among those
	// (bit i for bytes 2i and 2i+1, below memoBytes) that are not the line
	// before's. Pairs, not bytes: a field's first and last pair may hold
	// a byte that is not the field's, but that byte is a comma both lines
	// have there.
	sameFields int32
	differ     uint64

	// mode is which splitter takes this memo's lines: the process's
	// (useBlocks) unless a test asks for one.
	mode splitMode
}

// splitMode names a splitter, for tests that compare them.
type splitMode uint8

const (
	modeAuto   splitMode = iota // splitBlocks where the CPU has AVX2, else splitWordsSWAR
	modeSWAR                    // splitWordsSWAR
	modeBlocks                  // splitBlocks, with classifyGo where the CPU lacks AVX2
	modeMarks                   // splitBlocks without its fast path, splitRowAVX2
)

// forget is called when spans is written by anything but split, or given
// up for another.
func (m *splitMemo) forget() { m.n, m.plain, m.sameFields = 0, 0, 0 }

// same says whether field k of the line just split, in spans, is byte for
// byte field k of the line split before it.
func (m *splitMemo) same(spans []span, k int) bool {
	if k >= int(m.sameFields) {
		return false
	}
	// The pairs from the one holding the field's first byte to the one
	// holding its last (an empty field: none, or the pair with the commas
	// before and after it). Both are at most 64 (a field below sameFields
	// ends before memoBytes); the masks tell the compiler so.
	s := spans[k]
	first, past := uint(s.start)>>1&63, uint(s.end+1)>>1&127
	return m.differ&(1<<past-1<<first) == 0
}

// blocks says whether this memo's lines take splitBlocks, else
// splitWordsSWAR: the same results, the same fields the same.
func (m *splitMemo) blocks() bool { return m.mode >= modeBlocks || m.mode == modeAuto && useBlocks }

// split is splitFast with the memo of the last line split into the same
// spans. spans must hold what the last call left there unless m.forget was
// called since: splitWordsSWAR starts where the remembered words of the
// last line stop matching, its fields there already in place.
func (m *splitMemo) split(line []byte, spans []span) (int, bool) {
	// The memo is forgotten here, not by a deferred call in the split:
	// a defer costs its set-up on every row. The splitters are called
	// here, not by a function that chooses one: a call costs too.
	var nf int
	var ok bool
	if m.blocks() {
		_, nf, ok = m.splitBlocks(line, spans, true)
	} else {
		_, nf, ok = m.splitWordsSWAR(line, spans, true)
	}
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
	var end int
	if m.blocks() {
		end, nf, ok = m.splitBlocks(buf, spans, false)
	} else {
		end, nf, ok = m.splitWordsSWAR(buf, spans, false)
	}
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

// splitWordsSWAR splits the line at the start of buf: all of buf when
// whole, else buf up to its first '\n' (declining when there is none), and
// returns where the line ended (len(buf), or the '\n'). When the line ends
// in "\r\n" the '\r' ends the last field's span or follows its closing
// quote, as if the line had been cut before it. It reads 8 bytes at a time,
// with no instructions but a 64-bit CPU's, and leaves m.n as it stands when
// it declines a line.
func (m *splitMemo) splitWordsSWAR(buf []byte, spans []span, whole bool) (end, nfields int, ok bool) {
	nb, nf, limit := len(buf), 0, len(spans)
	start, closeAt, state := 0, 0, fieldPlain
	i, w := 0, 0
	var differ uint64
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
		differ |= nonzeroPairs(x^was) << (4 * w)
	}
	m.sameFields, m.differ = 0, differ
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
		case fieldPlain:
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
		case fieldInQuotes:
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
			case fieldPlain:
				if c == '"' {
					if pos != start {
						return 0, 0, false // a bare quote
					}
					state = fieldInQuotes
					continue
				}
				if nf+2 > limit { // a comma means one more field
					return 0, 0, false
				}
				spans[nf] = span{int32(start), int32(pos)}
				nf++
				start = pos + 1
			case fieldInQuotes:
				if c == '"' {
					state, closeAt = fieldClosed, pos
				}
			case fieldClosed:
				if pos != closeAt+1 {
					return 0, 0, false // text after the closing quote
				}
				if c == '"' { // "" is a quote
					if nf >= 64 {
						return 0, 0, false
					}
					escaped |= 1 << nf
					state = fieldInQuotes
					continue
				}
				if nf+2 > limit {
					return 0, 0, false
				}
				spans[nf] = span{int32(start + 1), int32(closeAt)}
				nf++
				start, state = pos+1, fieldPlain
			}
		}
		if last {
			break
		}
		i += 8
	}
	if nf, ok = finishLine(buf, spans, end, whole, nf, start, closeAt, state, escaped); !ok {
		return 0, 0, false
	}
	return end, nf, true
}

// The states of a split between two commas or quotes.
const (
	fieldPlain    = iota // in an unquoted field
	fieldInQuotes        // inside a quoted field
	fieldClosed          // just after a quoted field's closing quote
)

// finishLine ends the split of the line that ended at end with the last
// field, from start, in the state the split left it, and unescapes the
// fields marked in escaped. It returns how many fields the line has, or
// false for a quoted field never closed or followed by text.
func finishLine(buf []byte, spans []span, end int, whole bool, nf, start, closeAt, state int, escaped uint64) (int, bool) {
	n := end // the line's end, a '\r' before a '\n' cut off
	if !whole && n > 0 && buf[n-1] == '\r' {
		n--
	}
	switch state {
	case fieldPlain:
		spans[nf] = span{int32(start), int32(n)}
	case fieldInQuotes:
		return 0, false // never closed
	case fieldClosed:
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
			buf[w] = buf[r]
			w++
			if buf[r] == '"' {
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
