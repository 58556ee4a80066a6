package heuristics

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

const (
	clientFE  = `EX01\Client Frontend EX01`
	defaultFE = `EX01\Default Frontend EX01`
)

var contosoOnly = Org{AcceptedDomains: []string{"contoso.com"}}

// outside returns n recipients in outside domains (ten of them).
func outsideRcpts(prefix string, n int) []string {
	r := make([]string, n)
	for i := range r {
		r[i] = fmt.Sprintf("%s%d@target%d.example", prefix, i, i%10)
	}
	return r
}

// submit is an authenticated session of account from addr, sending one
// message to rcpts.
func submit(account, addr string, d time.Duration, rcpts ...string) *session.Session {
	opts := []sessOpt{authed(session.AuthUser, account), perms(relayPerms), at(d)}
	if len(rcpts) > 0 {
		opts = append(opts, mail(strings.ToLower(accountKey(account))+"@contoso.com", rcpts...))
	}
	return sess("EX01", clientFE, "10.1.0.10:587", addr+":50000", opts...)
}

// failedLogin is a session from addr that failed n logins for users.
func failedLogin(connector, addr string, d time.Duration, n int, users ...string) *session.Session {
	return sess("EX01", connector, "10.1.0.10:587", addr+":40000", at(d), func(s *session.Session) {
		s.AuthFailures, s.AuthFailedUsers = n, users
	})
}

// population is n ordinary accounts on internal PCs, each sending each
// outside recipients and one to a colleague.
func population(n, each int) []*session.Session {
	var out []*session.Session
	for i := range n {
		out = append(out, submit(fmt.Sprintf(`CONTOSO\user%03d`, i), fmt.Sprintf("10.40.%d.%d", i/200, i%200+1), time.Duration(i)*time.Minute,
			append(outsideRcpts(fmt.Sprintf("u%d.", i), each), "boss@contoso.com")...))
	}
	return out
}

// spread sends x outside recipients as victim from the addresses, in
// turns, starting at hour 5.
func spread(victim string, x int, addrs ...string) []*session.Session {
	var out []*session.Session
	rc := outsideRcpts("spam", x)
	per := (x + len(addrs) - 1) / len(addrs)
	for i, a := range addrs {
		lo, hi := min(i*per, x), min((i+1)*per, x)
		if lo < hi {
			out = append(out, submit(victim, a, 5*time.Hour+time.Duration(i)*time.Minute, rc[lo:hi]...))
		}
	}
	return out
}

