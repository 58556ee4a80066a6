package gen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Authenticated submission at an organisation's size (Config.Auth) and one
// compromised account (Config.Compromise), apart from traffic.go so that
// the two grow independently. Everything here draws from its own random
// streams: the rest of the organisation's traffic is the same with or
// without it, and the population is the same with or without the
// compromise.
//
// What is written, in the rows Exchange writes (the real excerpts
// recv-2016-ipban-fixture-auth-successful.log and
// recv-mixed-ipban-fixture-auth-unsuccessful.log):
//
//   - hundreds of users submitting on Client Frontend (587) with STARTTLS and
//     AUTH LOGIN, logged in as CONTOSO\first.last (Outlook) or
//     first.last@contoso.com (phones); a quarter of them also from one to
//     three public addresses (home, phone, hotel); each sends a handful of
//     messages a day, part of them outside;
//   - service accounts from internal hosts all day (a CRM mailing
//     customers, a monitoring system, a scanner with a mailbox), and a web
//     shop at a partner's public address on an authenticated relay
//     connector: much mail from one place, which is not a compromise;
//   - the Internet guessing passwords on EX01 and EX02, port 25 (after
//     STARTTLS, where AUTH LOGIN is offered) and 587: each bot a few tries
//     of dictionary names from one address within minutes, now and then a
//     real user's address;
//   - with Compromise, one ordinary user's password is guessed: an address
//     sprays a few names and the user's, then logs in, and for two and a half
//     hours it and three more addresses send spam as the user (and as other
//     senders) to hundreds of outside recipients; soon after, receivers
//     refuse the organisation's mail for a Spamhaus listing.

// AuthStats is the truth about what Config.Auth and Config.Compromise added.
type AuthStats struct {
	Accounts        int // ordinary users
	RemoteAccounts  int // of them, those who also submit from public addresses
	ServiceAccounts int
	// BruteForceSources and BruteForceFailures are the Internet's password
	// guessing in the background (the compromise's own failures apart).
	BruteForceSources, BruteForceFailures int
	Compromise                            *CompromiseTruth // nil without Config.Compromise
}

// CompromiseTruth is what a detector should find about the compromised
// account.
type CompromiseTruth struct {
	Account string // as the attacker logs in: first.last@contoso.com
	Logon   string // as the user's own PC logs in: CONTOSO\first.last
	// Sources are the public addresses that logged in as the account and
	// sent; FailedFirst those of them that failed to log in before.
	Sources, FailedFirst []string
	First, Last          time.Time // the first and last spam session
	Sessions, Messages   int
	Recipients           int      // all outside, all accepted
	Domains              []string // outside domains
	From                 []string // MAIL FROM addresses used
	// Refused is when receivers began refusing the organisation's mail
	// (Spamhaus ZEN, 203.0.113.10); zero when the logs end before.
	Refused time.Time
}

type authUser struct {
	sam, upn string // CONTOSO\first.last, first.last@contoso.com
	address  string // its mail address
	pc       string // internal address
	public   []string
	rate     float64 // messages a day
	outside  float64 // share of recipients outside
}

type authPlan struct {
	rng, crng *rand.Rand // population and bots; the compromise
	users     []authUser
	victim    int
	attackers []string
	spam      []spamRun // the compromise's sessions, in time order
	stats     *AuthStats
}

type spamRun struct {
	t   int64
	src int // index into attackers
}

const (
	webshopIP  = "203.0.113.80" // a hosted web shop, at a partner
	crmHost    = "10.30.8.15"
	alertsHost = "10.30.8.20"
	scanHost   = "10.30.5.40"
)

