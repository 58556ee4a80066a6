package gen

import (
	"fmt"
	"math"
	"strings"
	"time"
)

const (
	tlsServer = "TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDHE with strength 384 bits"
	tlsClient = "TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDHE with strength 384 bits"
	// incident 3 begins when an admin widens a custom Hub connector on EX01.
	brokenConnectorAfter = 9*time.Hour + 12*time.Minute
	// The first message from EX02 to EX01 after that queues, and the queue
	// tries again every retryInterval (Exchange's default for a next hop
	// that failed to connect is 10 minutes), a second or so late each time.
	firstRetryAfter = 47 * time.Second
	retryInterval   = 10 * time.Minute
)

// count scales a per-hour rate, keeping at least min so that incidents stay
// visible in small samples.
func (g *generator) count(rate float64, min int) int {
	n := rate * g.cfg.Scale
	n = n*0.8 + g.rng.Float64()*n*0.4
	return max(int(math.Round(n)), min)
}

func banner(s server, t int64) string {
	return fmt.Sprintf("220 %s Microsoft ESMTP MAIL Service ready at %s", s.fqdn, time.UnixMilli(t).UTC().Format("Mon, 2 Jan 2006 15:04:05 -0700"))
}

func (g *generator) hour(start time.Time) {
	h := start.Hour()
	day := 0.35
	if h >= 7 && h <= 18 {
		day = 1
	}
	brokenSince := g.cfg.Start.Add(brokenConnectorAfter).UnixMilli()
	if g.cfg.Clean {
		brokenSince = math.MaxInt64
	}
	at := func() int64 { return start.UnixMilli() + g.rng.Int64N(3_600_000) }

	// Internet mail straight to EX01 and EX02 (the firewall keeps the client address).
	for _, sv := range []int{0, 1} {
		for range g.count(40*day, 1) {
			p := g.peers[g.rng.IntN(len(g.peers))]
			g.inbound(sv, fmt.Sprintf("%s\\Default Frontend %s", servers[sv].name, servers[sv].name), anonPerms, p, at(), false, brokenSince)
		}
		// Bots trying to relay or guess passwords: refused.
		for range g.count(6, 1) {
			g.relayProbe(sv, at())
		}
		// Authenticated submission on 587 from users' devices.
		for range g.count(15*day, 1) {
			g.submission(sv, at(), brokenSince)
		}
	}
	// A session that starts just before the hour ends and finishes in the
	// next hour's file, as happens on every busy server.
	late := g.peers[g.rng.IntN(len(g.peers))]
	g.inbound(0, "EX01\\Default Frontend EX01", anonPerms, late, start.UnixMilli()+3_600_000-g.ms(100, 900), false, brokenSince)

	// Incident 1: since a one-arm load balancer was put in front of EX03, every
	// internet client reaches it from the balancer's SNAT address, and a
	// custom connector listing that address gives them all relay rights.
	for range g.count(30*day, 1) {
		p := g.peers[g.rng.IntN(len(g.peers))]
		if g.cfg.Clean {
			g.inbound(2, "EX03\\Default Frontend EX03", anonPerms, p, at(), false, brokenSince)
			continue
		}
		g.inbound(2, "EX03\\Relay LB EX03", relayPerms, peer{ip: lbSNAT, ehlo: p.ehlo, domain: p.domain}, at(), false, brokenSince)
	}
	if (h == 13 || h == 14) && !g.cfg.Clean {
		for i := range g.count(8, 4) {
			g.inbound(2, "EX03\\Relay LB EX03", relayPerms, peer{ip: lbSNAT, ehlo: fmt.Sprintf("host%d.dyn-%d.example.net", i, g.rng.IntN(900)), domain: "example.net"}, at(), true, brokenSince)
		}
	}
	// Incident 2: EX02's relay connector for printers also lists an internet range.
	if h >= 1 && h <= 3 && !g.cfg.Clean {
		for range g.count(25, 6) {
			g.inbound(1, "EX02\\Anonymous Relay EX02", relayPerms, peer{ip: relayAbuser, ehlo: "User", domain: "paypa1-secure.com"}, at(), true, brokenSince)
		}
	}
	// The printer that connector was made for: anonymous relay by design.
	if h >= 7 && h <= 18 {
		for range g.count(3, 1) {
			g.scanner(at(), brokenSince)
		}
	}
	// Outbound mail and server-to-server mail from every Hub.
	for sv := range servers {
		for range g.count(25*day, 1) {
			g.outbound(sv, at())
		}
		for range g.count(8*day, 1) {
			to := (sv + 1 + g.rng.IntN(len(servers)-1)) % len(servers)
			t := at()
			if sv == 1 && to == 0 && t >= brokenSince || g.secondPairBroken(sv, to, t) {
				continue // queued on EX02: the retries below carry it
			}
			g.intraOrg(sv, to, t)
		}
	}
	// Incident 3: EX02's queue to EX01 retries at its interval, and every
	// attempt lands on the custom connector without X-EXPS and gives up.
	if !g.cfg.Clean {
		for g.nextRetry < g.hourEnd-5_000 {
			g.failedExchangeAuth(1, 0, g.nextRetry)
			g.nextRetry += retryInterval.Milliseconds() + g.ms(200, 1500)
		}
		if g.nextRetry < g.hourEnd {
			g.nextRetry = g.hourEnd + g.ms(200, 1500) // not split across two hours' files
		}
	}
	g.moreIncidents(start, brokenSince)
}

