package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The hostile corpus: logs an attacker wrote into (EHLO names, senders) and
// folders copied in a hurry. hostileCases writes each case; the small ones
// are committed under testdata/hostile (TestHostileCorpusCurrent keeps them
// in step with this code: go test ./cmd/logscan -run HostileCorpus -update),
// the big ones (10 MB field, 100,000 RCPT TO, a million open sessions) are
// written at test time.

const hostileFields = "#Software: Microsoft Exchange Server\r\n#Version: 15.2.1544.4\r\n#Log-type: SMTP Receive Protocol Log\r\n#Date: 2026-11-02T10:00:00.000Z\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n"

// hrow is one receive-log row; t is seconds after 10:00.
func hrow(t int, conn, sid string, seq int, local, remote, ev, data, ctx string) string {
	return fmt.Sprintf("2026-11-02T10:%02d:%02d.%03dZ,%s,%s,%d,%s,%s,%s,%s,%s\r\n", t/60%60, t%60, seq%1000, conn, sid, seq, local, remote, ev, csvField(data), csvField(ctx))
}

// csvField quotes a field the way Exchange does.
func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\r\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// smtpSession writes a whole anonymous session: banner, EHLO, one message
// to rcpts, QUIT. perms decides whether it may relay.
func smtpSession(conn, sid, local, remote, ehlo, from, perms string, rcpts ...string) string {
	var b strings.Builder
	seq := 0
	add := func(ev, data, ctx string) {
		b.WriteString(hrow(seq/10, conn, sid, seq, local, remote, ev, data, ctx))
		seq++
	}
	add("+", "", "")
	add("*", perms, "Set Session Permissions")
	add(">", "220 EX01.contoso.com Microsoft ESMTP MAIL Service ready", "")
	add("<", "EHLO "+ehlo, "")
	add(">", "250-EX01.contoso.com Hello SIZE PIPELINING", "")
	add("<", "MAIL FROM:<"+from+">", "")
	for _, r := range rcpts {
		add("<", "RCPT TO:<"+r+">", "")
	}
	add(">", "250 2.1.0 Sender OK", "")
	for range rcpts {
		add(">", "250 2.1.5 Recipient OK", "")
	}
	add("<", "BDAT 100 LAST", "")
	add(">", "250 2.6.0 Queued mail for delivery", "")
	add("<", "QUIT", "")
	add(">", "221 2.0.0 Service closing transmission channel", "")
	add("-", "", "Local")
	return b.String()
}

const (
	anon  = "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders"
	relay = anon + " SMTPAcceptAnyRecipient"
	fe    = `EX01\Default Frontend EX01`
)

