package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/logscan/logscan/heuristics"
	"github.com/logscan/logscan/parser"
)

// dangerous are the characters no output may carry raw: C0 and C1
// controls (a terminal or a viewer acts on them) and the bidi controls
// that reorder what a reader sees (Trojan Source).
func dangerous(r rune) bool {
	switch {
	case r < 0x20 && r != '\n' && r != '\r' && r != '\t', r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x061c:
		return true
	}
	return false
}

func firstDangerous(s string) (rune, int) {
	for i, r := range s {
		if dangerous(r) {
			return r, i
		}
	}
	return 0, -1
}

// TestOutputEscapesControlsAndBidi: a relay session whose EHLO name,
// sender and recipients carry ESC, C1 controls and every bidi control
// reaches the findings; text, JSON and CSV show them escaped, the JSON
// stays valid and decodes to the original text.
func TestOutputEscapesControlsAndBidi(t *testing.T) {
	dir := t.TempDir()
	evil := "a\x1b[31m\u0085\u009b\u202eb\u200e\u200f\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u061cz"
	conn := `EX01\Anonymous Relay EX01`
	row := func(seq int, ev, data, ctx string) string {
		return hrow(seq, conn, "08DD000000000001", seq, "10.0.0.1:25", "198.51.100.7:4000", ev, data, ctx)
	}
	log := hostileFields + row(0, "+", "", "") + row(1, "*", "SMTPSubmit SMTPAcceptAnyRecipient", "Set Session Permissions") +
		row(2, ">", "220 EX01.contoso.com ready", "") + row(3, "<", "EHLO "+evil, "") + row(4, ">", "250 EX01 Hello", "") +
		row(5, "<", "MAIL FROM:<"+evil+"@evil.example>", "") + row(6, "<", "RCPT TO:<x@"+evil+".example>", "") +
		row(7, ">", "250 2.1.0 Sender OK", "") + row(8, ">", "250 2.1.5 Recipient OK", "") + row(9, "-", "", "Local")
	os.WriteFile(filepath.Join(dir, "RECV2026110210-1.LOG"), []byte(log), 0o644)
	for _, format := range []string{"text", "json", "csv"} {
		code, out, errOut := runCLI(t, "scan", "--format", format, dir)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		if !strings.Contains(out, "evil.example") {
			t.Fatalf("%s: the hostile sender is not in the output:\n%s", format, out)
		}
		if r, i := firstDangerous(out); i >= 0 {
			t.Errorf("%s output carries a raw %U at byte %d: %q", format, r, i, out[max(0, i-40):min(len(out), i+40)])
		}
		if format == "json" {
			var rep jsonReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("JSON invalid: %v", err)
			}
			if !strings.Contains(out, `\u202e`) {
				t.Errorf("JSON does not carry U+202E as \\u202e")
			}
			found := false
			for _, f := range rep.Findings {
				for _, fact := range f.Facts {
					for _, v := range fact.Values {
						found = found || strings.Contains(v, evil)
					}
				}
			}
			if !found {
				t.Errorf("JSON values do not decode to the logged text")
			}
		}
	}
}

func TestSafeCoversBidiAndC1(t *testing.T) {
	for _, r := range []rune{0x1b, 0x7f, 0x85, 0x9b, 0x200e, 0x200f, 0x202a, 0x202e, 0x2066, 0x2069, 0x061c} {
		s := "x" + string(r) + "y"
		if got := safe(s); strings.ContainsRune(got, r) || !utf8.ValidString(got) {
			t.Errorf("safe(%q) = %q", s, got)
		}
		if got := csvCell(s); strings.ContainsRune(got, r) {
			t.Errorf("csvCell(%q) = %q", s, got)
		}
		var b bytes.Buffer
		jsonEncode(&b, map[string]string{"v": s})
		if strings.ContainsRune(b.String(), r) || !json.Valid(b.Bytes()) {
			t.Errorf("JSON of %q = %s", s, b.String())
		}
		var back map[string]string
		json.Unmarshal(b.Bytes(), &back)
		if back["v"] != s {
			t.Errorf("JSON of %q decodes to %q", s, back["v"])
		}
	}
}

// TestJSONEncodeKeepsText: text without a dangerous rune is written as
// encoding/json writes it, non-ASCII letters raw, whether or not a
// dangerous rune elsewhere makes jsonEncode rewrite the rest.
func TestJSONEncodeKeepsText(t *testing.T) {
	for _, s := range []string{"plain ascii", "caf\u00e9 \u65e5\u672c \U0001F600", "\u00e9 then DEL \x7f", "DEL \x7f then \u00e9 and \u202e", "~\u0080\u00a0"} {
		var got, want bytes.Buffer
		jsonEncode(&got, map[string]string{"v": s})
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]string{"v": s})
		// What encoding/json writes, with each dangerous rune escaped.
		w := want.String()
		for _, r := range s {
			if r >= 0x20 && dangerousRune(r) {
				w = strings.ReplaceAll(w, string(r), fmt.Sprintf(`\u%04x`, r))
			}
		}
		if got.String() != w {
			t.Errorf("jsonEncode(%q) = %s, want %s", s, got.String(), w)
		}
	}
}