// pickHub chooses the Hub a Front End proxies to. After the broken connector
// appears, EX02's proxy sessions to EX01 fail too, so its Front End ends up
// on the other two.
func (g *generator) pickHub(fe int, t, brokenSince int64) int {
	for {
		h := g.rng.IntN(len(servers))
		if !(fe == 1 && h == 0 && t >= brokenSince) && !g.secondPairBroken(fe, h, t) {
			return h
		}
	}
}

// oldTLSDomains are partners whose mail servers still negotiate TLS 1.0 or
// 1.1 (an old gateway, an old Windows Server): the stragglers that
// "logscan clients --tls-below 1.2" must list.
var oldTLSDomains = map[string]string{"lucernepublishing.com": "TLS1_0", "alpineskihouse.com": "TLS1_1"}

// tlsFor is the TLS row of an inbound session from p, and records the
// old-TLS clients in Stats.OldTLS.
func (g *generator) tlsFor(p peer) string {
	v, old := oldTLSDomains[p.domain]
	if !old || strings.Contains(p.ehlo, ".outbound.protection.outlook.com") {
		return tlsServer
	}
	if g.stats.OldTLS == nil {
		g.stats.OldTLS = map[string]string{}
	}
	g.stats.OldTLS[p.ip] = strings.ReplaceAll(v, "_", ".")
	return "TLS protocol SP_PROT_" + v + "_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_ECDHE with strength 384 bits"
}

// inbound is one SMTP session to a Front End on port 25, accepted and proxied
// to a Hub. With relay set, recipients are in domains the org does not own.
func (g *generator) inbound(sv int, connector, perms string, p peer, t int64, relay bool, brokenSince int64) {
	s := servers[sv]
	r := g.open(streamKey{server: sv}, connector, t, s.ip+":25", p.ip+":"+g.port())
	r.add(0, '+', "", "")
	r.add(0, '*', perms, "Set Session Permissions")
	r.add(g.ms(0, 15), '>', banner(s, r.t), "")
	r.add(g.ms(20, 400), '<', "EHLO "+p.ehlo, "")
	r.add(0, '>', fmt.Sprintf("250-%s Hello [%s] %s", s.fqdn, p.ip, ehloFE), "")
	if !relay && g.rng.IntN(10) < 8 {
		r.add(g.ms(20, 200), '<', "STARTTLS", "")
		r.add(0, '>', "220 2.0.0 SMTP server ready", "")
		r.add(0, '*', "", "Sending certificate")
		r.add(0, '*', "CN=mail.contoso.com", "Certificate subject")
		r.add(g.ms(20, 120), '*', "", g.tlsFor(p))
		r.add(g.ms(10, 100), '<', "EHLO "+p.ehlo, "")
		r.add(0, '>', fmt.Sprintf("250-%s Hello [%s] %s", s.fqdn, p.ip, ehloFETLS), "")
	}
	from := g.user(p.domain)
	var rcpts []string
	if relay {
		for range 5 + g.rng.IntN(11) {
			rcpts = append(rcpts, fmt.Sprintf("%s%d@%s", users[g.rng.IntN(len(users))], g.rng.IntN(9999), relayTargets[g.rng.IntN(len(relayTargets))]))
		}
	} else {
		for range 1 + g.rng.IntN(3) {
			rcpts = append(rcpts, g.internalUser())
		}
	}
	size := 2000 + g.rng.IntN(90000)
	hub := g.pickHub(sv, t, brokenSince)
	g.transaction(r, from, rcpts, size, servers[hub])
	r.add(g.ms(5, 50), '<', "QUIT", "")
	r.add(0, '>', "221 2.0.0 Service closing transmission channel", "")
	r.add(0, '-', "", "Local")
	g.noteInbound(sv, connector, p, t, r.t, rcpts, relay)
	g.proxy(sv, hub, r.t-int64(g.rng.IntN(40)), p.ip, p.ehlo, r.sid, from, rcpts, size, "Anonymous")
}