func sessions(lists ...[]*session.Session) []*session.Session {
	var out []*session.Session
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// TestCompromiseDetector fires and stays quiet at each boundary of the
// statistics: the organisation (robust z of ln(1+x), MAD floored at ln 2),
// the account's own baseline (CompromiseOwnRatio), the sources.
func TestCompromiseDetector(t *testing.T) {
	const victim = `CONTOSO\victim`
	pub3 := []string{"198.51.100.10", "198.51.100.11", "198.51.100.12"}
	// Twenty accounts send 9 outside recipients: the median of ln(1+x) is
	// ln 10, the MAD 0, floored at ln 2; z = 0.6745·(ln(1+x) − ln 10)/ln 2
	// reaches 3.5 at x = 364 (363: 3.4979, 364: 3.5005).
	flat := population(20, 9)
	// Ten accounts each at 3, 9 and 24: median ln 10, MAD ln 2.5 = 0.916,
	// above the floor; z reaches 3.5 at x = 1161 (1160: 3.4998).
	var wide []*session.Session
	for i, n := range []int{3, 9, 24} {
		for j, s := range population(10, n) {
			s.AuthUser = fmt.Sprintf(`CONTOSO\w%d-%d`, i, j)
			wide = append(wide, s)
		}
	}
	tests := []struct {
		name     string
		sessions []*session.Session
		severity Severity // SeverityInfo: no finding
		source   string
	}{
		{"flat org: 364 from 3 public addresses: critical", sessions(flat, spread(victim, 364, pub3...)), SeverityCritical, pub3[0]},
		{"flat org: 363: quiet", sessions(flat, spread(victim, 363, pub3...)), SeverityInfo, ""},
		{"dispersed org: 1161: critical", sessions(wide, spread(victim, 1161, pub3...)), SeverityCritical, pub3[0]},
		{"dispersed org: 1160: quiet", sessions(wide, spread(victim, 1160, pub3...)), SeverityInfo, ""},
		{"own baseline: 100 from inside, 404 from outside (4·101): critical",
			sessions(flat, spread(victim, 404, pub3...), []*session.Session{submit(victim, "10.40.9.9", 0, outsideRcpts("own", 100)...)}), SeverityCritical, pub3[0]},
		{"own baseline: 100 from inside, 403 from outside: quiet",
			sessions(flat, spread(victim, 403, pub3...), []*session.Session{submit(victim, "10.40.9.9", 0, outsideRcpts("own", 100)...)}), SeverityInfo, ""},
		{"two public addresses: high", sessions(flat, spread(victim, 500, pub3[:2]...)), SeverityHigh, pub3[0]},
		{"one new public address, the account also works from inside: high",
			sessions(flat, spread(victim, 500, pub3[0]), []*session.Session{submit(victim, "10.40.9.9", 0, "boss@contoso.com")}), SeverityHigh, pub3[0]},
		{"one public address and nothing else (an application on an authenticated relay connector): quiet",
			sessions(flat, spread(victim, 5000, pub3[0])), SeverityInfo, ""},
		{"one public address that failed to log in first: critical",
			sessions(flat, spread(victim, 500, pub3[0]), []*session.Session{failedLogin(clientFE, pub3[0], time.Hour, 1, "victim@contoso.com")}), SeverityCritical, pub3[0]},
		{"failures only after it logged in do not count: quiet",
			sessions(flat, spread(victim, 500, pub3[0]), []*session.Session{failedLogin(clientFE, pub3[0], 9*time.Hour, 1, "victim@contoso.com")}), SeverityInfo, ""},
		{"nine accounts in the logs: no organisation to compare with",
			sessions(population(8, 9), spread(victim, 5000, pub3...)), SeverityInfo, ""},
		{"ten accounts: compared",
			sessions(population(9, 9), spread(victim, 5000, pub3...)), SeverityCritical, pub3[0]},
		{"a service account mailing customers from an internal host all day: quiet",
			sessions(flat, spread(`CONTOSO\svc-crm`, 5000, "10.30.8.15")), SeverityInfo, ""},
		{"a remote user on home, phone and hotel addresses sending a normal amount: quiet",
			sessions(flat, spread(victim, 30, pub3...)), SeverityInfo, ""},
		{"a machine account (EX10$) is an Exchange server: quiet",
			sessions(flat, spread(`CONTOSO\EX10$`, 5000, pub3...)), SeverityInfo, ""},
		{"Exchange Server authentication (X-EXPS) is not a user: quiet",
			sessions(flat, func() []*session.Session {
				l := spread(`CONTOSO\EX02$`, 5000, pub3...)
				for _, s := range l {
					s.Auth = session.AuthExchange
					s.AuthUser = "CONTOSO\\EX02"
				}
				return l
			}()), SeverityInfo, ""},
		{"a guessing address (two accounts tried) logs in and sends nothing yet: high",
			sessions(flat, []*session.Session{failedLogin(defaultFE, "203.0.113.66", 0, 2, "admin", "victim@contoso.com"), submit(victim, "203.0.113.66", time.Hour)}),
			SeverityHigh, "203.0.113.66"},
		{"one account, BruteForceMinFailures−1 failures, then in: quiet (a person retrying)",
			sessions(flat, []*session.Session{failedLogin(defaultFE, "203.0.113.66", 0, BruteForceMinFailures-1, "victim"), submit(victim, "203.0.113.66", time.Hour)}),
			SeverityInfo, ""},
		{"one account, BruteForceMinFailures failures, then in: high",
			sessions(flat, []*session.Session{failedLogin(defaultFE, "203.0.113.66", 0, BruteForceMinFailures, "victim"), submit(victim, "203.0.113.66", time.Hour)}),
			SeverityHigh, "203.0.113.66"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyze(contosoOnly, tt.sessions)
			if tt.severity == SeverityInfo {
				check(t, rep.Findings)
				return
			}
			check(t, rep.Findings, want{detectorCompromise, tt.severity, "EX01", clientFE, tt.source})
			title := rep.Findings[0].Title
			if tt.severity == SeverityCritical && !strings.HasPrefix(title, "Compromised account ") ||
				tt.severity == SeverityHigh && !strings.HasPrefix(title, "Possibly compromised account ") && !strings.HasPrefix(title, "Password of ") {
				t.Errorf("title %q", title)
			}
		})
	}
}

