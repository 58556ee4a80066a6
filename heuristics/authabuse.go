package heuristics

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/montanaflynn/stats"
	"go4.org/netipx"
)

// AuthAbuseDetector finds mailboxes whose password an attacker has, and the
// password guessing that leads there. After an open relay, a guessed or
// phished password is the commonest way onto a blocklist: the attacker
// authenticates (AUTH LOGIN on Client Frontend, port 587, or on port 25
// where AUTH is offered) and sends spam as the user.
//
// Signal, per account (sessions that authenticated with a user's
// credentials; machine accounts "NAME$" and X-EXPS are Exchange servers and
// are left out; DOMAIN\user and user@domain are one account, by the name
// before the @ or after the \):
//
//   - outside mail from public addresses: recipients Exchange accepted in
//     domains the organisation is not authoritative for, in sessions from
//     addresses that are neither internal nor Exchange servers;
//   - against the organisation: its modified z-score
//     0.6745·(ln(1+x) − median)/MAD over ln(1 + outside recipients) of
//     every account is at least CompromiseOutlierZ, the MAD taken as at
//     least ln CompromiseMinSpread. Mail volume varies between people by
//     factors, not by amounts, hence the logarithm; at the floor an account
//     must send about 36 times (1 + the median) to stand out. With fewer
//     than CompromiseMinAccounts accounts there is no organisation to
//     compare with and no verdict;
//   - against the account itself: at least CompromiseOwnRatio times
//     (1 + what it sent outside from the organisation's own networks);
//   - from addresses it does not normally use: two or more public
//     addresses sent it, or one did and the account also works from inside
//     (so the public one is new), or a public address that failed to log in
//     before it succeeded. One public address and nothing else is an
//     application on an authenticated relay connector, and stays quiet.
//
// Critical when a public address failed before it logged in, or when
// CompromiseManySources or more public addresses sent; high otherwise.
// Apart from volume, a public address that was guessing passwords (it
// tried two or more accounts, or failed BruteForceMinFailures times) and
// then logged in makes the account a candidate: high, as "password probably
// guessed", until it sends.
//
// Failed logins are reported apart, one entry per receive connector, like
// the relay probes (Report.AuthAttacks): every Internet-facing server is
// tried all day. Info when only internal addresses failed (typos, stale
// passwords), low when public ones did, medium when one address tried
// SprayMinAccounts accounts or more, when the accounts tried from public
// addresses that exist (they log in elsewhere in the logs) reach
// SprayValidShare of the organisation's accounts (and SprayMinAccounts),
// when one public address failed in BruteForceHours different hours, or
// when a public address that was guessing then logged in.
type AuthAbuseDetector struct {
	internal *netipx.IPSet // the networks given, or the private ranges: sessions from them are the accounts' baseline
	accounts map[string]*authAccount
	// acctBound keeps the accounts with the lowest keys past maxAccounts;
	// accountsOver counts the sessions of the others: not judged.
	acctBound    lowestKeys[string]
	accountsOver int64
	attacks      map[connRef]*attackGroup
	// hourEntries counts the (account, source, domain, hour) entries the
	// accounts' sends keep; past maxSendHours, or once a cap drops an
	// account or an account's sends (they would take their hours with
	// them, and what was cut would depend on the order), each (source,
	// domain) keeps only its first maxFactHours hours (hoursCut).
	hourEntries int
	hoursCut    bool
	// byName finds the account of a name as logged (DOMAIN\user) in one
	// map lookup, where accountKey's copy, the accounts map and the
	// account's names counter took three a session; it counts the
	// sessions per name there (nameSlot), added to the account's names
	// at finish: a counter keeps the same whatever the order (see
	// counter). At most maxNameSlots names; past them, the long way.
	// staleNames says an account was cut since byName was last swept:
	// its slots must go, or they would keep the cut account (its
	// sources, sends and samples) alive past the accounts' budget.
	byName     map[string]*nameSlot
	staleNames bool
}

// nameSlot is a name's account and the sessions logged under the name
// not yet counted in the account's names.
type nameSlot struct {
	a        *authAccount
	sessions int64
}

// maxNameSlots bounds AuthAbuseDetector.byName (about 100 bytes a name).
// A variable so that tests can turn it off (0); nothing else changes it.
var maxNameSlots = 65_536

// Thresholds of AuthAbuseDetector.
const (
	// CompromiseOutlierZ is the modified z-score (Iglewicz and Hoaglin's
	// cut-off, as for the hidden NAT) past which an account's outside mail
	// from public addresses is out of proportion to the organisation's.
	CompromiseOutlierZ = 3.5
	// CompromiseMinSpread floors the MAD at ln 2: accounts are taken to
	// differ by at least a factor of two. In a small or uniform
	// organisation the MAD can be 0, and any account above the median would
	// be an infinite outlier.
	CompromiseMinSpread = 2.0
	// CompromiseMinAccounts: with fewer accounts in the logs there is no
	// organisation to compare with.
	CompromiseMinAccounts = 10
	// CompromiseOwnRatio: the public addresses must have sent at least this
	// many times (1 + what the account sent outside from inside). A heavy
	// sender who also works from home is in proportion to itself.
	CompromiseOwnRatio = 4
	// CompromiseManySources public addresses sending for one account is an
	// attacker's rotation, not a person's home and phone: critical.
	CompromiseManySources = 3

	// SprayMinAccounts accounts tried from one address is password
	// spraying: nobody has ten accounts.
	SprayMinAccounts = 10
	// SprayValidShare of the organisation's accounts (those that log in
	// somewhere in the logs) tried from public addresses is an attack with
	// the organisation's user list, not a dictionary.
	SprayValidShare = 0.10
	// BruteForceHours different clock hours with failed logins from one
	// public address: it never stops.
	BruteForceHours = 6
	// BruteForceMinFailures failed logins from one address, or two accounts
	// tried, make it a guessing address. Domain lockout thresholds are
	// usually 5 to 10: a person is locked out or gives up before ten.
	BruteForceMinFailures = 10
)

// Caps of AuthAbuseDetector: what it keeps is bounded. Each keeps its
// lowest keys (lowestKeys: the lowest account names, addresses, (address,
// domain) pairs, hours; once past the cap, the keepOf(cap) lowest), so what
// is kept does not depend on the order sessions arrive in, and what is not
// kept is counted together: the sessions of accounts not kept
// (accountsOver), an account's addresses not kept in overflowSource, its
// recipients of pairs not kept in their source's sendsOver, failures from
// addresses or in hours not kept in the connector's srcOver and hoursOver.
// Names and recipients are counters, which keep the lowest too.
// Variables so that tests can lower them (setAuthCapsForTest); nothing
// else changes them.
var (
	maxAccounts      = 100_000 // accounts kept; a real organisation has fewer mailboxes that submit by SMTP
	maxAcctSources   = 1024    // sources kept per account
	maxAcctSends     = 20_000  // (source, domain) entries per account
	maxAcctRcpts     = 20_000  // distinct recipient addresses per account, from non-internal addresses
	maxAttackSources = 50_000  // failing sources kept per connector
	maxAttackNames   = 10_000  // account names tried kept per connector
	maxHours         = 10_000  // distinct hours kept per source or connector
)

