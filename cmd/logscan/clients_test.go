package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/logscan/logscan/samples/gen"
)

// truthRow is what the generated files say about one client of one
// connector, read with encoding/csv and nothing of logscan's.
type truthRow struct {
	sessions, messages, queued, recipients int
	names                                  map[string]bool
	first, last                            time.Time
}

type truthSession struct {
	connector, remote, proxyIP, proxyName, ehlo string
	minSeq                                      int
	messages, queued, recipients                int
	first, last                                 time.Time
}

// receiveTruth reads every receive log under dir and counts, per
// "SERVER|connector|client", what logscan clients must report. The client
// is the remote address, or XPROXYFROM IP= on a proxied Hub session. A
// last line without its line end (a live writer's) is not a row.
func receiveTruth(t *testing.T, dir string) map[string]*truthRow {
	t.Helper()
	sessions := map[string]*truthSession{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(filepath.ToSlash(p), "/SmtpReceive/") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		server := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(p))))) // EXnn/FrontEnd/ProtocolLog/SmtpReceive/file
		for _, line := range strings.SplitAfter(string(b), "\r\n") {
			if !strings.HasSuffix(line, "\r\n") || strings.HasPrefix(line, "#") {
				continue
			}
			f, err := csv.NewReader(strings.NewReader(line)).Read()
			if err != nil || len(f) != 9 {
				t.Fatalf("%s: %q: %v", p, line, err)
			}
			at, _ := time.Parse("2006-01-02T15:04:05.000Z", f[0])
			var seq int
			fmt.Sscan(f[3], &seq)
			k := server + "|" + f[2]
			s := sessions[k]
			if s == nil {
				s = &truthSession{connector: f[1], minSeq: 1 << 30, first: at, last: at}
				sessions[k] = s
			}
			if seq < s.minSeq && f[5] != "" {
				s.minSeq, s.remote = seq, f[5][:strings.LastIndexByte(f[5], ':')]
			}
			s.first, s.last = minTime(s.first, at), maxTime(s.last, at)
			switch {
			case f[6] == "<" && strings.HasPrefix(f[7], "XPROXYFROM "):
				for _, kv := range strings.Fields(f[7]) {
					if v, ok := strings.CutPrefix(kv, "IP="); ok {
						s.proxyIP = v
					}
					if v, ok := strings.CutPrefix(kv, "DOMAIN="); ok {
						s.proxyName = v
					}
				}
			case f[6] == "<" && strings.HasPrefix(f[7], "EHLO "):
				s.ehlo = strings.TrimPrefix(f[7], "EHLO ")
			case f[6] == "<" && strings.HasPrefix(f[7], "MAIL FROM:"):
				s.messages++
			case f[6] == "<" && strings.HasPrefix(f[7], "RCPT TO:"):
				s.recipients++
			case f[6] == ">" && strings.Contains(f[7], "Queued mail for delivery"):
				s.queued++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*truthRow{}
	for k, s := range sessions {
		server, _, _ := strings.Cut(k, "|")
		client, name := s.remote, s.ehlo
		if s.proxyIP != "" {
			client, name = s.proxyIP, s.proxyName
		}
		key := server + "|" + s.connector + "|" + client
		r := out[key]
		if r == nil {
			r = &truthRow{names: map[string]bool{}, first: s.first, last: s.last}
			out[key] = r
		}
		r.sessions++
		r.messages += s.messages
		r.queued += s.queued
		r.recipients += s.recipients
		r.names[name] = true
		r.first, r.last = minTime(r.first, s.first), maxTime(r.last, s.last)
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

type jsonClientsOut struct {
	Clients []struct {
		Server     string    `json:"server"`
		Connector  string    `json:"connector"`
		Client     string    `json:"client"`
		Other      bool      `json:"other_clients"`
		Sessions   int       `json:"sessions"`
		Messages   int       `json:"messages"`
		Queued     int       `json:"messages_queued"`
		Recipients int       `json:"recipients"`
		Names      jsonList  `json:"names"`
		First      time.Time `json:"first_seen"`
		Last       time.Time `json:"last_seen"`
		Relay      int       `json:"relay_granted_sessions"`
	} `json:"clients"`
	Sessions int64 `json:"sessions"`
}

func clientsJSON(t *testing.T, args ...string) jsonClientsOut {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"clients", "--format", "json"}, args...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got jsonClientsOut
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestClientsGeneratedTruth: on a generated organisation, every receive
// connector's clients are exactly the hosts the files show, with their
// sessions, messages, recipients, names and times; the relay connector
// asked for by name lists exactly its two hosts.
func TestClientsGeneratedTruth(t *testing.T) {
	dir := t.TempDir()
	genOrg(t, dir, gen.Config{Hours: 24, Scale: 0.3, Seed: 11, LiveTail: true})
	truth := receiveTruth(t, dir)
	check := func(t *testing.T, got jsonClientsOut, want map[string]*truthRow) {
		t.Helper()
		seen := map[string]bool{}
		for _, c := range got.Clients {
			k := c.Server + "|" + c.Connector + "|" + c.Client
			w := want[k]
			if w == nil || c.Other {
				t.Errorf("%s: not in the files", k)
				continue
			}
			seen[k] = true
			names := slices.Sorted(maps.Keys(w.names))
			more := len(names) > 8
			names = names[:min(len(names), 8)]
			if c.Sessions != w.sessions || c.Messages != w.messages || c.Queued != w.queued || c.Recipients != w.recipients ||
				!slices.Equal(c.Names.Values, names) || c.Names.More != more || !c.First.Equal(w.first) || !c.Last.Equal(w.last) {
				t.Errorf("%s:\n got %d sessions, %d messages (%d queued), %d recipients, names %v (more %v), %s to %s\nwant %d, %d (%d), %d, %v (more %v), %s to %s",
					k, c.Sessions, c.Messages, c.Queued, c.Recipients, c.Names.Values, c.Names.More, c.First, c.Last,
					w.sessions, w.messages, w.queued, w.recipients, names, more, w.first, w.last)
			}
		}
		for k := range want {
			if !seen[k] {
				t.Errorf("%s: in the files, not listed", k)
			}
		}
	}

	t.Run("every receive connector", func(t *testing.T) {
		got := clientsJSON(t, "--log-type", "receive", "--workers", "2", dir)
		check(t, got, truth)
		if len(got.Clients) < 100 {
			t.Errorf("only %d clients: the generated organisation is too small to prove much", len(got.Clients))
		}
	})

	t.Run("the relay connector", func(t *testing.T) {
		relay := map[string]*truthRow{}
		for k, r := range truth {
			if strings.HasPrefix(k, `EX02|EX02\Anonymous Relay EX02|`) {
				relay[k] = r
			}
		}
		if hosts := slices.Sorted(maps.Keys(relay)); !slices.Equal(hosts, []string{`EX02|EX02\Anonymous Relay EX02|10.30.5.21`, `EX02|EX02\Anonymous Relay EX02|198.51.100.77`}) {
			t.Fatalf("the generator's relay connector has hosts %q", hosts)
		}
		got := clientsJSON(t, "--connector", `EX02\Anonymous Relay EX02`, dir)
		check(t, got, relay)
		for _, c := range got.Clients {
			if c.Relay != c.Sessions {
				t.Errorf("%s: relay granted in %d of %d sessions", c.Client, c.Relay, c.Sessions)
			}
		}
		code, out, _ := runCLI(t, "clients", "--connector", `ex02\anonymous relay ex02`, dir)
		for _, want := range []string{`EX02\Anonymous Relay EX02 (receive, EX02): 2 clients`, "\n  198.51.100.77: ", "\n  10.30.5.21: ",
			"relay granted: ", "EHLO SCAN01", "EHLO User"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("text output lacks %q:\n%s", want, out)
			}
		}
	})
}

// TestClientsDeterministic: the same bytes whatever the workers, the order
// of the paths, and with a budget small enough to fold clients together.
func TestClientsDeterministic(t *testing.T) {
	root := filepath.Join("..", "..", "samples", "contoso")
	split := []string{filepath.Join(root, "EX03"), filepath.Join(root, "EX01"), filepath.Join(root, "EX02")}
	formats := []string{"text", "json", "csv"}
	if testing.Short() {
		formats = formats[1:2] // JSON holds every client; the quick tier checks it alone
	}
	for _, format := range formats {
		for _, extra := range [][]string{nil, {"--max-clients", "25"}} {
			var want string
			for i, run := range [][]string{{"--workers", "1", root}, {"--workers", "2"}, {"--workers", "8", root}} {
				args := append(append([]string{"clients", "--format", format}, extra...), run...)
				if i == 1 {
					args = append(args, split...)
				}
				code, out, errOut := runCLI(t, args...)
				if code != exitOK {
					t.Fatalf("%v: exit %d: %s", args, code, errOut)
				}
				if i == 0 {
					want = out
				} else if out != want {
					t.Fatalf("%s %v: output differs from one worker reading the folder", format, run)
				}
			}
			if extra != nil && format == "json" && !strings.Contains(want, `"hit": true`) {
				t.Error("--max-clients 25 did not reach the budget")
			}
		}
	}
}

// hostileClients is a receive log whose clients wrote formulas, escape
// sequences and bidi overrides into everything they control.
func hostileClients() string {
	names := []string{"=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", " =lead", "\tTAB",
		"\x1b]0;owned\x07\x1b[2J", "\u202eevil.example", "ok.example"}
	var b strings.Builder
	b.WriteString(hostileFields)
	for i, n := range names {
		b.WriteString(smtpSession(`EX01\=Relay EX01`, fmt.Sprintf("08DD0000000000%02X", i+1), "10.0.0.1:25", fmt.Sprintf("203.0.113.%d:4000", i+1),
			n, "=a@"+strings.TrimSpace(strings.ReplaceAll(n, "\"", ""))+".example", "SMTPSubmit SMTPAcceptAnyRecipient", "@x@gmail.com"))
	}
	return b.String()
}

func TestClientsCSVSafe(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "EX01", "FrontEnd", "ProtocolLog", "SmtpReceive", "RECV2026110210-1.LOG")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(hostileClients()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "clients", "--format", "csv", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+9 || !slices.Equal(rows[0], clientsCSVHeader) {
		t.Fatalf("%d rows, header %q", len(rows), rows[0])
	}
	for _, r := range rows {
		for _, cell := range r {
			if c := strings.TrimLeft(cell, " "); c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				t.Errorf("cell %q would run as a formula", cell)
			}
			if bad := strings.IndexFunc(cell, func(r rune) bool {
				return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == unicode.ReplacementChar
			}); bad >= 0 {
				t.Errorf("cell %q holds a control character", cell)
			}
		}
	}
	if !strings.Contains(out, `'=HYPERLINK(`) || !strings.Contains(out, `\x1b]0;owned\a\x1b[2J`) || !strings.Contains(out, `\u202eevil`) {
		t.Errorf("CSV does not show the hostile names neutralised:\n%s", out)
	}
	// On a terminal, nothing runs; JSON escapes control characters (its
	// readers are programs: a bidi override stays a character).
	if _, out, _ := runCLI(t, "clients", dir); strings.ContainsAny(out, "\x1b\x07\u202e") {
		t.Error("text output holds raw escape or bidi characters")
	}
	if _, out, _ := runCLI(t, "clients", "--format", "json", dir); strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `\u001b]0;owned\u0007`) {
		t.Error("JSON output holds raw control characters")
	}
}