// TestIndentJSONAsEncodingJSON: indentJSON indents what json.Marshal
// writes as json.Indent does: empty and nested objects and arrays,
// escaped quotes and backslashes, HTML and non-ASCII text, numbers, and
// random nests of them.
func TestIndentJSONAsEncodingJSON(t *testing.T) {
	values := []any{
		nil, 1, -2.5e-7, "", `a "quoted" \ back\slash\`, `\`, `"`, "<b>&amp;</b> \u2028 caf\u00e9 \x7f",
		[]any{}, map[string]any{}, []any{[]any{}, map[string]any{}, []any{[]any{}}},
		map[string]any{"a": []any{1, "x", nil, true, false}, "b": map[string]any{"c": map[string]any{}}, `k"\`: "v,:[]{}"},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var random func(depth int) any
	random = func(depth int) any {
		switch n := rng.IntN(6); {
		case depth > 4 || n == 0:
			return []any{"s\"", `\\`, ",", ":", "{", "]", 3, 0.5, true, nil}[rng.IntN(10)]
		case n < 3:
			l := make([]any, rng.IntN(4))
			for i := range l {
				l[i] = random(depth + 1)
			}
			return l
		default:
			m := map[string]any{}
			for i := range rng.IntN(4) {
				m[fmt.Sprintf("k%d\"%d", i, rng.IntN(3))] = random(depth + 1)
			}
			return m
		}
	}
	for range 300 {
		values = append(values, random(0))
	}
	for _, v := range values {
		compact, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		json.Indent(&want, compact, "", "  ")
		if got := indentJSON(nil, compact); string(got) != want.String() {
			t.Fatalf("indentJSON(%s) =\n%s\nwant\n%s", compact, got, want.String())
		}
	}
}

// TestLowerBoundsRendered: a count that reached a cap reads "at least" in
// text and CSV, and JSON names it in lower_bounds.
func TestLowerBoundsRendered(t *testing.T) {
	f := heuristics.Finding{ID: "x-1", Detector: "hidden-snat", Severity: heuristics.SeverityHigh, Title: "t",
		Counts: map[string]int64{"distinct_ehlo_names": 65536, "sessions": 70000}, LowerBounds: []string{"distinct_ehlo_names"},
		Facts: []heuristics.Fact{{Name: "EHLO names, by sessions", Values: []string{"a (2)"}, More: 65535, MoreAtLeast: true}}}
	rep := &scanReport{Result: &parser.ScanResult{}, Analysis: &heuristics.Report{Findings: []heuristics.Finding{f}}}
	var text, csvOut, js bytes.Buffer
	renderText(&text, rep, textOptions{MaxProblems: 5})
	renderCSV(&csvOut, rep)
	renderJSON(&js, rep)
	for name, want := range map[string][]string{
		text.String():   {"distinct ehlo names at least 65,536", "sessions 70,000", "(and at least 65,535 more)"},
		csvOut.String(): {"distinct_ehlo_names=at least 65536", "sessions=70000"},
		js.String():     {`"lower_bounds": [`, `"more_is_lower_bound": true`},
	} {
		for _, w := range want {
			if !strings.Contains(name, w) {
				t.Errorf("output lacks %q:\n%s", w, name)
			}
		}
	}
}

// TestNothingAnalysedExits2: when nothing was analysed the command says
// what was not read, in one line on stderr, exits 2, and prints no report.
func TestNothingAnalysedExits2(t *testing.T) {
	rejected := t.TempDir()
	log := hostileFields
	for i := range 5 {
		log += fmt.Sprintf("2026-11-02T10:00:0%d.000Z,EX01\\Default,1,x,y\r\n", i) // every row has 5 fields of 9
	}
	os.WriteFile(filepath.Join(rejected, "RECV2026110210-1.LOG"), []byte(log), 0o644)
	emptyDS := filepath.Join(t.TempDir(), "ds")
	empty := t.TempDir()
	missing := filepath.Join(empty, "D-logs")
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"every row rejected", []string{"scan", rejected}, "no row could be analysed: all 5 rows"},
		{"every row rejected, json", []string{"scan", "--format", "json", rejected}, "no row could be analysed: all 5 rows"},
		{"missing path", []string{"scan", missing}, missing + ": no such file or folder"},
		{"missing path among others", []string{"scan", missing, empty}, missing + ": no such file or folder"},
		{"empty dataset", []string{"scan", emptyDS}, "holds no rows"},
	}
	// An empty dataset: what a first ingest killed before its commit, or
	// one over logs with no rows, leaves.
	os.MkdirAll(emptyDS, 0o755)
	if code, out, errOut := runCLI(t, "ingest", "--out", emptyDS, empty); code != 2 {
		t.Logf("ingest of an empty folder: exit %d\n%s%s", code, out, errOut)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q lacks %q", errOut, tt.want)
			}
			if strings.Contains(out, "Findings:") || strings.Contains(out, `"findings"`) || strings.Contains(errOut, "protocol logging may be off") {
				t.Errorf("a report or a misleading hint was printed:\nstdout %q\nstderr %q", out, errOut)
			}
		})
	}
}

// TestSessionIDWithDifferentEndpointsSplit: five clients logged under one
// session-id (damaged or merged logs) are five sessions, and the split is
// counted as a warning with file:line.
func TestSessionIDWithDifferentEndpointsSplit(t *testing.T) {
	dir := t.TempDir()
	conn := `EX01\Default Frontend EX01`
	log := hostileFields
	// Interleaved: each step of the conversation for the five clients in turn.
	steps := [][3]string{{"+", "", ""}, {">", "220 EX01.contoso.com ready", ""}, {"<", "EHLO c%d.example", ""},
		{">", "250 EX01 Hello", ""}, {"<", "QUIT", ""}, {">", "221 2.0.0 Bye", ""}, {"-", "", "Local"}}
	seq := 0
	for i, st := range steps {
		for c := 1; c <= 5; c++ {
			data := st[1]
			if strings.Contains(data, "%d") {
				data = fmt.Sprintf(data, c)
			}
			log += hrow(i, conn, "08DD0000000000AA", seq, "10.0.0.1:25", fmt.Sprintf("203.0.113.%d:40%02d", c, c), st[0], data, st[2])
		}
		seq++
	}
	file := filepath.Join(dir, "RECV2026110210-1.LOG")
	os.WriteFile(file, []byte(log), 0o644)
	rep, text := scanJSON(t, dir)
	sc := rep.SessionCounts
	if sc.Total != 5 || sc.Complete != 5 {
		t.Errorf("%d sessions (%d complete), want 5 complete: one per client", sc.Total, sc.Complete)
	}
	if sc.EndpointConflicts != 4 || len(sc.EndpointConflictsAt) != 4 || !strings.HasPrefix(sc.EndpointConflictsAt[0], file+":7 ") {
		t.Errorf("endpoint conflicts %d at %q; want 4, the first at %s:7", sc.EndpointConflicts, sc.EndpointConflictsAt, file)
	}
	if !strings.Contains(text, "4 sessions split off: their session-id was in use by a session from another remote endpoint") {
		t.Errorf("text output does not report the split:\n%s", text)
	}
	for c := 1; c <= 5; c++ {
		if !strings.Contains(text, fmt.Sprintf("203.0.113.%d (1)", c)) {
			t.Errorf("client %d not among the connector's remote clients", c)
		}
	}
}

// TestSameFolderTwiceCountsOnce: the sample given twice, or next to a zip
// of itself, gives the report of the sample once (and says what it
// skipped on stderr).
func TestSameFolderTwiceCountsOnce(t *testing.T) {
	sample := filepath.Join("..", "..", "samples", "contoso")
	_, once, _ := runCLI(t, "scan", "--format", "json", sample)
	code, twice, errOut := runCLI(t, "scan", "--format", "json", sample, sample+string(filepath.Separator))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var a, b jsonReport
	json.Unmarshal([]byte(once), &a)
	json.Unmarshal([]byte(twice), &b)
	if a.RowsRead == 0 || b.RowsRead != a.RowsRead || b.Sessions != a.Sessions || len(b.Findings) != len(a.Findings) {
		t.Errorf("twice: %d rows, %d sessions, %d findings; once: %d, %d, %d", b.RowsRead, b.Sessions, len(b.Findings), a.RowsRead, a.Sessions, len(a.Findings))
	}
	for i := range a.Findings {
		if i < len(b.Findings) && !reflect.DeepEqual(a.Findings[i].Counts, b.Findings[i].Counts) {
			t.Errorf("finding %s counts %v, once %v", a.Findings[i].ID, b.Findings[i].Counts, a.Findings[i].Counts)
		}
	}
	if !strings.Contains(errOut, "copies of files read") {
		t.Errorf("stderr does not say what was skipped: %q", errOut)
	}
}