// transaction logs MAIL, RCPTs and BDAT with their replies, pipelined: the
// client sends MAIL and RCPTs together, so the replies follow the commands.
func (g *generator) transaction(r *session, from string, rcpts []string, size int, hub server) {
	r.add(g.ms(10, 150), '<', fmt.Sprintf("MAIL FROM:<%s> SIZE=%d", from, size), "")
	r.add(0, '*', fmt.Sprintf("%016X;%s;1", r.sid, time.UnixMilli(r.t).UTC().Format("2006-01-02T15:04:05.000Z")), "receiving message")
	for _, rc := range rcpts {
		r.add(0, '<', "RCPT TO:<"+rc+">", "")
	}
	r.add(g.ms(1, 10), '*', "", "Proxy destination(s) obtained from OnProxyInboundMessage event")
	r.add(g.ms(1, 30), '>', "250 2.1.0 Sender OK", "")
	for range rcpts {
		r.add(0, '>', "250 2.1.5 Recipient OK", "")
	}
	r.add(g.ms(10, 300), '<', fmt.Sprintf("BDAT %d LAST", size), "")
	r.add(g.ms(30, 900), '>', fmt.Sprintf("250 2.6.0 %s [InternalId=%d, Hostname=%s] %d bytes in %.3f, %.3f KB/sec Queued mail for delivery",
		g.messageID(hub.fqdn), g.rng.Int64N(1<<40), hub.fqdn, size, 0.05+g.rng.Float64(), 20+g.rng.Float64()*900), "")
}

// proxy is the Front End handing a message to a Hub: its send log
// ("Inbound Proxy Internal Send Connector") and the Hub's receive log, where
// the original client appears only in XPROXYFROM.
func (g *generator) proxy(fe, hub int, t int64, clientIP, clientEHLO string, sid uint64, from string, rcpts []string, size int, authSrc string) {
	f := servers[fe]
	s, rv := g.hubSession(fe, hub, false, "Inbound Proxy Internal Send Connector", fmt.Sprintf("%s\\Default %s", servers[hub].name, servers[hub].name), t, ehloHub, ehloHubTLS)
	g.exchangeAuth(s, rv, f)
	xp := fmt.Sprintf("XPROXYFROM SID=%016X IP=%s PORT=%s DOMAIN=%s SEQNUM=1 PERMS=1205 AUTHSRC=%s", sid, clientIP, g.port(), clientEHLO, authSrc)
	s.add(0, '>', xp, "")
	rv.add(g.ms(1, 3), '<', xp, "")
	rv.add(0, '>', "250 XProxyFrom accepted", "")
	rv.add(0, '*', anonPerms, "Set Session Permissions")
	s.add(g.ms(1, 3), '<', "250 XProxyFrom accepted", "")
	g.relayMessage(s, rv, fe, hub, from, rcpts, size)
	g.quitBoth(s, rv)
}

