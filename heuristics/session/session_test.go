package session

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/logscan/logscan/parser"
)

// logFile is one input file for the session builder.
type logFile struct {
	name string
	text string
	opts []parser.Option
}

// buildSessions parses files (file i by worker i%workers, in the order
// given) and returns every session emitted, sorted by key.
func buildSessions(t *testing.T, workers int, files ...logFile) []*Session {
	t.Helper()
	var mu sync.Mutex
	var out []*Session
	b := NewBuilder(workers, 0, func(s *Session) { mu.Lock(); out = append(out, s); mu.Unlock() })
	for i, f := range files {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		r := parser.NewReader(strings.NewReader(f.text), f.name, append([]parser.Option{parser.WithAllocator(mem)}, f.opts...)...)
		for r.Next() {
			b.Add(i%workers, r.Record())
		}
		if r.Stats().RowsRejected != 0 {
			t.Fatalf("%s: rejected rows: %v", f.name, r.Problems().Rejects)
		}
		r.Release()
		mem.AssertSize(t, 0)
	}
	b.Finish()
	// The counts each worker keeps and adds once per record (and at
	// Finish) are those of the sessions emitted.
	complete := 0
	for _, s := range out {
		if s.Complete {
			complete++
		}
	}
	if st := b.Stats(); st.Sessions.Load() != int64(len(out)) || st.Complete.Load() != int64(complete) {
		t.Errorf("Stats: %d sessions, %d complete; emitted %d, %d complete", st.Sessions.Load(), st.Complete.Load(), len(out), complete)
	}
	slices.SortFunc(out, func(a, b *Session) int {
		return cmp.Or(cmp.Compare(a.Server, b.Server), cmp.Compare(a.LogType, b.LogType), cmp.Compare(a.ID, b.ID))
	})
	return out
}

const fields = "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\n"

const recvHeader = "#Software: Microsoft Exchange Server\n#Version: 15.2.1544.4\n#Log-type: SMTP Receive Protocol Log\n" + fields
const sendHeader = "#Software: Microsoft Exchange Server\n#Version: 15.2.1544.4\n#Log-type: SMTP Send Protocol Log\n" + fields

// rows writes receive-log rows of one session: each entry is
// "event,data,context" and gets the date, connector, id and sequence.
func rows(connector, id, local, remote string, first int, entries ...string) string {
	var b strings.Builder
	for i, e := range entries {
		fmt.Fprintf(&b, "2026-11-02T10:00:%02d.%03dZ,%s,%s,%d,%s,%s,%s\r\n", (first+i)/1000%60, (first+i)%1000, connector, id, first+i, local, remote, e)
	}
	return b.String()
}

