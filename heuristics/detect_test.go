package heuristics

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// The detectors are tested on sessions built by hand: each case is a small
// organisation where one detector must fire, or must stay quiet.

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

type sessOpt func(*session.Session)

var nextID uint64

func sess(server, connector, local, remote string, opts ...sessOpt) *session.Session {
	nextID++
	s := &session.Session{Server: server, LogType: parser.LogTypeReceive, ID: nextID, Connector: connector,
		Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote),
		Start: t0.Add(time.Duration(nextID) * time.Second), Complete: true, EHLOReplied: true, OfferedEXPS: true,
		Permissions: anonPerms, First: session.Ref{File: "RECV.LOG", Line: int64(nextID)}}
	s.End = s.Start.Add(2 * time.Second)
	s.Client = s.Remote.Addr()
	for _, o := range opts {
		o(s)
	}
	return s
}

const (
	anonPerms  = "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders"
	relayPerms = anonPerms + " SMTPAcceptAnyRecipient"
)

func ehlo(name string) sessOpt { return func(s *session.Session) { s.EHLO = name } }
func perms(p string) sessOpt   { return func(s *session.Session) { s.Permissions = p } }
func at(d time.Duration) sessOpt {
	return func(s *session.Session) { s.Start = t0.Add(d); s.End = s.Start.Add(2 * time.Second) }
}
func noEXPS() sessOpt { return func(s *session.Session) { s.OfferedEXPS = false } }
func authed(k session.AuthKind, u string) sessOpt {
	return func(s *session.Session) { s.Auth, s.AuthUser = k, u }
}
func send() sessOpt { return func(s *session.Session) { s.LogType = parser.LogTypeSend } }
func exFail() sessOpt {
	return func(s *session.Session) { s.ExchangeAuthFailures = []session.Ref{{File: "SEND.LOG", Line: 7}} }
}

// mail adds a message from `from` to rcpts; a rcpt "x@d:550" is refused as relay.
func mail(from string, rcpts ...string) sessOpt {
	return func(s *session.Session) {
		m := session.Message{From: from, Queued: true}
		for _, r := range rcpts {
			addr, code, _ := strings.Cut(r, ":")
			rc := session.Rcpt{Addr: addr, Domain: session.DomainOf(addr), Code: 250, Reply: "250 2.1.5 Recipient OK"}
			if code == "550" {
				rc.Code, rc.Reply = 550, "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain"
			}
			m.Rcpts = append(m.Rcpts, rc)
		}
		s.Messages = append(s.Messages, m)
	}
}

// internet is ordinary inbound mail: n public clients, 1-2 sessions each,
// anonymous without relay right, to contoso.com.
func internet(server, local string, n int) []*session.Session {
	var out []*session.Session
	for i := range n {
		for range 1 + i%2 {
			out = append(out, sess(server, server+`\Default Frontend `+server, local+":25", fmt.Sprintf("198.18.%d.%d:4000", i/200, i%200+1),
				ehlo(fmt.Sprintf("mx%d.example.org", i)), mail(fmt.Sprintf("a@s%d.example.org", i), "bob@contoso.com")))
		}
	}
	return out
}

func analyze(org Org, sessions ...[]*session.Session) *Report {
	a := NewAnalyzer(org, AnalyzerOptions{Workers: 1})
	for _, list := range sessions {
		for _, s := range list {
			a.observe(s)
		}
	}
	return a.Result()
}

// natClients are many clients seen through one address.
func natClients(server, connector, local, ip string, n, names int, p string, rcptDomain string) []*session.Session {
	var out []*session.Session
	for i := range n {
		out = append(out, sess(server, connector, local+":25", ip+":"+fmt.Sprint(1000+i), ehlo(fmt.Sprintf("mail%d.sender%d.example", i%names, i%names)),
			perms(p), at(time.Duration(i)*time.Minute), mail(fmt.Sprintf("u@sender%d.example", i%names), "x@"+rcptDomain)))
	}
	return out
}

type want struct {
	detector  string
	severity  Severity
	server    string
	connector string
	source    string
}

