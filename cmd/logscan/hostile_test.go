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
	ts[2] = strings.Replace(ts[2], "2026-11-02T10:00:00.002Z", "2026-11-02T09:59:58.002Z", 1)                    // earlier than the row before
	ts[4] = strings.Replace(ts[4], "2026-11-02T10:00:00.004Z", "2026-13-45T99:00:00.004Z", 1)                    // no such date
	ts[6] = strings.Replace(ts[6], "2026-11-02T10:00:00.006Z", "yesterday-at-tea-time", 1)                        // not a date
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