// hostileCases are the committed cases: file name -> content.
func hostileCases() map[string]string {
	c := map[string]string{}
	// Terminal escapes and bidi overrides in EHLO and MAIL FROM.
	c["ansi-escapes.log"] = hostileFields +
		smtpSession(fe, "08DD000000000001", "10.0.0.1:25", "203.0.113.5:4000", "\x1b]0;owned\x07\x1b[2J\u202eevil", "\x1b[31mceo@contoso.com", anon, "bob@contoso.com")
	// Invalid UTF-8 in EHLO and MAIL FROM.
	c["invalid-utf8.log"] = hostileFields +
		smtpSession(fe, "08DD000000000002", "10.0.0.1:25", "203.0.113.6:4000", "bad\xff\xfename", "x\xc3@example.org", anon, "bob@contoso.com")
	// The same session-id on two servers: two sessions.
	c["sessionid-reused.log"] = hostileFields +
		smtpSession(fe, "08DD000000000003", "10.0.0.1:25", "203.0.113.7:4000", "a.example", "a@a.example", anon, "bob@contoso.com") +
		smtpSession(`EX02\Default Frontend EX02`, "08DD000000000003", "10.0.0.2:25", "203.0.113.8:4000", "b.example", "b@b.example", anon, "bob@contoso.com")
	// Sequence numbers out of order and one row duplicated.
	rows := strings.SplitAfter(smtpSession(fe, "08DD000000000004", "10.0.0.1:25", "203.0.113.9:4000", "c.example", "c@c.example", anon, "bob@contoso.com"), "\r\n")
	rows = rows[:len(rows)-1]
	shuffled := []string{rows[3], rows[0], rows[2], rows[1], rows[5], rows[4], rows[4]}
	shuffled = append(shuffled, rows[6:]...)
	c["sequence-disorder.log"] = hostileFields + strings.Join(shuffled, "")
	// Timestamps out of order (kept) and malformed (rejected).
	ts := strings.SplitAfter(smtpSession(fe, "08DD000000000005", "10.0.0.1:25", "203.0.113.10:4000", "d.example", "d@d.example", anon, "bob@contoso.com"), "\r\n")
	ts[2] = strings.Replace(ts[2], "2026-11-02T10:00:00.002Z", "2026-11-02T09:59:58.002Z", 1) // earlier than the row before
	ts[4] = strings.Replace(ts[4], "2026-11-02T10:00:00.004Z", "2026-13-45T99:00:00.004Z", 1) // no such date
	ts[6] = strings.Replace(ts[6], "2026-11-02T10:00:00.006Z", "yesterday-at-tea-time", 1)    // not a date
	c["timestamps.log"] = hostileFields + strings.Join(ts, "")
	// IPv6 endpoints, bracketed and bare, and garbage endpoints.
	c["endpoints.log"] = hostileFields +
		smtpSession(fe, "08DD000000000006", "[2001:db8::1]:25", "[2001:db8:1::7]:4000", "v6.example", "v6@v6.example", anon, "bob@contoso.com") +
		smtpSession(fe, "08DD000000000007", "2001:db8::1:25", "2001:db8:1::8:4001", "v6b.example", "v6@v6.example", anon, "bob@contoso.com") +
		smtpSession(fe, "08DD000000000008", "10.0.0.1:25", "not-an-address:http", "junk.example", "j@junk.example", anon, "bob@contoso.com")
	return c
}

// hostileBig writes the big cases into dir.
func hostileBig(t *testing.T, dir string) {
	t.Helper()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A 10 MB EHLO name.
	huge := strings.Repeat("A", 10<<20)
	write("field-10mb.log", []byte(hostileFields+smtpSession(fe, "08DD000000000010", "10.0.0.1:25", "203.0.113.20:4000", huge, "h@h.example", anon, "bob@contoso.com")))
	// 100,000 RCPT TO from a public host holding the relay right.
	rcpts := make([]string, 100_000)
	for i := range rcpts {
		rcpts[i] = fmt.Sprintf("victim%d@target%d.example", i, i%5000)
	}
	write("rcpt-100k.log", []byte(hostileFields+smtpSession(`EX01\Relay EX01`, "08DD000000000011", "10.0.0.1:25", "198.51.100.50:4000", "spammer", "s@spam.example", relay, rcpts...)))
	// A million sessions that connect and never disconnect.
	var b bytes.Buffer
	b.Grow(100 << 20)
	b.WriteString(hostileFields)
	for i := range 1_000_000 {
		fmt.Fprintf(&b, "2026-11-02T10:%02d:%02d.000Z,%s,%016X,0,10.0.0.1:25,203.0.113.%d:%d,+,,\r\n", i/60000%60, i/1000%60, fe, i+1, i%250+1, 1024+i%60000)
	}
	write("open-1m.log", b.Bytes())
}

// TestHostileCorpusCurrent fails when the committed corpus and hostileCases
// disagree; -update rewrites it.
func TestHostileCorpusCurrent(t *testing.T) {
	dir := filepath.Join("testdata", "hostile")
	for name, want := range hostileCases() {
		path := filepath.Join(dir, name)
		if *update {
			os.MkdirAll(dir, 0o755)
			os.WriteFile(path, []byte(want), 0o644)
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s differs from hostileCases (go test ./cmd/logscan -run HostileCorpus -update rewrites it)", path)
		}
	}
}

// scanJSON runs `logscan scan --format json` on paths.
func scanJSON(t *testing.T, paths ...string) (jsonReport, string) {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"scan", "--format", "json"}, paths...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if rep.RowsRead != rep.RowsEmitted+rep.RowsRejected {
		t.Errorf("rows read %d != kept %d + rejected %d", rep.RowsRead, rep.RowsEmitted, rep.RowsRejected)
	}
	_, text, _ := runCLI(t, append([]string{"scan", "--max-problems", "100"}, paths...)...)
	if strings.ContainsAny(text, "\x1b\x07\u202e") {
		t.Errorf("raw control characters in the text output")
	}
	return rep, text
}