// TestCompromiseEvidence: the finding names the account, its sources (and
// which failed first), volume, domains, senders, span, per-hour volume and
// sample sessions; DOMAIN\user and user@domain are one account.
func TestCompromiseEvidence(t *testing.T) {
	pub := []string{"198.51.100.10", "198.51.100.11", "198.51.100.12"}
	attack := spread("victim@contoso.com", 600, pub...)
	attack[2].Messages[0].From = "billing@paypa1-secure.example"
	list := sessions(population(20, 9),
		[]*session.Session{submit(`CONTOSO\Victim`, "10.40.9.9", 0, "a@fabrikam.example"), failedLogin(defaultFE, pub[1], 4*time.Hour, 3, "admin", "victim@contoso.com", "info")},
		attack)
	rep := analyze(contosoOnly, list)
	check(t, rep.Findings, want{detectorCompromise, SeverityCritical, "EX01", clientFE, pub[0]})
	f := rep.Findings[0]
	wantCounts := map[string]int64{"sessions": 3, "messages": 3, "messages_queued": 3, "outside_recipients": 600, "distinct_outside_recipients": 600,
		"outside_domains": 10, "public_sources": 3, "sources_failed_before_login": 1, "baseline_outside_recipients": 1, "account_sessions": 4, "accounts_compared": 21}
	if !reflect.DeepEqual(f.Counts, wantCounts) {
		t.Errorf("counts %v\nwant %v", f.Counts, wantCounts)
	}
	for _, w := range []string{`CONTOSO\Victim`, "victim@contoso.com", "198.51.100.11 (200 outside recipient(s), 1 session(s)", "failed 3 login(s) first",
		"admin, info, victim", "victim@contoso.com (2)", "billing@paypa1-secure.example (1)", "target0.example (60)", "2026-11-02 15:00Z 600", "its usual addresses (the organisation's own: 1 session(s) from inside, 1 outside recipient(s) in all): 10.40.9.9"} {
		if !strings.Contains(factText(f), w) {
			t.Errorf("facts lack %q:\n%s", w, factText(f))
		}
	}
	if !f.First.Equal(attack[0].Start) || !f.Last.Equal(attack[2].End) || len(f.Samples) != 3 || f.Samples[0].Start != attack[0].Start {
		t.Errorf("span %v-%v samples %+v", f.First, f.Last, f.Samples)
	}
	for _, w := range []string{"logged in from 3 public address(es)", "1 of them (198.51.100.11) failed to log in before", "typical account in these logs sends 9 outside"} {
		if !strings.Contains(f.Explanation, w) {
			t.Errorf("explanation lacks %q:\n%s", w, f.Explanation)
		}
	}
	// The failed logins are in the attack section, as a guessing address
	// (three accounts tried) that then logged in: medium.
	if len(rep.AuthAttacks) != 1 || rep.AuthAttacks[0].Severity != SeverityMedium || !strings.Contains(factText(rep.AuthAttacks[0]), `198.51.100.11 as victim@contoso.com`) {
		t.Errorf("attacks %+v", rep.AuthAttacks)
	}
}

