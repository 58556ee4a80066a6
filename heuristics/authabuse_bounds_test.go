package heuristics

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// authCaps are the caps of AuthAbuseDetector, for a test to lower.
type authCaps struct {
	accounts, sources, sends, rcpts, attackSources, attackNames, hours int
}

// setAuthCapsForTest lowers the detector's caps (0 leaves one as it is)
// until the test ends. Not safe while a scan runs.
func setAuthCapsForTest(t *testing.T, c authCaps) {
	t.Helper()
	old := authCaps{maxAccounts, maxAcctSources, maxAcctSends, maxAcctRcpts, maxAttackSources, maxAttackNames, maxHours}
	set := func(v *int, n int) {
		if n > 0 {
			*v = n
		}
	}
	set(&maxAccounts, c.accounts)
	set(&maxAcctSources, c.sources)
	set(&maxAcctSends, c.sends)
	set(&maxAcctRcpts, c.rcpts)
	set(&maxAttackSources, c.attackSources)
	set(&maxAttackNames, c.attackNames)
	set(&maxHours, c.hours)
	t.Cleanup(func() {
		maxAccounts, maxAcctSources, maxAcctSends, maxAcctRcpts = old.accounts, old.sources, old.sends, old.rcpts
		maxAttackSources, maxAttackNames, maxHours = old.attackSources, old.attackNames, old.hours
	})
}

// capsWorkload is an organisation that reaches every cap of
// authCapsLowered: more accounts than kept, an account sending from more
// addresses, to more (address, domain) pairs and recipients than kept, in
// more hours; and failed logins on one connector from more addresses, for
// more names, in more hours.
func capsWorkload() []*session.Session {
	list := population(30, 4) // user000 to user029, from inside
	// aaron (kept: the names sort first) logs in from inside, then from 30
	// public addresses in turn, over 20 hours, to 3 of 7 outside domains
	// each time; 198.51.100.3 failed first.
	list = append(list, submit(`CONTOSO\aaron`, "10.40.9.9", 0, "x@target1.example", "boss@contoso.com"))
	for h := range 20 {
		for i := range 30 {
			if (h+i)%4 != 0 {
				continue
			}
			var rcpts []string
			for j := range 3 {
				rcpts = append(rcpts, fmt.Sprintf("s%d.%d.%d@spam%d.example", h, i, j, (h+i+j)%7))
			}
			list = append(list, submit(`CONTOSO\aaron`, fmt.Sprintf("198.51.100.%d", i+1), 5*time.Hour+time.Duration(h)*time.Hour+time.Duration(i)*time.Minute, rcpts...))
		}
	}
	// Failed logins on the Default Frontend: 25 addresses, each trying
	// four names, in 20 hours; 45.1.1.7 guessed abel's password.
	for i := range 25 {
		for h := range 20 {
			if (i+h)%5 != 0 {
				continue
			}
			list = append(list, failedLogin(defaultFE, fmt.Sprintf("45.1.1.%d", i+1), time.Duration(h)*time.Hour+time.Duration(i)*time.Second, 2,
				fmt.Sprintf("admin%d", i), fmt.Sprintf("user%03d", i), "abel", fmt.Sprintf("test%d", (i+h)%9)))
		}
	}
	list = append(list, failedLogin(clientFE, "198.51.100.3", 4*time.Hour, 3, "aaron"),
		submit(`CONTOSO\abel`, "45.1.1.7", 30*time.Hour))
	return list
}

var authCapsLowered = authCaps{accounts: 20, sources: 8, sends: 40, rcpts: 30, attackSources: 10, attackNames: 15, hours: 12}

// TestAuthAbuseCapsSameWhateverTheOrder: past every cap of the detector,
// the report is the same whatever the order sessions arrive in (the order
// depends on the workers). The caps kept what came first.
func TestAuthAbuseCapsSameWhateverTheOrder(t *testing.T) {
	setAuthCapsForTest(t, authCapsLowered)
	list := capsWorkload()
	want := analyze(contosoOnly, list)
	if !slices.ContainsFunc(want.Findings, func(f Finding) bool { return f.ID == findingID(detectorCompromise, "aaron") }) || len(want.AuthAttacks) != 2 {
		t.Fatalf("findings %+v\nattacks %d; want aaron's and two connectors", want.Findings, len(want.AuthAttacks))
	}
	orders := [][]*session.Session{slices.Clone(list)}
	slices.Reverse(orders[0])
	for seed := range uint64(6) {
		o := slices.Clone(list)
		rand.New(rand.NewPCG(seed, 17)).Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
		orders = append(orders, o)
	}
	for i, o := range orders {
		got := analyze(contosoOnly, o)
		for _, part := range []struct {
			name      string
			got, want any
		}{{"findings", got.Findings, want.Findings}, {"auth attacks", got.AuthAttacks, want.AuthAttacks}, {"budgets", got.Budgets, want.Budgets}} {
			if !reflect.DeepEqual(part.got, part.want) {
				g, _ := json.MarshalIndent(part.got, "", " ")
				w, _ := json.MarshalIndent(part.want, "", " ")
				t.Fatalf("order %d: other %s:\n%s\nwant\n%s", i, part.name, g, w)
			}
		}
	}
}