// Names of what AuthAbuseDetector reports.
const (
	detectorCompromise = "compromised-account"
	detectorAuthAttack = "auth-attack"
)

type authAccount struct {
	names    counter // the names as logged
	sessions int64
	sources  map[netip.Addr]*acctSource
	sends    map[sendKey]*sendAgg // from addresses outside the internal networks, by source and domain
	// inside is what it sent from the internal networks, by domain only:
	// the baseline needs no hours, addresses or evidence, and an office of
	// PCs on DHCP would otherwise cost an entry per address and hour.
	// Past maxAcctSends domains it keeps the first names, whatever the
	// order sessions come in, and counts the rest in inside.over.
	inside         counter
	insideSessions int64
	insideAddrs    []netip.Addr // the smallest few addresses it used inside, for the evidence (whatever the order sessions come in)
	rcpts          counter      // lower-cased recipient addresses, from non-internal addresses only
	bounds         *acctBounds  // once sources or sends reached their cap
	dropped        bool         // cut from the accounts (acctBound): its names in byName are stale
}

// acctBounds are what an account's sources and sends keep past their caps
// (a pointer, as few accounts reach them).
type acctBounds struct {
	sources lowestKeys[netip.Addr] // overflowSource aside
	sends   lowestKeys[sendKey]
}

func (a *authAccount) bound() *acctBounds {
	if a.bounds == nil {
		a.bounds = &acctBounds{}
	}
	return a.bounds
}

// maxInsideAddrs is how many of an account's internal addresses are named.
const maxInsideAddrs = 5

// overflowSource stands for an account's addresses past maxAcctSources:
// those not among its keepOf(maxAcctSources) lowest.
var overflowSource = netip.IPv6Unspecified()

func isOverflow(a netip.Addr) bool { return a == overflowSource }

// source is where a session of the account from addr counts: addr's own
// while addr is among its lowest addresses, else overflowSource.
func (a *authAccount) source(addr netip.Addr) *acctSource {
	if src := a.sources[addr]; src != nil {
		return src
	}
	if addr != overflowSource {
		n := len(a.sources)
		if _, ok := a.sources[overflowSource]; ok {
			n--
		}
		if n >= maxAcctSources || a.bounds != nil {
			b := a.bound()
			if !admitKey(&b.sources, a.sources, n, addr, maxAcctSources, netip.Addr.Compare, isOverflow, a.dropSource) {
				return a.overflow()
			}
		}
		src := &acctSource{}
		a.sources[addr] = src
		return src
	}
	return a.overflow()
}

// overflow is the account's addresses not kept, together.
func (a *authAccount) overflow() *acctSource {
	src := a.sources[overflowSource]
	if src == nil {
		src = &acctSource{}
		a.sources[overflowSource] = src
	}
	return src
}

// dropSource merges an address cut from the account's sources into the
// overflow, so that the overflow holds the same whatever the order.
func (a *authAccount) dropSource(_ netip.Addr, src *acctSource) { a.overflow().merge(src) }

// srcOf is the source the account's sends from addr count for: addr, or
// overflowSource when addr was not kept (sends keep their own address).
func (a *authAccount) srcOf(addr netip.Addr) netip.Addr {
	if _, ok := a.sources[addr]; ok {
		return addr
	}
	return overflowSource
}

func (a *authAccount) keepInsideAddr(addr netip.Addr) {
	i, found := slices.BinarySearchFunc(a.insideAddrs, addr, netip.Addr.Compare)
	if found || i >= maxInsideAddrs {
		return
	}
	a.insideAddrs = slices.Insert(a.insideAddrs, i, addr)
	if len(a.insideAddrs) > maxInsideAddrs {
		a.insideAddrs = a.insideAddrs[:maxInsideAddrs]
	}
}

type acctSource struct {
	sessions, msgs, queued int64
	span                   span // its sessions
	sendsOver              int64
	froms                  counter // MAIL FROM -> messages
	via                    counter // "server / connector" -> sessions
	samples                samples // sessions that had recipients accepted
}

// merge adds o's sessions to s (an address cut into the overflow).
func (s *acctSource) merge(o *acctSource) {
	s.sessions += o.sessions
	s.msgs += o.msgs
	s.queued += o.queued
	if !o.span.first.IsZero() {
		s.span.add(o.span.first, o.span.last)
	}
	s.sendsOver += o.sendsOver
	s.froms.merge(&o.froms, maxDistinctValues)
	s.via.merge(&o.via, 64)
	s.samples.merge(o.samples)
}

// sendKey is recipients accepted in one domain, from one address; whether
// the domain is outside is known once the report runs. The address is the
// client's own, also past maxAcctSources (srcOf maps it to the overflow):
// keys never merge, so the cap on them keeps the same whatever the order.
type sendKey struct {
	src    netip.Addr
	domain string
}

func compareSendKeys(x, y sendKey) int {
	return cmp.Or(x.src.Compare(y.src), strings.Compare(x.domain, y.domain))
}

// dropSend counts the recipients of a pair cut from the account's sends
// with its source's, like those past the cap, without domain or hours.
func (d *AuthAbuseDetector) dropSend(a *authAccount, k sendKey, g *sendAgg) {
	d.capReached()
	src := a.sources[k.src]
	if src == nil {
		src = a.overflow()
	}
	src.sendsOver += g.n
	d.hourEntries -= len(g.hours)
}

// dropAccount counts the sessions of an account cut from the accounts.
func (d *AuthAbuseDetector) dropAccount(_ string, a *authAccount) {
	a.dropped = true
	d.staleNames = true
	d.capReached()
	d.accountsOver += a.sessions
	for _, g := range a.sends {
		d.hourEntries -= len(g.hours)
	}
}

// capReached cuts the hours when a cap first drops an account or an
// account's sends: their hours would go with them, and whether the hours'
// budget was reached would depend on the order they went in.
func (d *AuthAbuseDetector) capReached() {
	if !d.hoursCut {
		d.cutHours()
	}
}

type sendAgg struct {
	n           int64
	first, last time.Time
	// hours are its recipients per hour, earliest first: every hour, or,
	// once the detector's hours reached maxSendHours, its first
	// maxFactHours (cut: it had more).
	hours []hourCount
	cut   bool
}

type hourCount struct {
	hour int64 // Unix seconds of the hour
	n    int64
}

// maxFactHours is how many hours the per-hour fact lists; maxSendHours
// bounds the hours all accounts keep (16 bytes each): past it, each source
// and domain keeps its first maxFactHours, which are all the fact lists,
// with exact counts (an hour is dropped only when maxFactHours earlier
// ones are kept, so none that is kept missed a recipient), whatever the
// order sessions arrive in; the number of hours not listed becomes a lower
// bound.
const maxFactHours = 48

// MaxSendHours is the budget of recipients-per-hour entries of the
// compromised-account detector (all accounts, sources and domains).
const MaxSendHours = 262_144

var maxSendHours = MaxSendHours

