package parser

import (
	"encoding/binary"
	"math/bits"
)

const (
	// blockBytes is how many bytes of a line one blockMasks describes.
	blockBytes = 64
	// maxBlocks is how many blocks one call of the classifier describes: a
	// typical row of 150 to 200 bytes in one call.
	maxBlocks = 4
)

// blockMasks marks the bytes of a 64-byte block the split must look at,
// bit i for byte i.
type blockMasks struct {
	comma, quote, newline uint64
	bad                   uint64 // a NUL or a byte of 0x80 or more
	// equalPairs marks the pairs of bytes equal to those the block was
	// compared with (the classifier's prev), bit i for bytes 2i and 2i+1;
	// 0 when it was compared with nothing.
	equalPairs uint64
}

// splitBlocks is splitWordsSWAR 32 or 64 bytes at a time, with AVX2: a
// compare and a VPMOVMSKB mark the commas, the quotes, the line ends or the
// bad bytes of 32 bytes at once, and the split walks the marks, as
// splitWordsSWAR walks a word's. It finds every field of every line, the
// remembered ones too (with masks the search costs little): the memo tells
// which fields are the line before's, by pairs of bytes (same), to save the
// Reader their parse. A row in a read buffer is split by splitRowAVX2
// alone; splitMarks takes the rest (whole lines, doubled quotes, lines it
// declines).
func (m *splitMemo) splitBlocks(buf []byte, spans []span, whole bool) (end, nfields int, ok bool) {
	if useBlocks && !whole && m.mode != modeMarks {
		if end, nf, ok := splitRowAVX2(buf, spans, m); ok {
			return end, nf, true
		}
	}
	return m.splitMarks(buf, spans, whole)
}