// hubSession opens a session from server from's Transport service (fromHub)
// or Front End to server to's Transport service on 2525, logged in the
// sender's send log and the receiver's receive log, and runs it up to the
// second EHLO reply, which offers ehloTLS.
func (g *generator) hubSession(from, to int, fromHub bool, sendConnector, recvConnector string, t int64, ehlo, ehloTLS string) (*session, *session) {
	f, h := servers[from], servers[to]
	port := g.port()
	s := g.open(streamKey{server: from, hub: fromHub, send: true}, sendConnector, t, "", h.ip+":2525")
	s.add(0, '*', sendPerms, "Set Session Permissions")
	s.add(0, '*', "", "attempting to connect")
	s.local = f.ip + ":" + port
	s.add(g.ms(1, 5), '+', "", "")
	rv := g.open(streamKey{server: to, hub: true}, recvConnector, s.t, h.ip+":2525", f.ip+":"+port)
	rv.add(0, '+', "", "")
	rv.add(0, '*', anonPerms, "Set Session Permissions")
	rv.add(0, '>', banner(h, rv.t), "")
	s.add(g.ms(1, 3), '<', banner(h, s.t), "")
	s.add(0, '>', "EHLO "+f.fqdn, "")
	rv.add(g.ms(1, 3), '<', "EHLO "+f.fqdn, "")
	rv.add(0, '>', fmt.Sprintf("250-%s Hello [%s] %s", h.fqdn, f.ip, ehlo), "")
	s.add(g.ms(1, 3), '<', fmt.Sprintf("250-%s Hello [%s] %s", h.fqdn, f.ip, ehlo), "")
	s.add(0, '>', "X-ANONYMOUSTLS", "")
	rv.add(g.ms(1, 3), '<', "X-ANONYMOUSTLS", "")
	rv.add(0, '>', "220 2.0.0 SMTP server ready", "")
	rv.add(g.ms(5, 20), '*', "", tlsServer)
	s.add(g.ms(5, 20), '<', "220 2.0.0 SMTP server ready", "")
	s.add(0, '*', "", tlsClient)
	s.add(g.ms(1, 3), '>', "EHLO "+f.fqdn, "")
	rv.add(g.ms(1, 3), '<', "EHLO "+f.fqdn, "")
	rv.add(0, '>', fmt.Sprintf("250-%s Hello [%s] %s", h.fqdn, f.ip, ehloTLS), "")
	s.add(g.ms(1, 3), '<', fmt.Sprintf("250-%s Hello [%s] %s", h.fqdn, f.ip, ehloTLS), "")
	return s, rv
}

// exchangeAuth is Exchange Server authentication (X-EXPS) between servers.
func (g *generator) exchangeAuth(s, rv *session, f server) {
	s.add(0, '>', "X-EXPS GSSAPI", "")
	rv.add(g.ms(1, 3), '<', "X-EXPS GSSAPI", "")
	rv.add(g.ms(1, 10), '>', "235 <authentication response>", "")
	rv.add(0, '*', "CONTOSO\\"+f.name+"$", "authenticated")
	rv.add(0, '*', exchangePerms, "Set Session Permissions")
	s.add(g.ms(1, 10), '<', "235 <authentication response>", "")
}

// relayMessage sends one message over an established server-to-server
// session: the sender pipelines MAIL and RCPTs, as Exchange does.
func (g *generator) relayMessage(s, rv *session, from, to int, sender string, rcpts []string, size int) {
	f, h := servers[from], servers[to]
	mid := g.messageID(f.fqdn)
	s.add(0, '*', "", fmt.Sprintf("sending message with RecordId %d and InternetMessageId %s", g.rng.Int64N(1<<40), mid))
	s.add(0, '>', fmt.Sprintf("MAIL FROM:<%s> SIZE=%d", sender, size), "")
	rv.add(g.ms(1, 3), '<', fmt.Sprintf("MAIL FROM:<%s> SIZE=%d", sender, size), "")
	rv.add(0, '*', fmt.Sprintf("%016X;%s;1", rv.sid, time.UnixMilli(rv.t).UTC().Format("2006-01-02T15:04:05.000Z")), "receiving message")
	for _, rc := range rcpts {
		s.add(0, '>', "RCPT TO:<"+rc+">", "")
		rv.add(0, '<', "RCPT TO:<"+rc+">", "")
	}
	rv.add(g.ms(1, 5), '>', "250 2.1.0 Sender OK", "")
	s.add(g.ms(1, 3), '<', "250 2.1.0 Sender OK", "")
	for range rcpts {
		rv.add(0, '>', "250 2.1.5 Recipient OK", "")
		s.add(0, '<', "250 2.1.5 Recipient OK", "")
	}
	s.add(0, '>', fmt.Sprintf("BDAT %d LAST", size), "")
	rv.add(g.ms(5, 50), '<', fmt.Sprintf("BDAT %d LAST", size), "")
	queued := fmt.Sprintf("250 2.6.0 %s [InternalId=%d, Hostname=%s] %d bytes in %.3f, %.3f KB/sec Queued mail for delivery",
		mid, g.rng.Int64N(1<<40), h.fqdn, size, 0.02+g.rng.Float64()/2, 100+g.rng.Float64()*2000)
	rv.add(g.ms(10, 200), '>', queued, "")
	s.add(g.ms(1, 3), '<', queued, "")
}

