package heuristics

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// Reply texts as receivers send them (documentation addresses).
const (
	replyZen      = "554 5.7.1 Service unavailable; Client host [203.0.113.25] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.25"
	replyZenNoIP  = "554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org"
	replyGmail421 = "421-4.7.0 [203.0.113.25      15] Our system has detected an unusual rate of 421-4.7.0 unsolicited mail originating from your IP address. To protect our 421-4.7.0 users from spam, mail sent from your IP address has been temporarily 421-4.7.0 rate limited. 421 4.7.0 gsmtp"
	replyPolicy   = "550 5.7.1 Message rejected due to content restrictions"
)

var blLine int64

// refusedAt adds a message whose recipients all got reply to RCPT, logged
// the way the session builder keeps it: the recipient's code and reply, and
// the reply row in Errors.
func refusedAt(cmd, reply string, rcpts ...string) sessOpt {
	return func(s *session.Session) {
		blLine += 10
		m := session.Message{From: "peggy@contoso.com", At: session.Ref{File: "SEND.LOG", Line: blLine}}
		code := int(reply[0]-'0')*100 + int(reply[1]-'0')*10 + int(reply[2]-'0')
		for i, r := range rcpts {
			at := session.Ref{File: "SEND.LOG", Line: blLine + 1 + int64(i)}
			rc := session.Rcpt{Addr: r, Domain: session.DomainOf(r), Code: 250, Reply: "250 2.1.5 Recipient OK", At: at}
			if cmd == "RCPT" {
				rc.Code, rc.Reply = code, reply
				s.Errors = append(s.Errors, session.Reply{Command: "RCPT", Code: code, Text: reply, At: session.Ref{File: "SEND.LOG", Line: blLine + 5 + int64(i)}})
			}
			m.Rcpts = append(m.Rcpts, rc)
		}
		if cmd != "RCPT" {
			s.Errors = append(s.Errors, session.Reply{Command: cmd, Code: code, Text: reply, At: session.Ref{File: "SEND.LOG", Line: blLine + 9}})
		}
		if len(rcpts) > 0 || cmd != "" {
			s.Messages = append(s.Messages, m)
		}
	}
}

// delivered adds a message the receiver took for rcpts.
func delivered(rcpts ...string) sessOpt {
	return func(s *session.Session) {
		blLine += 10
		m := session.Message{From: "peggy@contoso.com", Queued: true, At: session.Ref{File: "SEND.LOG", Line: blLine}}
		for _, r := range rcpts {
			m.Rcpts = append(m.Rcpts, session.Rcpt{Addr: r, Domain: session.DomainOf(r), Code: 250, Reply: "250 2.1.5 Recipient OK"})
		}
		s.Messages = append(s.Messages, m)
	}
}

// greeting adds a refusal of the connection itself.
func greeting(reply string) sessOpt {
	return func(s *session.Session) {
		s.Errors = append(s.Errors, session.Reply{Code: int(reply[0]-'0') * 100, Text: reply, At: session.Ref{File: "SEND.LOG", Line: 3}})
	}
}

const outbound = "Outbound to Internet"

func out(local string, opts ...sessOpt) *session.Session {
	return sess("EX01", outbound, local+":40000", "192.0.2.25:25", append([]sessOpt{send()}, opts...)...)
}