func check(t *testing.T, got []Finding, wants ...want) {
	t.Helper()
	if len(got) != len(wants) {
		var titles []string
		for _, f := range got {
			titles = append(titles, f.Severity.String()+" "+f.Title)
		}
		t.Fatalf("got %d findings, want %d:\n%s", len(got), len(wants), strings.Join(titles, "\n"))
	}
	for i, w := range wants {
		f := got[i]
		if f.Detector != w.detector || f.Severity != w.severity || f.Server != w.server || f.Connector != w.connector || f.Source != w.source {
			t.Errorf("finding %d = %s/%s server %q connector %q source %q; want %+v", i, f.Detector, f.Severity, f.Server, f.Connector, f.Source, w)
		}
		if f.ID == "" || f.Title == "" || f.Explanation == "" || f.Cause == "" || len(f.Fix) == 0 || len(f.Samples) == 0 {
			t.Errorf("finding %d lacks id, title, explanation, cause, fix or samples: %+v", i, f)
		}
	}
}

func TestSNATDetector(t *testing.T) {
	const ex = "10.1.0.10"
	lb := `EX01\Relay LB EX01`
	tests := []struct {
		name     string
		org      Org
		sessions [][]*session.Session
		want     []want
	}{{
		name:     "many clients behind one same-subnet address",
		sessions: [][]*session.Session{internet("EX01", ex, 60), natClients("EX01", lb, ex, "10.1.0.5", 200, 40, anonPerms, "contoso.com")},
		want:     []want{{"hidden-snat", SeverityMedium, "EX01", lb, "10.1.0.5"}},
	}, {
		name:     "the NAT address holds the relay right: high",
		sessions: [][]*session.Session{internet("EX01", ex, 60), natClients("EX01", lb, ex, "10.1.0.5", 200, 40, relayPerms, "contoso.com")},
		want:     []want{{"hidden-snat", SeverityHigh, "EX01", lb, "10.1.0.5"}},
	}, {
		name: "and relays to outside domains: critical, with the relay finding",
		sessions: [][]*session.Session{internet("EX01", ex, 60), natClients("EX01", lb, ex, "10.1.0.5", 200, 40, relayPerms, "contoso.com"),
			natClients("EX01", lb, ex, "10.1.0.5", 10, 10, relayPerms, "gmail.com")},
		want: []want{{"hidden-snat", SeverityCritical, "EX01", lb, "10.1.0.5"}, {"anonymous-relay", SeverityCritical, "EX01", lb, "10.1.0.5"}},
	}, {
		name: "all traffic through the balancer: too few sources to compare, share decides",
		sessions: [][]*session.Session{natClients("EX01", lb, ex, "10.1.0.5", 50, 20, anonPerms, "contoso.com"),
			{sess("EX01", lb, ex+":25", "10.1.0.77:1", ehlo("app01"))}},
		want: []want{{"hidden-snat", SeverityMedium, "EX01", lb, "10.1.0.5"}},
	}, {
		name:     "a smart host presents one name of its own: quiet",
		sessions: [][]*session.Session{internet("EX01", ex, 60), natClients("EX01", lb, ex, "10.1.0.5", 200, 1, anonPerms, "contoso.com")},
	}, {
		name: "another Exchange server (X-EXPS) on the subnet: quiet",
		sessions: [][]*session.Session{internet("EX01", ex, 60), natClients("EX01", lb, ex, "10.1.0.12", 200, 40, anonPerms, "contoso.com"),
			{sess("EX01", `EX01\Default EX01`, ex+":2525", "10.1.0.12:2000", authed(session.AuthExchange, `CONTOSO\EX02$`))}},
	}, {
		name:     "given as an Exchange server: quiet",
		org:      Org{ExchangeServers: []ServerAddr{{Name: "EX02", Prefix: netip.MustParsePrefix("10.1.0.5/32")}}},
		sessions: [][]*session.Session{internet("EX01", ex, 60), natClients("EX01", lb, ex, "10.1.0.5", 200, 40, anonPerms, "contoso.com")},
	}, {
		name:     "not on the server's subnet: quiet",
		sessions: [][]*session.Session{internet("EX01", ex, 60), natClients("EX01", lb, ex, "10.9.0.5", 200, 40, anonPerms, "contoso.com")},
	}, {
		name:     "a wider subnet given: fires",
		org:      Org{SubnetBitsV4: 16},
		sessions: [][]*session.Session{internet("EX01", ex, 60), natClients("EX01", lb, ex, "10.1.9.5", 200, 40, anonPerms, "contoso.com")},
		want:     []want{{"hidden-snat", SeverityMedium, "EX01", lb, "10.1.9.5"}},
	}, {
		name: "not an outlier among busy internal senders: quiet",
		sessions: [][]*session.Session{
			natClients("EX01", lb, ex, "10.1.0.5", 6, 6, anonPerms, "contoso.com"),
			natClients("EX01", lb, ex, "10.1.0.6", 6, 1, anonPerms, "contoso.com"),
			natClients("EX01", lb, ex, "10.1.0.7", 6, 1, anonPerms, "contoso.com"),
			natClients("EX01", lb, ex, "10.1.0.8", 6, 1, anonPerms, "contoso.com"),
			natClients("EX01", lb, ex, "10.1.0.9", 6, 1, anonPerms, "contoso.com")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyze(tt.org, tt.sessions...)
			check(t, rep.Findings, tt.want...)
		})
	}
}

