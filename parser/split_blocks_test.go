package parser

import (
	"bytes"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// classifyByBytes is classifyGo one byte at a time, as its doc reads: the
// reference for classifyGo and the assembly.
func classifyByBytes(src, prev []byte, out *[maxBlocks]blockMasks) int {
	k := 0
	for ; k < maxBlocks && len(src) >= blockBytes; k++ {
		var mk blockMasks
		for i, c := range src[:blockBytes] {
			bit := uint64(1) << i
			switch {
			case c == ',':
				mk.comma |= bit
			case c == '"':
				mk.quote |= bit
			case c == '\n':
				mk.newline |= bit
			case c == 0 || c >= 0x80:
				mk.bad |= bit
			}
		}
		if len(prev) >= blockBytes {
			for i := 0; i < blockBytes; i += 2 {
				if src[i] == prev[i] && src[i+1] == prev[i+1] {
					mk.equalPairs |= 1 << (i / 2)
				}
			}
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

// randomBytes returns n bytes, most of them ones the split looks at.
func randomBytes(rng *rand.Rand, n int) []byte {
	const special = ",,,\"\"\n\r\t\x00\x7f\x80\xff\xe9 a0"
	b := make([]byte, n)
	for i := range b {
		switch rng.IntN(4) {
		case 0:
			b[i] = byte(rng.IntN(256))
		case 1:
			b[i] = 'a' + byte(rng.IntN(26))
		default:
			b[i] = special[rng.IntN(len(special))]
		}
	}
	return b
}

// TestClassify compares classifyGo, and classifyAVX2 where the CPU runs
// it, with classifyByBytes: every mask, how many blocks, and what is left
// in prev, for sources of every length to 300 bytes at every alignment, and
// prev of no block, one and two.
func TestClassify(t *testing.T) {
	type classifier struct {
		name string
		f    func(src, prev []byte, out *[maxBlocks]blockMasks) int
	}
	classifiers := []classifier{{"classifyGo", classifyGo}}
	if useBlocks {
		classifiers = append(classifiers, classifier{"classifyAVX2", classifyAVX2})
	} else {
		t.Log("no AVX2: classifyGo only")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	backing := make([]byte, 512)
	for n := 0; n <= 300; n++ {
		for align := range 64 {
			src := backing[align : align+n]
			copy(src, randomBytes(rng, n))
			if rng.IntN(3) == 0 && n > 0 { // no '\n' before the end
				for i := range src[:n-1] {
					if src[i] == '\n' {
						src[i] = 'x'
					}
				}
			}
			prevLen := 64 * rng.IntN(3)
			prev := randomBytes(rng, prevLen)
			if prevLen > 0 && n > 0 && rng.IntN(2) == 0 { // mostly equal, as rows are
				copy(prev, src)
				for range rng.IntN(4) {
					prev[rng.IntN(prevLen)] ^= byte(1 + rng.IntN(255))
				}
			}
			var want [maxBlocks]blockMasks
			wantPrev := bytes.Clone(prev)
			wantK := classifyByBytes(src, wantPrev, &want)
			for _, c := range classifiers {
				var got [maxBlocks]blockMasks
				gotPrev := bytes.Clone(prev)
				k := c.f(src, gotPrev, &got)
				if k != wantK || got != want || !bytes.Equal(gotPrev, wantPrev) {
					t.Fatalf("%s of %d bytes at %d, prev %d bytes, %q:\n%d blocks %+v, prev %q\nwant %d blocks %+v, prev %q",
						c.name, n, align, prevLen, src, k, got, gotPrev, wantK, want, wantPrev)
				}
			}
		}
	}
}

// randomLine returns a line of fields the split sees every day (plain,
// quoted, with doubled quotes, empty) and, now and then, one it must
// decline or take with care: a bare quote, text after a closing quote, a
// NUL, a non-ASCII byte, a '\r' or a '\n' inside.
func randomLine(rng *rand.Rand, maxLen int) []byte {
	var b []byte
	for nf := 1 + rng.IntN(12); nf > 0 && len(b) < maxLen; nf-- {
		if len(b) > 0 {
			b = append(b, ',')
		}
		plain := func(n int) {
			for range n {
				b = append(b, "abcdefghij0123456789.:- \\"[rng.IntN(25)])
			}
		}
		switch rng.IntN(6) {
		case 0:
			// empty
		case 1:
			b = append(b, '"')
			for range rng.IntN(4) {
				plain(rng.IntN(20))
				b = append(b, []string{",", `""`, " "}[rng.IntN(3)]...)
			}
			b = append(b, '"')
		default:
			plain(rng.IntN(40))
		}
	}
	if rng.IntN(4) == 0 && len(b) > 0 { // something out of place
		b[rng.IntN(len(b))] = ",\"\"\x00\x80\xe9\r\n\t"[rng.IntN(9)]
	}
	return b
}

// TestSplittersAgree splits random and adversarial lines with both
// splitters, alone (against splitLine), in turn with one memo, and where
// they lie in a read buffer (against splitWordsSWAR): lines of every length
// to 300 bytes at every alignment, ended by "\n", "\r\n" or the buffer's
// end, followed by what the next line could start with.
func TestSplittersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	backing := make([]byte, 1024)
	follow := []string{"", "\n", "x,y\n", "\"", "\x00", "\xff"}
	var lines [][]byte
	for n := 0; n <= 300; n++ {
		line := randomLine(rng, n)
		for len(line) < n {
			line = append(line, randomLine(rng, n-len(line))...)
		}
		line = line[:n]
		lines = append(lines, line)
		if rng.IntN(2) == 0 {
			line = randomBytes(rng, n) // anything at all
		}
		want, _, err := splitLine(line, nil, make([]byte, 0, len(line)), maxFields)
		for align := range 64 {
			in := backing[align : align+n]
			copy(in, line)
			checkSplitFast(t, n, in, want, err)
			for _, end := range []string{"\n", "\r\n", ""} {
				f := follow[rng.IntN(len(follow))]
				buf := backing[align : align+n+len(end)+len(f)]
				copy(buf[n:], end+f)
				checkSplitNext(t, buf, maxFields)
				checkSplitNext(t, buf, 9)
			}
		}
	}
	// In turn: rows that repeat each other's start, as a log's do.
	var rows [][]byte
	for _, l := range benchRows()[:3000] {
		rows = append(rows, l)
		if rng.IntN(8) == 0 {
			rows = append(rows, lines[rng.IntN(len(lines))])
		}
		if rng.IntN(8) == 0 { // the same row, a byte changed
			c := bytes.Clone(l)
			c[rng.IntN(len(c))] = ",\"a0\x00\xe9"[rng.IntN(6)]
			rows = append(rows, c)
		}
	}
	if checkSplitMemo(t, rows, 9) == 0 {
		t.Error("no field found the same as the line before's")
	}
	checkSplitMemo(t, rows, maxFields)
	var buf []byte
	for _, r := range rows {
		buf = append(append(buf, r...), "\r\n"[rng.IntN(2):]...)
	}
	checkSplitNext(t, buf, 9)
}

// TestSameByPairs checks that the memo tells a field that is the line
// before's byte for byte, not only word for word: in rows of one session
// the sequence number changes on every row, and the session-id beside it
// and the local endpoint after it are the line before's.
func TestSameByPairs(t *testing.T) {
	row := func(seq string) []byte {
		return []byte("2026-11-02T22:00:01.326Z,EX02\\Default Frontend EX02,08DE1A2067608371," + seq + ",10.20.0.12:25,52.103.140.97:20348,<,EHLO x,")
	}
	for _, mode := range splitModes {
		m := splitMemo{mode: mode}
		spans := make([]span, 9)
		for _, seq := range []string{"1", "2", "3", "4", "5"} {
			if _, ok := m.split(row(seq), spans); !ok {
				t.Fatalf("splitter %d: declined", mode)
			}
		}
		for k, want := range []bool{true, true, true, false, true, true} {
			if got := m.same(spans, k); got != want {
				t.Errorf("splitter %d: field %d the same: %v, want %v", mode, k, got, want)
			}
		}
	}
}

// TestSameAfterQuoted splits, where they lie in a read buffer, a row with a
// quoted field and then one without quotes whose commas and bytes are the
// row before's but for the quotes: fields after the quote differ in their
// number (a comma inside quotes ends no field), so none may be the same.
func TestSameAfterQuoted(t *testing.T) {
	pad := strings.Repeat("p", 150)
	buf := []byte(`"a,b",c,d,` + pad + "\nXa,bY,c,d," + pad + "\n" + pad)
	if checkSplitNext(t, buf, maxFields) != 2 {
		t.Fatal("the rows were not taken")
	}
}

// TestSplitAtPageEnd splits lines that end where readable memory ends,
// the next page unreadable: a splitter that read past its buffer would
// fault. Lines of every length to 300 bytes, as a whole line and as the
// last line of a read buffer (ended by '\n', or cut off).
func TestSplitAtPageEnd(t *testing.T) {
	mem, release := guardedPage(t)
	defer release()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, mode := range splitModes {
		m := splitMemo{mode: mode}
		spans := make([]span, maxFields)
		for n := 0; n <= 300; n++ {
			line := randomLine(rng, n)
			line = line[:min(n, len(line))]
			buf := mem[len(mem)-len(line):]
			copy(buf, line)
			m.split(buf, spans)
			buf = mem[len(mem)-len(line)-1:]
			copy(buf, line)
			buf[len(line)] = '\n'
			m.splitNext(buf, spans)
			m.splitNext(buf[1:], spans)
		}
	}
}

// readAllMode is readAll with the Reader's memo given to the splitter of
// mode: the records, the problems and the stats (and readAll's checks).
func readAllMode(t testing.TB, input io.Reader, mode splitMode, opts ...Option) dump {
	t.Helper()
	return readAllWith(t, input, "modes.log", func(r *Reader) { r.memo.mode = mode }, opts...)
}

// checkSplittersSameRecords reads in with each splitter, and without the
// memo: the records, the problems and the counts are the same.
func checkSplittersSameRecords(t *testing.T, in []byte, opts ...Option) {
	t.Helper()
	want := readAll(t, bytes.NewReader(in), "modes.log", append(opts, withoutMemo())...)
	for _, mode := range splitModes {
		got := readAllMode(t, bytes.NewReader(in), mode, opts...)
		got.Err = strings.ReplaceAll(got.Err, "modes.log", "")
		w := want
		w.Err = strings.ReplaceAll(w.Err, "modes.log", "")
		if !reflect.DeepEqual(got, w) {
			for i := range min(len(got.Rows), len(w.Rows)) {
				if got.Rows[i] != w.Rows[i] {
					t.Fatalf("splitter %d, row %d: %+v, without the memo %+v", mode, i, got.Rows[i], w.Rows[i])
				}
			}
			t.Fatalf("splitter %d changed the result:\n%+v\n%+v", mode, got, w)
		}
	}
}

// TestSplittersSameRecords reads generated logs, the real-data and damage
// samples, and random lines between good rows with each splitter.
func TestSplittersSameRecords(t *testing.T) {
	checkSplittersSameRecords(t, benchLog(), WithBatchRows(1000))
	checkSplittersSameRecords(t, benchLog(), WithBatchRows(7))
	for _, dir := range []string{"realdata", "damage"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.log"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			checkSplittersSameRecords(t, b, WithBatchRows(7))
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var mixed bytes.Buffer
	mixed.WriteString("#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n")
	for i, r := range benchRows()[:5000] {
		mixed.Write(r)
		mixed.WriteString("\r\n")
		if bits.OnesCount(uint(i))%3 == 0 {
			mixed.Write(randomLine(rng, 200))
			mixed.WriteString("\n")
		}
	}
	checkSplittersSameRecords(t, mixed.Bytes(), WithBatchRows(100))
}

// FuzzSplitters splits arbitrary bytes with each splitter: line by line,
// in turn, in a read buffer, and by the Reader.
//
//	go test ./parser -run '^$' -fuzz FuzzSplitters -fuzztime 60s
func FuzzSplitters(f *testing.F) {
	f.Add([]byte("a,b,\"c,\"\"d\"\"\"\r\nx,\"y\"\n"))
	for _, dir := range []string{"realdata", "damage"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.log"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<20 {
			return
		}
		checkSplitNext(t, in, maxFields)
		checkSplitNext(t, in, 9)
		var lines [][]byte
		for _, pl := range physicalLines(in) {
			lines = append(lines, pl.stripped)
		}
		checkSplitMemo(t, lines, maxFields)
		checkSplitMemo(t, lines, 9)
		for n, line := range lines {
			got, _, err := splitLine(line, nil, make([]byte, 0, len(line)), maxFields)
			checkSplitFast(t, n+1, line, got, err)
		}
		checkSplittersSameRecords(t, in, WithBatchRows(1000))
	})
}

// TestSplitRowMemo checks that splitRowAVX2 leaves the memo as
// splitMarks does, line after line: the same fields the same, the same
// bytes remembered, not only a memo that never calls a field the same
// wrongly (checkSplitMemo's test).
func TestSplitRowMemo(t *testing.T) {
	if !useBlocks {
		t.Skip("no AVX2")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	var buf []byte
	for _, l := range benchRows()[:5000] {
		if rng.IntN(10) == 0 { // the same row, a byte changed
			l = bytes.Clone(l)
			l[rng.IntN(len(l))] = ",a0:."[rng.IntN(5)]
		}
		buf = append(append(buf, l...), "\r\n"[rng.IntN(2):]...)
	}
	fast, careful := splitMemo{mode: modeBlocks}, splitMemo{mode: modeMarks}
	spans := make([]span, 9)
	taken := 0
	for pos := 0; pos < len(buf); {
		_, took, _, ok := fast.splitNext(buf[pos:], spans)
		_, took2, _, ok2 := careful.splitNext(buf[pos:], spans)
		if ok != ok2 || took != took2 {
			t.Fatalf("at %d: fast %v %d, careful %v %d", pos, ok, took, ok2, took2)
		}
		if !ok {
			fast.forget()
			careful.forget()
			took = bytes.IndexByte(buf[pos:], '\n') + 1
			if took == 0 {
				break
			}
		}
		// The commas from the first quote on are not looked at (plain):
		// splitRowAVX2 does not keep them.
		lo, hi := bitsBelow(uint(fast.plain))
		if fast.sameFields != careful.sameFields || fast.differ != careful.differ || fast.plain != careful.plain ||
			fast.commas[0]&lo != careful.commas[0]&lo || fast.commas[1]&hi != careful.commas[1]&hi ||
			!bytes.Equal(fast.prev[:fast.plain], careful.prev[:fast.plain]) {
			t.Fatalf("at %d %q: the memos differ:\nfast    %d %064b %d %x\ncareful %d %064b %d %x", pos, buf[pos:pos+took],
				fast.sameFields, fast.differ, fast.plain, fast.commas, careful.sameFields, careful.differ, careful.plain, careful.commas)
		}
		if ok {
			taken++
		}
		pos += took
	}
	if taken < 4500 {
		t.Fatalf("only %d rows taken", taken)
	}
}

// TestSplitRowQuoted checks that splitRowAVX2 itself takes rows with
// quoted fields, not only splitMarks after it: the fields as splitLine's,
// and the rows it must leave to splitMarks left.
func TestSplitRowQuoted(t *testing.T) {
	if !useBlocks {
		t.Skip("no AVX2")
	}
	pad := strings.Repeat("p", 100)
	for _, tc := range []struct {
		line string
		take bool
	}{
		{`a,"b,c",d`, true},
		{`"a,b",c`, true},
		{`a,"b,c"`, true},
		{`a,"",b`, true},
		{`a,"` + pad + `,x",b`, true},
		{`a,"x` + pad + pad + `",b`, true},
		{`a,"b,c","d,e",f`, true},
		{`a,"b ""c"" d",e`, false}, // doubled quotes: unescaped by splitMarks
		{`a,b"c,d`, false},
		{`a,"b"c,d`, false},
		{`a,"b` + "\r" + `",c`, true},
		{`a,"bc`, false},
	} {
		for _, end := range []string{"\n", "\r\n"} {
			for lead := range 40 {
				line := strings.Repeat("x", lead) + "," + tc.line
				buf := []byte(line + end + pad + pad)
				spans := make([]span, maxFields)
				var m splitMemo
				gotEnd, nf, ok := splitRowAVX2(buf, spans, &m)
				if ok != tc.take {
					t.Fatalf("%q: taken %v", line+end, ok)
				}
				if !ok {
					continue
				}
				want, _, err := splitLine([]byte(line), nil, nil, maxFields)
				if err != nil || gotEnd != len(line)+len(end)-1 || nf != len(want) {
					t.Fatalf("%q: end %d, %d fields; splitLine %d fields, %v", line+end, gotEnd, nf, len(want), err)
				}
				for i, s := range spans[:nf] {
					if g := buf[s.start:s.end]; !bytes.Equal(g, want[i]) {
						t.Fatalf("%q field %d: %q, splitLine %q", line+end, i, g, want[i])
					}
				}
			}
		}
	}
}

// bitsBelow returns the 128-bit mask of the bits below n (n <= 128), low
// word first.
func bitsBelow(n uint) (lo, hi uint64) {
	if n >= 64 {
		return ^uint64(0), 1<<(n-64) - 1
	}
	return 1<<n - 1, 0
}