// splitMarks is splitBlocks for any line: it classifies its blocks (at
// most maxBlocks a call, as far as the first holding a '\n') and walks
// their marks in turn, only the commas of a block without a quote, every
// comma and quote of a block with one.
func (m *splitMemo) splitMarks(buf []byte, spans []span, whole bool) (end, nfields int, ok bool) {
	nb, nf, limit := len(buf), 0, len(spans)
	start, closeAt, state := 0, 0, fieldPlain
	var escaped uint64 // fields (< 64) holding doubled quotes

	// For the memo: the commas of the line's first memoBytes and which
	// pairs of those bytes equal the line before's, and where its first
	// quote is.
	var commas, equal [2]uint64
	plainEnd := memoBytes

	var masks [maxBlocks]blockMasks
	var tail [blockBytes]byte
	for at := 0; ; {
		rest := buf[at:]
		if len(rest) == 0 { // the line ran to buf's end at a block's end
			if !whole {
				return 0, 0, false // no line end in buf
			}
			end = nb
			break
		}
		// A last block shorter than 64 bytes is classified in a copy:
		// the classifier never reads past buf's end (at a mapping's end,
		// a fault). The padding is a byte with no mark, and the block is
		// buf's last (at+blockBytes >= nb below).
		if len(rest) < blockBytes {
			copy(tail[copy(tail[:], rest):], padding)
			rest = tail[:]
		}
		var prev []byte // the line before's bytes for these blocks'
		if at < memoBytes {
			prev = m.prev[at:]
		}
		src := rest[:min(len(rest), maxBlocks*blockBytes)&^(blockBytes-1)]
		var k int
		if useBlocks {
			k = classifyAVX2(src, prev, &masks)
		} else {
			k = classifyGo(src, prev, &masks)
		}
		for b := range k {
			mk := &masks[b]
			comma, quote, bad := mk.comma, mk.quote, mk.bad
			last := false
			if nl := mk.newline; nl != 0 && !whole {
				below := nl&-nl - 1
				comma &= below
				quote &= below
				bad &= below
				end, last = at+bits.TrailingZeros64(nl), true
			} else if at+blockBytes >= nb {
				if !whole {
					return 0, 0, false // no line end in buf
				}
				end, last = nb, true
			}
			if bad != 0 {
				return 0, 0, false
			}
			if at < memoBytes {
				commas[at/blockBytes], equal[at/blockBytes] = comma, mk.equalPairs
				if quote != 0 && plainEnd == memoBytes {
					plainEnd = at + bits.TrailingZeros64(quote)
				}
			}
			switch {
			case state == fieldPlain && quote == 0:
				// Most blocks: only the commas matter.
				for ; comma != 0; comma &= comma - 1 {
					pos := at + bits.TrailingZeros64(comma)
					if nf+2 > limit { // a comma means one more field
						return 0, 0, false
					}
					spans[nf] = span{int32(start), int32(pos)}
					nf++
					start = pos + 1
				}
			case state == fieldInQuotes && quote == 0:
				// Inside a quoted field not even they.
			default:
				// Every comma and quote in turn.
				for marks := comma | quote; marks != 0; marks &= marks - 1 {
					bit := marks & -marks
					pos := at + bits.TrailingZeros64(marks)
					isQuote := quote&bit != 0
					switch state {
					case fieldPlain:
						if isQuote {
							if pos != start {
								return 0, 0, false // a bare quote
							}
							state = fieldInQuotes
							continue
						}
						if nf+2 > limit {
							return 0, 0, false
						}
						spans[nf] = span{int32(start), int32(pos)}
						nf++
						start = pos + 1
					case fieldInQuotes:
						if isQuote {
							state, closeAt = fieldClosed, pos
						}
					case fieldClosed:
						if pos != closeAt+1 {
							return 0, 0, false // text after the closing quote
						}
						if isQuote { // "" is a quote
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
			}
			if last {
				goto lineEnd
			}
			at += blockBytes
		}
	}
lineEnd:
	if nf, ok = finishLine(buf, spans, end, whole, nf, start, closeAt, state, escaped); !ok {
		return 0, 0, false
	}

	m.remember(min(plainEnd, end), commas, equal[0]|equal[1]<<(blockBytes/2))
	return end, nf, true
}

// remember updates the memo with the line just split, whose first plainEnd
// bytes (at most memoBytes) hold no quote, commas the commas among its
// first memoBytes and equalPairs the pairs of those bytes that equal the
// line before's, and tells which of its fields are the line before's.
func (m *splitMemo) remember(plainEnd int, commas [2]uint64, equalPairs uint64) {
	// The fields before p lie where the line before's did: up to p the
	// commas are the same, and neither line has a quote (nor a NUL or a
	// non-ASCII byte, or it would have been declined) before it.
	// Written for conditional moves, not branches: which fields are the
	// line before's changes from row to row, and a branch on it would be
	// mispredicted.
	diff := bits.TrailingZeros64(commas[0] ^ m.commas[0])
	if diff == 64 {
		diff += bits.TrailingZeros64(commas[1] ^ m.commas[1])
	}
	p := min(plainEnd, m.plain, diff)
	lo := ^uint64(0) >> (64 - min(p, 64))  // the bits below p, 0 to 63
	hi := ^uint64(0) >> (128 - max(p, 64)) // and 64 to 127
	m.sameFields = int32(bits.OnesCount64(commas[0]&lo) + bits.OnesCount64(commas[1]&hi))
	m.differ = ^equalPairs & (1<<((p+1)/2) - 1)
	m.plain, m.commas = plainEnd, commas
}

// padding fills the copy of a line's last, partial block: 'a' is nothing
// the split looks at. blockBytes of them.
const padding = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// classifyGo marks the bytes of src's first blocks (64 bytes each, at most
// maxBlocks and as many as len(src) holds whole) in out[:k], stopping after
// the first block with a '\n'. It compares the first len(prev)/64 of them
// with prev's blocks (equalPairs) and stores their bytes there in prev's
// place. It returns k, at least 1 when src holds a block.
//
// It reads 8 bytes at a time: for CPUs without AVX2 (where splitBlocks
// runs only in tests) and to test classifyAVX2 with.
func classifyGo(src, prev []byte, out *[maxBlocks]blockMasks) int {
	k := 0
	for ; k < maxBlocks && len(src) >= blockBytes; k++ {
		var mk blockMasks
		// zeroBytes needs bytes below 0x80: it is given their low 7
		// bits, and &^x drops the marks of bytes of 0x80 or more.
		for i := 0; i < blockBytes; i += 8 {
			x := binary.LittleEndian.Uint64(src[i:])
			shift := uint(i)
			mk.comma |= packHighs(zeroBytes(x&lows^ones*',')&^x) << shift
			mk.quote |= packHighs(zeroBytes(x&lows^ones*'"')&^x) << shift
			mk.newline |= packHighs(zeroBytes(x&lows^ones*'\n')&^x) << shift
			mk.bad |= packHighs(x&highs|zeroBytes(x&lows)) << shift
			if len(prev) >= blockBytes {
				mk.equalPairs |= (^nonzeroPairs(x^binary.LittleEndian.Uint64(prev[i:])) & 15) << (shift / 2)
			}
		}
		if len(prev) >= blockBytes {
			copy(prev, src[:blockBytes])
			prev = prev[blockBytes:]
		}
		out[k] = mk
		src = src[blockBytes:]
		if mk.newline != 0 {
			k++
			break
		}
	}
	return k
}

// packHighs gathers the high bits of x's bytes into a byte: bit i for byte
// i. The product puts byte i's bit in bit 56+i, and no two of the partial
// products share a bit, so nothing carries into them.
func packHighs(x uint64) uint64 { return (x >> 7) * 0x0102040810204080 >> 56 }
