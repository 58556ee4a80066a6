package gen

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds the incidents added for the incident report, and the
// truth the report is checked against:
//
//   - the blacklisting: some hours after the Internet first relays through
//     EX02, receivers refuse EX02's outbound mail because its public IP is
//     listed (Spamhaus ZEN, Microsoft S3150, Gmail's rate limit), written as
//     Exchange's send log writes remote replies, multi-line ones joined on
//     one row;
//   - Config.Botnet: that many public sources relaying through the open
//     EX02\Default Frontend EX02 from botnetAfter to the end of the logs;
//   - Config.MoreIncidents: the load balancer of incident 1 also fronts
//     EX01 (EX01\Relay LB EX01 lists its SNAT address), and a second custom
//     Hub connector breaks X-EXPS: EX03's mail to EX02 fails with 451 5.7.3.

// Times of the incidents, from Config.Start.
const (
	// botnetAfter: someone gave Anonymous the relay right on EX02's
	// Default Frontend connector; the botnet finds it minutes later.
	botnetAfter = 14*time.Hour + 10*time.Minute
	// listedAfterRelay: the first refusal for a listing comes this long
	// after the relay through EX02 that got the IP listed: the botnet's
	// first session, or without one incident 2's (01:00).
	listedAfterRelay = 2*time.Hour + 45*time.Minute
	// secondBrokenAfter: the second connector breaking X-EXPS appears.
	secondBrokenAfter = 15*time.Hour + 37*time.Minute
	// natEX01Relay are the hours in which clients behind the load balancer
	// relay through EX01.
	natEX01RelayFrom, natEX01RelayTo = 15, 16
)

// publicIPs are the servers' public addresses (one 1:1 NAT each), as the
// receivers see them and name them in their replies.
var publicIPs = []string{"203.0.113.11", "203.0.113.12", "203.0.113.13"}

func publicIP(sv int) string { return publicIPs[sv] }

// IncidentStats is the truth about what the generator planted, for tests
// that check a report's figures against it.
type IncidentStats struct {
	// Relays are the anonymous relays to outside domains, per receive
	// connector (connector-id): every recipient there is outside the
	// organisation.
	Relays map[string]*RelayTruth
	// NAT is what reached the servers from the load balancer's SNAT
	// address, per server.
	NAT map[string]*NATTruth
	// NATEHLONames is the number of distinct EHLO names behind it.
	NATEHLONames int
	// Blocklisting is EX02's public IP refused by blocklists.
	Blocklisting BlocklistTruth
	// SecondExchangeAuthAttempts are EX03's failed attempts to deliver to
	// EX02 (Config.MoreIncidents), in EX03's send and EX02's receive logs.
	SecondExchangeAuthAttempts int

	natEHLO map[string]bool
}

// RelayTruth is one connector's relay.
type RelayTruth struct {
	Sessions, Recipients int
	Sources, Domains     int
	First, Last          time.Time // the first relaying session's start, the last one's end
	sources, domains     map[string]bool
}

// NATTruth is one server's sessions from the SNAT address.
type NATTruth struct {
	Sessions int
}

// BlocklistTruth is the listing of EX02's public IP.
type BlocklistTruth struct {
	IP                   string
	Sessions, Refusals   int
	Permanent, Temporary int
	RecipientsRefused    int
	Lists                map[string]int    // list name as logscan's classifier names it -> refusals
	First, Last          time.Time         // first refused session's start, last one's end
	FirstRelay           time.Time         // the relay the listing follows
	ListedAt             time.Time         // when refusals begin
	ByHour               map[time.Time]int // refusals per hour
}

// incidentState is the generator's state for these incidents.
type incidentState struct {
	botnet      []peer
	next        int // the next botnet source to send
	longTail    []string
	nextRetry2  int64
	firstRelay  int64 // first relay through EX02 from the Internet (ms), 0 until seen
	firstBotnet int64 // the botnet's first session (ms), 0 until seen
	initialised bool
}