// quitBoth ends a server-to-server session on both sides.
func (g *generator) quitBoth(s, rv *session) {
	s.add(0, '>', "QUIT", "")
	rv.add(g.ms(1, 3), '<', "QUIT", "")
	rv.add(0, '>', "221 2.0.0 Service closing transmission channel", "")
	rv.add(0, '-', "", "Local")
	s.add(g.ms(1, 3), '<', "221 2.0.0 Service closing transmission channel", "")
	s.add(0, '-', "", "Local")
}

// relayProbe is a bot that tries to relay or to log in, and is refused.
func (g *generator) relayProbe(sv int, t int64) {
	s := servers[sv]
	ip := fmt.Sprintf("%d.%d.%d.%d", []int{45, 80, 91, 141, 185, 193, 194, 212}[g.rng.IntN(8)], g.rng.IntN(256), g.rng.IntN(256), 1+g.rng.IntN(254))
	ehlo := []string{"ylmf-pc", "User", "WIN-" + fmt.Sprintf("%X", g.rng.Uint32()), "[" + ip + "]", "localhost"}[g.rng.IntN(5)]
	r := g.open(streamKey{server: sv}, fmt.Sprintf("%s\\Default Frontend %s", s.name, s.name), t, s.ip+":25", ip+":"+g.port())
	r.add(0, '+', "", "")
	r.add(0, '*', anonPerms, "Set Session Permissions")
	r.add(g.ms(0, 15), '>', banner(s, r.t), "")
	r.add(g.ms(100, 2000), '<', "EHLO "+ehlo, "")
	r.add(0, '>', fmt.Sprintf("250-%s Hello [%s] %s", s.fqdn, ip, ehloFE), "")
	if g.rng.IntN(3) == 0 {
		r.add(g.ms(50, 500), '<', "AUTH LOGIN", "")
		r.add(0, '*', "Tarpit for '0.00:00:05'", "")
		r.add(5000, '>', "504 5.7.4 Unrecognized authentication type", "")
		r.add(g.ms(100, 900), '-', "", "Remote")
		return
	}
	r.add(g.ms(50, 500), '<', fmt.Sprintf("MAIL FROM:<%s>", g.user(relayTargets[g.rng.IntN(len(relayTargets))])), "")
	r.add(0, '*', fmt.Sprintf("%016X;%s;1", r.sid, time.UnixMilli(r.t).UTC().Format("2006-01-02T15:04:05.000Z")), "receiving message")
	r.add(0, '<', fmt.Sprintf("RCPT TO:<%s%d@%s>", users[g.rng.IntN(len(users))], g.rng.IntN(999), relayTargets[g.rng.IntN(len(relayTargets))]), "")
	r.add(0, '*', "Tarpit for '0.00:00:05'", "")
	r.add(5000, '>', "250 2.1.0 Sender OK", "")
	refusal := "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain"
	if !s.v2016 {
		refusal = "550 5.7.1 Unable to relay"
	}
	r.add(0, '>', refusal, "")
	r.add(g.ms(10, 300), '<', "QUIT", "")
	r.add(0, '>', "221 2.0.0 Service closing transmission channel", "")
	r.add(0, '-', "", "Local")
}

