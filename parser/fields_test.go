package parser

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSplitLine(t *testing.T) {
	tests := []struct {
		name, line string
		want       []string
		err        error
		col        int
	}{
		{name: "plain", line: "a,b,c", want: []string{"a", "b", "c"}},
		{name: "empty fields", line: ",,", want: []string{"", "", ""}},
		{name: "quoted comma", line: `a,"b,c",d`, want: []string{"a", "b,c", "d"}},
		{name: "doubled quotes", line: `"say ""hi""",x`, want: []string{`say "hi"`, "x"}},
		{name: "quoted empty last", line: `a,""`, want: []string{"a", ""}},
		{name: "bare quote", line: `a,b"c`, err: ErrBareQuote, col: 4},
		{name: "junk after quote", line: `"a"b,c`, err: ErrQuote, col: 4},
		{name: "unterminated", line: `a,"bc`, err: ErrQuote, col: 3},
		{name: "too many", line: "a,b,c,d", err: ErrFieldCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scratch := make([]byte, 0, len(tt.line))
			got, col, err := splitLine([]byte(tt.line), nil, scratch, 3)
			if err != tt.err || col != tt.col {
				t.Fatalf("err %v col %d, want %v col %d", err, col, tt.err, tt.col)
			}
			if err != nil {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Errorf("field %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestTimestamps(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"2026-11-02T00:00:01.123Z", true},
		{"2024-02-29T23:59:59.999Z", true},
		{"2023-02-29T10:00:00.000Z", false}, // not a leap year
		{"2026-11-02T24:00:00.000Z", false},
		{"2026-11-02T10:60:00.000Z", false},
		{"2026-11-02T10:00:00.00AZ", false},
		{"1999-12-31T23:59:59.5Z", true},    // short fraction: RFC 3339 fallback
		{"2026-11-02T10:00:00+02:00", true}, // offset: fallback, converted to UTC
		{"2026-11-02 10:00:00.000Z", false}, // not ISO 8601
		{"", false},
	}
	var p timeParser
	for _, tt := range tests {
		got, ok := p.parse([]byte(tt.in))
		if ok != tt.ok {
			t.Errorf("%q: ok = %v, want %v", tt.in, ok, tt.ok)
			continue
		}
		if ok {
			want, err := time.Parse(time.RFC3339Nano, tt.in)
			if err != nil || got != want.UnixMilli() {
				t.Errorf("%q = %d, time.Parse says %d (%v)", tt.in, got, want.UnixMilli(), err)
			}
		}
	}
}

// TestTimestampsAgainstTime walks every day of several years, so the day
// cache and the civil-date arithmetic agree with the time package.
func TestTimestampsAgainstTime(t *testing.T) {
	var p timeParser
	for d := time.Date(1999, 1, 1, 13, 14, 15, 678e6, time.UTC); d.Year() < 2031; d = d.Add(24*time.Hour + 1001*time.Millisecond) {
		s := d.Format("2006-01-02T15:04:05.000Z")
		got, ok := p.parse([]byte(s))
		if !ok || got != d.UnixMilli() {
			t.Fatalf("%s = %d, %v; want %d", s, got, ok, d.UnixMilli())
		}
	}
}

// TestTimestampsWithinASecond parses runs of times that share their second,
// as consecutive rows do, so the second cache agrees with the time package,
// and a bad millisecond after a cached second is still refused.
func TestTimestampsWithinASecond(t *testing.T) {
	var p timeParser
	for _, s := range []string{
		"2026-11-02T23:59:59.000Z", "2026-11-02T23:59:59.001Z", "2026-11-02T23:59:59.999Z",
		"2026-11-02T23:59:59.5Z", "2026-11-02T23:59:59.998Z", // the fallback between two of the same second
		"2026-11-03T00:00:00.000Z", "2026-11-03T00:00:00.042Z", "2026-11-02T23:59:59.002Z",
		"2026-11-02T23:59:59.0A0Z", "2026-11-02T23:59:59.00AZ", "2026-11-02T23:59:59.-01Z", "2026-11-02T23:59:59,123Z", "2026-11-02T23:59:59.123z",
		"2026-11-02T23:59:59.123Z",
	} {
		got, ok := p.parse([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if ok != (err == nil) || (ok && got != want.UnixMilli()) {
			t.Errorf("%s = %d, %v; time.Parse says %d, %v", s, got, ok, want.UnixMilli(), err)
		}
	}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		in   string
		ip   string // "" for null
		port int    // -1 for null
		bad  bool
	}{
		{"10.0.0.1:25", "10.0.0.1", 25, false},
		{"[2001:db8::1]:587", "2001:db8::1", 587, false},
		{"2001:db8::1:2525", "2001:db8::1", 2525, false}, // bare IPv6: split on the last colon
		{"2001:db8::1", "2001:db8::1", -1, false},        // no port: "2001:db8:" is no address, so the whole is read as one
		{"fe80::1%eth0", "fe80::1", -1, false},
		{"", "", -1, false},
		{"x.x.x.x:25", "", 25, true},
		{"InternalIPOfMyMailServer:10437", "", 10437, true},
		{"10.0.0.1:99999", "", -1, true},
		{"010.0.0.1:25", "", 25, true},
		{"256.0.0.1:25", "", 25, true},
	}
	for _, tt := range tests {
		ep, bad := parseEndpoint([]byte(tt.in))
		ip := ""
		if ep.ipOK {
			ip = netip.AddrFrom16(ep.ip).Unmap().String()
		}
		port := -1
		if ep.portOK {
			port = int(ep.port)
		}
		if ip != tt.ip || port != tt.port || bad != tt.bad {
			t.Errorf("%q: ip %q port %d bad %v; want %q %d %v", tt.in, ip, port, bad, tt.ip, tt.port, tt.bad)
		}
	}
}

func TestIPv4MatchesNetip(t *testing.T) {
	for _, s := range []string{"0.0.0.0", "255.255.255.255", "1.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3", "01.2.3.4", "1.2.3.256", "a.b.c.d", "1.2.3.4 "} {
		a, ok := parseIPv4([]byte(s))
		b, err := netip.ParseAddr(s)
		if ok != (err == nil && b.Is4()) || (ok && a != b) {
			t.Errorf("%q: parseIPv4 = %v %v, netip = %v %v", s, a, ok, b, err)
		}
	}
}

// TestParseHex16 checks the 16-digit path against the digit-by-digit one
// with every byte value in every place.
func TestParseHex16(t *testing.T) {
	slow := func(b []byte) (uint64, bool) {
		var v uint64
		for _, c := range b {
			d := hexValue[c]
			if d == 0xFF {
				return 0, false
			}
			v = v<<4 | uint64(d)
		}
		return v, true
	}
	base := []byte("08DE1A10bc92E4FC")
	for at := range base {
		for c := range 256 {
			b := bytes.Clone(base)
			b[at] = byte(c)
			want, wantOK := slow(b)
			got, ok := parseHex64(b)
			if ok != wantOK || (ok && got != want) {
				t.Fatalf("%q: %x %v, want %x %v", b, got, ok, want, wantOK)
			}
		}
	}
	for _, s := range []string{"0000000000000000", "FFFFFFFFFFFFFFFF", "ffffffffffffffff", "0123456789abcdef", "FEDCBA9876543210"} {
		want, _ := strconv.ParseUint(s, 16, 64)
		if got, ok := parseHex64([]byte(s)); !ok || got != want {
			t.Errorf("%s: %x %v", s, got, ok)
		}
	}
}

// TestSessionCache parses runs of session-ids as consecutive rows hold
// them: a repeat gives the cached value, a bad one after a good one is
// still refused, and the good one after it is not taken for the bad.
func TestSessionCache(t *testing.T) {
	var c sessionCache
	for _, s := range []string{"08DE1A10BC92E4FC", "08DE1A10BC92E4FC", "08de1a10bc92e4fc", "08DE1A10BC92E4FX", "08DE1A10BC92E4FX",
		"08DE1A10BC92E4FC", "8DE1A10BC92E4FC", "08DE1A10BC92E4FC0", "", "0000000000000001", "08DE1A10BC92E4FC"} {
		want, err := strconv.ParseUint(s, 16, 64)
		wantOK := err == nil && len(s) <= 16
		got, ok := c.parse([]byte(s))
		if ok != wantOK || (ok && got != want) {
			t.Errorf("%q: %x %v, want %x %v", s, got, ok, want, wantOK)
		}
	}
}

func TestParseHexAndUint(t *testing.T) {
	if v, ok := parseHex64([]byte("08DE1A10bc92E4FC")); !ok || v != 0x08DE1A10BC92E4FC {
		t.Errorf("hex: %x %v", v, ok)
	}
	for _, bad := range []string{"", "08DE1A10BC92E4FC0", "XYZ", "-1"} {
		if _, ok := parseHex64([]byte(bad)); ok {
			t.Errorf("hex %q accepted", bad)
		}
	}
	if v, ok := parseUint([]byte("4294967295"), 1<<32-1); !ok || v != 1<<32-1 {
		t.Errorf("uint max: %d %v", v, ok)
	}
	if _, ok := parseUint([]byte("4294967296"), 1<<32-1); ok {
		t.Error("uint overflow accepted")
	}
	// Every length around the no-overflow-test path, for both maxima.
	for _, max := range []uint64{65535, 1<<32 - 1} {
		for n := 1; n <= 21; n++ {
			for _, s := range []string{strings.Repeat("9", n), "1" + strings.Repeat("0", n-1), strings.Repeat("1", n-1) + "x",
				strings.Repeat("0", n-1) + "7", strings.Repeat("0", n-1) + "x"} {
				want, err := strconv.ParseUint(s, 10, 64)
				wantOK := err == nil && want <= max && n <= 20 // more digits are never a number a log writes
				got, ok := parseUint([]byte(s), max)
				if ok != wantOK || (ok && got != want) {
					t.Errorf("%q (max %d): %d %v, want %d %v", s, max, got, ok, want, wantOK)
				}
			}
		}
	}
}

// TestFastPathsDoNotAllocate pins the per-row helpers at zero allocations.
func TestFastPathsDoNotAllocate(t *testing.T) {
	var p timeParser
	line := []byte(`2026-11-02T00:00:01.123Z,EX01\Default Frontend EX01,08DE1A10BC92E4FC,12,10.20.0.11:25,203.0.113.7:50123,<,EHLO mail.example.org,`)
	fields := make([][]byte, 0, maxFields)
	scratch := make([]byte, 0, len(line))
	v4, v6 := []byte("203.0.113.7:50123"), []byte("[2001:db8::1]:25")
	allocs := testing.AllocsPerRun(100, func() {
		p.parse(line[:24])
		parseEndpoint(v4)
		parseEndpoint(v6)
		parseHex64(line[52:68])
		splitLine(line, fields, scratch, 9)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per row", allocs)
	}
}

// TestSameBytes compares sameBytes with bytes.Equal for every length up to
// an endpoint cache's, and a difference in every byte.
func TestSameBytes(t *testing.T) {
	for n := 0; n <= maxCachedEndpoint; n++ {
		a := make([]byte, n)
		for i := range a {
			a[i] = byte('0' + i%10)
		}
		b := bytes.Clone(a)
		if !sameBytes(a, b) {
			t.Fatalf("length %d: equal texts differ", n)
		}
		if n > 0 && sameBytes(a, b[:n-1]) {
			t.Fatalf("length %d: a shorter text is equal", n)
		}
		for i := range n {
			b[i] ^= 0x20
			if got, want := sameBytes(a, b), bytes.Equal(a, b); got != want {
				t.Fatalf("length %d, byte %d changed: %v, want %v", n, i, got, want)
			}
			b[i] ^= 0x20
		}
	}
}