// budgetSendHours and budgetAccounts name the budgets in the report.
const (
	budgetSendHours = "compromised accounts: recipients per hour per account, source and domain"
	budgetAccounts  = "compromised accounts: accounts compared"
)

// addHour counts n recipients in hour and returns how many entries it
// added (1 or 0). With cut, it keeps only its first maxFactHours hours,
// and says so (g.cut) when it drops one.
func (g *sendAgg) addHour(hour, n int64, cut bool) int {
	i, found := slices.BinarySearchFunc(g.hours, hour, func(x hourCount, h int64) int { return cmp.Compare(x.hour, h) })
	if found {
		g.hours[i].n += n
		return 0
	}
	if cut && len(g.hours) >= maxFactHours {
		g.cut = true
		if i >= len(g.hours) {
			return 0 // later than all it keeps
		}
		g.hours = slices.Insert(g.hours[:len(g.hours)-1], i, hourCount{hour, n})
		return 0
	}
	g.hours = slices.Insert(g.hours, i, hourCount{hour, n})
	return 1
}

// cutHours keeps every source and domain's first maxFactHours hours, from
// now on.
func (d *AuthAbuseDetector) cutHours() {
	d.hoursCut = true
	d.hourEntries = 0
	for _, a := range d.accounts {
		for _, g := range a.sends {
			if len(g.hours) > maxFactHours {
				g.hours = slices.Clip(g.hours[:maxFactHours])
				g.cut = true
			}
			d.hourEntries += len(g.hours)
		}
	}
}

// attackGroup is the failed logins on one receive connector.
type attackGroup struct {
	failures, sessions, unnamed int64
	sources                     map[netip.Addr]*failSource
	srcBound                    lowestKeys[netip.Addr] // the lowest addresses past maxAttackSources
	srcOver                     int64                  // failures from the sources not kept
	names                       counter
	hours                       map[int64]int64
	hourBound                   lowestKeys[int64] // the earliest hours past maxHours
	hoursOver                   int64             // failures in the hours not kept
	span                        span
	samples                     samples
}

// dropSource counts the failures of an address cut from the connector's.
func (g *attackGroup) dropSource(_ netip.Addr, fs *failSource) { g.srcOver += fs.failures }

// dropHour counts the failures of an hour cut from the connector's.
func (g *attackGroup) dropHour(_ int64, n int64) { g.hoursOver += n }

type failSource struct {
	failures, sessions int64
	names              counter // lower-cased names tried -> failed sessions
	hours              map[int64]struct{}
	span               span
}

func newAuthAbuseDetector(org Org) *AuthAbuseDetector {
	var b netipx.IPSetBuilder
	internal := org.Internal
	if len(internal) == 0 {
		internal = defaultInternal
	}
	for _, p := range internal {
		b.AddPrefix(p)
	}
	set, _ := b.IPSet()
	return &AuthAbuseDetector{internal: set, accounts: map[string]*authAccount{}, attacks: map[connRef]*attackGroup{}, byName: map[string]*nameSlot{}}
}

// accountKey is the account a logged name stands for: DOMAIN\alice and
// alice@contoso.com are both "alice".
func accountKey(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	if i := strings.LastIndexByte(n, '\\'); i >= 0 {
		n = n[i+1:]
	}
	if i := strings.LastIndexByte(n, '@'); i >= 0 {
		n = n[:i]
	}
	return strings.TrimSpace(n)
}

func hourOf(t time.Time) int64 { return t.Unix() - t.Unix()%3600 }

func (d *AuthAbuseDetector) observe(s *session.Session) {
	if !s.IsReceive() || s.Proxied {
		return
	}
	if s.AuthFailures > 0 {
		d.observeFailures(s)
	}
	if s.Auth != session.AuthUser || strings.HasSuffix(strings.TrimSpace(s.AuthUser), "$") {
		return
	}
	a := d.account(s.AuthUser)
	if a == nil {
		return
	}
	a.sessions++
	if d.internal.Contains(s.Client) {
		// The account's own networks: counted for its baseline only.
		a.insideSessions++
		a.keepInsideAddr(s.Client)
		for _, m := range s.Messages {
			for _, r := range m.Rcpts {
				if !r.Accepted() || r.Domain == "" {
					continue
				}
				a.inside.add(r.Domain, 1, maxAcctSends)
			}
		}
		return
	}
	src := a.source(s.Client) // past the cap, the overflow: still outside the internal networks
	src.sessions++
	src.span.add(s.Start, s.End)
	src.via.add(s.Server+" / "+s.Connector, 1, 64)
	hour := hourOf(s.Start)
	at := s.First // the sample's row: the first message with a recipient accepted, else the session's start
	for _, m := range s.Messages {
		src.msgs++
		if m.Queued {
			src.queued++
		}
		src.froms.add(cmp.Or(m.From, "<>"), 1, maxDistinctValues)
		for _, r := range m.Rcpts {
			if !r.Accepted() || r.Domain == "" {
				continue
			}
			if at == s.First && m.At.File != "" {
				at = m.At
			}
			a.rcpts.add(strings.ToLower(r.Addr), 1, maxAcctRcpts)
			k := sendKey{s.Client, r.Domain}
			g := a.sends[k]
			if g == nil {
				if len(a.sends) >= maxAcctSends || a.bounds != nil {
					drop := func(k sendKey, g *sendAgg) { d.dropSend(a, k, g) }
					if !admitKey(&a.bound().sends, a.sends, len(a.sends), k, maxAcctSends, compareSendKeys, nil, drop) {
						src.sendsOver++
						continue
					}
				}
				g = &sendAgg{first: s.Start}
				k.domain = strings.Clone(k.domain)
				a.sends[k] = g
			}
			g.n++
			if s.Start.Before(g.first) {
				g.first = s.Start
			}
			g.last = maxTime(g.last, s.End)
			d.hourEntries += g.addHour(hour, 1, d.hoursCut)
			if !d.hoursCut && d.hourEntries > maxSendHours {
				d.cutHours()
			}
		}
	}
	src.samples.add(sampleOf(s, at))
}

// account is the account a session authenticated as name counts for,
// with the session counted under name; nil when there is none (no
// "authenticated" row) or it is not kept (counted in accountsOver).
func (d *AuthAbuseDetector) account(name string) *authAccount {
	slot := d.byName[name]
	if slot != nil {
		if !slot.a.dropped {
			slot.sessions++
			return slot.a
		}
		// Its account was cut: the long way counts the session apart.
		// (Its sessions here go with it, as its names counter would.)
		delete(d.byName, name)
	}
	key := accountKey(name)
	if key == "" {
		return nil // no "authenticated" row: nothing to attribute the session to
	}
	a := d.accounts[key]
	if a == nil {
		admitted := admitKey(&d.acctBound, d.accounts, len(d.accounts), key, maxAccounts, strings.Compare, nil, d.dropAccount)
		if d.staleNames {
			d.forgetCutNames()
		}
		if !admitted {
			d.accountsOver++
			return nil
		}
		a = &authAccount{sources: map[netip.Addr]*acctSource{}, sends: map[sendKey]*sendAgg{}}
		d.accounts[strings.Clone(key)] = a
	}
	if len(d.byName) < maxNameSlots {
		d.byName[strings.Clone(name)] = &nameSlot{a: a, sessions: 1}
	} else {
		a.names.add(name, 1, 16)
	}
	return a
}