func TestRelayDetector(t *testing.T) {
	const ex = "10.1.0.10:25"
	relay := `EX01\Anonymous Relay EX01`
	fe := `EX01\Default Frontend EX01`
	outside := func(n int) []string {
		var r []string
		for i := range n {
			r = append(r, fmt.Sprintf("v%d@target%d.example", i, i))
		}
		return r
	}
	base := internet("EX01", "10.1.0.10", 20) // teaches the accepted domain contoso.com
	tests := []struct {
		name      string
		org       Org
		sessions  []*session.Session
		want      []want
		inventory int
		probes    int
	}{{
		name: "printer on a dedicated connector: inventory, not a finding",
		sessions: []*session.Session{sess("EX01", relay, ex, "10.30.5.21:1", ehlo("SCAN01"), perms(relayPerms), mail("scanner@contoso.com", "p@fabrikam.com")),
			sess("EX01", relay, ex, "10.30.5.21:2", ehlo("SCAN01"), perms(relayPerms), mail("scanner@contoso.com", "bob@contoso.com"))},
		inventory: 1,
	}, {
		name:     "public host on a relay connector: high",
		sessions: []*session.Session{sess("EX01", relay, ex, "198.51.100.77:1", ehlo("User"), perms(relayPerms), mail("x@paypa1.example", outside(3)...))},
		want:     []want{{"anonymous-relay", SeverityHigh, "EX01", relay, "198.51.100.77"}},
	}, {
		name:     "public host through the Internet-facing default connector: critical open relay",
		sessions: []*session.Session{sess("EX01", fe, ex, "198.51.100.78:1", perms(relayPerms), mail("x@spam.example", outside(2)...))},
		want:     []want{{"anonymous-relay", SeverityCritical, "EX01", fe, "198.51.100.78"}},
	}, {
		name:     "internal host mailing many outside domains: high",
		sessions: []*session.Session{sess("EX01", relay, ex, "10.30.5.40:1", perms(relayPerms), mail("app@contoso.com", outside(ManyRelayDomains)...))},
		want:     []want{{"anonymous-relay", SeverityHigh, "EX01", relay, "10.30.5.40"}},
	}, {
		name:      "public range given as internal: inventory",
		org:       Org{Internal: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
		sessions:  []*session.Session{sess("EX01", relay, ex, "198.51.100.77:1", perms(relayPerms), mail("x@contoso.com", outside(1)...))},
		inventory: 1,
	}, {
		name:     "authenticated user sending out: quiet",
		sessions: []*session.Session{sess("EX01", `EX01\Client Frontend EX01`, "10.1.0.10:587", "10.40.0.9:1", authed(session.AuthUser, `CONTOSO\alice`), perms(relayPerms), mail("alice@contoso.com", outside(3)...))},
	}, {
		name:     "proxied copy on the Hub is not counted twice: quiet",
		sessions: []*session.Session{sess("EX01", `EX01\Default EX01`, "10.1.0.10:2525", "10.1.0.11:1", func(s *session.Session) { s.Proxied = true; s.Client = netip.MustParseAddr("198.51.100.77") }, perms(relayPerms), mail("x@y.example", outside(3)...))},
	}, {
		name:     "recipient in an accepted subdomain given by wildcard: quiet",
		org:      Org{AcceptedDomains: []string{"*.contoso.com"}},
		sessions: []*session.Session{sess("EX01", relay, ex, "198.51.100.77:1", perms(relayPerms), mail("x@y.example", "a@eu.contoso.com"))},
	}, {
		name:     "refused relay attempts: probes, reported apart",
		sessions: []*session.Session{sess("EX01", fe, ex, "45.1.2.3:1", mail("x@y.example", "a@gmail.com:550")), sess("EX01", fe, ex, "45.1.2.4:1", mail("x@y.example", "a@qq.com:550"))},
		probes:   1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyze(tt.org, base, tt.sessions)
			check(t, rep.Findings, tt.want...)
			if len(rep.Inventory) != tt.inventory || len(rep.Probes) != tt.probes {
				t.Errorf("inventory %d, probes %d; want %d, %d", len(rep.Inventory), len(rep.Probes), tt.inventory, tt.probes)
			}
		})
	}
}