// TestHostileInput asserts, for each case, the exact counts (rows read =
// kept + rejected, sessions complete and incomplete) and the warnings with
// file and line, and that no control character reaches the terminal.
func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("slow tier: make test runs it, make test-short does not")
	}
	big := t.TempDir()
	hostileBig(t, big)
	dir := filepath.Join("testdata", "hostile")
	type counts struct{ read, kept, rejected, warnings, sessions, complete int64 }
	tests := []struct {
		file  string
		want  counts
		text  []string // in the text output
		check func(t *testing.T, rep jsonReport)
	}{
		{file: filepath.Join(dir, "ansi-escapes.log"), want: counts{14, 14, 0, 0, 1, 1}},
		{file: filepath.Join(dir, "invalid-utf8.log"), want: counts{14, 14, 0, 2, 1, 1},
			text: []string{"2 rows kept with a warning: invalid UTF-8 replaced by U+FFFD", "invalid-utf8.log:9\n", "invalid-utf8.log:11\n"}},
		{file: filepath.Join(dir, "sessionid-reused.log"), want: counts{28, 28, 0, 0, 2, 2},
			check: func(t *testing.T, rep jsonReport) {
				if len(rep.Servers) != 2 {
					t.Errorf("servers %+v, want EX01 and EX02 each with its own session", rep.Servers)
				}
			}},
		{file: filepath.Join(dir, "sequence-disorder.log"), want: counts{15, 15, 0, 0, 1, 1}},
		{file: filepath.Join(dir, "timestamps.log"), want: counts{14, 12, 2, 0, 1, 0},
			text: []string{"2 rows rejected: bad date-time", `timestamps.log:10: "2026-13-45T99:00:00.004Z"`, `timestamps.log:12: "yesterday-at-tea-time"`}},
		{file: filepath.Join(dir, "endpoints.log"), want: counts{42, 42, 0, 14, 3, 3}, // one warning per row with the bad endpoint
			text: []string{"endpoints.log:34:", `"not-an-address:http"`, "2001:db8:1::7 (1)", "2001:db8:1::8 (1)"}},
		{file: filepath.Join(big, "field-10mb.log"), want: counts{14, 14, 0, 0, 1, 1},
			text: []string{"1 rows with a field over 4,096 bytes: analysed on its first 4,096 bytes; first at " + filepath.Join(big, "field-10mb.log") + ":9"}},
		{file: filepath.Join(big, "rcpt-100k.log"), want: counts{200_012, 200_012, 0, 0, 1, 1},
			check: func(t *testing.T, rep jsonReport) {
				if len(rep.Findings) != 1 || rep.Findings[0].Counts["recipients"] != 100_000 || rep.Findings[0].Counts["recipient_domains"] != 5000 {
					t.Errorf("findings %+v", rep.Findings)
				}
			}},
		{file: filepath.Join(big, "open-1m.log"), want: counts{1_000_000, 1_000_000, 0, 0, 1_000_000, 0},
			text: []string{"950,000 sessions closed early, incomplete: more than 50,000 were open at once"},
			check: func(t *testing.T, rep jsonReport) {
				// Two workers share 100,000 open sessions (one reads the
				// file): at 50,001 open a quarter of the others closed,
				// every 12,500 sessions after that: 76 evictions of 12,500.
				if rep.SessionCounts.Evicted != 950_000 || len(rep.SessionCounts.EvictedAt) != 5 || rep.SessionCounts.MaxOpenPerWorker != 50_000 {
					t.Errorf("evicted %d at %v", rep.SessionCounts.Evicted, rep.SessionCounts.EvictedAt)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			// Two workers: the open-session budget is shared by the workers.
			rep, text := scanJSON(t, "--workers", "2", tt.file)
			sc := rep.SessionCounts
			got := counts{rep.RowsRead, rep.RowsEmitted, rep.RowsRejected, rep.Warnings, sc.Total, sc.Complete}
			if got != tt.want || sc.Incomplete != sc.Total-sc.Complete {
				t.Errorf("counts %+v (incomplete %d), want %+v", got, sc.Incomplete, tt.want)
			}
			for _, s := range tt.text {
				if !strings.Contains(text, s) {
					t.Errorf("text output lacks %q", s)
				}
			}
			if tt.check != nil {
				tt.check(t, rep)
			}
		})
	}
}