// forgetCutNames deletes the names of cut accounts from byName. A cut
// drops a sixteenth of the accounts at once, so sweeps are rare: about
// ten slots looked at per account admitted, past the budget.
func (d *AuthAbuseDetector) forgetCutNames() {
	for name, slot := range d.byName {
		if slot.a.dropped {
			delete(d.byName, name)
		}
	}
	d.staleNames = false
}

// countNames adds the sessions counted per name in byName to the
// accounts' names.
func (d *AuthAbuseDetector) countNames() {
	for name, slot := range d.byName {
		if !slot.a.dropped && slot.sessions > 0 {
			slot.a.names.add(name, slot.sessions, 16)
		}
	}
	clear(d.byName) // counted: a session observed later starts again
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (d *AuthAbuseDetector) observeFailures(s *session.Session) {
	k := connRef{s.Server, s.Connector}
	g := d.attacks[k]
	if g == nil {
		g = &attackGroup{sources: map[netip.Addr]*failSource{}, hours: map[int64]int64{}}
		d.attacks[connRef{strings.Clone(s.Server), strings.Clone(s.Connector)}] = g
	}
	n := int64(s.AuthFailures)
	g.failures += n
	g.sessions++
	g.span.add(s.Start, s.End)
	g.samples.add(sampleOf(s, s.First))
	hour := hourOf(s.Start)
	if _, ok := g.hours[hour]; ok || admitKey(&g.hourBound, g.hours, len(g.hours), hour, maxHours, cmp.Compare[int64], nil, g.dropHour) {
		g.hours[hour] += n
	} else {
		g.hoursOver += n
	}
	if len(s.AuthFailedUsers) == 0 {
		g.unnamed += n
	}
	fs := g.sources[s.Client]
	if fs == nil {
		if !admitKey(&g.srcBound, g.sources, len(g.sources), s.Client, maxAttackSources, netip.Addr.Compare, nil, g.dropSource) {
			g.srcOver += n
			for _, u := range s.AuthFailedUsers {
				g.names.add(strings.ToLower(strings.TrimSpace(u)), 1, maxAttackNames)
			}
			return
		}
		fs = &failSource{hours: map[int64]struct{}{}}
		g.sources[s.Client] = fs
	}
	fs.failures += n
	fs.sessions++
	fs.span.add(s.Start, s.End)
	if len(fs.hours) < maxHours { // only how many is read: min(hours, maxHours) whatever the order
		fs.hours[hour] = struct{}{}
	}
	for _, u := range s.AuthFailedUsers {
		name := strings.ToLower(strings.TrimSpace(u))
		fs.names.add(name, 1, maxDistinctValues)
		g.names.add(name, 1, maxAttackNames)
	}
}

// failTrace is one address's failed logins over every connector.
type failTrace struct {
	failures int64
	first    time.Time
	accounts map[string]bool // account keys tried
}

// guessing reports whether the address behaved as a password guesser:
// several accounts, or more failures than a person makes.
func (f *failTrace) guessing() bool {
	return f != nil && (len(f.accounts) >= 2 || f.failures >= BruteForceMinFailures)
}

// login is one account's successful logins from one address.
type login struct {
	account     string // key
	name        string // as logged (most frequent)
	first, last time.Time
}

// compromiseResult is what the detector tells the detectors that need it:
// the accounts it reported as compromised (critical or high), each with the
// first time mail went outside from the attacker's addresses. Unordered.
type compromiseResult []compromiseRun

type compromiseRun struct {
	id, account string
	first       time.Time // first outside mail from the public addresses; the first login for a guessed password
}

// finish cuts what the caps bound to what they keep in the end (see
// lowestKeys): what was kept past a cap depends on when it was cut.
func (d *AuthAbuseDetector) finish() {
	d.countNames()
	finishKeys(&d.acctBound, d.accounts, maxAccounts, strings.Compare, nil, d.dropAccount)
	for _, a := range d.accounts {
		if b := a.bounds; b != nil {
			finishKeys(&b.sources, a.sources, maxAcctSources, netip.Addr.Compare, isOverflow, a.dropSource)
			finishKeys(&b.sends, a.sends, maxAcctSends, compareSendKeys, nil, func(k sendKey, g *sendAgg) { d.dropSend(a, k, g) })
		}
	}
	for _, g := range d.attacks {
		finishKeys(&g.srcBound, g.sources, maxAttackSources, netip.Addr.Compare, nil, g.dropSource)
		finishKeys(&g.hourBound, g.hours, maxHours, cmp.Compare[int64], nil, g.dropHour)
	}
}

func (d *AuthAbuseDetector) report(in *detectorInputs, r *Report) any {
	d.finish()
	v := in.org
	public := func(a netip.Addr) bool { return a.IsValid() && !v.isInternal(a) && !v.isExchange(a) }

	// Failed logins per address, over every connector.
	fails := map[netip.Addr]*failTrace{}
	for _, g := range d.attacks {
		for a, fs := range g.sources {
			t := fails[a]
			if t == nil {
				t = &failTrace{first: fs.span.first, accounts: map[string]bool{}}
				fails[a] = t
			}
			t.failures += fs.failures
			if fs.span.first.Before(t.first) {
				t.first = fs.span.first
			}
			for n := range fs.names.m {
				if k := accountKey(n); k != "" {
					t.accounts[k] = true
				}
			}
		}
	}
	// Successful logins per address.
	logins := map[netip.Addr][]login{}
	for key, a := range d.accounts {
		name := topName(&a.names)
		for addr, src := range a.sources {
			logins[addr] = append(logins[addr], login{key, name, src.span.first, src.span.last})
		}
	}
	for _, l := range logins {
		slices.SortFunc(l, func(x, y login) int { return cmp.Or(x.first.Compare(y.first), cmp.Compare(x.account, y.account)) })
	}

	res := d.compromises(v, public, fails, r)
	if d.hoursCut {
		meaning := "each account's source and outside domain keeps its first " + strconv.Itoa(maxFactHours) + " hours with exact counts: a finding's \"outside recipients per hour\" lists its first hours exactly and the hours not listed as a lower bound; recipient totals stay exact"
		// Why, when a cap cut them (capReached): both are facts of the
		// input, where the budget's peak past a cap is not.
		var caps []string
		if d.acctBound.cut {
			caps = append(caps, "more than "+strconv.Itoa(maxAccounts)+" accounts")
		}
		for _, a := range d.accounts {
			if a.bounds != nil && a.bounds.sends.cut {
				caps = append(caps, "an account with more than "+strconv.Itoa(maxAcctSends)+" (source, domain) pairs")
				break
			}
		}
		if len(caps) > 0 {
			meaning = "cut at once because of " + strings.Join(caps, " and ") + ": " + meaning
		}
		r.Budgets = append(r.Budgets, Budget{Table: budgetSendHours, Limit: int64(maxSendHours), Where: []BudgetPlace{}, Meaning: meaning})
	}
	if d.acctBound.cut {
		r.Budgets = append(r.Budgets, Budget{Table: budgetAccounts, Limit: int64(maxAccounts), Where: []BudgetPlace{},
			Meaning: fmt.Sprintf("the %d accounts with the lowest names are compared with exact figures; the %d session(s) of the others are counted, not judged, and failed logins count as for accounts that do not log in", len(d.accounts), d.accountsOver)})
	}
	d.attackReport(v, public, fails, logins, r)
	return res
}

// acctFigures are one account's figures once the organisation is known.
type acctFigures struct {
	key                 string
	a                   *authAccount
	total               int64 // outside recipients, all addresses
	x                   int64 // outside recipients from public addresses
	y                   int64 // outside recipients from the organisation's own addresses
	perSrc              map[netip.Addr]int64
	public, other       []netip.Addr // public addresses that sent outside, most first; non-public addresses it logged in from
	failedBefore        []netip.Addr // public addresses that failed before they logged in as it
	guessers            []netip.Addr // of those, the ones that were guessing passwords
	first, last         time.Time    // outside mail from the public addresses
	z, median, mad      float64
	outlier, ownOutlier bool
}

func (d *AuthAbuseDetector) figures(key string, a *authAccount, v *orgView, public func(netip.Addr) bool, fails map[netip.Addr]*failTrace) acctFigures {
	f := acctFigures{key: key, a: a, perSrc: map[netip.Addr]int64{}}
	for dom, n := range a.inside.m {
		if !v.isAccepted(dom) {
			f.y += *n
		}
	}
	f.y += a.inside.over // past the cap: counted as outside, which only makes the baseline larger
	f.total += f.y
	for k, g := range a.sends {
		if v.isAccepted(k.domain) {
			continue
		}
		f.total += g.n
		src := a.srcOf(k.src)
		f.perSrc[src] += g.n
		if public(src) {
			f.x += g.n
			if f.first.IsZero() || g.first.Before(f.first) {
				f.first = g.first
			}
			f.last = maxTime(f.last, g.last)
		} else {
			f.y += g.n
		}
	}
	for addr, src := range a.sources {
		// Recipients past the memory cap count as outside: such volume is
		// the alarm, not the ordinary.
		if src.sendsOver > 0 {
			f.total += src.sendsOver
			f.perSrc[addr] += src.sendsOver
			if public(addr) {
				f.x += src.sendsOver
			} else {
				f.y += src.sendsOver
			}
		}
		if !public(addr) {
			f.other = append(f.other, addr)
			continue
		}
		if f.perSrc[addr] > 0 {
			f.public = append(f.public, addr)
		}
		if t := fails[addr]; t != nil && !t.first.After(src.span.first) {
			f.failedBefore = append(f.failedBefore, addr)
			if t.guessing() {
				f.guessers = append(f.guessers, addr)
			}
		}
	}
	byVolume := func(x, y netip.Addr) int { return cmp.Or(cmp.Compare(f.perSrc[y], f.perSrc[x]), x.Compare(y)) }
	slices.SortFunc(f.public, byVolume)
	slices.SortFunc(f.other, func(x, y netip.Addr) int {
		return cmp.Or(cmp.Compare(a.sources[y].sessions, a.sources[x].sessions), x.Compare(y))
	})
	slices.SortFunc(f.failedBefore, byVolume)
	slices.SortFunc(f.guessers, byVolume)
	return f
}

func (d *AuthAbuseDetector) compromises(v *orgView, public func(netip.Addr) bool, fails map[netip.Addr]*failTrace, r *Report) compromiseResult {
	keys := slices.Sorted(maps.Keys(d.accounts))
	all := make([]acctFigures, 0, len(keys))
	var logs stats.Float64Data
	for _, k := range keys {
		f := d.figures(k, d.accounts[k], v, public, fails)
		all = append(all, f)
		logs = append(logs, math.Log1p(float64(f.total)))
	}
	var median, mad float64
	compare := len(logs) >= CompromiseMinAccounts
	if compare {
		median, _ = stats.Median(logs)
		mad, _ = stats.MedianAbsoluteDeviation(logs)
	}
	var res compromiseResult
	for _, f := range all {
		f.median, f.mad = median, mad
		if compare && f.x > 0 {
			f.z = 0.6745 * (math.Log1p(float64(f.x)) - median) / max(mad, math.Log(CompromiseMinSpread))
			f.outlier = f.z >= CompromiseOutlierZ
			f.ownOutlier = f.x >= CompromiseOwnRatio*(1+f.y)
		}
		newSource := len(f.public) >= 2 || len(f.failedBefore) > 0 || (len(f.public) == 1 && (f.a.insideSessions > 0 || len(f.other) > 0))
		var sev Severity
		switch {
		case f.outlier && f.ownOutlier && newSource && (len(f.failedBefore) > 0 || len(f.public) >= CompromiseManySources):
			sev = SeverityCritical
		case f.outlier && f.ownOutlier && newSource, len(f.guessers) > 0:
			sev = SeverityHigh
		default:
			continue
		}
		fd := compromiseFinding(f, sev, len(all), d.accountsOver, v, fails)
		r.Findings = append(r.Findings, fd)
		first := f.first
		if !(f.outlier && f.ownOutlier) {
			first = f.a.sources[f.guessers[0]].span.first
		}
		res = append(res, compromiseRun{id: fd.ID, account: topName(&f.a.names), first: first})
	}
	return res
}

func compromiseFinding(f acctFigures, sev Severity, accounts int, over int64, v *orgView, fails map[netip.Addr]*failTrace) Finding {
	a := f.a
	name := topName(&a.names)
	spam := f.outlier && f.ownOutlier
	srcs := f.public
	if !spam {
		srcs = f.guessers
	}
	var sessions, msgs, queued, sendsOver int64
	var froms, via counter
	var samp samples
	var sp span
	for _, addr := range srcs {
		src := a.sources[addr]
		sendsOver += src.sendsOver
		sessions += src.sessions
		msgs += src.msgs
		queued += src.queued
		froms.merge(&src.froms, maxDistinctValues)
		via.merge(&src.via, 64)
		samp.merge(src.samples)
		sp.add(src.span.first, src.span.last)
	}
	// Outside domains and per-hour volume from those addresses.
	inSrcs := map[netip.Addr]bool{}
	for _, a := range srcs {
		inSrcs[a] = true
	}
	domains := map[string]int64{}
	hours := map[int64]int64{}
	hoursCut := false
	for k, g := range a.sends {
		if !inSrcs[a.srcOf(k.src)] || v.isAccepted(k.domain) {
			continue
		}
		domains[k.domain] += g.n
		for _, h := range g.hours {
			hours[h.hour] += h.n
		}
		hoursCut = hoursCut || g.cut
	}
	distinct := 0
	for addr := range a.rcpts.m {
		if d := session.DomainOf(addr); d != "" && !v.isAccepted(d) {
			distinct++
		}
	}
	type dn struct {
		name string
		n    int64
	}
	var doms []dn
	for d, n := range domains {
		doms = append(doms, dn{d, n})
	}
	sortDesc(doms, func(x dn) int64 { return x.n }, func(x dn) string { return x.name })
	var domNames []string
	for _, x := range doms {
		domNames = append(domNames, fmt.Sprintf("%s (%d)", x.name, x.n))
	}
	var perHour []string
	for _, h := range slices.Sorted(maps.Keys(hours)) {
		perHour = append(perHour, fmt.Sprintf("%s %d", time.Unix(h, 0).UTC().Format("2006-01-02 15:04Z"), hours[h]))
	}
	perHourFact := listFact("outside recipients per hour", perHour, maxFactHours)
	if hoursCut {
		// Past the budget each source and domain kept its first hours:
		// those listed are exact, but hours past them were not kept.
		perHourFact.Values = firstN(perHour, maxFactHours)
		perHourFact.More = max(len(perHour)-maxFactHours, 1)
		perHourFact.MoreAtLeast = true
	}
	manySrcs := slices.Contains(srcs, overflowSource) // it stands for one address or more
	var srcVals []string
	for _, addr := range srcs {
		src := a.sources[addr]
		note := ""
		if slices.Contains(f.failedBefore, addr) {
			note = fmt.Sprintf(", failed %d login(s) first", fails[addr].failures)
		}
		srcVals = append(srcVals, fmt.Sprintf("%s (%d outside recipient(s), %d session(s), %s to %s%s)", srcString(addr), f.perSrc[addr], src.sessions, stamp(src.span.first), stamp(src.span.last), note))
	}
	var failedVals []string
	for _, addr := range f.failedBefore {
		failedVals = append(failedVals, fmt.Sprintf("%s (%d failed login(s) from %s, for %s; first login as this account %s)", addr, fails[addr].failures,
			stamp(fails[addr].first), strings.Join(firstN(slices.Sorted(maps.Keys(fails[addr].accounts)), 5), ", "), stamp(a.sources[addr].span.first)))
	}
	var usual []string
	for _, addr := range a.insideAddrs {
		usual = append(usual, addr.String())
	}
	for _, addr := range f.other {
		usual = append(usual, fmt.Sprintf("%s (%d session(s))", srcString(addr), a.sources[addr].sessions))
	}

	fd := Finding{
		ID: findingID(detectorCompromise, f.key), Detector: detectorCompromise, Severity: sev,
		Server: serverOf(topName(&via)), Connector: connectorOf(topName(&via)), Source: srcString(srcs[0]),
		First: f.first, Last: f.last,
		Counts: map[string]int64{"sessions": sessions, "messages": msgs, "messages_queued": queued,
			"outside_recipients": f.x, "distinct_outside_recipients": int64(distinct), "outside_domains": int64(len(domains)),
			"public_sources": int64(len(srcs)), "sources_failed_before_login": int64(len(f.failedBefore)),
			"baseline_outside_recipients": f.y, "account_sessions": a.sessions, "accounts_compared": int64(accounts)},
		Samples: samp.out(),
	}
	if !spam {
		fd.First, fd.Last = sp.first, sp.last // its logins
	}
	fd.Facts = append(fd.Facts,
		Fact{Name: "account (as logged)", Values: topValues(&a.names, 5)},
		listFact("public sources", srcVals, 10))
	if len(failedVals) > 0 {
		fd.Facts = append(fd.Facts, listFact("sources that failed before they logged in", failedVals, 10))
	}
	fd.Facts = append(fd.Facts, via.top("servers / connectors (sessions)", 5), froms.top("MAIL FROM addresses used (messages)", 10),
		listFact("outside recipient domains", domNames, 10), perHourFact)
	if len(usual) > 0 {
		fd.Facts = append(fd.Facts, Fact{Name: fmt.Sprintf("its usual addresses (the organisation's own: %d session(s) from inside, %d outside recipient(s) in all)", a.insideSessions, f.y), Values: usual})
	}
	// Past a cap, what the finding counts is a lower bound.
	fd.setCount("distinct_outside_recipients", int64(distinct), a.rcpts.dropped)
	fd.setCount("outside_domains", int64(len(domains)), sendsOver > 0)
	fd.setCount("public_sources", int64(len(srcs)), manySrcs)
	if a.rcpts.over > 0 {
		fd.Facts = append(fd.Facts, Fact{Name: "note", Values: []string{"distinct recipients is a lower bound: past a cap, addresses are counted, not kept"}})
	}
	if sendsOver > 0 {
		fd.Facts = append(fd.Facts, Fact{Name: "note", Values: []string{fmt.Sprintf("%d recipient(s) are counted without their domain: past %d (source, domain) pairs for the account, the lowest are kept, the others counted as outside recipients of their source, not in the domains or hours listed (lower bounds)", sendsOver, maxAcctSends)}})
	}
	if over > 0 {
		fd.Facts = append(fd.Facts, Fact{Name: "note", Values: []string{fmt.Sprintf("%d session(s) of other accounts were not compared: past %d accounts, the %d with the lowest names are kept", over, maxAccounts, accounts)}})
	}

	typical := math.Expm1(f.median)
	addrs := joinFirst(addrStrings(srcs), 5)
	nSrcs := atLeast(len(srcs), manySrcs)
	failedNote := ""
	if len(f.failedBefore) > 0 {
		failedNote = fmt.Sprintf(" %d of them (%s) failed to log in before they succeeded.", len(f.failedBefore), joinFirst(addrStrings(f.failedBefore), 3))
	}
	if spam {
		fd.Title = fmt.Sprintf("Compromised account %s: %d outside recipient(s) in %s domain(s) from %s public address(es)", name, f.x, atLeast(len(domains), sendsOver > 0), nSrcs)
		verdict := "That is not a person working from home: it is someone else sending as the user."
		if sev < SeverityCritical {
			fd.Title = "Possibly c" + fd.Title[1:]
			verdict = "Ask the user first: if they did not send this from those addresses, someone else is sending as them."
		}
		fd.Explanation = fmt.Sprintf("Between %s and %s, the account %s logged in from %s public address(es) (%s) and sent %d message(s) to %d recipient(s) in %s domain(s) outside the organisation (%s).%s "+
			"A typical account in these logs sends %.0f outside recipient(s) in all (median of %d accounts; spread a factor of %.1f), so %d is %.1f robust deviations above it (an outlier from %.1f); from the organisation's own addresses the account sent %d. "+
			"%s",
			stamp(f.first), stamp(f.last), name, nSrcs, addrs, msgs, f.x, atLeast(len(domains), sendsOver > 0), joinFirst(domNames, 5), failedNote,
			typical, accounts, math.Exp(max(f.mad, math.Log(CompromiseMinSpread))), f.x, f.z, CompromiseOutlierZ, f.y, verdict)
		fd.Cause = "The account's password was guessed or phished (or taken from a reused password), and the attacker submits spam through authenticated SMTP as the user: Exchange accepts any recipient from an authenticated session, and the mail leaves under your IP reputation."
		if len(f.failedBefore) > 0 {
			fd.Cause = "The account's password was guessed: the same addresses failed to log in before they succeeded. The attacker now submits spam through authenticated SMTP as the user: Exchange accepts any recipient from an authenticated session, and the mail leaves under your IP reputation."
		}
	} else {
		fd.Title = fmt.Sprintf("Password of %s probably guessed: %s logged in after guessing passwords", name, addrs)
		fd.Explanation = fmt.Sprintf("Between %s and %s, %s logged in as %s in %d session(s), after failed logins for other accounts or more failures than a person makes.%s It has not (yet) sent outside mail out of proportion: %d outside recipient(s) from public addresses.",
			stamp(sp.first), stamp(sp.last), addrs, name, sessions, failedNote, f.x)
		fd.Cause = "An address that was guessing passwords found this account's: the attacker can now send as the user, read mail through other protocols, and try the password elsewhere."
	}

	sender := cmp.Or(topName(&froms), "<sender>")
	id := psq(name)
	fd.Fix = []string{
		fmt.Sprintf("Reset the password now (it stops new logins): Set-ADAccountPassword -Identity (Get-Mailbox -Identity %s).SamAccountName -Reset -NewPassword (Read-Host -AsSecureString 'New password')", id),
		"Revoke what the attacker holds: sign the user out of Outlook on the web and mobile devices (Get-MobileDevice -Mailbox " + id + " | fl DeviceId,DeviceUserAgent,FirstSyncTime), and if the organisation is hybrid, Revoke-MgUserSignInSession for the user in Microsoft Entra ID.",
		fmt.Sprintf("Check for rules that hide replies or forward mail: Get-InboxRule -Mailbox %s | fl Name,Enabled,ForwardTo,ForwardAsAttachmentTo,RedirectTo,DeleteMessage,MoveToFolder", id),
		fmt.Sprintf("Check forwarding: Get-Mailbox -Identity %s | fl ForwardingSmtpAddress,ForwardingAddress,DeliverToMailboxAndForward — clear it with Set-Mailbox -Identity %s -ForwardingSmtpAddress $null -DeliverToMailboxAndForward $false", id, id),
		fmt.Sprintf("Remove the spam still queued: Get-Queue | Get-Message -ResultSize Unlimited | ? FromAddress -eq %s | Remove-Message -WithNDR $false", psq(sender)),
		fmt.Sprintf("Limit what one account can send: Set-Mailbox -Identity %s -RecipientLimits 100; and a MessageRateLimit throttling policy (New-ThrottlingPolicy -Name 'SmtpSubmitLimit' -MessageRateLimit 30 -ThrottlingPolicyScope Regular; Set-Mailbox -Identity %s -ThrottlingPolicy 'SmtpSubmitLimit').", id, id),
	}
	for _, c := range firstN(sortedConnectors(&via), 3) {
		if strings.HasPrefix(connectorShortName(c), "Default Frontend") {
			fd.Fix = append(fd.Fix, fmt.Sprintf("Do not offer basic authentication to the Internet on port 25: Set-ReceiveConnector -Identity %s -AuthMechanism 'Tls, Integrated, ExchangeServer'   # users submit on 587; check first that no application logs in on port 25", psq(c)))
		} else {
			fd.Fix = append(fd.Fix, fmt.Sprintf("Restrict who may authenticate on %s from the Internet (VPN, or the firewall): Get-ReceiveConnector -Identity %s | fl Bindings,RemoteIPRanges,AuthMechanism,PermissionGroups", dq(c), psq(c)))
		}
	}
	fd.Fix = append(fd.Fix, "Block the public sources above at the firewall, and check whether they logged in as other accounts (search this report's failed-login section for them).",
		"Check the organisation's public IP on the blocklists (Spamhaus, Barracuda, SpamCop) and ask for delisting once the account is secured.")
	return fd
}

func addrStrings(list []netip.Addr) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = srcString(a)
	}
	return out
}