// TestRelayProbeFromMicrosoft365: the refusal stays listed as a probe (called
// out as Microsoft 365) and is reported once as a finding, by the
// inbound-refused detector.
func TestRelayProbeFromMicrosoft365(t *testing.T) {
	rep := analyze(Org{}, []*session.Session{sess("EX01", `EX01\Default Frontend EX01`, "10.1.0.10:25", "40.107.19.96:1", mail("a@partner.example", "u@newdomain.example:550"))})
	if len(rep.Probes) != 1 || rep.Probes[0].Severity != SeverityMedium || !strings.Contains(rep.Probes[0].Cause, "Exchange Online Protection") {
		t.Fatalf("probes %+v", rep.Probes)
	}
	check(t, rep.Findings, want{"inbound-refused", SeverityHigh, "EX01", `EX01\Default Frontend EX01`, ""})
}

func TestExchangeAuthDetector(t *testing.T) {
	custom := `EX01\Relay Hub EX01`
	ex1, ex2 := "10.1.0.11", "10.1.0.12"
	// Each server's own logs make it a known Exchange server.
	known := []*session.Session{
		sess("EX01", `EX01\Default EX01`, ex1+":2525", ex2+":1", authed(session.AuthExchange, `CONTOSO\EX02$`)),
		sess("EX02", `EX02\Default EX02`, ex2+":2525", ex1+":1", authed(session.AuthExchange, `CONTOSO\EX01$`)),
	}
	sendFail := sess("EX02", "Intra-Organization SMTP Send Connector", ex2+":3000", ex1+":2525", send(), exFail())
	landing := sess("EX01", custom, ex1+":2525", ex2+":3000", noEXPS())
	tests := []struct {
		name     string
		sessions []*session.Session
		want     []want
		fix      string
	}{{
		name:     "451 in the sender's send log, cause in the receiver's receive log",
		sessions: []*session.Session{sendFail, landing},
		want:     []want{{"exchange-auth-5.7.3", SeverityHigh, "EX01", custom, ex2}},
		fix:      `Set-ReceiveConnector -Identity 'EX01\Relay Hub EX01' -RemoteIPRanges @{Remove='10.1.0.12'}`,
	}, {
		name:     "cause only (send logs not scanned)",
		sessions: []*session.Session{landing},
		want:     []want{{"exchange-auth-5.7.3", SeverityHigh, "EX01", custom, ex2}},
		fix:      `@{Remove='10.1.0.12'}`,
	}, {
		name:     "451 only (receiver's logs not scanned)",
		sessions: []*session.Session{sess("EX02", "Intra-Organization SMTP Send Connector", ex2+":3000", "10.1.0.99:2525", send(), exFail())},
		want:     []want{{"exchange-auth-5.7.3", SeverityHigh, "10.1.0.99", "", ex2}},
		fix:      "SMTP/ESMTP inspection",
	}, {
		name:     "an application on the custom connector is not an Exchange server: quiet",
		sessions: []*session.Session{sess("EX01", custom, ex1+":2525", "10.1.0.50:1", noEXPS())},
	}, {
		name:     "a user authenticating on a connector without X-EXPS: quiet",
		sessions: []*session.Session{sess("EX01", `EX01\Client Frontend EX01`, ex1+":587", ex2+":1", noEXPS(), authed(session.AuthUser, `CONTOSO\HealthMailbox`))},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyze(Org{}, known, tt.sessions)
			check(t, rep.Findings, tt.want...)
			if tt.fix != "" && !strings.Contains(strings.Join(rep.Findings[0].Fix, "\n"), tt.fix) {
				t.Errorf("fix lacks %q:\n%s", tt.fix, strings.Join(rep.Findings[0].Fix, "\n"))
			}
		})
	}
}