// TestClientsTLS: the TLS stragglers of a small fixture (the committed
// sample has none: every generated client speaks TLS 1.2), in both
// certificate shapes, with a failed negotiation in a send log.
func TestClientsTLS(t *testing.T) {
	dir := filepath.Join("testdata", "clients", "tls")
	code, out, errOut := runCLI(t, "clients", "--tls-below", "1.2", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, filepath.Join("golden", "clients-tls-below-1.2.text"), out)
	got := clientsJSON(t, "--tls-below", "TLS1.2", dir)
	var listed []string
	for _, c := range got.Clients {
		listed = append(listed, c.Client)
	}
	if want := []string{"10.30.5.40", "10.30.7.12", "192.0.2.60", "203.0.113.25"}; !slices.Equal(listed, want) {
		t.Errorf("--tls-below 1.2 lists %q, want %q", listed, want)
	}
	code, out, _ = runCLI(t, "clients", "--no-tls", "--format", "csv", dir)
	if code != exitOK || !strings.Contains(out, "216.32.181.234") || !strings.Contains(out, "UnknownCredentials 1") || !strings.Contains(out, "10.30.9.9") ||
		strings.Contains(out, "10.30.5.40") {
		t.Errorf("--no-tls:\n%s", out)
	}
	// The real excerpt of KB 4051498.
	code, out, _ = runCLI(t, "clients", "--send-logs-server", "EX", "--no-tls", filepath.Join("..", "..", "parser", "testdata", "realdata", "send-2013to2016-ms-kb4051498-tls-unknowncredentials.log"))
	if code != exitOK || !strings.Contains(out, "216.32.181.234") || !strings.Contains(out, "negotiation failed 1 (UnknownCredentials 1)") ||
		!strings.Contains(out, "certificate CN=*.domain.com, OU=Enterprise SSL Wildcard, OU=Contoso IT, O=Contoso Corporation xxxxxxxxxxxxxxxxxxxxxx (this server's)") {
		t.Errorf("KB 4051498 excerpt:\n%s", out)
	}
}

