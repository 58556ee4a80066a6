package parser

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"
	"unsafe"
)

// splitLine splits one physical line (line end removed) into fields with
// RFC 4180 quoting confined to that line: a row is one line, so a stray quote
// costs one row, never the rows after it. Unquoted fields alias line; quoted
// fields are unescaped into scratch, which must have capacity >= len(line) so
// that appending never moves earlier fields. On error it returns the 1-based
// byte column of the fault.
func splitLine(line []byte, fields [][]byte, scratch []byte, max int) ([][]byte, int, error) {
	fields = fields[:0]
	if bytes.IndexByte(line, '"') < 0 {
		// Fast path: no quotes anywhere, as in nearly every row.
		for {
			i := bytes.IndexByte(line, ',')
			if i < 0 {
				return append(fields, line), 0, nil
			}
			if len(fields)+2 > max { // a comma means at least one more field
				return fields, 0, ErrFieldCount
			}
			fields = append(fields, line[:i])
			line = line[i+1:]
		}
	}
	pos := 0
	for {
		if len(fields) == max {
			return fields, 0, ErrFieldCount
		}
		if pos < len(line) && line[pos] == '"' {
			start := len(scratch)
			j := pos + 1
			for {
				k := bytes.IndexByte(line[j:], '"')
				if k < 0 {
					return fields, pos + 1, ErrQuote // opened, never closed
				}
				scratch = append(scratch, line[j:j+k]...)
				j += k + 1
				if j < len(line) && line[j] == '"' {
					scratch = append(scratch, '"')
					j++
					continue
				}
				break
			}
			fields = append(fields, scratch[start:len(scratch):len(scratch)])
			if j == len(line) {
				return fields, 0, nil
			}
			if line[j] != ',' {
				return fields, j + 1, ErrQuote
			}
			pos = j + 1
			continue
		}
		k := bytes.IndexByte(line[pos:], ',')
		end := len(line)
		if k >= 0 {
			end = pos + k
		}
		f := line[pos:end]
		if q := bytes.IndexByte(f, '"'); q >= 0 {
			return fields, pos + q + 1, ErrBareQuote
		}
		fields = append(fields, f)
		if k < 0 {
			return fields, 0, nil
		}
		pos = end + 1
	}
}

// timeParser parses Exchange's "2006-01-02T15:04:05.000Z" quickly, caching the
// day of the last date seen, and falls back to RFC 3339 for anything else.
// It also keeps the last time parsed to the second: most rows share their
// second with the row before (a session's commands and replies follow one
// another within milliseconds), and then only the milliseconds are read.
type timeParser struct {
	lastDate [10]byte
	lastDays int64
	valid    bool

	// The last fast-path time's first 19 bytes ("2006-01-02T15:04:05"), as
	// three overlapping words (bytes 0-7, 8-15, 11-18), and its Unix ms at
	// that second; secValid says they are set.
	sec      [3]uint64
	secMs    int64
	secValid bool
}

func digits2(b []byte) (int64, bool) {
	d0, d1 := b[0]-'0', b[1]-'0'
	return int64(d0)*10 + int64(d1), d0 <= 9 && d1 <= 9
}

// parse returns Unix milliseconds.
func (p *timeParser) parse(b []byte) (int64, bool) {
	if len(b) != 24 || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' || b[23] != 'Z' {
		return parseTimeSlow(b)
	}
	sec := [3]uint64{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[11:])}
	if p.secValid && sec == p.sec {
		f1, ok := digits2(b[20:22])
		f2 := int64(b[22]) - '0'
		if !ok || f2 < 0 || f2 > 9 {
			return 0, false
		}
		return p.secMs + f1*10 + f2, true
	}
	var days int64
	if p.valid && [10]byte(b[:10]) == p.lastDate {
		days = p.lastDays
	} else {
		if b[4] != '-' || b[7] != '-' {
			return parseTimeSlow(b)
		}
		y1, ok1 := digits2(b[0:2])
		y2, ok2 := digits2(b[2:4])
		mo, ok3 := digits2(b[5:7])
		d, ok4 := digits2(b[8:10])
		y := y1*100 + y2
		if !(ok1 && ok2 && ok3 && ok4) || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) {
			return 0, false
		}
		days = daysFromCivil(y, mo, d)
		p.lastDate, p.lastDays, p.valid = [10]byte(b[:10]), days, true
	}
	h, ok1 := digits2(b[11:13])
	mi, ok2 := digits2(b[14:16])
	s, ok3 := digits2(b[17:19])
	f1, ok4 := digits2(b[20:22])
	f2 := int64(b[22]) - '0'
	if !(ok1 && ok2 && ok3 && ok4) || f2 < 0 || f2 > 9 || h > 23 || mi > 59 || s > 59 {
		return 0, false
	}
	atSec := days*86_400_000 + h*3_600_000 + mi*60_000 + s*1000
	p.sec, p.secMs, p.secValid = sec, atSec, true
	return atSec + f1*10 + f2, true
}

