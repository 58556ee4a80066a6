package parser

import (
	"bytes"
	"strings"
	"testing"
)

// checkSplitFast compares splitFast with splitLine, which returned want
// and err for line: on an ASCII line without NUL they agree (splitFast
// takes every row splitLine accepts, and declines the rest); on any other
// line splitFast declines.
func checkSplitFast(t *testing.T, n int, line []byte, want [][]byte, err error) {
	t.Helper()
	ascii := bytes.IndexByte(line, 0) < 0
	for _, c := range line {
		ascii = ascii && c < 0x80
	}
	spans := make([]span, maxFields)
	in := bytes.Clone(line) // unescaped in place
	nf, ok := splitFast(in, spans)
	switch {
	case !ascii && ok:
		t.Fatalf("line %d %q: splitFast took a line with NUL or non-ASCII bytes", n, line)
	case ascii && ok != (err == nil):
		t.Fatalf("line %d %q: splitFast ok %v, splitLine err %v", n, line, ok, err)
	case ok:
		if nf != len(want) {
			t.Fatalf("line %d %q: splitFast %d fields, splitLine %d", n, line, nf, len(want))
		}
		for i, s := range spans[:nf] {
			if got := in[s.start:s.end]; !bytes.Equal(got, want[i]) {
				t.Fatalf("line %d %q field %d: splitFast %q, splitLine %q", n, line, i, got, want[i])
			}
		}
	}
}

func TestSplitFast(t *testing.T) {
	for _, tc := range []struct {
		name, line string
	}{
		{"plain", "a,b,c"},
		{"empty fields", ",,"},
		{"one field", "abc"},
		{"long plain", "2026-11-02T00:00:00.000Z,EX01\\Default Frontend EX01,08DE1A30098945F8,0,10.0.0.1:25,10.0.0.2:4000,+,,"},
		{"quoted with commas", `x,"TLS protocol SP_PROT_TLS1_2_SERVER, bulk",y`},
		{"quoted last", `a,"b,c"`},
		{"quoted first", `"a,b",c`},
		{"doubled quotes", `a,"say ""hi"", then go",b`},
		{"doubled quotes twice", `"""",""""""`},
		{"quoted empty", `a,"",b`},
		{"bare quote", `a,b"c,d`},
		{"unclosed", `a,"bc`},
		{"text after quote", `a,"b"c,d`},
		{"quote after closing at end", `a,"b"""`},
		{"space before quote", `a, "b"`},
		{"nul", "a,\x00,b"},
		{"non-ascii", "a,é,b"},
		// A byte of 0x80 or more carries into the next byte's marks.
		{"non-ascii before a comma", "abc\xac,def,ghi,jklmnopqrstu"},
		{"non-ascii before a quote", "abc,\xa2\"x\",y,jklmnopqrstu"},
		{"non-ascii in a quoted field", "a,\"\xe9,\",b,jklmnopqrstu"},
		{"nul in a quoted field", "a,\"x\x00y,\",b,jklmnopqrstu"},
		{"non-ascii last", "a,b,jklmnopqrstu\xff"},
		{"quote at tail byte", strings.Repeat("x", 15) + `,"`},
		{"comma at each tail length", "1234567,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for pad := range 9 { // every alignment of the 8-byte words
				line := []byte(strings.Repeat("p", pad) + tc.line)
				want, _, err := splitLine(line, nil, make([]byte, 0, len(line)), maxFields)
				checkSplitFast(t, 1, line, want, err)
			}
		})
	}
}

func TestSplitFastFieldLimit(t *testing.T) {
	spans := make([]span, 3)
	if _, ok := splitFast([]byte("a,b,c,d"), spans); ok {
		t.Error("4 fields taken into room for 3")
	}
	if n, ok := splitFast([]byte(`a,"b,c",d`), spans); !ok || n != 3 {
		t.Errorf("3 fields: %d, %v", n, ok)
	}
}