var (
	firstNames = []string{"anna", "ben", "chloe", "daniel", "emma", "felix", "greta", "hugo", "ida", "jonas", "karin", "lars", "mia", "nils",
		"olga", "paul", "quinn", "rosa", "simon", "tina", "uwe", "vera", "wim", "xenia", "yann", "zoe", "amir", "bea", "carlos", "dora",
		"elif", "finn", "gina", "henrik", "ines", "jan", "kim", "lea", "marco", "nora"}
	lastNames = []string{"adams", "berg", "costa", "dahl", "evans", "fischer", "garcia", "hansen", "ito", "jensen", "klein", "lopez", "meyer",
		"nagy", "olsen", "petit", "quist", "rossi", "schmidt", "tanaka", "ueda", "vogel", "weber", "xu", "young", "zimmer", "alvarez",
		"brown", "chen", "dubois"}
	// Public address blocks of home and mobile providers, for remote users.
	ispBlocks = []int{31, 46, 77, 78, 79, 80, 81, 82, 84, 86, 87, 88, 89, 92, 93, 94, 95, 176, 178, 188, 213, 217}
	// Names bots try.
	guessNames = []string{"administrator", "admin", "test", "info", "user", "scanner", "support", "office", "postmaster", "webmaster",
		"contact", "backup", "exctest", "info@contoso.com", "admin@contoso.com", "sales@contoso.com", "test@contoso.com", `CONTOSO\administrator`, "noreply@contoso.com", "hr@contoso.com"}
	spoofedFrom = []string{"billing@contoso.com", "no-reply@paypa1-secure.com", "service@docusign-notify.net"}
)