func TestBlocklistDetector(t *testing.T) {
	const priv, pub = "10.1.0.10", "203.0.113.40"
	tests := []struct {
		name     string
		sessions []*session.Session
		want     []want
		title    string // a part of the first finding's title
		fact     string // a part of some fact of the first finding
	}{{
		name:     "one 5xx refusal by a DNSBL: high",
		sessions: []*session.Session{out(priv, refusedAt("RCPT", replyZen, "a@gmx.de"))},
		want:     []want{{detectorBlocklist, SeverityHigh, "EX01", outbound, "203.0.113.25"}},
		title:    "Our public IP 203.0.113.25 is blocklisted (Spamhaus ZEN)",
	}, {
		name: "4xx reputation deferral, retried and delivered later: low",
		sessions: []*session.Session{out(priv, at(0), refusedAt("RCPT", replyGmail421, "a@gmail.com")),
			out(priv, at(15*time.Minute), delivered("a@gmail.com"))},
		want:  []want{{detectorBlocklist, SeverityLow, "EX01", outbound, "203.0.113.25"}},
		title: "then delivered",
	}, {
		name:     "4xx deferral never delivered: medium",
		sessions: []*session.Session{out(priv, at(0), refusedAt("RCPT", replyGmail421, "a@gmail.com"))},
		want:     []want{{detectorBlocklist, SeverityMedium, "EX01", outbound, "203.0.113.25"}},
	}, {
		name: "delivered only before the deferral: medium",
		sessions: []*session.Session{out(priv, at(time.Hour), refusedAt("RCPT", replyGmail421, "a@gmail.com")),
			out(priv, at(0), delivered("a@gmail.com"))},
		want: []want{{detectorBlocklist, SeverityMedium, "EX01", outbound, "203.0.113.25"}},
	}, {
		name: "a deferred connection cannot be followed: medium",
		sessions: []*session.Session{out(priv, greeting(replyGmail421)),
			out(priv, at(time.Hour), delivered("a@gmail.com"))},
		want: []want{{detectorBlocklist, SeverityMedium, "EX01", outbound, "203.0.113.25"}},
	}, {
		name:     "no IP in the reply, public local address: that address, said so",
		sessions: []*session.Session{out(pub, refusedAt("DATA", replyZenNoIP, "a@gmx.de", "b@gmx.de"))},
		want:     []want{{detectorBlocklist, SeverityHigh, "EX01", outbound, pub}},
		fact:     "sending server's own (public) address",
	}, {
		name:     "no IP in the reply, private local address: not named, per server",
		sessions: []*session.Session{out(priv, refusedAt("MAIL", replyZenNoIP, "a@gmx.de"))},
		want:     []want{{detectorBlocklist, SeverityHigh, "EX01", outbound, ""}},
		title:    "The public IP of EX01",
	}, {
		name: "ordinary bounces, greylisting, relay and TLS refusals: quiet",
		sessions: []*session.Session{out(priv,
			refusedAt("RCPT", "550 5.1.1 <a@fabrikam.com>: Recipient address rejected: User unknown", "a@fabrikam.com"),
			refusedAt("RCPT", "450 4.2.0 <b@fabrikam.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/fabrikam.com.html", "b@fabrikam.com"),
			refusedAt("RCPT", "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain", "c@fabrikam.com"),
			refusedAt("MAIL", "530 5.7.0 Must issue a STARTTLS command first", "d@fabrikam.com"),
			refusedAt("MAIL", "530 5.7.57 Client not authenticated to send mail", "e@fabrikam.com"),
			greeting("421 4.3.2 Service not available"))},
	}, {
		name: "the same replies in a receive log are our own: quiet",
		sessions: []*session.Session{sess("EX01", `EX01\Default Frontend EX01`, priv+":25", "198.51.100.9:1",
			refusedAt("RCPT", replyZen, "a@contoso.com"))},
	}, {
		name: "unrecognised 5.7.x from fewer than PolicyRejectionDomains domains: info",
		sessions: []*session.Session{out(priv, refusedAt("DATA", replyPolicy, "a@one.example")),
			out(priv, refusedAt("DATA", replyPolicy, "a@two.example"))},
		want:  []want{{detectorBlocklist, SeverityInfo, "EX01", outbound, ""}},
		title: "Unrecognised policy rejections",
		fact:  "content restrictions",
	}, {
		name: "unrecognised 5.7.x from PolicyRejectionDomains domains: low",
		sessions: []*session.Session{out(priv, refusedAt("DATA", replyPolicy, "a@one.example")),
			out(priv, refusedAt("DATA", replyPolicy, "a@two.example")), out(priv, refusedAt("DATA", replyPolicy, "a@three.example"))},
		want: []want{{detectorBlocklist, SeverityLow, "EX01", outbound, ""}},
	}, {
		name:     "DMARC refusal: medium, its own finding",
		sessions: []*session.Session{out(priv, refusedAt("RCPT", "550 5.7.26 Unauthenticated email from contoso.com is not accepted due to domain's DMARC policy", "a@gmail.com"))},
		want:     []want{{detectorBlocklist, SeverityMedium, "EX01", outbound, ""}},
		title:    "SPF/DKIM/DMARC",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyze(Org{}, tt.sessions)
			check(t, rep.Findings, tt.want...)
			if len(rep.Findings) == 0 {
				return
			}
			f := rep.Findings[0]
			if !strings.Contains(f.Title, tt.title) {
				t.Errorf("title %q lacks %q", f.Title, tt.title)
			}
			if tt.fact != "" && !strings.Contains(factText(f), tt.fact) {
				t.Errorf("facts lack %q:\n%s", tt.fact, factText(f))
			}
		})
	}
}

func factText(f Finding) string {
	var b strings.Builder
	for _, x := range f.Facts {
		b.WriteString(x.Name + ": " + strings.Join(x.Values, "; ") + "\n")
	}
	return b.String()
}