// srcString names a source address, or the sources past the cap.
func srcString(a netip.Addr) string {
	if a == overflowSource {
		return fmt.Sprintf("(addresses past the lowest %d)", keepOf(maxAcctSources))
	}
	return addrString(a)
}

// atLeast is n, "at least n" for a lower bound.
func atLeast(n int, lowerBound bool) string {
	if lowerBound {
		return "at least " + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// serverOf and connectorOf split a "server / connector" value.
func serverOf(v string) string    { s, _, _ := strings.Cut(v, " / "); return s }
func connectorOf(v string) string { _, c, _ := strings.Cut(v, " / "); return c }

// sortedConnectors lists the connectors of a "server / connector" counter,
// most sessions first.
func sortedConnectors(c *counter) []string {
	var out []string
	for _, v := range topValues(c, len(c.m)) {
		if conn := connectorOf(v); conn != "" && !slices.Contains(out, conn) {
			out = append(out, conn)
		}
	}
	return out
}

// attackReport adds one entry per connector with failed logins to
// r.AuthAttacks.
func (d *AuthAbuseDetector) attackReport(v *orgView, public func(netip.Addr) bool, fails map[netip.Addr]*failTrace, logins map[netip.Addr][]login, r *Report) {
	for k, g := range d.attacks {
		r.AuthAttacks = append(r.AuthAttacks, d.attackFinding(k, g, v, public, fails, logins))
	}
}

func (d *AuthAbuseDetector) attackFinding(k connRef, g *attackGroup, v *orgView, public func(netip.Addr) bool, fails map[netip.Addr]*failTrace, logins map[netip.Addr][]login) Finding {
	addrs := slices.SortedFunc(maps.Keys(g.sources), func(x, y netip.Addr) int {
		return cmp.Or(cmp.Compare(g.sources[y].failures, g.sources[x].failures), x.Compare(y))
	})
	var pub, spray, persistent []netip.Addr
	var later []string
	validTried := map[string]bool{}
	tried := map[string]bool{}
	for _, a := range addrs {
		fs := g.sources[a]
		keys := map[string]bool{}
		for n := range fs.names.m {
			if key := accountKey(n); key != "" {
				keys[key] = true
				tried[key] = true
				if d.accounts[key] != nil && public(a) {
					validTried[key] = true
				}
			}
		}
		if len(keys) >= SprayMinAccounts {
			spray = append(spray, a)
		}
		if !public(a) {
			continue
		}
		pub = append(pub, a)
		if len(fs.hours) >= BruteForceHours {
			persistent = append(persistent, a)
		}
		if fails[a].guessing() {
			for _, l := range logins[a] {
				if !l.last.Before(fails[a].first) {
					later = append(later, fmt.Sprintf("%s as %s (%s to %s)", a, l.name, stamp(l.first), stamp(l.last)))
				}
			}
		}
	}
	for n := range g.names.m { // names from sources past the cap
		if key := accountKey(n); key != "" {
			tried[key] = true
		}
	}
	validNeed := max(SprayMinAccounts, int(math.Ceil(SprayValidShare*float64(len(d.accounts)))))

	f := Finding{
		ID: findingID(detectorAuthAttack, k.server, k.connector), Detector: detectorAuthAttack, Severity: SeverityInfo,
		Server: k.server, Connector: k.connector, First: g.span.first, Last: g.span.last,
		Counts: map[string]int64{"failures": g.failures, "sessions": g.sessions, "sources": int64(len(g.sources)), "public_sources": int64(len(pub)),
			"accounts_tried": int64(len(tried)), "accounts_tried_that_exist": int64(len(validTried)), "failures_without_user_name": g.unnamed,
			"sources_that_logged_in_after": int64(len(later))},
		Samples: g.samples.out(),
	}
	// Past the caps: the addresses not kept are counted only by their
	// failures, the names not kept not at all.
	fewer := g.srcOver > 0
	f.setCount("sources", int64(len(g.sources)), fewer)
	f.setCount("public_sources", int64(len(pub)), fewer)
	f.setCount("accounts_tried", int64(len(tried)), fewer || g.names.dropped)
	f.setCount("accounts_tried_that_exist", int64(len(validTried)), fewer)
	f.setCount("sources_that_logged_in_after", int64(len(later)), fewer)
	nAddrs := atLeast(len(g.sources), fewer)
	var why []string
	if len(spray) > 0 {
		why = append(why, fmt.Sprintf("%d address(es) tried %d or more accounts each (%s)", len(spray), SprayMinAccounts, joinFirst(addrStrings(spray), 3)))
	}
	if len(validTried) >= validNeed {
		why = append(why, fmt.Sprintf("%d of the organisation's %d accounts were tried from public addresses: the attacker has the user list", len(validTried), len(d.accounts)))
	}
	if len(persistent) > 0 {
		why = append(why, fmt.Sprintf("%d public address(es) kept failing in %d or more different hours (%s)", len(persistent), BruteForceHours, joinFirst(addrStrings(persistent), 3)))
	}
	if len(later) > 0 {
		why = append(why, fmt.Sprintf("an address that was guessing then logged in (%s)", strings.Join(firstN(later, 3), "; ")))
	}
	switch {
	case len(why) > 0:
		f.Severity = SeverityMedium
	case len(pub) > 0:
		f.Severity = SeverityLow
	}

	var srcVals []string
	for _, a := range addrs {
		fs := g.sources[a]
		v := fmt.Sprintf("%s (%d", addrString(a), fs.failures)
		if names := topValues(&fs.names, 3); len(names) > 0 {
			v += ": " + strings.Join(names, ", ")
			if len(fs.names.m) > 3 {
				v += fmt.Sprintf(" and %d more", len(fs.names.m)-3)
			}
		}
		srcVals = append(srcVals, v+")")
	}
	var hourVals []string
	for _, h := range slices.Sorted(maps.Keys(g.hours)) {
		hourVals = append(hourVals, fmt.Sprintf("%s %d", time.Unix(h, 0).UTC().Format("2006-01-02 15:04Z"), g.hours[h]))
	}
	perHour := listFact("failed logins per hour", hourVals, 48)
	if g.hoursOver > 0 {
		// The earliest hours are kept: those listed are exact.
		perHour.More = max(perHour.More, 1)
		perHour.MoreAtLeast = true
	}
	f.Title = fmt.Sprintf("Failed logins on %s: %d from %s address(es) against %s account(s)", k.connector, g.failures, nAddrs, atLeast(len(tried), fewer || g.names.dropped))
	if len(tried) == 0 {
		f.Title = fmt.Sprintf("Failed logins on %s: %d from %s address(es), no user name logged", k.connector, g.failures, nAddrs)
	}
	f.Facts = append(f.Facts, listFact("sources (failed logins: accounts tried)", srcVals, 10), g.names.top("accounts tried (sessions)", 10))
	if len(validTried) > 0 {
		f.Facts = append(f.Facts, listFact("accounts tried that log in elsewhere in these logs", slices.Sorted(maps.Keys(validTried)), 10))
	}
	if len(later) > 0 {
		f.Facts = append(f.Facts, listFact("guessing addresses that then logged in", later, 10))
	}
	f.Facts = append(f.Facts, perHour)
	if g.srcOver > 0 {
		f.Facts = append(f.Facts, Fact{Name: "note", Values: []string{fmt.Sprintf("%d failure(s) came from addresses past the %d lowest kept for the connector: counted here, not listed, and not judged as spraying, persistent or logging in after", g.srcOver, len(g.sources))}})
	}
	if g.hoursOver > 0 {
		f.Facts = append(f.Facts, Fact{Name: "note", Values: []string{fmt.Sprintf("%d failure(s) fell in hours past the %d earliest kept for the connector: counted here, not listed per hour", g.hoursOver, len(g.hours))}})
	}
	if g.unnamed > 0 {
		f.Facts = append(f.Facts, Fact{Name: "note", Values: []string{"some failures have no \"User Name:\" row in the logs (the name the client sent is not always logged): they count for their address, not for an account"}})
	}
	f.Explanation = fmt.Sprintf("Between %s and %s, %d login(s) failed on %s (server %s) in %d session(s), from %s address(es), %s of them public, against %s account name(s).",
		stamp(g.span.first), stamp(g.span.last), g.failures, dq(k.connector), k.server, g.sessions, nAddrs, atLeast(len(pub), fewer), atLeast(len(tried), fewer || g.names.dropped))
	switch f.Severity {
	case SeverityMedium:
		f.Explanation += " Medium because " + strings.Join(why, "; ") + "."
		f.Cause = "Password spraying or brute force against the organisation's accounts through SMTP AUTH. Every success gives the attacker a mailbox to send spam from."
	case SeverityLow:
		f.Explanation += " Bots try every Internet-facing server that offers AUTH; none of these addresses is spraying, persistent or got in."
		f.Cause = "Password guessing from the Internet: the background of any server that offers basic authentication to the Internet."
	default:
		f.Explanation += " Only the organisation's own addresses failed: mistyped or stale passwords (a device or an application still using an old one)."
		f.Cause = "A user or a device with a wrong password."
	}
	f.Fix = []string{fmt.Sprintf("See which connector offers what: Get-ReceiveConnector -Identity %s | fl Bindings,RemoteIPRanges,AuthMechanism,PermissionGroups", psq(k.connector))}
	if strings.HasPrefix(connectorShortName(k.connector), "Default Frontend") {
		f.Fix = append(f.Fix, fmt.Sprintf("Port 25 needs no basic authentication if users submit on 587: Set-ReceiveConnector -Identity %s -AuthMechanism 'Tls, Integrated, ExchangeServer'   # check first that no application logs in on port 25", psq(k.connector)))
	}
	if len(pub) > 0 {
		f.Fix = append(f.Fix, "Block the public sources above at the firewall, or allow SMTP AUTH from the Internet only through a VPN.",
			"Make sure the accounts tried that exist have strong, unique passwords and an account lockout policy (Get-ADDefaultDomainPasswordPolicy | fl LockoutThreshold,LockoutDuration).")
	}
	if len(later) > 0 {
		f.Fix = append(f.Fix, "For each account a guessing address logged in as: reset its password now and check its mailbox (see the compromised-account finding).")
	}
	return f
}