func readRealData(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "parser", "testdata", "realdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBuildSession(t *testing.T) {
	full := recvHeader + rows(`EX01\Default Frontend EX01`, "08DD000000000001", "10.0.0.11:25", "203.0.113.7:40000", 0,
		"+,,",
		"*,SMTPSubmit SMTPAcceptAnySender,Set Session Permissions",
		`>,"220 EX01.contoso.com Microsoft ESMTP MAIL Service ready at Mon, 2 Nov 2026 10:00:00 +0000",`,
		"<,EHLO mail.example.org,",
		">,250-EX01.contoso.com Hello [203.0.113.7] SIZE 37748736 PIPELINING STARTTLS AUTH NTLM X-EXPS GSSAPI NTLM 8BITMIME,",
		"<,STARTTLS,",
		">,220 2.0.0 SMTP server ready,",
		`*,,"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits"`,
		"<,EHLO mail.example.org,",
		">,250-EX01.contoso.com Hello [203.0.113.7] SIZE 37748736 PIPELINING AUTH NTLM LOGIN 8BITMIME,",
		"<,AUTH LOGIN,",
		"><,334 <authentication response>,",
		">,235 2.7.0 Authentication successful,",
		`*,CONTOSO\alice,authenticated`,
		"*,SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender,Set Session Permissions",
		"<,MAIL FROM:<alice@contoso.com> SIZE=100,",
		"*,08DD000000000001;2026-11-02T10:00:00.000Z;1,receiving message",
		"<,RCPT TO:<bob@fabrikam.com>,",
		"<,RCPT TO:<Carol@Example.NET>,",
		">,250 2.1.0 Sender OK,",
		">,250 2.1.5 Recipient OK,",
		">,550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain,",
		"<,BDAT 100 LAST,",
		">,250 2.6.0 <id@contoso.com> [InternalId=1] Queued mail for delivery,",
		"<,QUIT,",
		">,221 2.0.0 Service closing transmission channel,",
		"-,,Local")
	// The "><" row above is no event logscan knows: the parser rejects it,
	// so the test below uses a valid copy.
	full = strings.Replace(full, "><,334", ">,334", 1)

	tests := []struct {
		name  string
		files []logFile
		check func(t *testing.T, s []*Session)
	}{{
		name:  "full receive session",
		files: []logFile{{"a.log", full, nil}},
		check: func(t *testing.T, got []*Session) {
			s := one(t, got)
			want := Session{Server: "EX01", LogType: parser.LogTypeReceive, ID: 0x08DD000000000001, Connector: `EX01\Default Frontend EX01`,
				Local: netip.MustParseAddrPort("10.0.0.11:25"), Remote: netip.MustParseAddrPort("203.0.113.7:40000"),
				Client: netip.MustParseAddr("203.0.113.7"), EHLO: "mail.example.org",
				Banner: "EX01.contoso.com Microsoft ESMTP MAIL Service ready at Mon, 2 Nov 2026 10:00:00 +0000",
				TLS:    true, TLSProtocol: "TLS1.2", TLSCipher: "AES_256", Auth: AuthUser, AuthUser: `CONTOSO\alice`, AuthMechanism: "LOGIN",
				Permissions: "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender", EHLOReplied: true, OfferedEXPS: true,
				Disconnect: "Local", Complete: true, Rows: 27}
			if d := diffSession(s, &want); d != "" {
				t.Error(d)
			}
			if len(s.Messages) != 1 {
				t.Fatalf("messages = %d, want 1", len(s.Messages))
			}
			m := s.Messages[0]
			if m.From != "alice@contoso.com" || !m.Queued || len(m.Rcpts) != 2 {
				t.Fatalf("message = %+v", m)
			}
			// Pipelined: the 250 2.1.0 answers MAIL, then one reply per RCPT in order.
			if r := m.Rcpts[0]; r.Code != 250 || r.Domain != "fabrikam.com" || !r.Accepted() {
				t.Errorf("rcpt 0 = %+v", r)
			}
			if r := m.Rcpts[1]; r.Code != 550 || r.Domain != "example.net" || !r.RelayRefused() || r.At.Line != 23 {
				t.Errorf("rcpt 1 = %+v", r)
			}
			if len(s.Errors) != 1 || s.Errors[0].Command != "RCPT" || s.Errors[0].Code != 550 {
				t.Errorf("errors = %+v", s.Errors)
			}
		},
	}, {
		name:  "multi-line EHLO reply, refused AUTH, remote disconnect (real excerpt)",
		files: []logFile{{"probe.log", readRealData(t, "recv-2010-auth-probe-multiline-ehlo.log"), []parser.Option{parser.WithLogType(parser.LogTypeReceive)}}},
		check: func(t *testing.T, got []*Session) {
			s := one(t, got)
			if !s.EHLOReplied || s.OfferedEXPS || s.EHLO != "ylmf-pc" || s.Disconnect != "Remote" || !s.Complete || s.Auth != AuthNone {
				t.Errorf("session = %+v", s)
			}
			// 504 is "mechanism not offered", not a failed password.
			if s.AuthFailures != 0 || len(s.Errors) != 1 || s.Errors[0].Command != "AUTH" || s.Errors[0].Code != 504 {
				t.Errorf("auth failures %d, errors %+v", s.AuthFailures, s.Errors)
			}
			if s.Local.IsValid() || s.Remote != netip.MustParseAddrPort("91.112.61.94:55171") {
				t.Errorf("endpoints %v %v, want the redacted local one left out", s.Local, s.Remote)
			}
		},
	}, {
		name:  "pipelined refusal in a session cut at the front (real excerpt)",
		files: []logFile{{"relay.log", readRealData(t, "recv-2013-relay-denied-pipelined-excerpt.log"), []parser.Option{parser.WithLogType(parser.LogTypeReceive)}}},
		check: func(t *testing.T, got []*Session) {
			var s *Session
			for _, x := range got {
				if x.Server == "Servername" {
					s = x
				}
			}
			if s == nil || s.Complete || len(s.Messages) != 1 || !s.Messages[0].FromMissing {
				t.Fatalf("session = %+v", s)
			}
			// "250 2.1.0 Sender OK" answers the MAIL FROM that is not in the
			// excerpt; the RCPT gets the 550 after it.
			r := s.Messages[0].Rcpts[0]
			if r.Code != 550 || r.Reply != "550 5.7.1 Unable to relay" || r.Domain != "keyman  .com" {
				t.Errorf("rcpt = %+v", r)
			}
		},
	}, {
		name: "send log with DATA, null sender and redacted local endpoint (real excerpt)",
		files: []logFile{{"SmtpSend/send.log", readRealData(t, "send-2016-outbound-ndr-anonymised.log"),
			[]parser.Option{parser.WithLogType(parser.LogTypeSend), parser.WithServer("EXS")}}},
		check: func(t *testing.T, got []*Session) {
			s := one(t, got)
			if s.LogType != parser.LogTypeSend || s.Server != "EXS" || s.Remote != netip.MustParseAddrPort("50.7.176.26:25") || !s.Complete {
				t.Errorf("session = %+v", s)
			}
			if s.Banner != "0dsblqs2.hispanicliving.shop ESMTP Postfix" || s.EHLO != "My.Mail.Server.com" {
				t.Errorf("banner %q, EHLO %q", s.Banner, s.EHLO)
			}
			if len(s.Messages) != 1 || s.Messages[0].From != "" || !s.Messages[0].Queued || s.Messages[0].Rcpts[0].Code != 250 {
				t.Errorf("messages = %+v", s.Messages)
			}
		},
	}, {
		name: "proxied Hub session with Exchange Server authentication",
		files: []logFile{{"hub.log", recvHeader + rows(`EX02\Default EX02`, "2", "10.0.0.12:2525", "10.0.0.11:15000", 0,
			"+,,",
			`>,220 EX02.contoso.com Microsoft ESMTP MAIL Service ready,`,
			"<,EHLO EX01.contoso.com,",
			">,250-EX02.contoso.com Hello [10.0.0.11],",
			">,250-SIZE,",
			">,250-X-ANONYMOUSTLS,",
			">,250 XPROXYFROM,",
			"<,X-ANONYMOUSTLS,",
			">,220 2.0.0 SMTP server ready,",
			"<,EHLO EX01.contoso.com,",
			">,250-EX02.contoso.com Hello [10.0.0.11],",
			">,250-X-EXPS GSSAPI NTLM,",
			">,250 XPROXYFROM,",
			"<,X-EXPS GSSAPI,",
			">,235 <authentication response>,",
			`*,CONTOSO\EX01$,authenticated`,
			"<,XPROXYFROM SID=08DD0000000000AB IP=198.51.100.9 PORT=5555 DOMAIN=bulk.example.com SEQNUM=1 PERMS=1205 AUTHSRC=Anonymous,",
			">,250 XProxyFrom accepted,",
			"-,,Local"), nil}},
		check: func(t *testing.T, got []*Session) {
			s := one(t, got)
			if !s.Proxied || s.Client != netip.MustParseAddr("198.51.100.9") || s.ProxySID != 0x08DD0000000000AB || s.ProxyAuth != "Anonymous" {
				t.Errorf("proxy: %+v", s)
			}
			if s.Auth != AuthExchange || s.AuthUser != `CONTOSO\EX01$` || s.AuthMechanism != "GSSAPI" || !s.OfferedEXPS || !s.TLS {
				t.Errorf("auth: %+v", s)
			}
			if s.EHLO != "bulk.example.com" {
				t.Errorf("EHLO = %q, want the original client's", s.EHLO)
			}
		},
	}, {
		name: "451 5.7.3 as an information row of a send log",
		files: []logFile{{"EX02/SmtpSend/s.log", sendHeader + rows("Intra-Organization SMTP Send Connector", "3", "", "10.0.0.11:2525", 0,
			"*,SendRoutingHeaders,Set Session Permissions",
			"*,,attempting to connect") +
			rows("Intra-Organization SMTP Send Connector", "3", "10.0.0.12:16000", "10.0.0.11:2525", 2,
				"+,,",
				"<,220 EX01.contoso.com Microsoft ESMTP MAIL Service ready,",
				">,EHLO EX02.contoso.com,",
				"<,250-EX01.contoso.com Hello [10.0.0.12] SIZE PIPELINING,",
				"*,,451 5.7.3 Cannot achieve Exchange Server authentication.",
				">,QUIT,",
				"<,221 2.0.0 Service closing transmission channel,",
				"-,,Local"), []parser.Option{parser.WithServer("EX02")}}},
		check: func(t *testing.T, got []*Session) {
			s := one(t, got)
			if s.Server != "EX02" || len(s.ExchangeAuthFailures) != 1 || s.ExchangeAuthFailures[0].Line != 11 {
				t.Errorf("session = %+v", s)
			}
			if s.Local != netip.MustParseAddrPort("10.0.0.12:16000") {
				t.Errorf("local = %v: want the first logged one", s.Local)
			}
		},
	}, {
		// A reply no logged command asked for (the session's start is in
		// an earlier log, not given) is not paired, but its text still
		// says what went wrong.
		name: "451 5.7.3 as a reply nobody asked for, the session cut at the front",
		files: []logFile{{"EX02/SmtpSend/s.log", sendHeader +
			rows("Intra-Organization SMTP Send Connector", "5", "10.0.0.12:16001", "10.0.0.11:2525", 4,
				"<,451 5.7.3 Cannot achieve Exchange Server authentication,",
				">,QUIT,",
				"<,221 2.0.0 Service closing transmission channel,",
				"-,,Local"), []parser.Option{parser.WithServer("EX02")}}},
		check: func(t *testing.T, got []*Session) {
			s := one(t, got)
			if len(s.ExchangeAuthFailures) != 1 || s.ExchangeAuthFailures[0].Line != 5 {
				t.Errorf("ExchangeAuthFailures = %+v, want the reply's row (line 5)", s.ExchangeAuthFailures)
			}
		},
	}, {
		name: "535 5.7.3 is a bad password, not the Exchange authentication failure",
		files: []logFile{{"a.log", recvHeader + rows(`EX01\Client Frontend EX01`, "4", "10.0.0.11:587", "10.40.0.9:5000", 0,
			"+,,", "<,AUTH LOGIN,", ">,334 <authentication response>,", ">,535 5.7.3 Authentication unsuccessful,", "-,,Remote"), nil}},
		check: func(t *testing.T, got []*Session) {
			s := one(t, got)
			if s.AuthFailures != 1 || len(s.ExchangeAuthFailures) != 0 || s.Auth != AuthNone {
				t.Errorf("session = %+v", s)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, buildSessions(t, 1, tt.files...))
		})
	}
}