// TestBlocklistOneFindingPerIP: refusals by several lists, on two servers
// and two connectors, are one finding about the IP, with the lists counted.
func TestBlocklistOneFindingPerIP(t *testing.T) {
	s3150 := "550 5.7.1 Unfortunately, messages from [203.0.113.25] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."
	sessions := []*session.Session{
		out("10.1.0.10", refusedAt("RCPT", replyZen, "a@gmx.de", "b@gmx.de")),
		out("10.1.0.10", refusedAt("RCPT", s3150, "c@hotmail.com")),
		sess("EX02", "Smart host", "10.1.0.11:1", "192.0.2.26:25", send(), refusedAt("RCPT", replyZen, "d@libero.it")),
	}
	rep := analyze(Org{}, sessions)
	check(t, rep.Findings, want{detectorBlocklist, SeverityHigh, "EX01", outbound, "203.0.113.25"})
	f := rep.Findings[0]
	if f.Counts["refusals"] != 4 || f.Counts["recipients_refused"] != 4 || f.Counts["messages_refused"] != 3 || f.Counts["destination_domains"] != 3 {
		t.Errorf("counts %v", f.Counts)
	}
	for _, w := range []string{"Spamhaus ZEN (3)", "Microsoft (S3150) (1)", "gmx.de (2)", "EX02 / Smart host (1)", "EX01 / Outbound to Internet (3)"} {
		if !strings.Contains(factText(f), w) {
			t.Errorf("facts lack %q:\n%s", w, factText(f))
		}
	}
	fix := strings.Join(f.Fix, "\n")
	for _, w := range []string{"https://check.spamhaus.org", "https://sender.office.com", "Get-Queue | ? LastError -match"} {
		if !strings.Contains(fix, w) {
			t.Errorf("fix lacks %q", w)
		}
	}
}

// TestBlocklistTextsOfOneSession: a session refused with one text, then
// another, then the first again is classified text by text (observe reuses
// the last text's class while the text repeats).
func TestBlocklistTextsOfOneSession(t *testing.T) {
	s3150 := "550 5.7.1 Unfortunately, messages from [203.0.113.25] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."
	s := out("10.1.0.10", refusedAt("RCPT", replyZen, "a@gmx.de", "b@gmx.de"), refusedAt("RCPT", s3150, "c@hotmail.com"),
		refusedAt("RCPT", replyZen, "d@gmx.de"))
	rep := analyze(Org{}, []*session.Session{s})
	check(t, rep.Findings, want{detectorBlocklist, SeverityHigh, "EX01", outbound, "203.0.113.25"})
	f := rep.Findings[0]
	if f.Counts["refusals"] != 4 || f.Counts["recipients_refused"] != 4 {
		t.Errorf("counts %v", f.Counts)
	}
	for _, w := range []string{"Spamhaus ZEN (3)", "Microsoft (S3150) (1)"} {
		if !strings.Contains(factText(f), w) {
			t.Errorf("facts lack %q:\n%s", w, factText(f))
		}
	}
}

// TestBlocklistPastErrorCap: a session keeps 32 errors; refused recipients
// past that are counted from their replies.
func TestBlocklistPastErrorCap(t *testing.T) {
	var rcpts []string
	for i := range 40 {
		rcpts = append(rcpts, fmt.Sprintf("u%d@gmx.de", i))
	}
	s := out("10.1.0.10", refusedAt("RCPT", replyZen, rcpts...))
	s.ErrorsCapped, s.Errors = len(s.Errors)-32, s.Errors[:32]
	rep := analyze(Org{}, []*session.Session{s})
	check(t, rep.Findings, want{detectorBlocklist, SeverityHigh, "EX01", outbound, "203.0.113.25"})
	if c := rep.Findings[0].Counts; c["recipients_refused"] != 40 || c["refusals"] != 40 || c["messages_refused"] != 1 {
		t.Errorf("counts %v", c)
	}
}

// TestBlocklistOrderIndependent: the report does not depend on the order
// sessions finish in.
func TestBlocklistOrderIndependent(t *testing.T) {
	var sessions []*session.Session
	for i, r := range []string{"a@gmx.de", "b@web.de", "c@gmail.com", "d@libero.it", "e@gmx.de", "f@web.de", "g@free.fr"} {
		reply := replyZen
		if i%3 == 1 {
			reply = replyGmail421
		}
		sessions = append(sessions, out("10.1.0.10", at(time.Duration(i%3)*time.Minute), refusedAt("RCPT", reply, r)))
		sessions = append(sessions, out("10.1.0.10", at(time.Duration(i)*time.Hour), delivered(r)))
		sessions = append(sessions, out("10.1.0.10", at(time.Duration(i%2)*time.Minute), refusedAt("DATA", replyPolicy, r)))
	}
	want := analyze(Org{}, sessions).Findings
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10 {
		rng.Shuffle(len(sessions), func(i, j int) { sessions[i], sessions[j] = sessions[j], sessions[i] })
		if got := analyze(Org{}, sessions).Findings; !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffled sessions give another report:\n%+v\nwant\n%+v", got, want)
		}
	}
}