// TestParserDamageCorpus runs the whole command over the parser's damage
// corpus: every kind of damage at once, nothing lost, nothing crashes.
func TestParserDamageCorpus(t *testing.T) {
	rep, text := scanJSON(t, filepath.Join("..", "..", "parser", "testdata", "damage"))
	if rep.RowsRejected == 0 || rep.RowsEmitted == 0 || rep.Files["parsed"] == 0 {
		t.Errorf("read %d = %d + %d in %v", rep.RowsRead, rep.RowsEmitted, rep.RowsRejected, rep.Files)
	}
	if !strings.Contains(text, "Problems") {
		t.Error("no problems listed for the damage corpus")
	}
}

// TestSymlinkLoops: a link to a folder above, a link to itself and a pipe
// are reported and skipped; the logs beside them are read; nothing hangs.
func TestSymlinkLoops(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "EX01", "SmtpReceive")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "RECV2026110210-1.LOG"), []byte(hostileCases()["ansi-escapes.log"]), 0o644)
	if err := os.Symlink(dir, filepath.Join(sub, "up")); err != nil {
		t.Skipf("no symbolic links here: %v", err) // Windows without developer mode
	}
	os.Symlink(filepath.Join(sub, "self"), filepath.Join(sub, "self"))
	os.Symlink(filepath.Join(sub, "RECV2026110210-1.LOG"), filepath.Join(sub, "link.LOG"))
	code, out, errOut := runCLI(t, "scan", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"skipped " + filepath.Join(sub, "up") + ": symbolic link to a folder, not followed",
		"could not read " + filepath.Join(sub, "self") + ": broken or looping symbolic link",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// The log and the link to it: the same content, read once (the link is
	// skipped as a copy), 14 rows.
	if !strings.Contains(out, "Files:     1 read as protocol logs, 0 empty, 2 skipped, 1 failed") || !strings.Contains(out, "Rows:      14 read = 14 kept + 0 rejected") {
		t.Errorf("output:\n%s", out)
	}
}

// TestGrowingFile: Exchange appends to the current hour's log while logscan
// reads it. How much of the growth a run sees depends on timing, so the
// test asserts what must hold whatever it sees: every row written before
// the run is kept, read = kept + rejected, at most the one row being
// written is rejected, and every session is counted once.
func TestGrowingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "RECV2026110210-1.LOG")
	var initial strings.Builder
	initial.WriteString(hostileFields)
	for i := range 200 {
		initial.WriteString(smtpSession(fe, fmt.Sprintf("%016X", i+1), "10.0.0.1:25", "203.0.113.5:4000", "a.example", "a@a.example", anon, "bob@contoso.com"))
	}
	os.WriteFile(path, []byte(initial.String()), 0o644)
	const before = 200 * 14
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		defer f.Close()
		for i := range 400 {
			s := smtpSession(fe, fmt.Sprintf("%016X", 1000+i), "10.0.0.1:25", "203.0.113.6:4000", "b.example", "b@b.example", anon, "bob@contoso.com")
			if i == 399 {
				s = s[:len(s)-30] // the writer is mid-row when the copy ends
			}
			f.WriteString(s)
		}
	}()
	rep, _ := scanJSON(t, path)
	<-done
	sc := rep.SessionCounts
	if rep.RowsEmitted < before || rep.RowsRejected > 1 || rep.RowsRead > before+400*14 {
		t.Errorf("rows read %d = %d + %d; want at least the %d written before, at most one rejected", rep.RowsRead, rep.RowsEmitted, rep.RowsRejected, before)
	}
	if sc.Total < 200 || sc.Complete+sc.Incomplete != sc.Total || sc.Incomplete > 1 {
		t.Errorf("sessions %+v", sc)
	}
	// Read again when the writer has stopped: everything, exactly.
	rep, _ = scanJSON(t, path)
	if rep.RowsRead != 600*14 || rep.RowsRejected != 1 || rep.SessionCounts.Total != 600 || rep.SessionCounts.Complete != 599 {
		t.Errorf("after growth: rows %d = %d + %d, sessions %+v", rep.RowsRead, rep.RowsEmitted, rep.RowsRejected, rep.SessionCounts)
	}
}