func parseTimeSlow(b []byte) (int64, bool) {
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

func daysIn(m, y int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is Howard Hinnant's days_from_civil: days since 1970-01-01.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// hexValue maps a byte to its hex digit value, or 0xFF.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c], t[c+'a'-'A'] = byte(c-'A'+10), byte(c-'A'+10)
	}
	return t
}()

// parseHex64 parses 1 to 16 hex digits.
func parseHex64(b []byte) (uint64, bool) {
	if len(b) == 16 { // every session-id Exchange writes
		hi, ok1 := hex8(binary.LittleEndian.Uint64(b))
		lo, ok2 := hex8(binary.LittleEndian.Uint64(b[8:]))
		return hi<<32 | lo, ok1 && ok2
	}
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	var bad byte
	for _, c := range b {
		d := hexValue[c]
		bad |= d
		v = v<<4 | uint64(d&0x0F)
	}
	return v, bad&0xF0 == 0 // any 0xFF sets the high nibble
}

// hex8 parses 8 hex digits, read little-endian into x (the first digit in
// the low byte), 8 at a time rather than by a table lookup per digit.
func hex8(x uint64) (uint64, bool) {
	// A digit is 0x30-0x39; a letter, with bit 5 set to fold case, 0x61-0x66
	// (only 0x41-0x46 and 0x61-0x66 fold there). The range tests are exact
	// per byte for bytes below 0x80: no borrow or carry crosses a byte.
	low := x & lows
	digit := between(low, '0', '9')
	letter := between(low|ones*0x20, 'a', 'f')
	ok := x&highs == 0 && digit|letter == highs
	// A digit's value is its low nibble; a letter's (bit 6 set) its low
	// nibble plus 9.
	v := x&(ones*0x0F) + (x>>6&ones)*9
	// Pack the nibbles, first digit most significant: pairs into bytes,
	// bytes into 16-bit lanes, lanes into the result.
	v = (v&0x00FF00FF00FF00FF)<<4 | (v>>8)&0x00FF00FF00FF00FF
	v = (v&0x0000FFFF0000FFFF)<<8 | (v>>16)&0x0000FFFF0000FFFF
	v = (v&0x00000000FFFFFFFF)<<16 | v>>32
	return v, ok
}

// between marks with its high bit each byte of x (all bytes < 0x80) from lo
// to hi inclusive (Bit Twiddling Hacks' hasbetween, bounds made inclusive).
func between(x uint64, lo, hi byte) uint64 {
	return (ones*(127+uint64(hi)+1) - x) & ^x & (x + ones*(127-uint64(lo)+1)) & highs
}

// sessionCache remembers the last session-id of 16 hex digits, read as two
// words, and its value: consecutive rows mostly belong to one session, so
// most rows compare two words instead of parsing.
type sessionCache struct {
	text [2]uint64
	id   uint64
	set  bool
}

func (c *sessionCache) parse(b []byte) (uint64, bool) {
	if len(b) != 16 {
		return parseHex64(b)
	}
	w := [2]uint64{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])}
	if c.set && w == c.text {
		return c.id, true
	}
	id, ok := parseHex64(b)
	if ok {
		c.text, c.id, c.set = w, id, true
	}
	return id, ok
}