func one(t *testing.T, s []*Session) *Session {
	t.Helper()
	if len(s) != 1 {
		t.Fatalf("got %d sessions, want 1", len(s))
	}
	return s[0]
}

// diffSession compares the scalar fields of a session with want.
func diffSession(got, want *Session) string {
	g, w := *got, *want
	g.Messages, g.Errors, g.ExchangeAuthFailures, g.Start, g.End, g.First, g.Last = nil, nil, nil, w.Start, w.End, w.First, w.Last
	if reflect.DeepEqual(g, w) {
		return ""
	}
	return fmt.Sprintf("session\n got %+v\nwant %+v", g, w)
}

// TestSessionsIndependentOfReadOrder cuts sessions across files (an hourly
// rollover, rows of a session out of order inside a file) and checks that
// reading the files in any order, by one or several workers, gives the
// same sessions.
func TestSessionsIndependentOfReadOrder(t *testing.T) {
	c := `EX01\Default Frontend EX01`
	a := recvHeader + rows(c, "10", "10.0.0.11:25", "203.0.113.1:1", 0, "+,,", "<,EHLO a.example,", ">,250 EX01 Hello,", "<,MAIL FROM:<x@a.example>,") +
		rows(c, "11", "10.0.0.11:25", "203.0.113.2:1", 0, "+,,", "<,EHLO b.example,")
	// File b holds the rest of 10 (its RCPT logged before its MAIL reply)
	// and the rest of 11 with two rows swapped.
	b := recvHeader + rows(c, "10", "10.0.0.11:25", "203.0.113.1:1", 4, "<,RCPT TO:<y@contoso.com>,", ">,250 2.1.0 Sender OK,", ">,250 2.1.5 Recipient OK,", "-,,Local") +
		rows(c, "11", "10.0.0.11:25", "203.0.113.2:1", 3, "-,,Remote") +
		rows(c, "11", "10.0.0.11:25", "203.0.113.2:1", 2, ">,250 EX01 Hello,")
	orders := []struct {
		workers int
		files   []logFile
	}{
		{1, []logFile{{"a.log", a, nil}, {"b.log", b, nil}}},
		{1, []logFile{{"b.log", b, nil}, {"a.log", a, nil}}},
		{2, []logFile{{"a.log", a, nil}, {"b.log", b, nil}}},
		{2, []logFile{{"b.log", b, nil}, {"a.log", a, nil}}},
	}
	var first []*Session
	for i, o := range orders {
		got := buildSessions(t, o.workers, o.files...)
		if len(got) != 2 || !got[0].Complete || !got[1].Complete {
			t.Fatalf("order %d: %d sessions, want 2 complete: %+v", i, len(got), got)
		}
		if r := got[0].Messages[0].Rcpts[0]; r.Code != 250 || r.At.File != "b.log" {
			t.Errorf("order %d: rcpt %+v", i, r)
		}
		if got[1].EHLOReplied != true || got[1].Disconnect != "Remote" {
			t.Errorf("order %d: session 11 = %+v", i, got[1])
		}
		if i == 0 {
			first = got
			continue
		}
		if !reflect.DeepEqual(got, first) {
			t.Errorf("order %d gives different sessions:\n%+v\n%+v", i, got, first)
		}
	}
}