// Two Exchange servers: EX02 (10.1.0.12) sends to EX01 (10.1.0.11).
const (
	exSender   = "10.1.0.12"
	exReceiver = "10.1.0.11"
	relayHub   = `EX01\Relay Hub EX01`
)

// knownServers are each server's own logs, which make both known Exchange servers.
func knownServers() []*session.Session {
	return []*session.Session{
		sess("EX01", `EX01\Default EX01`, exReceiver+":2525", exSender+":1", authed(session.AuthExchange, `CONTOSO\EX02$`)),
		sess("EX02", `EX02\Default EX02`, exSender+":2525", exReceiver+":1", authed(session.AuthExchange, `CONTOSO\EX01$`)),
	}
}

func quitAfterEHLO() sessOpt { return func(s *session.Session) { s.QuitAfterEHLO = true } }

// attempts is a queue retrying every 10 minutes: n send-log sessions from
// EX02 to remote, and (with recv) the receive-log sessions of the same
// attempts on EX01's custom connector, 40 ms later, same ports.
func attempts(n int, remote string, sendLog, recvLog bool, portShift int) []*session.Session {
	var out []*session.Session
	for i := range n {
		d := time.Duration(i)*10*time.Minute + time.Duration(i)*1100*time.Millisecond
		port := fmt.Sprint(30000 + i)
		if sendLog {
			out = append(out, sess("EX02", "Intra-Organization SMTP Send Connector", exSender+":"+port, remote, send(), noEXPS(), quitAfterEHLO(), at(d)))
		}
		if recvLog {
			rport := fmt.Sprint(30000 + i + portShift)
			out = append(out, sess("EX01", relayHub, exReceiver+":2525", exSender+":"+rport, noEXPS(), quitAfterEHLO(), at(d+40*time.Millisecond)))
		}
	}
	return out
}

func TestExchangeAuthSignature(t *testing.T) {
	toEX01 := exReceiver + ":2525"
	tests := []struct {
		name     string
		org      Org
		sessions []*session.Session
		want     []want
		counts   map[string]int64
		seenIn   string // a "seen in" value must contain this
	}{{
		name:     "retry series in both logs: each attempt counted once",
		sessions: attempts(6, toEX01, true, true, 0),
		want:     []want{{"exchange-auth-5.7.3", SeverityHigh, "EX01", relayHub, exSender}},
		counts:   map[string]int64{"failed_attempts": 6, "attempts_in_send_logs": 6, "attempts_in_receive_logs": 6, "attempts_in_both": 6, "retry_interval_seconds": 601, "rows_with_451_text": 0},
	}, {
		name:     "ports differ: not the same attempts",
		sessions: attempts(3, toEX01, true, true, 7),
		want:     []want{{"exchange-auth-5.7.3", SeverityHigh, "EX01", relayHub, exSender}},
		counts:   map[string]int64{"failed_attempts": 6, "attempts_in_both": 0},
	}, {
		name:     "retry series in the sender's send logs only",
		sessions: attempts(4, toEX01, true, false, 0),
		want:     []want{{"exchange-auth-5.7.3", SeverityHigh, "EX01", "", exSender}},
		counts:   map[string]int64{"failed_attempts": 4, "attempts_in_send_logs": 4, "attempts_in_receive_logs": 0},
		seenIn:   "none in EX01's receive logs",
	}, {
		name:     "receive logs only, the sender's send logs read: never called missing",
		sessions: append(attempts(3, toEX01, false, true, 0), sess("EX02", "Outbound to Internet", exSender+":4000", "203.0.113.25:25", send(), at(time.Hour))),
		want:     []want{{"exchange-auth-5.7.3", SeverityHigh, "EX01", relayHub, exSender}},
		counts:   map[string]int64{"failed_attempts": 3, "attempts_in_send_logs": 0, "attempts_in_receive_logs": 3},
		seenIn:   "none in EX02's send logs, which were read",
	}, {
		name:     "receive logs only, no send log of the sender",
		sessions: attempts(3, toEX01, false, true, 0),
		want:     []want{{"exchange-auth-5.7.3", SeverityHigh, "EX01", relayHub, exSender}},
		seenIn:   "EX02's send logs were not in this scan",
	}, {
		name:     "one QUIT after EHLO to an Exchange server is not a retry series: quiet",
		sessions: attempts(1, toEX01, true, false, 0),
	}, {
		name:     "a smart host on the Internet lacks X-EXPS, as they all do: quiet",
		sessions: attempts(6, "203.0.113.25:25", true, false, 0),
	}, {
		name:     "a smart host given as an Exchange server: fires",
		org:      Org{ExchangeServers: []ServerAddr{{Name: "EX09", Prefix: netip.MustParsePrefix("10.1.0.99/32")}}},
		sessions: attempts(2, "10.1.0.99:2525", true, false, 0),
		want:     []want{{"exchange-auth-5.7.3", SeverityHigh, "EX09", "", exSender}},
	}, {
		name: "X-EXPS offered: the signature does not apply: quiet",
		sessions: func() []*session.Session {
			l := attempts(3, toEX01, true, false, 0)
			return append(l[:0:0], withEXPS(l)...)
		}(),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyze(tt.org, knownServers(), tt.sessions)
			check(t, rep.Findings, tt.want...)
			if len(tt.want) == 0 {
				return
			}
			f := rep.Findings[0]
			for k, v := range tt.counts {
				if f.Counts[k] != v {
					t.Errorf("counts[%s] = %d, want %d (%v)", k, f.Counts[k], v, f.Counts)
				}
			}
			if tt.seenIn != "" && !strings.Contains(strings.Join(f.Facts[0].Values, "|"), tt.seenIn) {
				t.Errorf("seen in %q lacks %q", f.Facts[0].Values, tt.seenIn)
			}
			if strings.Contains(f.Explanation, "were not in this scan") && strings.Contains(tt.seenIn, "were read") {
				t.Errorf("claims the send logs are missing: %s", f.Explanation)
			}
		})
	}
}