// parseUint parses a decimal of up to 20 digits no larger than max, which
// is below 10^19. It tests for overflow once, at the end, not per digit with
// a division that cost more than the rest of a row's sequence-number: 19
// digits fit in a uint64 (10^19 - 1 < 2^64), and 20 digits are at most max
// only after a leading zero (they may wrap otherwise, but are then 10^19 or
// more, above max).
func parseUint(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		c -= '0'
		if c > 9 {
			return 0, false
		}
		v = v*10 + uint64(c)
	}
	return v, v <= max && (len(b) < 20 || b[0] == '0')
}

// endpoint is a parsed "ip:port"; the zero value is null.
type endpoint struct {
	ip     [16]byte
	ipOK   bool
	port   uint16
	portOK bool
}

// endpointCache remembers the last endpoint text, because consecutive rows
// usually belong to the same session. The text is kept in an array, not a
// slice: storing a slice in the heap costs a write barrier while the
// collector runs.
type endpointCache struct {
	raw [maxCachedEndpoint]byte
	n   int // len of raw's text; -1: nothing cached
	ep  endpoint
	bad bool
}

// maxCachedEndpoint fits "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535".
const maxCachedEndpoint = 48

// parse returns the endpoint and whether the text was present but not an
// address (redacted logs hold "x.x.x.x:25" or a host name). A repeated text
// is as bad as it was the first time: every row with it is counted.
// The endpoint is valid until the next call.
func (c *endpointCache) parse(b []byte) (*endpoint, bool) {
	if c.n == len(b) && sameBytes(b, c.raw[:c.n]) {
		return &c.ep, c.bad
	}
	c.ep, c.bad = parseEndpoint(b)
	c.n = -1
	if len(b) <= maxCachedEndpoint {
		c.n = copy(c.raw[:], b)
	}
	return &c.ep, c.bad
}

// parseEndpoint splits on the last colon, as IPv6 may appear bare
// ("fe80::1:25") or bracketed ("[fe80::1]:25"). IPv4 is stored v4-mapped.
func parseEndpoint(b []byte) (ep endpoint, bad bool) {
	if len(b) == 0 {
		return ep, false
	}
	host := b
	if i := bytes.LastIndexByte(b, ':'); i >= 0 {
		if p, ok := parseUint(b[i+1:], 65535); ok {
			ep.port, ep.portOK = uint16(p), true
			host = b[:i]
		}
	}
	if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if a, ok := parseAddr(host); ok {
		ep.ip, ep.ipOK = a.As16(), true
		return ep, false
	}
	// A bare IPv6 address without a port ends in a hex group that looked like one.
	if ep.portOK {
		if a, ok := parseAddr(b); ok {
			return endpoint{ip: a.As16(), ipOK: true}, false
		}
	}
	return ep, true
}

func parseAddr(b []byte) (netip.Addr, bool) {
	if len(b) == 0 {
		return netip.Addr{}, false
	}
	if a, ok := parseIPv4(b); ok {
		return a, true
	}
	// netip.ParseAddr does not keep its argument (zones are copied), so the
	// unsafe view of b is safe and saves an allocation per row.
	a, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone(""), true
}

func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	part, digits := 0, 0
	var v int
	for _, c := range b {
		if c == '.' {
			if digits == 0 || part == 3 {
				return netip.Addr{}, false
			}
			ip[part] = byte(v)
			part, digits, v = part+1, 0, 0
			continue
		}
		c -= '0'
		if c > 9 || (digits == 1 && v == 0) { // no leading zeros, as netip
			return netip.Addr{}, false
		}
		v = v*10 + int(c)
		digits++
		if v > 255 {
			return netip.Addr{}, false
		}
	}
	if part != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	ip[3] = byte(v)
	return netip.AddrFrom4(ip), true
}

// sameBytes is bytes.Equal for the short texts the caches of the last
// endpoint and connector-id compare on every row: 8 bytes or more are
// compared a word at a time in line (the last word overlapping the one
// before), not by a call to runtime.memequal.
func sameBytes(a, b []byte) bool {
	n := len(a)
	if n < 8 || len(b) != n {
		return bytes.Equal(a, b)
	}
	for i := 0; i < n-8; i += 8 {
		if binary.LittleEndian.Uint64(a[i:]) != binary.LittleEndian.Uint64(b[i:]) {
			return false
		}
	}
	return binary.LittleEndian.Uint64(a[n-8:]) == binary.LittleEndian.Uint64(b[n-8:])
}