func (g *generator) newAuthPlan() *authPlan {
	cfg := g.cfg
	p := &authPlan{rng: rand.New(rand.NewPCG(cfg.Seed, 0xa07)), crng: rand.New(rand.NewPCG(cfg.Seed, 0xbad)), stats: &g.stats.Auth}
	n := max(200, int(math.Round(400*cfg.Scale)))
	if cfg.Accounts > 0 {
		n = cfg.Accounts
	}
	seen := map[string]bool{}
	for i := range n {
		name := firstNames[p.rng.IntN(len(firstNames))] + "." + lastNames[p.rng.IntN(len(lastNames))]
		for k := 2; seen[name]; k++ {
			name = strings.TrimRight(name, "0123456789") + fmt.Sprint(k)
		}
		seen[name] = true
		u := authUser{sam: `CONTOSO\` + name, upn: name + "@contoso.com", address: name + "@contoso.com",
			pc: fmt.Sprintf("10.41.%d.%d", i/250, i%250+2),
			// Messages a day: log-normal around 6, as people differ by factors.
			rate:    min(60, math.Exp(math.Log(6)+0.8*p.rng.NormFloat64())),
			outside: 0.2 + 0.5*p.rng.Float64()}
		if p.rng.IntN(4) == 0 {
			for range 1 + p.rng.IntN(3) {
				u.public = append(u.public, fmt.Sprintf("%d.%d.%d.%d", ispBlocks[p.rng.IntN(len(ispBlocks))], p.rng.IntN(256), p.rng.IntN(256), 1+p.rng.IntN(254)))
			}
			p.stats.RemoteAccounts++
		}
		p.users = append(p.users, u)
	}
	p.stats.Accounts = n
	p.stats.ServiceAccounts = 4
	if cfg.Compromise {
		p.plan(g)
	}
	return p
}

// plan picks the victim (an ordinary user in the office) and the
// attacker's sessions.
func (p *authPlan) plan(g *generator) {
	for {
		p.victim = p.crng.IntN(len(p.users))
		if len(p.users[p.victim].public) == 0 {
			break
		}
	}
	for _, b := range []int{185, 45, 91, 194} {
		p.attackers = append(p.attackers, fmt.Sprintf("%d.%d.%d.%d", b, p.crng.IntN(256), p.crng.IntN(256), 1+p.crng.IntN(254)))
	}
	start := g.cfg.Start.Add(time.Duration(g.cfg.Hours*55/100)*time.Hour + 12*time.Minute).UnixMilli()
	for t := start; t < start+150*60_000; t += int64(3+p.crng.IntN(6)) * 60_000 {
		p.spam = append(p.spam, spamRun{t: t, src: p.crng.IntN(len(p.attackers))})
	}
	p.spam[0].src = 0 // the address that guessed the password sends first
	u := p.users[p.victim]
	p.stats.Compromise = &CompromiseTruth{Account: u.upn, Logon: u.sam}
}

// authHour writes one hour of authenticated traffic, when Config.Auth or
// Config.Compromise asks for it.
func (g *generator) authHour(start time.Time) {
	if !g.cfg.Auth && !g.cfg.Compromise {
		return
	}
	if g.auth == nil {
		g.auth = g.newAuthPlan()
	}
	p := g.auth
	saved := g.rng
	defer func() { g.rng = saved }()
	g.rng = p.rng // ms, port, message ids: from the plan's streams, not the organisation's

	h := start.Hour()
	day := 0.15
	if h >= 7 && h <= 18 {
		day = 1
	}
	hourStart := start.UnixMilli()
	at := func() int64 { return hourStart + p.rng.Int64N(3_600_000) }
	// People: a day's messages spread over twelve working hours and a
	// quiet evening (weights 12·1 + 12·0.15 = 13.8).
	for i := range p.users {
		u := &p.users[i]
		for range poisson(p.rng, u.rate*day/13.8) {
			src, name := u.pc, u.sam
			if len(u.public) > 0 && p.rng.IntN(2) == 0 {
				src, name = u.public[p.rng.IntN(len(u.public))], u.upn // the phone or the laptop at home
			}
			g.authSubmit(p.rng.IntN(2), src, "", name, u.address, p.recipients(g, u.outside), at())
		}
	}
	// Service accounts from internal hosts, all day.
	for range poisson(p.rng, 30*day) {
		g.authSubmit(0, crmHost, "CRM01", `CONTOSO\svc-crm`, "crm@contoso.com", []string{g.user(externalDomains[p.rng.IntN(len(externalDomains))])}, at())
	}
	for range 2 {
		g.authSubmit(1, alertsHost, "MON01", `CONTOSO\svc-alerts`, "alerts@contoso.com", []string{"helpdesk@contoso.com", "support@vendor-monitoring.com"}, at())
	}
	for range poisson(p.rng, 4*day) {
		g.authSubmit(1, scanHost, "MFP-3F", `CONTOSO\svc-scan`, "scan@contoso.com", []string{g.internalUser()}, at())
	}
	// The web shop at a partner, on its own authenticated connector: one
	// public address, much mail, all day.
	for range poisson(p.rng, 12*(0.5+day/2)) {
		g.authSession(1, "EX02\\Webshop Relay EX02", 25, webshopIP, "shop-web01", `CONTOSO\svc-webshop`, "orders@contoso.com",
			[]string{g.user(externalDomains[p.rng.IntN(len(externalDomains))])}, at())
	}
	// The Internet guessing passwords.
	for range 3 + p.rng.IntN(4) {
		ip := fmt.Sprintf("%d.%d.%d.%d", []int{45, 80, 91, 141, 185, 193, 194, 212}[p.rng.IntN(8)], p.rng.IntN(256), p.rng.IntN(256), 1+p.rng.IntN(254))
		p.stats.BruteForceSources++
		t := at()
		sv := p.rng.IntN(2)
		for range 1 + p.rng.IntN(3) {
			name := guessNames[p.rng.IntN(len(guessNames))]
			if p.rng.IntN(25) == 0 {
				name = p.users[p.rng.IntN(len(p.users))].upn // an address harvested from the web
			}
			g.authGuess(sv, p.rng.IntN(5) < 3, ip, []string{name}, t, false)
			p.stats.BruteForceFailures++
			t += int64(20+p.rng.IntN(300)) * 1000
		}
	}
	if g.cfg.Compromise {
		g.rng = p.crng
		g.compromiseHour(hourStart)
	}
}

// recipients draws one to three recipients, outside with probability share.
func (p *authPlan) recipients(g *generator, share float64) []string {
	n := 1
	if x := p.rng.IntN(10); x >= 9 {
		n = 3
	} else if x >= 6 {
		n = 2
	}
	var out []string
	for range n {
		if p.rng.Float64() < share {
			out = append(out, g.user(externalDomains[p.rng.IntN(len(externalDomains))]))
		} else {
			out = append(out, g.internalUser())
		}
	}
	return out
}

// compromiseHour writes the attacker's sessions that start in this hour,
// and the refusals that follow them.
func (g *generator) compromiseHour(hourStart int64) {
	p := g.auth
	truth := p.stats.Compromise
	u := p.users[p.victim]
	if len(p.spam) == 0 {
		return
	}
	// The guessing: forty minutes before the first spam, the first address
	// sprays a few names and the user's, then logs in.
	if t := p.spam[0].t - 40*60_000; t >= hourStart && t < hourStart+3_600_000 {
		for _, name := range []string{"administrator", "info@contoso.com", u.upn, u.upn} {
			g.authGuess(0, true, p.attackers[0], []string{name}, t, true)
			t += int64(40+p.crng.IntN(90)) * 1000
		}
		truth.FailedFirst = []string{p.attackers[0]}
	}
	for _, run := range p.spam {
		if run.t < hourStart || run.t >= hourStart+3_600_000 {
			continue
		}
		src := p.attackers[run.src]
		var msgs [][]string
		var froms []string
		for range 1 + p.crng.IntN(3) {
			var rcpts []string
			for range 15 + p.crng.IntN(26) {
				d := relayTargets[p.crng.IntN(len(relayTargets))]
				rcpts = append(rcpts, fmt.Sprintf("%s%d@%s", users[p.crng.IntN(len(users))], p.crng.IntN(99999), d))
				if !slices.Contains(truth.Domains, d) {
					truth.Domains = append(truth.Domains, d)
				}
			}
			from := u.address
			if p.crng.IntN(4) == 0 {
				from = spoofedFrom[p.crng.IntN(len(spoofedFrom))]
			}
			msgs = append(msgs, rcpts)
			froms = append(froms, from)
			if !slices.Contains(truth.From, from) {
				truth.From = append(truth.From, from)
			}
			truth.Messages++
			truth.Recipients += len(rcpts)
		}
		// Mostly the submission port; now and then port 25, where AUTH
		// is offered after STARTTLS too.
		sv := p.crng.IntN(2)
		if p.crng.IntN(3) == 0 {
			g.authSendPort25(sv, src, u.upn, froms, msgs, run.t)
		} else {
			g.authSessionMulti(sv, fmt.Sprintf("%s\\Client Frontend %s", servers[sv].name, servers[sv].name), 587, src, "[127.0.0.1]", u.upn, froms, msgs, run.t)
		}
		truth.Sessions++
		if !slices.Contains(truth.Sources, src) {
			truth.Sources = append(truth.Sources, src)
		}
		if truth.First.IsZero() {
			truth.First = time.UnixMilli(run.t).UTC()
		}
		truth.Last = time.UnixMilli(run.t).UTC()
	}
	slices.Sort(truth.Sources)
	slices.Sort(truth.Domains)
	slices.Sort(truth.From)
	// Forty-five minutes into the spam, receivers refuse the organisation's
	// mail: Spamhaus has listed its outbound address.
	refusedFrom := p.spam[0].t + 45*60_000
	for range 4 {
		t := hourStart + p.crng.Int64N(3_600_000)
		if t < refusedFrom {
			continue
		}
		// The spam left through EX01's Hub (its Client Frontend took the
		// account's sessions), so EX01's public address is the one listed.
		_ = p.crng.IntN(len(servers)) // the draw kept, so the rest of the run is unchanged
		g.refusedOutbound(0, t)
		if truth.Refused.IsZero() || time.UnixMilli(t).Before(truth.Refused) {
			truth.Refused = time.UnixMilli(t).UTC()
		}
	}
}

// poisson draws a Poisson count with mean m (Knuth; m is small here).
func poisson(rng *rand.Rand, m float64) int {
	if m <= 0 {
		return 0
	}
	l, k, q := math.Exp(-m), 0, 1.0
	for {
		q *= rng.Float64()
		if q <= l {
			return k
		}
		k++
	}
}

// authSubmit is one message submitted on a Front End's Client Frontend (587).
func (g *generator) authSubmit(sv int, ip, ehlo, name, from string, rcpts []string, t int64) {
	s := servers[sv]
	g.authSession(sv, fmt.Sprintf("%s\\Client Frontend %s", s.name, s.name), 587, ip, ehlo, name, from, rcpts, t)
}

// authSession is a session that logs in as name and sends one message.
func (g *generator) authSession(sv int, connector string, port int, ip, ehlo, name, from string, rcpts []string, t int64) {
	g.authSessionMulti(sv, connector, port, ip, ehlo, name, []string{from}, [][]string{rcpts}, t)
}

// authSessionMulti logs in as name and sends one message per froms[i] to
// rcpts[i].
func (g *generator) authSessionMulti(sv int, connector string, port int, ip, ehlo, name string, froms []string, rcpts [][]string, t int64) {
	r := g.authOpen(sv, connector, port, ip, ehlo, t)
	g.authLogin(r, name)
	g.authSend(sv, r, ip, ehlo, froms, rcpts, t)
}

// authSendPort25 is the attacker on port 25: it logs in on Default
// Frontend after STARTTLS and sends.
func (g *generator) authSendPort25(sv int, ip, name string, froms []string, rcpts [][]string, t int64) {
	s := servers[sv]
	r := g.authOpen(sv, fmt.Sprintf("%s\\Default Frontend %s", s.name, s.name), 25, ip, "[127.0.0.1]", t)
	g.authLogin(r, name)
	g.authSend(sv, r, ip, "[127.0.0.1]", froms, rcpts, t)
}

func (g *generator) authSend(sv int, r *session, ip, ehlo string, froms []string, rcpts [][]string, t int64) {
	for i, from := range froms {
		size := 3000 + g.rng.IntN(60000)
		hub := g.pickHub(sv, t, g.brokenSince())
		g.transaction(r, from, rcpts[i], size, servers[hub])
		g.proxy(sv, hub, r.t-int64(g.rng.IntN(40)), ip, cmpOr(ehlo, "client"), r.sid, from, rcpts[i], size, "Organization")
	}
	r.add(g.ms(5, 50), '<', "QUIT", "")
	r.add(0, '>', "221 2.0.0 Service closing transmission channel", "")
	r.add(0, '-', "", "Local")
}

// brokenSince is when incident 3 began (see traffic.go): from then on EX02's
// Front End cannot proxy to EX01.
func (g *generator) brokenSince() int64 {
	if g.cfg.Clean {
		return math.MaxInt64
	}
	return g.cfg.Start.Add(brokenConnectorAfter).UnixMilli()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// authOpen opens a session on a Front End connector and runs it to the
// EHLO reply after STARTTLS, which offers AUTH LOGIN. The EHLO replies are
// one row each with two spaces after 250, as 2013+ writes them.
func (g *generator) authOpen(sv int, connector string, port int, ip, ehlo string, t int64) *session {
	s := servers[sv]
	if ehlo == "" {
		ehlo = fmt.Sprintf("PC-%04d", g.rng.IntN(3000))
	}
	r := g.open(streamKey{server: sv}, connector, t, fmt.Sprintf("%s:%d", s.ip, port), ip+":"+g.port())
	r.add(0, '+', "", "")
	perms := "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders"
	ext, extTLS := "SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS AUTH GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING SMTPUTF8",
		"SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES AUTH GSSAPI NTLM LOGIN 8BITMIME BINARYMIME CHUNKING SMTPUTF8"
	switch {
	case strings.Contains(connector, `\Default Frontend `):
		perms, ext, extTLS = anonPerms, ehloFE, ehloFETLS
	case port != 587: // a custom connector offering basic authentication only, as in the real SRV-XCH03 excerpt
		perms, ext, extTLS = anonPerms, "SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS AUTH LOGIN 8BITMIME BINARYMIME CHUNKING",
			"SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES AUTH LOGIN 8BITMIME BINARYMIME CHUNKING"
	}
	r.add(0, '*', perms, "Set Session Permissions")
	r.add(g.ms(0, 15), '>', banner(s, r.t), "")
	r.add(g.ms(20, 300), '<', "EHLO "+ehlo, "")
	r.add(0, '>', fmt.Sprintf("250  %s Hello [%s] %s", s.fqdn, ip, ext), "")
	r.add(g.ms(20, 200), '<', "STARTTLS", "")
	r.add(0, '>', "220 2.0.0 SMTP server ready", "")
	r.add(0, '*', " CN=mail.contoso.com, O=Contoso Ltd, C=GB CN=Contoso Issuing CA 1, DC=contoso, DC=com 2A0000003F1B2C 6F3A9C1D2E4B5A69788796A5B4C3D2E1F0A1B2C3 2026-01-10T00:00:00.000Z 2027-01-10T00:00:00.000Z mail.contoso.com;autodiscover.contoso.com",
		"Sending certificate Subject Issuer name Serial number Thumbprint Not before Not after Subject alternate names")
	r.add(g.ms(20, 120), '*', "", tlsServer)
	r.add(g.ms(10, 100), '<', "EHLO "+ehlo, "")
	r.add(0, '*', "", "Client certificate chain validation status: 'EmptyCertificate'")
	r.add(0, '*', "", "TlsDomainCapabilities='None'; Status='NoRemoteCertificate'")
	r.add(0, '>', fmt.Sprintf("250  %s Hello [%s] %s", s.fqdn, ip, extTLS), "")
	return r
}

// authLogin logs in successfully as name.
func (g *generator) authLogin(r *session, name string) {
	r.add(g.ms(10, 100), '<', "AUTH LOGIN", "")
	r.add(0, '>', "334 <authentication response>", "")
	r.add(g.ms(50, 300), '*', userPerms, "Set Session Permissions")
	r.add(0, '*', name, "authenticated")
	r.add(g.ms(1, 40), '>', "235 2.7.0 Authentication successful", "")
}

// authGuess is a session that fails to log in once for each name, and
// gives up.
func (g *generator) authGuess(sv int, port25 bool, ip string, names []string, t int64, quit bool) {
	s := servers[sv]
	connector, port := fmt.Sprintf("%s\\Client Frontend %s", s.name, s.name), 587
	if port25 {
		connector, port = fmt.Sprintf("%s\\Default Frontend %s", s.name, s.name), 25
	}
	ehlo := []string{"User", "localhost", "[" + ip + "]", "WIN-" + fmt.Sprintf("%X", g.rng.Uint32()&0xFFFFFF)}[g.rng.IntN(4)]
	r := g.authOpen(sv, connector, port, ip, ehlo, t)
	for _, name := range names {
		r.add(g.ms(10, 100), '<', "AUTH LOGIN", "")
		r.add(0, '>', "334 <authentication response>", "")
		r.add(g.ms(10, 60), '>', "334 <authentication response>", "")
		r.add(g.ms(30, 120), '*', "", "Inbound AUTH LOGIN failed because of LogonDenied")
		r.add(0, '*', "", "User Name: "+name)
		r.add(0, '*', "Tarpit for '0.00:00:05' due to '535 5.7.3 Authentication unsuccessful'", "")
		r.add(5000+g.ms(0, 20), '>', "535 5.7.3 Authentication unsuccessful", "")
	}
	if quit || g.rng.IntN(2) == 0 {
		r.add(g.ms(10, 100), '<', "QUIT", "")
		r.add(0, '>', "221 2.0.0 Service closing transmission channel", "")
		r.add(0, '-', "", "Local")
		return
	}
	r.add(g.ms(50, 300), '-', "", "Remote(SocketError)")
}

// refusedOutbound is a Hub's delivery to the Internet refused because the
// organisation's address is listed.
func (g *generator) refusedOutbound(sv int, t int64) {
	s := servers[sv]
	p := g.peers[g.rng.IntN(len(g.peers))]
	mx := "mx" + p.ehlo[4:]
	r := g.open(streamKey{server: sv, hub: true, send: true}, "Outbound to Internet", t, "", p.ip+":25")
	r.add(0, '*', "SendRoutingHeaders", "Set Session Permissions")
	r.add(0, '*', "", "attempting to connect")
	r.local = s.ip + ":" + g.port()
	r.add(g.ms(20, 200), '+', "", "")
	r.add(g.ms(20, 300), '<', "220 "+mx+" ESMTP ready", "")
	r.add(0, '>', "EHLO "+orgEHLO, "")
	ip := publicIP(sv) // what the receiver sees of us, and names when it refuses
	r.add(g.ms(20, 200), '<', fmt.Sprintf("250 %s Hello %s [%s] SIZE 52428800 PIPELINING ENHANCEDSTATUSCODES 8BITMIME", mx, orgEHLO, ip), "")
	r.add(0, '*', "", fmt.Sprintf("sending message with RecordId %d and InternetMessageId %s", g.rng.Int64N(1<<40), g.messageID(s.fqdn)))
	r.add(0, '>', fmt.Sprintf("MAIL FROM:<%s> SIZE=%d", g.internalUser(), 2000+g.rng.IntN(90000)), "")
	r.add(0, '>', "RCPT TO:<"+g.user(p.domain)+">", "")
	r.add(g.ms(20, 300), '<', "250 2.1.0 Ok", "")
	r.add(0, '<', "554 5.7.1 Service unavailable; Client host ["+ip+"] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/"+ip, "")
	r.add(0, '>', "QUIT", "")
	r.add(g.ms(10, 100), '<', "221 2.0.0 Bye", "")
	r.add(0, '-', "", "Local")
}