func withEXPS(l []*session.Session) []*session.Session {
	for _, s := range l {
		s.OfferedEXPS = true
	}
	return l
}

// TestExchangeAuthFailing: X-EXPS offered but failing is its own finding,
// with the status text kept as logged.
func TestExchangeAuthFailing(t *testing.T) {
	status := "Outbound Exchange Authentication failed with TargetUnknown"
	failing := func(s *session.Session) {
		s.ExchangeAuthInfo = []session.InfoRow{{Text: status, At: session.Ref{File: "SEND.LOG", Line: 9}}}
	}
	rep := analyze(Org{}, knownServers(), []*session.Session{
		sess("EX02", "Intra-Organization SMTP Send Connector", exSender+":3000", exReceiver+":2525", send(), failing),
		sess("EX02", "Intra-Organization SMTP Send Connector", exSender+":3001", exReceiver+":2525", send(), failing, at(10*time.Minute)),
	})
	check(t, rep.Findings, want{"exchange-auth-5.7.3", SeverityHigh, "EX01", "", exSender})
	f := rep.Findings[0]
	if !strings.Contains(f.Title, "offered but failing") || f.Counts["sessions_in_send_logs"] != 2 ||
		!strings.Contains(f.Facts[0].Values[0], status) || !strings.Contains(f.Cause, "Kerberos") {
		t.Errorf("finding = %s %v %v %s", f.Title, f.Counts, f.Facts, f.Cause)
	}
}

func prxSession(server string, i int, text string) *session.Session {
	return sess(server, server+`\Default Frontend `+server, "10.1.0.10:25", fmt.Sprintf("198.18.0.%d:1", i%200+1), at(time.Duration(i)*time.Minute),
		func(s *session.Session) { s.Errors = []session.Reply{{Command: "RCPT", Code: 451, Text: text}} })
}