// TestClientsNeverSeen: asked for a connector that has no session, clients
// says so, with the span its server's logs cover and the command to check
// its logging; named like other servers' connectors, it is listed too.
func TestClientsNeverSeen(t *testing.T) {
	root := filepath.Join("..", "..", "samples", "contoso")
	code, out, _ := runCLI(t, "clients", "--connector", `EX01\SMTP Relay EX01`, "--connectors", `EX01\SMTP Relay EX01`, root)
	for _, want := range []string{
		"'EX01\\SMTP Relay EX01': no session in these logs (EX01's receive logs cover 2026-11-02 00:00:52.002Z to 2026-11-02 23:59:59.923Z). Unused in that span, or its protocol logging is off",
		"Get-ReceiveConnector -Identity 'EX01\\SMTP Relay EX01' | Format-List ProtocolLoggingLevel",
	} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = runCLI(t, "clients", "--server", "EX03", root)
	if !strings.Contains(out, "EX03\\Default Frontend EX03 (receive; named like the connectors EX01 and EX02 log): never seen") {
		t.Errorf("EX03's Default Frontend not listed as never seen:\n%s", out)
	}
	_, out, _ = runCLI(t, "clients", "--idle-since", "2026-11-02T12:00:00Z", "--connector", `*Relay*`, root)
	if !strings.Contains(out, "Listing: clients last seen before 2026-11-02 12:00:00.000Z") || !strings.Contains(out, "\n  198.51.100.77: 18 sessions") ||
		strings.Contains(out, "10.30.5.21:") {
		t.Errorf("--idle-since: the relaying host stopped at 04:00, the printer did not:\n%s", out)
	}
	golden(t, filepath.Join("golden", "clients-contoso-relay.text"), func() string {
		_, out, _ := runCLI(t, "clients", "--connector", `EX02\Anonymous Relay EX02`, root)
		return out
	}())
}