// TestEviction: more sessions open than the cap are closed early, counted,
// and every one is still emitted.
func TestEviction(t *testing.T) {
	var b strings.Builder
	b.WriteString(recvHeader)
	for i := range 1000 {
		b.WriteString(rows(`EX01\Default Frontend EX01`, fmt.Sprintf("%X", i+1), "10.0.0.11:25", "203.0.113.1:1", 0, "+,,"))
	}
	n := 0
	sb := NewBuilder(1, 100, func(*Session) { n++ })
	r := parser.NewReader(strings.NewReader(b.String()), "open.log")
	for r.Next() {
		sb.Add(0, r.Record())
	}
	r.Release()
	sb.Finish()
	if n != 1000 {
		t.Errorf("emitted %d sessions, want 1000", n)
	}
	if ev := sb.Stats().Evicted.Load(); ev < 900 {
		t.Errorf("evicted %d, want at least 900 with 100 open at most", ev)
	}
}

// TestEvictionForText: sessions that never disconnect, with long rows,
// are closed early once the text a worker holds open passes its share, so
// that the text held stays within it; every row is still in a session;
// and one session longer than MaxSessionBytes is analysed in parts.
func TestEvictionForText(t *testing.T) {
	var small, large strings.Builder
	small.WriteString(recvHeader)
	long := strings.Repeat("x", 1000)
	const sessions, perSession = 200, 20
	for i := range sessions {
		entries := []string{"+,,"}
		for range perSession - 1 {
			entries = append(entries, ">,"+long+",")
		}
		small.WriteString(rows(`EX01\Default Frontend EX01`, fmt.Sprintf("%X", i+1), "10.0.0.11:25", "203.0.113.1:1", 0, entries...))
	}
	// One session of 20 MB: past MaxSessionBytes.
	large.WriteString(recvHeader)
	big := []string{"+,,"}
	for range 2600 {
		big = append(big, ">,"+strings.Repeat("y", 4000)+","+strings.Repeat("z", 4000))
	}
	large.WriteString(rows(`EX01\Default Frontend EX01`, "BEEF", "10.0.0.11:25", "203.0.113.2:1", 0, big...))
	rowsSeen := 0
	sb := NewBuilder(1, 0, func(s *Session) { rowsSeen += s.Rows })
	sb.maxOpenBytes = 1 << 20
	for _, f := range []struct {
		name, text string
		most       int // the most it may hold open after an Add
	}{
		{"small.log", small.String(), sb.maxOpenBytes + 1000 + frowBytes},
		{"large.log", large.String(), MaxSessionBytes + 2*(MaxFieldBytes+frowBytes)},
	} {
		r := parser.NewReader(strings.NewReader(f.text), f.name, parser.WithBatchRows(64))
		for r.Next() {
			sb.Add(0, r.Record())
			if held := sb.parts[0].openBytes; held > f.most {
				t.Fatalf("%s: %d bytes held open, want at most %d", f.name, held, f.most)
			}
		}
		r.Release()
	}
	sb.Finish()
	if want := sessions*perSession + len(big); rowsSeen != want {
		t.Errorf("%d rows in the sessions emitted, want all %d", rowsSeen, want)
	}
	st := sb.Stats()
	if ev, text := st.Evicted.Load(), st.EvictedForText.Load(); text == 0 || text != ev {
		t.Errorf("evicted %d, %d of them for their text: want some, all for their text", ev, text)
	}
	if st.Split.Load() == 0 {
		t.Error("a 20 MB session was not split")
	}
}