// TestAuthAttacks: the failed-login section per connector, at each
// severity boundary.
func TestAuthAttacks(t *testing.T) {
	bots := func(n int, users ...string) []*session.Session {
		var out []*session.Session
		for i := range n {
			out = append(out, failedLogin(defaultFE, fmt.Sprintf("45.1.%d.%d", i/200, i%200+1), time.Duration(i)*time.Minute, 1, users[i%len(users)]))
		}
		return out
	}
	names := func(n int, prefix string) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s%03d", prefix, i))
		}
		return out
	}
	hours := func(addr string, n int) []*session.Session {
		var out []*session.Session
		for i := range n {
			out = append(out, failedLogin(defaultFE, addr, time.Duration(i)*time.Hour, 1, "administrator"))
		}
		return out
	}
	org150 := population(150, 2) // accounts user000 .. user149
	tests := []struct {
		name     string
		sessions []*session.Session
		severity Severity
		title    string
	}{
		{"internal typos and stale passwords: info", []*session.Session{failedLogin(clientFE, "10.40.0.9", 0, 1, `CONTOSO\alice`), failedLogin(clientFE, "10.40.0.10", 0, 3)},
			SeverityInfo, "against 1 account(s)"},
		{"bots from the Internet: low", bots(30, "administrator", "info", "test"), SeverityLow, "30 from 30 address(es) against 3 account(s)"},
		{"one address tries SprayMinAccounts−1 accounts: low", []*session.Session{failedLogin(defaultFE, "45.9.9.9", 0, 9, names(SprayMinAccounts-1, "n")...)}, SeverityLow, ""},
		{"one address tries SprayMinAccounts accounts: medium", []*session.Session{failedLogin(defaultFE, "45.9.9.9", 0, 10, names(SprayMinAccounts, "n")...)}, SeverityMedium, ""},
		{"an internal host spraying is an attack too: medium", []*session.Session{failedLogin(defaultFE, "10.40.0.66", 0, 10, names(SprayMinAccounts, "n")...)}, SeverityMedium, ""},
		{"one public address failing in BruteForceHours−1 hours: low", hours("45.9.9.9", BruteForceHours-1), SeverityLow, ""},
		{"in BruteForceHours hours: medium", hours("45.9.9.9", BruteForceHours), SeverityMedium, ""},
		{"an internal device failing all day (stale password): info", func() []*session.Session {
			l := hours("10.40.0.9", 12)
			for _, s := range l {
				s.Connector = clientFE
			}
			return l
		}(), SeverityInfo, ""},
		// 150 accounts log in: SprayValidShare of them is 15, above SprayMinAccounts.
		{"distributed spray of 14 real accounts, one per address: low", sessions(org150, bots(14, names(14, "CONTOSO\\user")...)), SeverityLow, ""},
		{"15 real accounts: medium", sessions(org150, bots(15, names(15, "user")...)), SeverityMedium, ""},
		{"15 names that are not accounts: low", sessions(org150, bots(15, names(15, "nobody")...)), SeverityLow, ""},
		{"a guessing address then logs in: medium", sessions(population(20, 1), []*session.Session{failedLogin(defaultFE, "45.9.9.9", 0, 2, "admin", "user001"),
			submit("user001@contoso.com", "45.9.9.9", time.Hour)}), SeverityMedium, ""},
		{"a person who mistypes, then logs in: low", sessions(population(20, 1), []*session.Session{failedLogin(defaultFE, "45.9.9.9", 0, 2, "user001"),
			submit("user001@contoso.com", "45.9.9.9", time.Hour)}), SeverityLow, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var list []*session.Session
			for _, s := range tt.sessions {
				list = append(list, s)
			}
			rep := analyze(contosoOnly, list)
			var attacks []Finding
			for _, f := range rep.AuthAttacks {
				if f.Connector == defaultFE || f.Connector == clientFE {
					attacks = append(attacks, f)
				}
			}
			if len(attacks) != 1 {
				t.Fatalf("attacks %+v", rep.AuthAttacks)
			}
			f := attacks[0]
			if f.Severity != tt.severity || !strings.Contains(f.Title, tt.title) || f.Detector != detectorAuthAttack || len(f.Samples) == 0 || len(f.Fix) == 0 {
				t.Errorf("%s %q\n%s", f.Severity, f.Title, f.Explanation)
			}
			for _, x := range rep.Findings {
				if x.Severity >= SeverityMedium && x.Detector != detectorCompromise {
					t.Errorf("finding %s %s", x.Severity, x.Title)
				}
			}
		})
	}
}