func TestClientsFlags(t *testing.T) {
	for _, args := range [][]string{
		{"clients"},
		{"clients", "--ip", "10.0.0.0/33", "x"},
		{"clients", "--ip", "not-an-ip", "x"},
		{"clients", "--tls-below", "2.0", "x"},
		{"clients", "--idle-since", "yesterday", "x"},
		{"clients", "--max-clients", "0", "x"},
		{"clients", "--top", "-1", "x"},
		{"clients", "--format", "xml", "x"},
		{"clients", "--connector", " ", "x"},
		{"clients", "--log-type", "both", "x"},
		{"coverage"},
		{"session", "x"},
		{"session", "--id", "08DD", "--at", "f:1", "x"},
		{"session", "--id", "zz", "x"},
		{"session", "--id", "08DD"},
		{"session", "--at", "nofile"},
		{"session", "--at", "f:1", "--server", "EX01"},
	} {
		code, _, errOut := runCLI(t, args...)
		if code != exitError || !strings.HasPrefix(errOut, "logscan: ") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
	// Nothing readable is exit 2, as for scan.
	code, _, errOut := runCLI(t, "clients", t.TempDir())
	if code != exitError || !strings.Contains(errOut, "no files found") {
		t.Errorf("empty folder: exit %d, %s", code, errOut)
	}
}

// TestTLSBelowOnSample: clients --tls-below 1.2 on the committed sample
// lists exactly the clients the generator made negotiate TLS 1.0 or 1.1.
func TestTLSBelowOnSample(t *testing.T) {
	// The sample's own configuration (make samples; TestCommittedSample
	// holds the files to it), generated again for its truth.
	st := genOrg(t, t.TempDir(), gen.Config{Scale: 0.1, Seed: 1, LiveTail: true, ConnectivityLogs: true, Auth: true, Compromise: true, Accounts: 25})
	if len(st.OldTLS) == 0 {
		t.Fatal("the sample plants no old-TLS client")
	}
	code, out, errOut := runCLI(t, "clients", "--tls-below", "1.2", "--format", "json", filepath.Join("..", "..", "samples", "contoso"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Clients []struct{ Client string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range rep.Clients {
		got = append(got, c.Client)
	}
	want := slices.Sorted(maps.Keys(st.OldTLS))
	slices.Sort(got)
	got = slices.Compact(got)
	if !slices.Equal(got, want) {
		t.Errorf("listed %q\nplanted %q", got, want)
	}
}