// TestFailedAuth: each failed AUTH attempt counts once, whichever of its
// rows the log kept, and the user names tried are collected.
func TestFailedAuth(t *testing.T) {
	cf := `EX01\Client Frontend EX01`
	attempt := func(user string) []string {
		return []string{"<,AUTH LOGIN,", ">,334 <authentication response>,", ">,334 <authentication response>,",
			"*,,Inbound AUTH LOGIN failed because of LogonDenied", "*,,User Name: " + user,
			"*,Tarpit for '0.00:00:05' due to '535 5.7.3 Authentication unsuccessful',", ">,535 5.7.3 Authentication unsuccessful,"}
	}
	tests := []struct {
		name     string
		entries  []string
		first    int // sequence number of the first row (a cut excerpt starts later)
		failures int
		users    []string
		auth     AuthKind
	}{{
		name:     "one attempt: four rows, one failure",
		entries:  append(append([]string{"+,,"}, attempt("alice@contoso.com")...), "-,,Local"),
		failures: 1, users: []string{"alice@contoso.com"},
	}, {
		name:     "three attempts in one session, one name twice",
		entries:  append(append(append(append([]string{"+,,"}, attempt("admin")...), attempt("CONTOSO\\bob")...), attempt("admin")...), "-,,Local"),
		failures: 3, users: []string{"admin", `CONTOSO\bob`},
	}, {
		name: "excerpt ends at the tarpit, before the 535 (real KROGULEC rows)",
		entries: []string{"<,AUTH LOGIN,", ">,334 <authentication response>,", ">,334 <authentication response>,",
			"*,,Inbound AUTH LOGIN failed because of LogonDenied", "*,,User Name: user@example.com",
			"*,Tarpit for '0.00:00:05' due to '535 5.7.3 Authentication unsuccessful',"},
		first: 12, failures: 1, users: []string{"user@example.com"},
	}, {
		name:     "excerpt starts after the AUTH command",
		entries:  []string{"*,,Inbound AUTH LOGIN failed because of LogonDenied", "*,,User Name: exctest", ">,535 5.7.3 Authentication unsuccessful,", "-,,Remote(SocketError)"},
		first:    15,
		failures: 1, users: []string{"exctest"},
	}, {
		name: "a typo, then the right password",
		entries: append(append([]string{"+,,"}, attempt("CONTOSO\\carol")...), "<,AUTH LOGIN,", ">,334 <authentication response>,",
			`*,CONTOSO\carol,authenticated`, ">,235 2.7.0 Authentication successful,", "-,,Local"),
		failures: 1, users: []string{`CONTOSO\carol`}, auth: AuthUser,
	}, {
		name:    "mechanism not offered (504) and a tarpit without 535: no failure",
		entries: []string{"+,,", "<,AUTH LOGIN,", "*,Tarpit for '0.00:00:05',", ">,504 5.7.4 Unrecognized authentication type,", "-,,Remote"},
	}, {
		name:    "X-EXPS failure is the Exchange servers', not a user's",
		entries: []string{"+,,", "<,X-EXPS GSSAPI,", "*,,Inbound ExchangeAuth negotiation failed because of InvalidCredentials", "-,,Remote"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := one(t, buildSessions(t, 1, logFile{"a.log", recvHeader + rows(cf, "5", "10.0.0.11:587", "203.0.113.9:5000", tt.first, tt.entries...), nil}))
			if s.AuthFailures != tt.failures || !slices.Equal(s.AuthFailedUsers, tt.users) || s.Auth != tt.auth {
				t.Errorf("failures %d users %q auth %v; want %d %q %v", s.AuthFailures, s.AuthFailedUsers, s.Auth, tt.failures, tt.users, tt.auth)
			}
		})
	}
	t.Run("real brute-force excerpt", func(t *testing.T) {
		// Line 43 is an IMAP4 row the parser rejects: build without the
		// helper, which wants every row kept.
		var got []*Session
		b := NewBuilder(1, 0, func(s *Session) { got = append(got, s) })
		r := parser.NewReader(strings.NewReader(readRealData(t, "recv-mixed-ipban-fixture-auth-unsuccessful.log")), "u.log", parser.WithLogType(parser.LogTypeReceive))
		for r.Next() {
			b.Add(0, r.Record())
		}
		r.Release()
		b.Finish()
		var all []string
		for _, s := range got {
			if s.AuthFailures > 0 {
				all = append(all, fmt.Sprintf("%s %d %q", s.Client, s.AuthFailures, s.AuthFailedUsers))
			}
		}
		slices.Sort(all)
		want := []string{`180.60.60.60 1 ["user@example.com"]`, `37.49.225.153 1 ["user@example.com"]`, `54.212.131.181 1 ["exctest"]`,
			`54.212.131.182 1 ["exctest"]`, `90.30.30.30 1 ["user@example.com"]`}
		if !slices.Equal(all, want) {
			t.Errorf("failed sessions\n%s\nwant\n%s", strings.Join(all, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestSameKeyAsRowBefore: a row whose key columns are those of the row
// before joins the same fragment without its key being made (Add's fast
// path). Rows that differ from the row before in one key column only (the
// session-id, the remote address, the remote port, a remote endpoint not
// logged, even after the all-zero address [::]:0) give the same sessions in
// one record as one row per record, where every row's key is made.
func TestSameKeyAsRowBefore(t *testing.T) {
	c := `EX01\Default Frontend EX01`
	line := func(id string, seq int, remote, entry string) string {
		return fmt.Sprintf("2026-11-02T10:00:00.%03dZ,%s,%s,%d,10.0.0.11:25,%s,%s\r\n", seq, c, id, seq, remote, entry)
	}
	text := recvHeader +
		line("20", 0, "", "+,,") + // no endpoint yet: taken over by the next row's
		line("20", 1, "203.0.113.1:1", "<,EHLO a.example,") +
		line("20", 2, "", ">,250 EX01 Hello,") + // the latest endpoint of the id
		line("20", 3, "203.0.113.1:1", "<,MAIL FROM:<x@a.example>,") +
		line("20", 3, "203.0.113.1:2", "<,EHLO other-port.example,") + // another port: a conflict
		line("20", 4, "203.0.113.2:1", "<,EHLO other-address.example,") + // another address
		line("20", 4, "203.0.113.1:1", "<,RCPT TO:<y@contoso.com>,") +
		line("21", 0, "203.0.113.1:1", "+,,") + // another id, same endpoint
		line("21", 1, "203.0.113.1:1", "<,EHLO b.example,") +
		line("21", 2, "203.0.113.1:1", "-,,Remote") +
		line("20", 5, "", ">,250 2.1.0 Sender OK,") +
		line("20", 6, "203.0.113.1:1", ">,250 2.1.5 Recipient OK,") +
		line("20", 5, "203.0.113.2:1", "-,,Local") +
		line("20", 7, "203.0.113.1:1", "-,,Local") +
		line("30", 0, "[::]:0", "+,,") +
		line("30", 0, "203.0.113.3:1", "+,,") + // the latest endpoint of 30
		line("30", 1, "[::]:0", "<,EHLO zero.example,") +
		line("30", 1, "", "<,EHLO latest.example,") // not [::]:0's, the row before's
	want := buildSessions(t, 1, logFile{"a.log", text, []parser.Option{parser.WithBatchRows(1)}})
	if len(want) < 6 {
		t.Fatalf("%d sessions, want at least 6: %+v", len(want), want)
	}
	for _, n := range []int{2, 3, 1000} {
		got := buildSessions(t, 1, logFile{"a.log", text, []parser.Option{parser.WithBatchRows(n)}})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("records of %d rows give other sessions than records of one:\n%+v\nwant\n%+v", n, got, want)
		}
	}
}

// TestSlicedRecords: records that are slices of others (an Arrow offset
// other than zero, as records read back from a dataset may be) give the
// same sessions as the whole records: Add reads their columns as plain
// slices from the first row (ip16Values, stringValues), not through the
// arrays' methods. The sample has receive and send logs; the synthetic log
// has rows without a remote endpoint (nulls).
func TestSlicedRecords(t *testing.T) {
	c := `EX01\Default Frontend EX01`
	var synthetic strings.Builder
	synthetic.WriteString(recvHeader)
	for i := range 200 {
		// Runs of rows of one id, whose endpoints change within a run
		// (another address, another port, none) and stay the same.
		remote := []string{"203.0.113.1:1", "203.0.113.1:1", "", "203.0.113.1:2", "[::]:0", "198.51.100.7:1", "203.0.113.1:1"}[i%7]
		entry := []string{"+,,", "<,EHLO a.example,", ">,250 EX01 Hello,", "<,MAIL FROM:<x@a.example>,", "*,,receiving message", "-,,Local"}[i%6]
		fmt.Fprintf(&synthetic, "2026-11-02T10:00:00.%03dZ,%s,%X,%d,10.0.0.11:25,%s,%s\r\n", i, c, 0x20+i/5%3, i%11, remote, entry)
	}
	var recs []arrow.Record
	keep := func(_ int, rec arrow.Record) error {
		rec.Retain() // kept past the handler: the parser reuses released memory
		recs = append(recs, rec)
		return nil
	}
	if _, err := parser.Scan(context.Background(), []string{filepath.Join("..", "..", "samples", "contoso")}, parser.ScanOptions{Workers: 1}, keep); err != nil {
		t.Fatal(err)
	}
	r := parser.NewReader(strings.NewReader(synthetic.String()), "synthetic.log")
	for r.Next() {
		r.Record().Retain()
		recs = append(recs, r.Record())
	}
	r.Release()
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	build := func(rows int64) []string {
		var out []string
		b := NewBuilder(1, 0, func(s *Session) { out = append(out, fmt.Sprintf("%+v", *s)) })
		for _, rec := range recs {
			if rows == 0 {
				b.Add(0, rec)
				continue
			}
			for from := int64(0); from < rec.NumRows(); from += rows {
				part := rec.NewSlice(from, min(from+rows, rec.NumRows()))
				b.Add(0, part)
				part.Release()
			}
		}
		b.Finish()
		slices.Sort(out)
		return out
	}
	want := build(0)
	if len(want) < 4000 {
		t.Fatalf("%d sessions from whole records, want the sample's 4,438 and more", len(want))
	}
	for _, rows := range []int64{1, 3, 1000} {
		if got := build(rows); !slices.Equal(got, want) {
			t.Errorf("records cut into slices of %d rows give %d sessions, whole records %d, or other ones", rows, len(got), len(want))
		}
	}
}

// TestFileStatesKeptOrDerived: the state of a session key in a file read
// from its only open fragment (fileState) gives the same sessions,
// conflicts and examples as the state kept in a map for every key, on
// random logs that reuse a few session-ids from many endpoints (more than
// a chain holds), log rows without an endpoint, and evict sessions.
func TestFileStatesKeptOrDerived(t *testing.T) {
	c := `EX01\Default Frontend EX01`
	remotes := []string{""}
	for i := range 12 {
		remotes = append(remotes, fmt.Sprintf("203.0.113.%d:%d", i%5, 1000+i%3))
	}
	entries := []string{"+,,", "<,EHLO a.example,", ">,250 EX01 Hello,", "<,MAIL FROM:<x@a.example>,", "<,RCPT TO:<y@contoso.com>,",
		">,250 2.1.5 Recipient OK,", "*,,receiving message", "-,,Local"}
	build := func(files []logFile, maxOpen int, all bool) string {
		var out []string
		b := NewBuilder(1, maxOpen, func(s *Session) { out = append(out, fmt.Sprintf("%+v", *s)) })
		b.allFileStates = all
		for _, f := range files {
			r := parser.NewReader(strings.NewReader(f.text), f.name, parser.WithBatchRows(7))
			for r.Next() {
				b.Add(0, r.Record())
			}
			r.Release()
		}
		b.Finish()
		slices.Sort(out)
		st := b.Stats()
		ev, tr, sp := b.Examples()
		return fmt.Sprintf("%d %d %d %d\n%q %q %q %q\n%s", st.Sessions.Load(), st.Complete.Load(), st.Evicted.Load(), st.EndpointConflicts.Load(),
			ev, tr, sp, b.ConflictExamples(), strings.Join(out, "\n"))
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for round := range 200 {
		var files []logFile
		for f := range 1 + rng.IntN(3) {
			var sb strings.Builder
			sb.WriteString(recvHeader)
			seq := map[string]int{}
			for range 20 + rng.IntN(200) {
				id := fmt.Sprintf("%X", 0x40+rng.IntN(3))
				remote := remotes[rng.IntN(len(remotes))]
				k := id + remote
				fmt.Fprintf(&sb, "2026-11-02T10:00:00.%03dZ,%s,%s,%d,10.0.0.11:25,%s,%s\r\n", seq[k]%1000, c, id, seq[k], remote, entries[rng.IntN(len(entries))])
				seq[k] += rng.IntN(3) // mostly the next, now and then a repeated number or a gap
			}
			files = append(files, logFile{name: fmt.Sprintf("f%d.log", f), text: sb.String()})
		}
		maxOpen := 0
		if round%3 == 0 {
			maxOpen = 4 // evictions
		}
		if got, want := build(files, maxOpen, false), build(files, maxOpen, true); got != want {
			t.Fatalf("round %d: states read from fragments give\n%s\nstates kept give\n%s", round, got, want)
		}
	}
}

// TestDrainCounts: the sessions Drain emits (an incomplete one idle past
// the carry) count in Stats with those Add emitted; the one it carries
// does not.
func TestDrainCounts(t *testing.T) {
	c := `EX01\Default EX01`
	text := recvHeader +
		"2026-11-02T08:00:00.000Z," + c + ",08DE0000000000B1,0,10.0.0.11:25,203.0.113.1:1,+,,\r\n" + // idle two hours: emitted
		rows(c, "08DE0000000000B2", "10.0.0.11:25", "203.0.113.2:1", 0, "+,,", "<,EHLO a.example,", "-,,Local") + // complete
		rows(c, "08DE0000000000B3", "10.0.0.11:25", "203.0.113.3:1", 0, "+,,", "<,EHLO b.example,") // open: carried
	var emitted []*Session
	b := NewBuilder(1, 0, func(s *Session) { emitted = append(emitted, s) })
	r := parser.NewReader(strings.NewReader(text), "a.log")
	for r.Next() {
		b.Add(0, r.Record())
	}
	r.Release()
	open := b.Drain(DefaultCarry)
	if len(open) != 1 || len(emitted) != 2 {
		t.Fatalf("%d carried, %d emitted; want 1 and 2", len(open), len(emitted))
	}
	if st := b.Stats(); st.Sessions.Load() != 2 || st.Complete.Load() != 1 {
		t.Errorf("Stats: %d sessions, %d complete; want 2 and 1", st.Sessions.Load(), st.Complete.Load())
	}
}