// TestAuthAbuseCapsKeepTheLowest: past each cap the detector keeps the
// lowest account names, addresses, (address, domain) pairs and hours,
// counts the rest together exactly, and the report says which figures are
// lower bounds.
func TestAuthAbuseCapsKeepTheLowest(t *testing.T) {
	setAuthCapsForTest(t, authCapsLowered)
	list := capsWorkload()
	d := newAuthAbuseDetector(contosoOnly)
	for _, s := range list {
		d.observe(s)
	}
	d.finish()

	// Accounts: aaron, abel and user000 to user016; the sessions of
	// user017 to user029 counted.
	keys := slices.Sorted(maps.Keys(d.accounts))
	if want := keepOf(maxAccounts); len(keys) != want || keys[0] != "aaron" || keys[1] != "abel" || keys[want-1] != fmt.Sprintf("user%03d", want-3) || d.accountsOver != int64(30-(want-2)) {
		t.Errorf("accounts %v, %d sessions of others", keys, d.accountsOver)
	}
	// aaron's addresses: the lowest seven; the overflow has the others'
	// sessions. Its (address, domain) pairs: the lowest, the rest counted
	// with their source; totals exact.
	a := d.accounts["aaron"]
	var sessions, rcpts, kept int64
	for _, s := range list {
		if s.AuthUser == `CONTOSO\aaron` && !strings.HasPrefix(s.Client.String(), "10.") {
			sessions++
			rcpts += int64(len(s.Messages[0].Rcpts))
		}
	}
	var srcSessions, over int64
	for addr, src := range a.sources {
		srcSessions += src.sessions
		over += src.sendsOver
		if addr != overflowSource && addr.Compare(netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", keepOf(maxAcctSources)))) > 0 {
			t.Errorf("kept %s, not among the lowest addresses", addr)
		}
	}
	if len(a.sources) != keepOf(maxAcctSources)+1 || srcSessions != sessions {
		t.Errorf("%d sources with %d sessions, want %d and %d", len(a.sources), srcSessions, keepOf(maxAcctSources)+1, sessions)
	}
	sends := slices.SortedFunc(maps.Keys(a.sends), compareSendKeys)
	for _, g := range a.sends {
		kept += g.n
	}
	if len(sends) != keepOf(maxAcctSends) || kept+over != rcpts || over == 0 {
		t.Errorf("%d pairs with %d recipients, %d counted apart; want %d pairs and %d in all", len(sends), kept, over, keepOf(maxAcctSends), rcpts)
	}
	if !a.rcpts.dropped {
		t.Errorf("recipients not cut: %d kept", len(a.rcpts.m))
	}
	// The Default Frontend: the lowest nine addresses and the earliest
	// eleven hours; failures exact.
	g := d.attacks[connRef{"EX01", defaultFE}]
	var failures, hourFailures int64
	for addr, fs := range g.sources {
		failures += fs.failures
		if addr.Compare(netip.MustParseAddr(fmt.Sprintf("45.1.1.%d", keepOf(maxAttackSources)))) > 0 {
			t.Errorf("kept %s, not among the lowest addresses", addr)
		}
	}
	hours := slices.Sorted(maps.Keys(g.hours))
	for _, n := range g.hours {
		hourFailures += n
	}
	if len(g.sources) != keepOf(maxAttackSources) || failures+g.srcOver != g.failures || g.srcOver == 0 ||
		len(hours) != keepOf(maxHours) || hours[0] != hourOf(list[0].Start) || hourFailures+g.hoursOver != g.failures || g.hoursOver == 0 || !g.names.dropped {
		t.Errorf("%d sources, %d+%d failures of %d; %d hours from %v, %d+%d failures; names cut %v", len(g.sources), failures, g.srcOver, g.failures,
			len(hours), hours[0], hourFailures, g.hoursOver, g.names.dropped)
	}

	// The report says what is a lower bound.
	rep := analyze(contosoOnly, list)
	i := slices.IndexFunc(rep.Findings, func(f Finding) bool { return f.ID == findingID(detectorCompromise, "aaron") })
	if i < 0 {
		t.Fatalf("no finding for aaron: %+v", rep.Findings)
	}
	if f := rep.Findings[i]; !slices.Equal(f.LowerBounds, []string{"distinct_outside_recipients", "outside_domains", "public_sources"}) ||
		!strings.Contains(f.Title, "in at least") || !strings.Contains(factText(f), "recipient(s) are counted without their domain") {
		t.Errorf("aaron: lower bounds %v\n%s\n%s", f.LowerBounds, f.Title, factText(f))
	}
	j := slices.IndexFunc(rep.AuthAttacks, func(f Finding) bool { return f.Connector == defaultFE })
	if f := rep.AuthAttacks[j]; !slices.Equal(f.LowerBounds, []string{"accounts_tried", "accounts_tried_that_exist", "public_sources", "sources", "sources_that_logged_in_after"}) ||
		!strings.Contains(f.Title, "from at least 9 address(es)") || !slices.ContainsFunc(f.Facts, func(x Fact) bool { return x.Name == "failed logins per hour" && x.MoreAtLeast }) {
		t.Errorf("failed logins: lower bounds %v\n%s\n%s", f.LowerBounds, f.Title, factText(f))
	}
	var tables []string
	for _, b := range rep.Budgets {
		tables = append(tables, b.Table)
		if b.Table == budgetSendHours && !strings.HasPrefix(b.Meaning, "cut at once because of more than 20 accounts and an account with more than 40 (source, domain) pairs") {
			t.Errorf("hours budget: %s", b.Meaning)
		}
	}
	if !slices.Equal(tables, []string{budgetSendHours, budgetAccounts}) {
		t.Errorf("budgets %v", tables)
	}
}