func TestFrontEndProxyDetector(t *testing.T) {
	prx := func(n int, text string) []*session.Session {
		var out []*session.Session
		for i := range n {
			out = append(out, prxSession("EX01", i, text))
		}
		return out
	}
	prx4 := "451 4.7.0 Temporary server error. Please try again later. PRX4 "
	tests := []struct {
		name     string
		sessions [][]*session.Session
		want     []want
	}{
		{"a lasting fault: high", [][]*session.Session{prx(PRXManyReplies, prx4)}, []want{{"frontend-proxy-prx", SeverityHigh, "EX01", `EX01\Default Frontend EX01`, ""}}},
		{"a few: medium", [][]*session.Session{prx(PRXManyReplies-1, prx4)}, []want{{"frontend-proxy-prx", SeverityMedium, "EX01", `EX01\Default Frontend EX01`, ""}}},
		{"451 4.7.0 without a PRX code (greylisting): quiet", [][]*session.Session{prx(20, "451 4.7.0 Temporary server error. Please try again later")}, nil},
		{"PRX text in a 5xx: quiet", [][]*session.Session{{sess("EX01", `EX01\Default Frontend EX01`, "10.1.0.10:25", "198.18.0.1:1",
			func(s *session.Session) { s.Errors = []session.Reply{{Code: 550, Text: "550 5.7.1 PRX4 "}} })}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyze(Org{}, tt.sessions...)
			check(t, rep.Findings, tt.want...)
		})
	}
	rep := analyze(Org{}, prx(12, prx4), prx(3, "451 4.7.0 Temporary server error. Please try again later. PRX3 "))
	f := rep.Findings[0]
	if f.Counts["prx4"] != 12 || f.Counts["prx3"] != 3 || f.Counts["replies"] != 15 || !strings.Contains(f.Title, "PRX4, PRX3") || !strings.Contains(f.Cause, "PRX4: reported when") {
		t.Errorf("per-code counts: %s %v\n%s", f.Title, f.Counts, f.Cause)
	}
}

func TestInboundRefusedDetector(t *testing.T) {
	fe := `EX01\Default Frontend EX01`
	refused := func(ip, to string) *session.Session {
		return sess("EX01", fe, "10.1.0.10:25", ip+":1", mail("a@partner.example", to+":550"))
	}
	user := sess("EX01", `EX01\Client Frontend EX01`, "10.1.0.10:587", "10.40.0.9:1", authed(session.AuthUser, `CONTOSO\alice`), mail("alice@fabrikam-new.com", "x@partner.example"))
	base := internet("EX01", "10.1.0.10", 20) // contoso.com accepted
	tests := []struct {
		name     string
		sessions []*session.Session
		want     []want
		domain   string
	}{
		{"Microsoft 365 refused: high, naming the domain", []*session.Session{refused("40.107.19.96", "u@newdomain.example")},
			[]want{{"inbound-refused", SeverityHigh, "EX01", fe, ""}}, "newdomain.example"},
		{"IPv6 Microsoft 365", []*session.Session{refused("[2a01:111:f403:7000::1]", "u@newdomain.example")},
			[]want{{"inbound-refused", SeverityHigh, "EX01", fe, ""}}, "newdomain.example"},
		{"many bots to gmail.com: probing, quiet", []*session.Session{refused("45.1.2.3", "a@gmail.com"), refused("45.1.2.4", "b@gmail.com"),
			refused("45.1.2.5", "c@gmail.com"), refused("45.1.2.6", "d@gmail.com"), refused("45.1.2.7", "e@gmail.com")}, nil, ""},
		{"the organisation's own domain from enough senders: high", []*session.Session{user, refused("198.51.100.1", "a@fabrikam-new.com"),
			refused("198.51.100.2", "b@fabrikam-new.com"), refused("198.51.100.3", "c@fabrikam-new.com")},
			[]want{{"inbound-refused", SeverityHigh, "EX01", fe, ""}}, "fabrikam-new.com"},
		{"own domain, too few senders: quiet", []*session.Session{user, refused("198.51.100.1", "a@fabrikam-new.com"), refused("198.51.100.2", "b@fabrikam-new.com")}, nil, ""},
		{"a subdomain of an accepted domain: high", []*session.Session{refused("198.51.100.1", "a@eu.contoso.com"),
			refused("198.51.100.2", "b@eu.contoso.com"), refused("198.51.100.3", "c@eu.contoso.com")},
			[]want{{"inbound-refused", SeverityHigh, "EX01", fe, ""}}, "eu.contoso.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyze(Org{}, base, tt.sessions)
			check(t, rep.Findings, tt.want...)
			if tt.domain != "" && !strings.Contains(rep.Findings[0].Title, tt.domain) {
				t.Errorf("title %q does not name %s", rep.Findings[0].Title, tt.domain)
			}
		})
	}
}