func (g *generator) initIncidents() {
	if g.inc.initialised {
		return
	}
	g.inc.initialised = true
	g.inc.nextRetry2 = g.cfg.Start.Add(secondBrokenAfter + firstRetryAfter).UnixMilli()
	st := &g.stats.Incidents
	st.Relays, st.NAT, st.natEHLO = map[string]*RelayTruth{}, map[string]*NATTruth{}, map[string]bool{}
	st.Blocklisting = BlocklistTruth{IP: publicIP(1), Lists: map[string]int{}, ByHour: map[time.Time]int{}}
	syll := []string{"ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "zen", "bor", "dal", "fen", "gar", "hul", "jin", "kor"}
	tlds := []string{"com", "net", "org", "de", "fr", "it", "pl", "ru", "com.br", "co.uk", "nl", "es"}
	for i := 0; len(g.inc.longTail) < 400; i++ {
		d := syll[i%len(syll)] + syll[(i/len(syll))%len(syll)] + syll[(i/7)%len(syll)] + "." + tlds[i%len(tlds)]
		if !slices.Contains(g.inc.longTail, d) {
			g.inc.longTail = append(g.inc.longTail, d)
		}
	}
	seen := map[string]bool{relayAbuser: true}
	octets := []int{36, 58, 59, 61, 101, 110, 113, 117, 119, 123, 171, 177, 181, 186, 187, 189, 190, 201}
	names := []string{"User", "ylmf-pc", "localhost", "WIN-%X", "DESKTOP-%X", "host-%d.dyn.isp-%d.net", "[%s]", "mail.%s.com"}
	for len(g.inc.botnet) < g.cfg.Botnet {
		ip := fmt.Sprintf("%d.%d.%d.%d", octets[g.rng.IntN(len(octets))], g.rng.IntN(256), g.rng.IntN(256), 1+g.rng.IntN(254))
		if seen[ip] {
			continue
		}
		seen[ip] = true
		var ehlo string
		switch n := names[g.rng.IntN(len(names))]; {
		case strings.Contains(n, "%X"):
			ehlo = fmt.Sprintf(n, g.rng.Uint32())
		case strings.HasPrefix(n, "host-"):
			ehlo = fmt.Sprintf(n, g.rng.IntN(99999), g.rng.IntN(90))
		case n == "[%s]":
			ehlo = "[" + ip + "]"
		case strings.Contains(n, "%s"):
			ehlo = fmt.Sprintf(n, g.inc.longTail[g.rng.IntN(len(g.inc.longTail))][:4])
		default:
			ehlo = n
		}
		g.inc.botnet = append(g.inc.botnet, peer{ip: ip, ehlo: ehlo, domain: g.inc.longTail[g.rng.IntN(len(g.inc.longTail))]})
	}
}

// moreIncidents writes the hour's traffic of the incidents above; called
// at the end of each hour.
func (g *generator) moreIncidents(start time.Time, brokenSince int64) {
	g.initIncidents()
	if g.cfg.Clean {
		return
	}
	at := func(from int64) int64 { return from + g.rng.Int64N(max(start.UnixMilli()+3_600_000-from, 1)) }
	h := start.Hour()
	day := 0.35
	if h >= 7 && h <= 18 {
		day = 1
	}
	botnetSessions := 0
	if g.cfg.Botnet > 0 {
		from := max(start.UnixMilli(), g.cfg.Start.Add(botnetAfter).UnixMilli())
		if from < g.hourEnd {
			// Every source at least once in the ~10 hours to the end of
			// the day, more with Scale.
			n := max(int(float64(g.cfg.Botnet)*g.cfg.Scale/6), (g.cfg.Botnet+8)/9)
			n = int(float64(n) * float64(g.hourEnd-from) / 3_600_000)
			for range max(n, 1) {
				g.botnetSession(at(from), brokenSince)
			}
			botnetSessions = n
		}
	}
	if g.cfg.MoreIncidents {
		for range g.count(10*day, 1) {
			p := g.peers[g.rng.IntN(len(g.peers))]
			g.inbound(0, "EX01\\Relay LB EX01", relayPerms, peer{ip: lbSNAT, ehlo: p.ehlo, domain: p.domain}, at(start.UnixMilli()), false, brokenSince)
		}
		if h >= natEX01RelayFrom && h <= natEX01RelayTo {
			for i := range g.count(6, 3) {
				g.inbound(0, "EX01\\Relay LB EX01", relayPerms, peer{ip: lbSNAT, ehlo: fmt.Sprintf("pc%d.lan-%d.example.org", i, g.rng.IntN(900)), domain: "example.org"}, at(start.UnixMilli()), true, brokenSince)
			}
		}
		for g.inc.nextRetry2 < g.hourEnd-5_000 {
			g.failedExchangeAuthOn(2, 1, "EX02\\Relay Hub EX02", g.inc.nextRetry2)
			g.stats.Incidents.SecondExchangeAuthAttempts++
			g.inc.nextRetry2 += retryInterval.Milliseconds() + g.ms(200, 1500)
		}
		if g.inc.nextRetry2 < g.hourEnd {
			g.inc.nextRetry2 = g.hourEnd + g.ms(200, 1500)
		}
	}
	// The listing: EX02's outbound mail refused from listedAfterRelay
	// after the relay that got its IP listed.
	trigger := g.inc.firstRelay
	if g.cfg.Botnet > 0 {
		trigger = g.inc.firstBotnet
	}
	if trigger == 0 {
		return
	}
	listed := trigger + listedAfterRelay.Milliseconds()
	from := max(start.UnixMilli(), listed)
	if from >= g.hourEnd {
		return
	}
	bt := &g.stats.Incidents.Blocklisting
	if bt.ListedAt.IsZero() {
		bt.ListedAt, bt.FirstRelay = time.UnixMilli(listed).UTC(), time.UnixMilli(trigger).UTC()
		g.blocklistRefusal(listed) // the first refusal, at the listing
	}
	for range g.count(12, 3) + botnetSessions/4 {
		g.blocklistRefusal(at(from))
	}
}

// noteRelay keeps the first relay through EX02 from the Internet (what
// gets its IP listed).
func (g *generator) noteRelay(sv int, ip string, t int64) {
	if sv == 1 && ip != scannerIP && ip != lbSNAT && (g.inc.firstRelay == 0 || t < g.inc.firstRelay) {
		g.inc.firstRelay = t
	}
}

// noteInbound records the truth of an inbound session: relayed
// recipients (all outside the organisation when relay is set) and what
// came from the SNAT address.
func (g *generator) noteInbound(sv int, connector string, p peer, start, end int64, rcpts []string, relay bool) {
	g.initIncidents()
	st := &g.stats.Incidents
	if p.ip == lbSNAT {
		n := st.NAT[servers[sv].name]
		if n == nil {
			n = &NATTruth{}
			st.NAT[servers[sv].name] = n
		}
		n.Sessions++
		if !st.natEHLO[p.ehlo] {
			st.natEHLO[p.ehlo] = true
			st.NATEHLONames++
		}
	}
	if !relay {
		return
	}
	g.noteRelay(sv, p.ip, start)
	rt := st.Relays[connector]
	if rt == nil {
		rt = &RelayTruth{sources: map[string]bool{}, domains: map[string]bool{}}
		st.Relays[connector] = rt
	}
	rt.Sessions++
	rt.Recipients += len(rcpts)
	if !rt.sources[p.ip] {
		rt.sources[p.ip] = true
		rt.Sources++
	}
	for _, r := range rcpts {
		d := strings.ToLower(r[strings.LastIndexByte(r, '@')+1:])
		if !rt.domains[d] {
			rt.domains[d] = true
			rt.Domains++
		}
	}
	if s := time.UnixMilli(start).UTC(); rt.First.IsZero() || s.Before(rt.First) {
		rt.First = s
	}
	if e := time.UnixMilli(end).UTC(); e.After(rt.Last) {
		rt.Last = e
	}
}

// botnetSession is one botnet source relaying through EX02's open Default
// Frontend connector: anonymous, holding the relay right, to 3-12
// recipients at big providers and a long tail of domains.
func (g *generator) botnetSession(t int64, brokenSince int64) {
	p := g.inc.botnet[g.inc.next%len(g.inc.botnet)]
	g.inc.next++
	if g.inc.firstBotnet == 0 || t < g.inc.firstBotnet {
		g.inc.firstBotnet = t
	}
	s := servers[1]
	connector := "EX02\\Default Frontend EX02"
	r := g.open(streamKey{server: 1}, connector, t, s.ip+":25", p.ip+":"+g.port())
	r.add(0, '+', "", "")
	r.add(0, '*', relayPerms, "Set Session Permissions")
	r.add(g.ms(0, 15), '>', banner(s, r.t), "")
	r.add(g.ms(20, 400), '<', "EHLO "+p.ehlo, "")
	r.add(0, '>', fmt.Sprintf("250-%s Hello [%s] %s", s.fqdn, p.ip, ehloFE), "")
	var rcpts []string
	for range 3 + g.rng.IntN(10) {
		d := relayTargets[g.rng.IntN(len(relayTargets))]
		if g.rng.IntN(10) < 4 {
			d = g.inc.longTail[g.rng.IntN(len(g.inc.longTail))]
		}
		rcpts = append(rcpts, fmt.Sprintf("%s%d@%s", users[g.rng.IntN(len(users))], g.rng.IntN(99999), d))
	}
	from := fmt.Sprintf("%s@%s", users[g.rng.IntN(len(users))], p.domain)
	size := 2000 + g.rng.IntN(30000)
	hub := g.pickHub(1, t, brokenSince)
	g.transaction(r, from, rcpts, size, servers[hub])
	r.add(g.ms(5, 50), '<', "QUIT", "")
	r.add(0, '>', "221 2.0.0 Service closing transmission channel", "")
	r.add(0, '-', "", "Local")
	g.noteInbound(1, connector, p, t, r.t, rcpts, true)
	g.proxy(1, hub, r.t-int64(g.rng.IntN(40)), p.ip, p.ehlo, r.sid, from, rcpts, size, "Anonymous")
}

// receivers refusing a listed IP: who, where, and the reply per RCPT.
type refuser struct {
	list, mx, ip string
	domains      []string
	temporary    bool
	reply        func(g *generator, ip string, t int64) string
}

var refusers = []refuser{
	{list: "Spamhaus ZEN", mx: "mx00.gmx.net", ip: "212.227.15.%d", domains: []string{"gmx.de", "web.de", "gmx.net"},
		reply: func(_ *generator, ip string, _ int64) string {
			return fmt.Sprintf("554 5.7.1 Service unavailable; Client host [%s] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/%s", ip, ip)
		}},
	{list: "Microsoft (S3150)", mx: "AM6EUR05FT034.mail.protection.outlook.com", ip: "52.101.68.%d", domains: []string{"hotmail.com", "outlook.com", "live.com"},
		reply: func(g *generator, ip string, t int64) string {
			return fmt.Sprintf("550 5.7.1 Unfortunately, messages from [%s] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [AM6EUR05FT%03d.eop-eur05.prod.protection.outlook.com %s %016X]",
				ip, g.rng.IntN(100), time.UnixMilli(t).UTC().Format("2006-01-02T15:04:05.000Z"), g.rng.Uint64())
		}},
	{list: "Gmail", mx: "mx.google.com", ip: "142.250.102.%d", domains: []string{"gmail.com", "googlemail.com"}, temporary: true,
		reply: func(g *generator, ip string, _ int64) string {
			// Gmail's multi-line reply, as Exchange logs it: the lines
			// joined on one row, each with its "421-4.7.0 " prefix.
			return fmt.Sprintf("421-4.7.0 [%s      15] Our system has detected an unusual rate of 421-4.7.0 unsolicited mail originating from your IP address. To protect our 421-4.7.0 users from spam, mail sent from your IP address has been temporarily 421-4.7.0 rate limited. Please visit 421-4.7.0  https://support.google.com/mail/?p=UnsolicitedRateLimitError to 421 4.7.0 review our Bulk Email Senders Guidelines. %x-%xsi%d.%d - gsmtp",
				ip, g.rng.Uint64()>>12, g.rng.Uint32(), g.rng.IntN(999999), g.rng.IntN(999))
		}},
}

// blocklistRefusal is one session from EX02's Hub to a receiver that
// refuses its listed IP: every recipient gets the refusal, then QUIT.
func (g *generator) blocklistRefusal(t int64) {
	sv := 1
	s := servers[sv]
	rf := refusers[[]int{0, 0, 0, 0, 1, 1, 1, 2, 2, 0}[g.rng.IntN(10)]]
	ip := publicIP(sv)
	remote := fmt.Sprintf(rf.ip, 1+g.rng.IntN(250))
	r := g.open(streamKey{server: sv, hub: true, send: true}, "Outbound to Internet", t, "", remote+":25")
	r.add(0, '*', "SendRoutingHeaders", "Set Session Permissions")
	r.add(0, '*', "", "attempting to connect")
	r.local = s.ip + ":" + g.port()
	r.add(g.ms(20, 200), '+', "", "")
	r.add(g.ms(20, 300), '<', "220 "+rf.mx+" ESMTP ready", "")
	r.add(0, '>', "EHLO "+orgEHLO, "")
	r.add(g.ms(20, 200), '<', fmt.Sprintf("250-%s Hello %s [%s] SIZE 52428800 PIPELINING STARTTLS ENHANCEDSTATUSCODES 8BITMIME CHUNKING", rf.mx, orgEHLO, ip), "")
	r.add(0, '>', "STARTTLS", "")
	r.add(g.ms(20, 200), '<', "220 2.0.0 Ready to start TLS", "")
	r.add(g.ms(20, 100), '*', "", tlsClient)
	r.add(0, '>', "EHLO "+orgEHLO, "")
	r.add(g.ms(20, 200), '<', fmt.Sprintf("250-%s Hello %s [%s] SIZE 52428800 PIPELINING ENHANCEDSTATUSCODES 8BITMIME CHUNKING", rf.mx, orgEHLO, ip), "")
	r.add(0, '*', "", fmt.Sprintf("sending message with RecordId %d and InternetMessageId %s", g.rng.Int64N(1<<40), g.messageID(s.fqdn)))
	from := g.internalUser()
	if g.cfg.Botnet > 0 && g.rng.IntN(2) == 0 && len(g.inc.botnet) > 0 {
		from = fmt.Sprintf("%s@%s", users[g.rng.IntN(len(users))], g.inc.botnet[g.rng.IntN(len(g.inc.botnet))].domain)
	}
	r.add(0, '>', fmt.Sprintf("MAIL FROM:<%s> SIZE=%d", from, 2000+g.rng.IntN(60000)), "")
	n := 1 + g.rng.IntN(4)
	for range n {
		r.add(0, '>', fmt.Sprintf("RCPT TO:<%s%d@%s>", users[g.rng.IntN(len(users))], g.rng.IntN(9999), rf.domains[g.rng.IntN(len(rf.domains))]), "")
	}
	r.add(g.ms(50, 300), '<', "250 2.1.0 Sender OK", "")
	for range n {
		r.add(0, '<', rf.reply(g, ip, r.t), "")
	}
	r.add(g.ms(1, 3), '>', "QUIT", "")
	r.add(g.ms(20, 80), '<', "221 2.0.0 Service closing transmission channel", "")
	r.add(0, '-', "", "Local")

	bt := &g.stats.Incidents.Blocklisting
	bt.Sessions++
	bt.Refusals += n
	bt.RecipientsRefused += n
	bt.Lists[rf.list] += n
	bt.ByHour[time.UnixMilli(t).UTC().Truncate(time.Hour)] += n
	if rf.temporary {
		bt.Temporary += n
	} else {
		bt.Permanent += n
	}
	if st := time.UnixMilli(t).UTC(); bt.First.IsZero() || st.Before(bt.First) {
		bt.First = st
	}
	if e := time.UnixMilli(r.t).UTC(); e.After(bt.Last) {
		bt.Last = e
	}
}

// failedExchangeAuthOn is a failed attempt like failedExchangeAuth's, from
// server from to server to, landing on connector (which lacks X-EXPS).
func (g *generator) failedExchangeAuthOn(from, to int, connector string, t int64) {
	h := servers[to]
	s, rv := g.hubSession(from, to, true, "Intra-Organization SMTP Send Connector", connector, t, ehloCustom, ehloCustomTLS)
	g.connRow(from, t, s.sid, h.fqdn, '+', "")
	g.connRow(from, s.t, s.sid, h.fqdn, '>', "Established connection to "+h.ip)
	g.quitBoth(s, rv)
	g.connRow(from, s.t, s.sid, h.fqdn, '-', fmt.Sprintf(`Messages: 0 Bytes: 0 (Retry : 451 4.4.0 Primary target IP address responded with: "451 5.7.3 Cannot achieve Exchange Server authentication." Attempted failover to alternate host, but that did not succeed. Either there are no alternate hosts, or delivery failed to all alternate hosts. The last endpoint attempted was %s:2525)`, h.ip))
}

// secondPairBroken reports whether server from cannot reach server to's
// Transport service at t (Config.MoreIncidents: EX03 -> EX02): its queue
// holds the mail, and its Front End proxies elsewhere.
func (g *generator) secondPairBroken(from, to int, t int64) bool {
	return g.cfg.MoreIncidents && !g.cfg.Clean && from == 2 && to == 1 && t >= g.cfg.Start.Add(secondBrokenAfter).UnixMilli()
}
