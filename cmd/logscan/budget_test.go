package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logscan/logscan/heuristics"
)

// TestBudgetReported: with the memory budgets lowered, a scan of more
// distinct addresses than they keep says so in text, JSON and CSV, lists
// exact counts for the addresses it kept, counts every session, and prints
// the same thing for any number of workers.
func TestBudgetReported(t *testing.T) {
	defer heuristics.SetBudgetsForTest(300, 0)()
	dir := t.TempDir()
	sessions := map[string]int64{} // remote address -> sessions
	sid := 0
	for f := range 4 {
		var b strings.Builder
		b.WriteString(hostileFields)
		for i := range 600 {
			sid++
			n := f*600 + i
			ip := fmt.Sprintf("198.%d.%d.%d", 18+n%2, n/7%250, n%13+1) // repeats: some addresses have several sessions
			sessions[ip]++
			b.WriteString(smtpSession(fe, fmt.Sprintf("%016X", sid), "10.0.0.1:25", ip+":4000", "h"+fmt.Sprint(n%50)+".example", "a@b.example", anon, "bob@contoso.com"))
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("RECV%d.LOG", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(sessions) <= 300 {
		t.Fatalf("only %d addresses: the budget is not reached", len(sessions))
	}
	var outs [3][]string
	for i, workers := range []string{"1", "2", "4"} {
		for _, format := range []string{"json", "text", "csv"} {
			code, out, errOut := runCLI(t, "scan", "--workers", workers, "--format", format, dir)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			outs[i] = append(outs[i], out)
		}
	}
	for i := 1; i < len(outs); i++ {
		for j := range outs[0] {
			if outs[i][j] != outs[0][j] {
				t.Fatalf("output %d differs between 1 and more workers", j)
			}
		}
	}
	var rep struct {
		Connectors []struct {
			Sessions  int64 `json:"sessions"`
			TopRemote []struct {
				Addr     string `json:"addr"`
				Sessions int64  `json:"sessions"`
			} `json:"top_remote"`
			Kept  int64 `json:"remote_addresses_kept"`
			Other int64 `json:"other_remote_sessions"`
		} `json:"connectors"`
		Budgets []heuristics.Budget `json:"budgets"`
	}
	if err := json.Unmarshal([]byte(outs[0][0]), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Connectors) != 1 || len(rep.Budgets) == 0 {
		t.Fatalf("connectors %+v, budgets %+v", rep.Connectors, rep.Budgets)
	}
	c := rep.Connectors[0]
	if c.Sessions != 2400 || c.Kept == 0 || c.Kept > 300 || c.Other == 0 {
		t.Errorf("sessions %d, kept %d, other sessions %d", c.Sessions, c.Kept, c.Other)
	}
	for _, r := range c.TopRemote {
		if r.Sessions != sessions[r.Addr] {
			t.Errorf("%s: %d sessions listed, %d in the logs", r.Addr, r.Sessions, sessions[r.Addr])
		}
	}
	var place heuristics.BudgetPlace
	for _, b := range rep.Budgets {
		if strings.HasPrefix(b.Table, "summary: sessions per remote address") {
			place = b.Where[0]
		}
	}
	if place.Kept != c.Kept || place.OtherSessions != c.Other || place.Connector != fe {
		t.Errorf("budget place %+v, connector kept %d other %d", place, c.Kept, c.Other)
	}
	text, csv := outs[0][1], outs[0][2]
	for _, want := range []string{"Memory budgets reached", "sessions from more addresses counted together"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if !strings.Contains(csv, "\r\nbudget,") || !strings.Contains(csv, "Memory budget reached: summary") {
		t.Errorf("CSV has no budget row:\n%s", csv)
	}
	code, html, errOut := runCLI(t, "scan", "--format", "html", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{`<section id="budgets">`, "summary: sessions per remote address per connector, budget 300", "sessions from more addresses counted together"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

// writeManyAddresses writes n receive sessions, each from its own public
// address, into files of 100,000: complete ones (banner, EHLO, disconnect,
// lengths from 0 to 20 s) or, with open, a connect row only (sessions that
// never disconnect). Session i comes from (i+1)·2654435761 mod 2³², a
// bijection, its first octet folded into 1–200.
func writeManyAddresses(tb testing.TB, dir string, n int, open bool) int64 {
	tb.Helper()
	var size int64
	for f := 0; f*100_000 < n; f++ {
		var b strings.Builder
		b.WriteString(hostileFields)
		for i := f * 100_000; i < min(n, (f+1)*100_000); i++ {
			a := uint32(i+1) * 2654435761
			ip := fmt.Sprintf("%d.%d.%d.%d", 1+a>>24%200, a>>16&255, a>>8&255, a&255)
			t := i % 3_000_000
			row := func(dt, seq int, ev, data string) {
				ms := t + dt
				fmt.Fprintf(&b, "2026-11-02T10:%02d:%02d.%03dZ,%s,%016X,%d,10.0.0.1:25,%s:%d,%s,%s,\r\n", ms/60000%60, ms/1000%60, ms%1000, fe, i+1, seq, ip, 1024+i%60000, ev, data)
			}
			row(0, 0, "+", "")
			if !open {
				d := (i*7919)%20000 + i%13
				row(d/3, 1, ">", "220 EX01.contoso.com Microsoft ESMTP MAIL Service ready")
				row(d/2, 2, "<", fmt.Sprintf("EHLO host%d.example", i%1000))
				row(d, 3, "-", "")
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("RECV%02d.LOG", f)), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		size += int64(b.Len())
	}
	return size
}

// BenchmarkScanManyAddresses is `logscan scan --format json` of a million
// sessions that never disconnect, each from its own address: the input
// that the memory budgets bound. Peak memory is measured outside (README,
// "Speed and memory"); for where it allocates:
//
//	go test ./cmd/logscan -run '^$' -bench ScanManyAddresses -benchtime 1x -memprofile mem.out
//	go tool pprof -sample_index=alloc_space -top mem.out
//
// LOGSCAN_BENCH_COMPLETE=1 writes complete sessions instead.
func BenchmarkScanManyAddresses(b *testing.B) {
	dir := b.TempDir()
	b.SetBytes(writeManyAddresses(b, dir, 1_000_000, os.Getenv("LOGSCAN_BENCH_COMPLETE") == ""))
	for b.Loop() {
		ios, _, _, errOut := Test()
		ios.Out = io.Discard
		if code := execute([]string{"scan", "--format", "json", dir}, ios); code != 0 {
			b.Fatalf("exit %d: %s", code, errOut)
		}
	}
}

// TestSendHoursBudgetReported: past the compromised-account detector's
// budget of recipients-per-hour entries, text, JSON and CSV name it (a
// budget of no one place: one CSV row). (What the per-hour list then says
// is TestCompromiseHoursBudget's.)
func TestSendHoursBudgetReported(t *testing.T) {
	defer heuristics.SetSendHoursBudgetForTest(1)()
	dir := filepath.Join("..", "..", "samples", "contoso")
	out := map[string]string{}
	for _, format := range []string{"json", "text", "csv"} {
		code, o, errOut := runCLI(t, "scan", "--format", format, dir)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		out[format] = o
	}
	var rep struct {
		Budgets []heuristics.Budget `json:"budgets"`
	}
	if err := json.Unmarshal([]byte(out["json"]), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range rep.Budgets {
		found = found || strings.HasPrefix(b.Table, "compromised accounts: recipients per hour") && b.Limit == 1
	}
	if !found {
		t.Fatalf("JSON budgets %+v lack the hours budget", rep.Budgets)
	}
	if !strings.Contains(out["text"], "compromised accounts: recipients per hour per account, source and domain, budget 1:") {
		t.Errorf("text does not name the budget:\n%s", out["text"])
	}
	if !strings.Contains(out["csv"], "Memory budget reached: compromised accounts") || !strings.Contains(out["csv"], "limit=1") {
		t.Errorf("CSV has no row for the budget")
	}
}

// TestBudgetPlaceText: a place of a budget that counts addresses says what
// it kept; one of a budget that counts none (the relay detector's) is only
// named, not said to keep "0 addresses".
func TestBudgetPlaceText(t *testing.T) {
	got := budgetPlaceText(heuristics.BudgetPlace{Server: "EX02", Connector: `EX02\Default Frontend EX02`})
	if got != `EX02 EX02\Default Frontend EX02` {
		t.Errorf("relay place: %q", got)
	}
	got = budgetPlaceText(heuristics.BudgetPlace{Server: "EX01", Connector: "c", Kept: 0, OtherSessions: 12})
	if !strings.Contains(got, "0 addresses kept") || !strings.Contains(got, "12 sessions from more addresses") {
		t.Errorf("address place with none kept: %q", got)
	}
}