// TestAuthAbuseOrderIndependent: shuffled sessions give the same report.
func TestAuthAbuseOrderIndependent(t *testing.T) {
	pub := []string{"198.51.100.10", "198.51.100.11", "198.51.100.12"}
	list := sessions(population(30, 4), spread("victim@contoso.com", 700, pub...),
		[]*session.Session{failedLogin(defaultFE, pub[1], time.Hour, 4, "admin", "victim", "info"), failedLogin(clientFE, "45.1.1.1", 0, 1, "test"),
			failedLogin(clientFE, "45.1.1.2", 0, 1, "test"), failedLogin(clientFE, "10.40.0.1", 0, 1, "user001")})
	want := analyze(contosoOnly, list)
	if len(want.Findings) != 1 || len(want.AuthAttacks) != 2 {
		t.Fatalf("findings %d attacks %d", len(want.Findings), len(want.AuthAttacks))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10 {
		rng.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
		got := analyze(contosoOnly, list)
		if !reflect.DeepEqual(got.Findings, want.Findings) || !reflect.DeepEqual(got.AuthAttacks, want.AuthAttacks) {
			t.Fatalf("shuffled sessions give another report")
		}
	}
}

// TestAuthAbuseHostileText: account names and senders from the logs reach
// prose, but a fix command holds them only single-quoted.
func TestAuthAbuseHostileText(t *testing.T) {
	evil := `CONTOSO\x'; Remove-Item C:\ -Recurse; '`
	list := sessions(population(20, 2), spread(evil, 900, "198.51.100.10", "198.51.100.11", "198.51.100.12"),
		[]*session.Session{failedLogin(`EX'01\Default Frontend`, "45.1.1.1", 0, 1, "$(evil)")})
	list[len(list)-2].Messages[0].From = "a'$(b)@x.example"
	rep := analyze(contosoOnly, list)
	if len(rep.Findings) != 1 || len(rep.AuthAttacks) != 1 {
		t.Fatalf("findings %d attacks %d", len(rep.Findings), len(rep.AuthAttacks))
	}
	for _, f := range append(rep.Findings, rep.AuthAttacks...) {
		for _, fx := range f.Fix {
			if strings.Contains(fx, "Remove-Item") && !strings.Contains(fx, `'CONTOSO\x''; Remove-Item C:\ -Recurse; '''`) {
				t.Errorf("account not single-quoted: %s", fx)
			}
			if strings.Contains(fx, "$(b)") && !strings.Contains(fx, `'a''$(b)@x.example'`) {
				t.Errorf("sender not single-quoted: %s", fx)
			}
			if strings.Contains(fx, "EX'01") && !strings.Contains(fx, `'EX''01\Default Frontend'`) {
				t.Errorf("connector not single-quoted: %s", fx)
			}
		}
	}
}

// TestBlocklistLinksCompromise: a compromised account that began sending
// outside before the first refusal is named as its cause; one that began
// after is not.
func TestBlocklistLinksCompromise(t *testing.T) {
	pub := []string{"198.51.100.10", "198.51.100.11", "198.51.100.12"}
	for _, c := range []struct {
		name    string
		refusal time.Duration
		linked  bool
	}{{"refused after the spam began", 6 * time.Hour, true}, {"refused before", 2 * time.Hour, false}} {
		t.Run(c.name, func(t *testing.T) {
			list := sessions(population(20, 9), spread("victim@contoso.com", 800, pub...),
				[]*session.Session{out("10.1.0.10", at(c.refusal), refusedAt("RCPT", replyZen, "a@gmx.de"))})
			rep := analyze(contosoOnly, list)
			check(t, rep.Findings, want{detectorCompromise, SeverityCritical, "EX01", clientFE, pub[0]},
				want{detectorBlocklist, SeverityHigh, "EX01", outbound, "203.0.113.25"})
			bl := rep.Findings[1]
			i := slices.IndexFunc(bl.Facts, func(f Fact) bool { return f.Name == "caused by" })
			line := "Mail to outside domains from the compromised account victim@contoso.com began 2026-11-02 15:00:"
			if c.linked != (i >= 0 && slices.Equal(bl.Facts[i].Values, []string{rep.Findings[0].ID})) || c.linked != strings.Contains(bl.Explanation, line) ||
				c.linked != strings.Contains(strings.Join(bl.Fix, "\n"), "Reset the password of the compromised account of finding "+rep.Findings[0].ID) {
				t.Errorf("linked %v:\n%s\n%v", c.linked, bl.Explanation, bl.Facts)
			}
		})
	}
}

func TestAccountKey(t *testing.T) {
	for in, want := range map[string]string{`CONTOSO\Alice`: "alice", "alice@contoso.com": "alice", " Alice ": "alice", `a\b\c@d`: "c", "": "", `CONTOSO\`: ""} {
		if got := accountKey(in); got != want {
			t.Errorf("accountKey(%q) = %q, want %q", in, got, want)
		}
	}
	_ = netip.Addr{}
}

// TestCompromiseManyAddresses: past maxAcctSources public addresses for one
// account, its lowest keepOf(maxAcctSources) are kept and the rest counted
// together, still as public addresses: the count of addresses is a lower
// bound.
func TestCompromiseManyAddresses(t *testing.T) {
	var bots []*session.Session
	for i := range maxAcctSources + 100 {
		bots = append(bots, submit("victim@contoso.com", fmt.Sprintf("198.18.%d.%d", i/250, i%250+1), 5*time.Hour, outsideRcpts(fmt.Sprint(i), 1)...))
	}
	rep := analyze(contosoOnly, sessions(population(20, 9), bots))
	if len(rep.Findings) != 1 {
		t.Fatalf("findings %d", len(rep.Findings))
	}
	f := rep.Findings[0]
	keep := keepOf(maxAcctSources)
	if f.Severity != SeverityCritical || f.Counts["outside_recipients"] != int64(maxAcctSources+100) || f.Counts["public_sources"] != int64(keep+1) ||
		!slices.Contains(f.LowerBounds, "public_sources") || !strings.Contains(f.Title, fmt.Sprintf("from at least %d public address(es)", keep+1)) ||
		!strings.Contains(factText(f), fmt.Sprintf("(addresses past the lowest %d) (%d outside recipient(s)", keep, maxAcctSources+100-keep)) {
		t.Errorf("%s %v %v\n%s\n%s", f.Severity, f.Counts, f.LowerBounds, f.Title, factText(f))
	}
}

// TestCompromiseHoursBudget: past the budget of recipients-per-hour
// entries, a compromised account's per-hour fact still lists its first
// hours with exact counts, says the hours not listed are a lower bound,
// the report names the budget, and nothing depends on the order sessions
// come in. Under the budget the fact is exact.
func TestCompromiseHoursBudget(t *testing.T) {
	pub := []string{"198.51.100.10", "198.51.100.11", "198.51.100.12"}
	var attack []*session.Session
	// 100 hours of spam from three addresses, ten outside domains each.
	for h := range 100 {
		for i, a := range pub {
			attack = append(attack, submit(`CONTOSO\victim`, a, time.Duration(h)*time.Hour+time.Duration(i)*time.Minute, outsideRcpts(fmt.Sprintf("h%d.", h), 10+i)...))
		}
	}
	list := sessions(population(20, 9), attack)
	perHour := func(rep *Report) (Fact, []Budget) {
		t.Helper()
		for _, f := range rep.Findings {
			if f.Detector != detectorCompromise {
				continue
			}
			for _, x := range f.Facts {
				if x.Name == "outside recipients per hour" {
					return x, rep.Budgets
				}
			}
		}
		t.Fatalf("no compromise finding with a per-hour fact: %+v", rep.Findings)
		return Fact{}, nil
	}
	exact, budgets := perHour(analyze(contosoOnly, list))
	if exact.More != 100-maxFactHours || exact.MoreAtLeast || len(budgets) != 0 {
		t.Fatalf("under the budget: more %d (lower bound %v), budgets %v; want %d exact", exact.More, exact.MoreAtLeast, budgets, 100-maxFactHours)
	}
	// 100 hours × 3 addresses × 10 domains are 3,000 entries (and the
	// population's): a budget of 1,000 cuts them.
	defer SetSendHoursBudgetForTest(1_000)()
	cut, budgets := perHour(analyze(contosoOnly, list))
	if !slices.Equal(cut.Values, exact.Values) || !cut.MoreAtLeast || cut.More < 1 || cut.More > exact.More {
		t.Errorf("past the budget: %v more %d (lower bound %v)\nwant the values %v and a lower bound", cut.Values, cut.More, cut.MoreAtLeast, exact.Values)
	}
	if len(budgets) != 1 || budgets[0].Table != budgetSendHours || budgets[0].Limit != 1_000 {
		t.Errorf("budgets %+v, want the hours budget", budgets)
	}
	// Another order keeps the same.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3 {
		shuffled := slices.Clone(list)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, _ := perHour(analyze(contosoOnly, shuffled))
		if !reflect.DeepEqual(got, cut) {
			t.Fatalf("shuffled: %+v\nwant %+v", got, cut)
		}
	}
}