// submission is a user's device sending through Client Frontend on 587.
func (g *generator) submission(sv int, t int64, brokenSince int64) {
	s := servers[sv]
	ip := fmt.Sprintf("10.40.%d.%d", g.rng.IntN(16), 10+g.rng.IntN(240))
	ehlo := fmt.Sprintf("PC-%04d.contoso.com", g.rng.IntN(3000))
	r := g.open(streamKey{server: sv}, fmt.Sprintf("%s\\Client Frontend %s", s.name, s.name), t, s.ip+":587", ip+":"+g.port())
	r.add(0, '+', "", "")
	r.add(0, '*', "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders", "Set Session Permissions")
	r.add(g.ms(0, 15), '>', banner(s, r.t), "")
	r.add(g.ms(10, 100), '<', "EHLO "+ehlo, "")
	r.add(0, '>', fmt.Sprintf("250-%s Hello [%s] SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS AUTH GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING SMTPUTF8", s.fqdn, ip), "")
	r.add(g.ms(10, 100), '<', "STARTTLS", "")
	r.add(0, '>', "220 2.0.0 SMTP server ready", "")
	r.add(0, '*', "", "Sending certificate")
	r.add(0, '*', "CN=mail.contoso.com", "Certificate subject")
	r.add(g.ms(20, 120), '*', "", tlsServer)
	r.add(g.ms(10, 100), '<', "EHLO "+ehlo, "")
	r.add(0, '>', fmt.Sprintf("250-%s Hello [%s] SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES AUTH GSSAPI NTLM LOGIN 8BITMIME BINARYMIME CHUNKING SMTPUTF8", s.fqdn, ip), "")
	user := users[g.rng.IntN(len(users))]
	r.add(g.ms(10, 100), '<', "AUTH LOGIN", "")
	r.add(0, '>', "334 <authentication response>", "")
	if g.rng.IntN(40) == 0 { // a mistyped password
		r.add(g.ms(500, 3000), '*', "Tarpit for '0.00:00:05'", "")
		r.add(5000, '>', "535 5.7.3 Authentication unsuccessful", "")
		r.add(0, '*', "CONTOSO\\"+user, "authentication failed")
		r.add(g.ms(10, 300), '-', "", "Remote")
		return
	}
	r.add(g.ms(50, 400), '>', "235 2.7.0 Authentication successful", "")
	r.add(0, '*', "CONTOSO\\"+user, "authenticated")
	r.add(0, '*', userPerms, "Set Session Permissions")
	from := user + "@contoso.com"
	var rcpts []string
	for range 1 + g.rng.IntN(3) {
		if g.rng.IntN(2) == 0 {
			rcpts = append(rcpts, g.user(externalDomains[g.rng.IntN(len(externalDomains))]))
		} else {
			rcpts = append(rcpts, g.internalUser())
		}
	}
	size := 3000 + g.rng.IntN(400000)
	hub := g.pickHub(sv, t, brokenSince)
	g.transaction(r, from, rcpts, size, servers[hub])
	r.add(g.ms(5, 50), '<', "QUIT", "")
	r.add(0, '>', "221 2.0.0 Service closing transmission channel", "")
	r.add(0, '-', "", "Local")
	g.proxy(sv, hub, r.t-int64(g.rng.IntN(40)), ip, ehlo, r.sid, from, rcpts, size, "Organization")
}

// scanner is the multifunction printer relaying through EX02's relay
// connector: anonymous, mostly to colleagues, sometimes to a partner.
func (g *generator) scanner(t int64, brokenSince int64) {
	s := servers[1]
	r := g.open(streamKey{server: 1}, "EX02\\Anonymous Relay EX02", t, s.ip+":25", scannerIP+":"+g.port())
	r.add(0, '+', "", "")
	r.add(0, '*', relayPerms, "Set Session Permissions")
	r.add(g.ms(0, 15), '>', banner(s, r.t), "")
	r.add(g.ms(20, 200), '<', "EHLO "+scannerEHLO, "")
	r.add(0, '>', fmt.Sprintf("250-%s Hello [%s] %s", s.fqdn, scannerIP, ehloFE), "")
	rcpt := g.internalUser()
	if g.rng.IntN(4) == 0 {
		rcpt = g.user("fabrikam.com")
	}
	size := 200000 + g.rng.IntN(3000000)
	hub := g.pickHub(1, t, brokenSince)
	g.transaction(r, "scanner@contoso.com", []string{rcpt}, size, servers[hub])
	r.add(g.ms(5, 50), '<', "QUIT", "")
	r.add(0, '>', "221 2.0.0 Service closing transmission channel", "")
	r.add(0, '-', "", "Local")
	g.proxy(1, hub, r.t-int64(g.rng.IntN(40)), scannerIP, scannerEHLO, r.sid, "scanner@contoso.com", []string{rcpt}, size, "Anonymous")
}