// TestBlocklistHostileText: text from the logs reaches prose and facts, but
// a fix command only holds it single-quoted.
func TestBlocklistHostileText(t *testing.T) {
	evil := "554 5.7.1 Client host [203.0.113.25] blocked using zen.spamhaus.org; $(Remove-Item C:\\ -Recurse)'; \x1b[31m"
	s := sess("EX'01", outbound, "10.1.0.10:40000", "192.0.2.25:25", send(), refusedAt("RCPT", evil, "a@gmx.de"))
	rep := analyze(Org{}, []*session.Session{s})
	if len(rep.Findings) != 1 {
		t.Fatalf("findings %d", len(rep.Findings))
	}
	for _, fx := range rep.Findings[0].Fix {
		if strings.Contains(fx, "Remove-Item") {
			t.Errorf("log text in a fix: %s", fx)
		}
		if strings.Contains(fx, "-Server ") && !strings.Contains(fx, "-Server 'EX''01'") {
			t.Errorf("server not single-quoted: %s", fx)
		}
	}
}

// TestBlocklistFixtures: the hand-made send logs under testdata/blocklist,
// read the way `logscan scan` reads them.
func TestBlocklistFixtures(t *testing.T) {
	dir := filepath.Join("testdata", "blocklist")
	t.Run("relay then listed", func(t *testing.T) {
		rep := scanDir(t, Org{}, filepath.Join(dir, "relay-then-listed"))
		check(t, rep.Findings,
			want{detectorRelay, SeverityHigh, "EX02", `EX02\Anonymous Relay EX02`, "198.51.100.77"},
			want{detectorBlocklist, SeverityHigh, "EX02", outbound, "203.0.113.25"},
			want{detectorBlocklist, SeverityMedium, "EX02", outbound, ""},
			want{detectorBlocklist, SeverityInfo, "EX02", outbound, ""})
		relay, bl := rep.Findings[0], rep.Findings[1]
		wantCounts := map[string]int64{"refusals": 8, "permanent": 8, "temporary": 0, "recipients_refused": 7, "messages_refused": 5,
			"connections_refused": 1, "sessions": 5, "destination_domains": 5, "deferred_not_delivered": 0, "deferred_recipients_delivered_later": 0}
		if !reflect.DeepEqual(bl.Counts, wantCounts) {
			t.Errorf("counts %v\nwant %v", bl.Counts, wantCounts)
		}
		line := `Relay through EX02\Anonymous Relay EX02 from 198.51.100.77 began 2026-11-02 14:10:04Z; first blocklist rejection 2026-11-02 16:55:03Z (Spamhaus ZEN, 203.0.113.25).`
		if !strings.Contains(bl.Explanation, line) {
			t.Errorf("explanation lacks the relay line:\n%s", bl.Explanation)
		}
		i := slices.IndexFunc(bl.Facts, func(f Fact) bool { return f.Name == "caused by" })
		if i < 0 || !reflect.DeepEqual(bl.Facts[i].Values, []string{relay.ID}) {
			t.Errorf("caused by = %v, want [%s]", bl.Facts, relay.ID)
		}
		for _, w := range []string{"Microsoft (S3150) (3)", "Spamhaus ZEN (3)", "Barracuda BRBL (1)", "Gmail (1)", "gmx.de (2)", "hotmail.com (2)"} {
			if !strings.Contains(factText(bl), w) {
				t.Errorf("facts lack %q:\n%s", w, factText(bl))
			}
		}
		if got := bl.Samples[0].At; !strings.HasSuffix(got, "SEND2026110216-1.LOG:38") {
			t.Errorf("first sample %s, want the first Spamhaus row (line 38)", got)
		}
		if one := scanWorkers(t, 1, Org{}, filepath.Join(dir, "relay-then-listed")); !reflect.DeepEqual(one.Findings, rep.Findings) {
			t.Error("one worker and two workers give different findings")
		}
	})
	t.Run("deferred then delivered", func(t *testing.T) {
		rep := scanDir(t, Org{}, filepath.Join(dir, "deferred-then-delivered"))
		check(t, rep.Findings, want{detectorBlocklist, SeverityLow, "EX01", outbound, "203.0.113.10"})
		if c := rep.Findings[0].Counts; c["deferred_recipients_delivered_later"] != 2 || c["deferred_not_delivered"] != 0 {
			t.Errorf("counts %v", c)
		}
	})
	t.Run("ordinary bounces", func(t *testing.T) {
		rep := scanDir(t, Org{}, filepath.Join(dir, "ordinary-bounces"))
		check(t, rep.Findings)
	})
}
