package parser

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// splitModes are the splitters the tests compare: splitBlocks takes
// classifyGo where the CPU lacks AVX2, so both run on every machine.
var splitModes = []splitMode{modeSWAR, modeBlocks, modeMarks}

// splitAlone is splitFast with the splitter of mode.
func splitAlone(mode splitMode, line []byte, spans []span) (int, bool) {
	m := splitMemo{mode: mode}
	return m.split(line, spans)
}

// checkSplitFast compares splitFast, with each splitter, with splitLine,
// which returned want and err for line: on an ASCII line without NUL they
// agree (splitFast takes every row splitLine accepts, and declines the
// rest); on any other line splitFast declines.
func checkSplitFast(t *testing.T, n int, line []byte, want [][]byte, err error) {
	t.Helper()
	ascii := bytes.IndexByte(line, 0) < 0
	for _, c := range line {
		ascii = ascii && c < 0x80
	}
	spans := make([]span, maxFields)
	for _, mode := range splitModes {
		in := bytes.Clone(line) // unescaped in place
		nf, ok := splitAlone(mode, in, spans)
		switch {
		case !ascii && ok:
			t.Fatalf("line %d %q, splitter %d: splitFast took a line with NUL or non-ASCII bytes", n, line, mode)
		case ascii && ok != (err == nil):
			t.Fatalf("line %d %q, splitter %d: splitFast ok %v, splitLine err %v", n, line, mode, ok, err)
		case ok:
			if nf != len(want) {
				t.Fatalf("line %d %q, splitter %d: splitFast %d fields, splitLine %d", n, line, mode, nf, len(want))
			}
			for i, s := range spans[:nf] {
				if got := in[s.start:s.end]; !bytes.Equal(got, want[i]) {
					t.Fatalf("line %d %q, splitter %d, field %d: splitFast %q, splitLine %q", n, line, mode, i, got, want[i])
				}
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

// checkSplitMemo splits lines in turn with one splitMemo and one spans, as
// the Reader does, with each splitter, and checks each split against
// splitWordsSWAR's of the line alone: what the memo skips must never change
// a result, nor the splitter.
// It also checks that a field the memo calls the same as the line before's
// (splitMemo.same) is, and returns how many it called the same, the least
// of the splitters'.
func checkSplitMemo(t *testing.T, lines [][]byte, limit int) (same int) {
	t.Helper()
	same = -1
	for _, mode := range splitModes {
		if n := checkSplitMemoMode(t, mode, lines, limit); same < 0 || n < same {
			same = n
		}
	}
	return same
}

func checkSplitMemoMode(t *testing.T, mode splitMode, lines [][]byte, limit int) (same int) {
	t.Helper()
	m := splitMemo{mode: mode}
	spans := make([]span, limit)
	fresh := make([]span, limit)
	var before [][]byte // the fields of the line before, when it was split
	for n, line := range lines {
		alone := bytes.Clone(line)
		want, wantOK := splitAlone(modeSWAR, alone, fresh)
		in := bytes.Clone(line)
		got, ok := m.split(in, spans)
		if ok != wantOK || got != want {
			t.Fatalf("splitter %d, line %d %q: memo %d %v, alone %d %v", mode, n+1, line, got, ok, want, wantOK)
		}
		if !ok {
			before = nil
			continue
		}
		var fields [][]byte
		for i := range got {
			g, w := in[spans[i].start:spans[i].end], alone[fresh[i].start:fresh[i].end]
			if !bytes.Equal(g, w) {
				t.Fatalf("splitter %d, line %d %q field %d: memo %q, alone %q", mode, n+1, line, i, g, w)
			}
			if m.same(spans, i) {
				if i >= len(before) || !bytes.Equal(g, before[i]) {
					t.Fatalf("splitter %d, line %d %q field %d %q: the memo says it is the line before's, which was %q", mode, n+1, line, i, g, before)
				}
				same++
			}
			fields = append(fields, g)
		}
		before = fields
	}
	return same
}

// TestSplitMemo runs rows that share their start in every way the memo must
// notice: the same second, another millisecond or sequence number, a
// sequence number one digit longer (every later byte moves), a comma, a
// quote or a non-ASCII byte where the last row had a plain byte, a shorter
// row, a declined row between two good ones, and too many fields.
func TestSplitMemo(t *testing.T) {
	base := `2026-11-02T22:00:01.326Z,EX02\Default Frontend EX02,08DE1A2067608371,%s,10.20.0.12:25,52.103.140.97:20348,%s`
	row := func(seq, rest string) []byte { return []byte(fmt.Sprintf(base, seq, rest)) }
	lines := [][]byte{
		row("1", "<,EHLO x,"),
		row("2", ">,250 ok,"),
		[]byte(strings.Replace(string(row("3", ">,250 ok,")), ".326Z", ".999Z", 1)),
		row("10", "*,,Sending certificate"),
		row("11", `>,"220 EX02 ready, at Mon",`),
		row("12", `*,,"TLS, with ""quotes"""`),
		row("1,", "<,EHLO x,"),  // a comma where a digit was
		row("1\"", "<,EHLO x,"), // a quote where a digit was
		row("13", "<,EHLO x,"),
		row("1\xe9", "<,EHLO x,"), // a non-ASCII byte where a digit was
		row("14", "<,EHLO x,"),
		row("15", "<,EHLO\x00x,"), // declined late: the memo must not keep its words
		row("15", "<,EHLO x,"),
		[]byte("2026-11-02T22:00:01.326Z,EX02"),
		row("16", "<,EHLO x,"),
		row("17", "<,a,b,c,d,e,f,g,h"), // more fields than the limit
		row("18", "<,EHLO x,"),
		[]byte(strings.Replace(string(row("19", "<,EHLO x,")), "EX02\\Default", "EX02,Default", 1)),
		row("20", "<,EHLO x,"),
	}
	if checkSplitMemo(t, lines, 9) == 0 || checkSplitMemo(t, lines, maxFields) == 0 {
		t.Error("no field found the same as the line before's")
	}
	var afterGood [][]byte // each after a good row the memo remembers
	for _, l := range lines {
		afterGood = append(afterGood, row("9", "<,EHLO x,"), l)
	}
	// A special byte in place of a plain one, no comma moved: only the
	// word's own test can tell.
	for _, c := range []string{`"`, ",", "\xe9", "\x00"} {
		afterGood = append(afterGood, row("10", "<,EHLO x,"), row("1"+c, "<,EHLO x,"),
			row("10", "<,EHLO x,"), []byte(strings.Replace(string(row("10", "<,EHLO x,")), ".326Z", ".3"+c+"6Z", 1)))
	}
	checkSplitMemo(t, afterGood, 9)
	checkSplitMemo(t, afterGood, maxFields)
	for _, limit := range []int{3, 9} { // every prefix length against every other
		var all [][]byte
		for _, l := range lines {
			for cut := 0; cut <= len(l); cut += 5 {
				all = append(all, l[:cut], l)
			}
		}
		checkSplitMemo(t, all, limit)
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

// TestSplitMemoSameRecords reads generated logs, whose rows repeat their
// start as real ones do, with the split memo and without: the records, the
// problems and the counts are the same.
func TestSplitMemoSameRecords(t *testing.T) {
	in := benchLog()
	for _, batch := range []int{1000, 7} {
		with := readAll(t, bytes.NewReader(in), "gen.log", WithBatchRows(batch))
		without := readAll(t, bytes.NewReader(in), "gen.log", WithBatchRows(batch), withoutMemo())
		if len(with.Rows) < 10000 {
			t.Fatalf("only %d rows", len(with.Rows))
		}
		if !reflect.DeepEqual(with, without) {
			for i := range min(len(with.Rows), len(without.Rows)) {
				if with.Rows[i] != without.Rows[i] {
					t.Fatalf("batch %d, row %d: %+v with the memo, %+v without", batch, i, with.Rows[i], without.Rows[i])
				}
			}
			t.Fatalf("batch %d: the memo changed the result", batch)
		}
	}
}

// TestSameFieldsAsRowBefore reads rows whose fields repeat the row
// before's, with everything between them that could make the row before's
// values wrong for the next: a row rejected half parsed, a row split but
// rejected for its field count, a row outside the time range, a #Log-type
// header that changes what the connector-id means,
// a bad endpoint (warned on every row), a batch boundary after every row.
// Reused or parsed again, the records and problems must be the same.
func TestSameFieldsAsRowBefore(t *testing.T) {
	row := func(ms, seq, local, rest string) string {
		return fmt.Sprintf("2026-11-02T22:00:01.%sZ,EX02\\Default Frontend EX02,08DE1A2067608371,%s,%s,52.103.140.97:20348,%s\r\n", ms, seq, local, rest)
	}
	in := "#Log-type: SMTP Receive Protocol Log\r\n" +
		"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n" +
		row("326", "0", "10.20.0.12:25", "+,,") +
		row("326", "1", "10.20.0.12:25", ">,220 ready,") +
		row("326", "x", "10.20.0.12:25", "<,EHLO x,") + // rejected after its date-time and session-id
		row("326", "2", "10.20.0.12:25", "<,EHLO x,") +
		"2026-11-02T22:00:01.999Z,EX02\\Default\r\n" + // split, and rejected for its field count
		"2026-11-02T22:00:01.999Z,EX02\\Default Frontend EX02,08DE1A2067608371,2,10.20.0.12:25,52.103.140.97:20348,<,EHLO x,\r\n" +
		row("327", "3", "x.x.x.x:25", "<,EHLO x,") + // a bad endpoint, twice
		row("327", "4", "x.x.x.x:25", ">,250 ok,") +
		row("900", "5", "10.20.0.12:25", ">,250 ok,") + // outside the range below
		row("900", "6", "10.20.0.12:25", ">,250 ok,") +
		"#Log-type: SMTP Send Protocol Log\r\n" +
		row("328", "7", "10.20.0.12:25", ">,250 ok,") + // the same connector-id, a send log's now
		row("328", "8", "10.20.0.12:25", ">,250 ok,")
	since := time.Date(2026, 11, 2, 22, 0, 1, 0, time.UTC)
	for _, opts := range [][]Option{
		{WithBatchRows(1000)},
		{WithBatchRows(1)},
		{WithBatchRows(2), WithServer("EX09")},
		{WithTimeRange(since, since.Add(900*time.Millisecond))},
	} {
		with := readAll(t, strings.NewReader(in), "same.log", opts...)
		without := readAll(t, strings.NewReader(in), "same.log", append(opts, withoutMemo())...)
		if len(with.Rows) < 7 || len(with.Problems) != 4 {
			t.Fatalf("only %d rows, %d problems: %+v", len(with.Rows), len(with.Problems), with)
		}
		if !reflect.DeepEqual(with, without) {
			t.Errorf("reusing the row before's values changed the result:\n%+v\n%+v", with, without)
		}
	}
}

// checkSplitNext walks buf as the Reader does with lines already in its
// read buffer: splitNext on what is left, one memo throughout, with each
// splitter. Each line it takes must be the line up to the first '\n', one
// '\r' before it cut off, split as splitWordsSWAR splits that line alone;
// it must decline a line that declines, a blank or header line, and a last
// line without '\n'. It returns how many lines splitNext took, the least of
// the splitters'.
func checkSplitNext(t *testing.T, buf []byte, limit int) (took int) {
	t.Helper()
	took = -1
	for _, mode := range splitModes {
		if n := checkSplitNextMode(t, mode, buf, limit); took < 0 || n < took {
			took = n
		}
	}
	return took
}

func checkSplitNextMode(t *testing.T, mode splitMode, buf []byte, limit int) (took int) {
	t.Helper()
	m := splitMemo{mode: mode}
	spans := make([]span, limit)
	fresh := make([]span, limit)
	var before [][]byte // the fields of the line taken before, if it was the last split
	work := bytes.Clone(buf)
	for pos, n := 0, 1; pos < len(buf); n++ {
		rest := buf[pos:]
		end := bytes.IndexByte(rest, '\n')
		var stripped []byte
		if end >= 0 {
			stripped = bytes.TrimSuffix(rest[:end], []byte("\r"))
		}
		alone := bytes.Clone(stripped)
		want, wantOK := splitAlone(modeSWAR, alone, fresh)
		special := len(stripped) == 0 || stripped[0] == '#' || stripped[0] == '\r' || bytes.HasPrefix(stripped, bom)
		// Split in a copy of buf, as the Reader splits in its read buffer:
		// a line taken is unescaped in place, and a line declined is left
		// as it was.
		line, used, got, ok := m.splitNext(work[pos:], spans)
		switch {
		case end < 0 || special:
			if ok {
				t.Fatalf("splitter %d, line %d %q: splitNext took it", mode, n, rest[:max(end+1, 0)])
			}
		case ok != wantOK:
			t.Fatalf("splitter %d, line %d %q: splitNext %v, splitFast %v", mode, n, stripped, ok, wantOK)
		case ok:
			if used != end+1 || len(line) != len(stripped) || got != want {
				t.Fatalf("splitter %d, line %d %q: splitNext took %d bytes, %d fields; want %d, %d", mode, n, stripped, used, got, end+1, want)
			}
			var fields [][]byte
			for i := range got {
				g, w := line[spans[i].start:spans[i].end], alone[fresh[i].start:fresh[i].end]
				if !bytes.Equal(g, w) {
					t.Fatalf("splitter %d, line %d %q field %d: splitNext %q, splitFast %q", mode, n, stripped, i, g, w)
				}
				if m.same(spans, i) && (i >= len(before) || !bytes.Equal(g, before[i])) {
					t.Fatalf("splitter %d, line %d %q field %d %q: the memo says it is the line before's, which was %q", mode, n, stripped, i, g, before)
				}
				fields = append(fields, bytes.Clone(g))
			}
			before = fields
			took++
		}
		if !ok {
			before = nil
			m.forget() // as the Reader does: the line-by-line path takes it
		}
		if end < 0 {
			break
		}
		pos += end + 1
	}
	return took
}

// TestSplitNext splits lines where they lie in a read buffer, with what
// follows their '\n' in the same word: every line of TestSplitFast and
// TestSplitMemo's kind, ended by "\n", "\r\n" or nothing, followed by
// bytes the split would stop at, at every length mod 8.
func TestSplitNext(t *testing.T) {
	lines := []string{
		"a,b,c", ",,", "abc", "",
		"2026-11-02T00:00:00.000Z,EX01\\Default Frontend EX01,08DE1A30098945F8,0,10.0.0.1:25,10.0.0.2:4000,+,,",
		`x,"TLS protocol SP_PROT_TLS1_2_SERVER, bulk",y`, `a,"b,c"`, `"a,b",c`, `a,"say ""hi"", then go",b`,
		`"""",""""""`, `a,"",b`, `a,b"c,d`, `a,"bc`, `a,"b"c,d`, `a,"b"""`, `a, "b"`,
		"a,\x00,b", "a,é,b", "abc\xac,def,ghi,jklmnopqrstu", "a,\"x\x00y,\",b,jklmnopqrstu",
		"a,b,jklmnopqrstu\xff", "a\tb,c\td", "a,b\rc", "a,b\r", `a,"b"` + "\r", `a,"b` + "\r\"",
		"#Fields: a,b", "\xef\xbb\xbfa,b", "\ra,b", "a,\"b\nc\",d",
	}
	follow := []string{"", "x,y", "\xff", "\x00", `"`, ",", "\n", "\xff\n", "\r\n"}
	taken := 0
	for _, l := range lines {
		for pad := range 9 {
			line := strings.Repeat("p", pad) + l
			for _, end := range []string{"\n", "\r\n", ""} {
				for _, f := range follow {
					taken += checkSplitNext(t, []byte(line+end+f), maxFields)
					taken += checkSplitNext(t, []byte(line+end+f), 3)
				}
			}
		}
	}
	// Rows in turn, as the memo sees them, each line's end in every place
	// of a word.
	var all []byte
	for _, l := range benchRows()[:2000] {
		all = append(all, l...)
		all = append(all, "\r\n"[1-len(l)%2:]...) // "\n" or "\r\n"
	}
	if n := checkSplitNext(t, all, 9); n < 1900 || taken == 0 {
		t.Fatalf("splitNext took %d of 2,000 rows, %d of the lines above", n, taken)
	}
}