// outbound is a Hub delivering to an internet MX through "Outbound to Internet".
func (g *generator) outbound(sv int, t int64) {
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
	r.add(g.ms(20, 200), '<', fmt.Sprintf("250 %s Hello %s [%s] SIZE 52428800 PIPELINING STARTTLS ENHANCEDSTATUSCODES 8BITMIME", mx, orgEHLO, publicIP(sv)), "")
	r.add(0, '>', "STARTTLS", "")
	r.add(g.ms(20, 200), '<', "220 2.0.0 Ready to start TLS", "")
	r.add(g.ms(20, 100), '*', "", tlsClient)
	r.add(0, '>', "EHLO "+orgEHLO, "")
	r.add(g.ms(20, 200), '<', fmt.Sprintf("250 %s Hello %s [%s] SIZE 52428800 PIPELINING ENHANCEDSTATUSCODES 8BITMIME", mx, orgEHLO, publicIP(sv)), "")
	r.add(0, '*', "", fmt.Sprintf("sending message with RecordId %d and InternetMessageId %s", g.rng.Int64N(1<<40), g.messageID(s.fqdn)))
	size := 2000 + g.rng.IntN(200000)
	r.add(0, '>', fmt.Sprintf("MAIL FROM:<%s> SIZE=%d", g.internalUser(), size), "")
	r.add(0, '>', "RCPT TO:<"+g.user(p.domain)+">", "")
	r.add(g.ms(20, 300), '<', "250 2.1.0 Ok", "")
	r.add(0, '<', "250 2.1.5 Ok", "")
	r.add(0, '>', "DATA", "")
	r.add(g.ms(20, 200), '<', "354 End data with <CR><LF>.<CR><LF>", "")
	r.add(g.ms(50, 900), '<', fmt.Sprintf("250 2.0.0 Ok: queued as %X", g.rng.Uint32()), "")
	r.add(0, '>', "QUIT", "")
	r.add(g.ms(10, 100), '<', "221 2.0.0 Bye", "")
	r.add(0, '-', "", "Local")
}

// intraOrg is one Hub delivering to another's Default connector on 2525 with
// Exchange Server authentication (X-EXPS).
func (g *generator) intraOrg(from, to int, t int64) {
	s, rv := g.hubSession(from, to, true, "Intra-Organization SMTP Send Connector", fmt.Sprintf("%s\\Default %s", servers[to].name, servers[to].name), t, ehloHub, ehloHubTLS)
	g.connRow(from, t, s.sid, servers[to].fqdn, '+', "")
	g.connRow(from, s.t, s.sid, servers[to].fqdn, '>', "Established connection to "+servers[to].ip)
	g.exchangeAuth(s, rv, servers[from])
	size := 2000 + g.rng.IntN(100000)
	g.relayMessage(s, rv, from, to, g.internalUser(), []string{g.internalUser()}, size)
	g.quitBoth(s, rv)
	g.connRow(from, s.t, s.sid, servers[to].fqdn, '-', fmt.Sprintf("Messages: 1 Bytes: %d", size))
}

// failedExchangeAuth is one attempt of incident 3, written as Exchange
// writes it: the session lands on a custom connector whose RemoteIPRanges
// cover the sender and which offers no X-EXPS; after the EHLO reply the
// sender sends QUIT. The protocol logs hold no 451 row: Exchange puts
// "451 5.7.3 Cannot achieve Exchange Server authentication." in the queue's
// LastError and in the connectivity log only.
func (g *generator) failedExchangeAuth(from, to int, t int64) {
	h := servers[to]
	s, rv := g.hubSession(from, to, true, "Intra-Organization SMTP Send Connector", "EX01\\Relay Hub EX01", t, ehloCustom, ehloCustomTLS)
	g.connRow(from, t, s.sid, h.fqdn, '+', "")
	g.connRow(from, s.t, s.sid, h.fqdn, '>', "Established connection to "+h.ip)
	g.quitBoth(s, rv)
	// The connectivity log gets the reply's text only, no code (Exchange
	// 2013 SmtpOutConnection; parser/CONNECTIVITY.md): the "451 4.4.0
	// Primary target IP address responded with ..." wording is the queue's.
	g.connRow(from, s.t, s.sid, h.fqdn, '-', "Messages: 0 Bytes: 0 (Retry : Cannot achieve Exchange Server authentication)")
	g.stats.ExchangeAuthAttempts++
}
