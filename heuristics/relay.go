package heuristics

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// RelayDetector finds anonymous relay: an unauthenticated session in which
// Exchange accepted (2xx) a RCPT TO for a domain the organisation is not
// authoritative for. That is an open relay for whoever can reach the
// connector, and the usual road to a blacklist.
//
// Sessions are grouped by server, connector and client. Intent is judged the
// way an Exchange engineer would: an internal host relaying through a
// connector few sources use is how admins are told to let printers and
// applications send (SeverityInfo, an inventory). It is an alarm when the
// source is public, when the connector also takes Internet mail, when the
// source is a hidden NAT address (everyone behind it relays), or when one
// source sends to ManyRelayDomains or more outside domains.
//
// Refused attempts (550 5.7.54 / 550 5.7.1 Unable to relay) are reported
// apart, per connector, as relay probing.
//
// Exchange itself accepts a recipient from an anonymous session that lacks
// SMTPAcceptAnyRecipient only in an accepted domain, so only sessions that
// held that permission (or whose permissions were not logged) can relay.
//
// Sessions proxied by a Front End (XPROXYFROM) are not counted: the relay is
// counted once, on the Front End connector where the client connected.
type RelayDetector struct {
	groups  map[relayKey]*relayGroup
	refused map[connRef]*refusedGroup
}

// Thresholds of RelayDetector.
const (
	// ManyRelayDomains outside domains from one source is mass mailing,
	// whatever the source: a scanner mails a handful of partners.
	ManyRelayDomains = 10
	// FewRelaySources: a connector used by at most this many clients is a
	// dedicated relay connector.
	FewRelaySources = 5

	maxRelayDomains   = 10_000  // per group; more are counted as "other"
	maxRelaySigs      = 4_096   // distinct recipient-domain sets per group
	maxSigDomains     = 64      // a larger set is counted as relaying without being kept
	maxGroupRcpts     = 1 << 17 // distinct recipient addresses kept per group; past it, a lower bound
	maxDistinctValues = 1 << 16 // EHLO names, sender domains, sources per group: exact up to here
)

type relayKey struct {
	server, connector string
	client            netip.Addr
}

type relayGroup struct {
	sessions  int64 // anonymous sessions of this client on this connector
	relayPerm bool  // some session held SMTPAcceptAnyRecipient
	ehlo      counter
	domains   map[string]*relayDomain
	other     relayDomain // recipients in domains past maxRelayDomains
	sessSigs  map[string]*relaySig
	msgSigs   map[string]*relaySig
	sigOver   relaySig // sessions past maxRelaySigs or maxSigDomains, counted as relaying
	msgOver   relaySig // messages likewise
	rcpts     counter  // accepted recipient addresses (lower case), over all domains
}

// relayDomain is what one group sent to one recipient domain (accepted RCPTs).
type relayDomain struct {
	rcpts   int64
	senders counter // MAIL FROM, by recipients accepted in this domain
	span    span
	samples samples
}

// relaySig counts sessions or messages by the set of domains they had
// recipients accepted in; which of those are outside is decided at the end,
// once the accepted domains are known.
type relaySig struct {
	domains   []string
	n, queued int64
}

type refusedGroup struct {
	sessions, rcpts int64
	sources         counter
	eop             counter // sources in Exchange Online Protection's ranges
	domains         counter
	span            span
	samples         samples
}

func newRelayDetector() *RelayDetector {
	return &RelayDetector{groups: map[relayKey]*relayGroup{}, refused: map[connRef]*refusedGroup{}}
}

func (d *RelayDetector) observe(s *session.Session) {
	if !s.IsReceive() || s.Proxied || s.Auth != session.AuthNone || len(s.Messages) == 0 {
		return
	}
	// Exchange accepts a recipient from an anonymous session without
	// SMTPAcceptAnyRecipient only in an accepted domain: such sessions
	// cannot relay, whatever the domain list says. Only sessions that
	// held the relay right (or whose permissions were not logged) are kept.
	canRelay := s.Permissions == "" || s.HasPermission(permAnyRecipient)
	k := relayKey{s.Server, s.Connector, s.Client}
	g := d.groups[k]
	var sessDomains domainSet
	refusedHere := false
	for _, m := range s.Messages {
		var msgDomains domainSet
		for _, r := range m.Rcpts {
			if r.RelayRefused() {
				rg := d.refusedGroup(s)
				rg.rcpts++
				rg.domains.add(r.Domain, 1, maxDistinctValues)
				if !refusedHere {
					refusedHere = true
					rg.sessions++
					rg.sources.add(s.Client.String(), 1, maxDistinctValues)
					if isEOP(s.Client) {
						rg.eop.add(s.Client.String(), 1, maxDistinctValues)
					}
					rg.span.add(s.Start, s.End)
					rg.samples.add(sampleOf(s, r.At))
				}
				continue
			}
			if !canRelay || !r.Accepted() || r.Domain == "" {
				continue
			}
			if g == nil {
				g = &relayGroup{domains: map[string]*relayDomain{}, sessSigs: map[string]*relaySig{}, msgSigs: map[string]*relaySig{}}
				d.groups[relayKey{strings.Clone(s.Server), strings.Clone(s.Connector), s.Client}] = g
			}
			rd := g.domain(r.Domain)
			rd.rcpts++
			g.rcpts.add(strings.ToLower(r.Addr), 1, maxGroupRcpts)
			rd.senders.add(cmp.Or(m.From, "<>"), 1, 64)
			msgDomains.add(r.Domain)
			if sessDomains.add(r.Domain) {
				rd.span.add(s.Start, s.End)
				rd.samples.add(sampleOf(s, r.At))
			}
		}
		if len(msgDomains.list) > 0 {
			g.sig(g.msgSigs, &g.msgOver, msgDomains.list, m.Queued)
		}
	}
	if g == nil || len(sessDomains.list) == 0 {
		return
	}
	g.sessions++
	g.relayPerm = g.relayPerm || s.HasPermission(permAnyRecipient)
	g.ehlo.add(s.EHLO, 1, maxDistinctValues)
	g.sig(g.sessSigs, &g.sigOver, sessDomains.list, false)
}

// domainSet is a set of domains in insertion order; a slice while small,
// with a map beside it once a session names many domains, so that a
// session with 100,000 recipients costs linear time.
type domainSet struct {
	list []string
	m    map[string]struct{}
}

func (d *domainSet) add(s string) bool {
	if d.m != nil {
		if _, ok := d.m[s]; ok {
			return false
		}
	} else if slices.Contains(d.list, s) {
		return false
	}
	d.list = append(d.list, s)
	if d.m != nil {
		d.m[s] = struct{}{}
	} else if len(d.list) > 16 {
		d.m = make(map[string]struct{}, 64)
		for _, x := range d.list {
			d.m[x] = struct{}{}
		}
	}
	return true
}

func (d *RelayDetector) refusedGroup(s *session.Session) *refusedGroup {
	k := connRef{s.Server, s.Connector}
	rg := d.refused[k]
	if rg == nil {
		rg = &refusedGroup{}
		d.refused[connRef{strings.Clone(s.Server), strings.Clone(s.Connector)}] = rg
	}
	return rg
}

func (g *relayGroup) domain(name string) *relayDomain {
	if rd := g.domains[name]; rd != nil {
		return rd
	}
	if len(g.domains) >= maxRelayDomains {
		return &g.other
	}
	rd := &relayDomain{}
	g.domains[strings.Clone(name)] = rd
	return rd
}

// sig counts one session or message under its set of domains; over takes
// what does not fit.
func (g *relayGroup) sig(m map[string]*relaySig, over *relaySig, domains []string, queued bool) {
	if len(domains) > maxSigDomains {
		// So many domains at once is mass mailing: count it as relaying
		// rather than keep a key this long.
		over.n++
		if queued {
			over.queued++
		}
		return
	}
	slices.Sort(domains)
	key := strings.Join(domains, "\n")
	rs := m[key]
	if rs == nil {
		if len(m) >= maxRelaySigs {
			rs = over
		} else {
			rs = &relaySig{domains: strings.Split(strings.Clone(key), "\n")}
			m[rs.joined()] = rs
		}
	}
	rs.n++
	if queued {
		rs.queued++
	}
}

func (s *relaySig) joined() string { return strings.Join(s.domains, "\n") }

// relayStats are a group's figures once the accepted domains are known.
type relayStats struct {
	sessions, messages, queued, rcpts int64
	distinctRcpts                     int64
	distinctLower                     bool     // distinctRcpts is a lower bound
	domains                           []string // outside domains, most recipients first
	span                              span
	samples                           samples
	senders                           counter
}

func (g *relayGroup) outside(v *orgView) relayStats {
	var st relayStats
	outside := func(sig *relaySig) bool {
		for _, d := range sig.domains {
			if !v.isAccepted(d) {
				return true
			}
		}
		return false
	}
	for _, sig := range g.sessSigs {
		if outside(sig) {
			st.sessions += sig.n
		}
	}
	for _, sig := range g.msgSigs {
		if outside(sig) {
			st.messages += sig.n
			st.queued += sig.queued
		}
	}
	st.sessions += g.sigOver.n
	st.messages += g.msgOver.n
	st.queued += g.msgOver.queued
	type dn struct {
		name string
		n    int64
	}
	var doms []dn
	for name, rd := range g.domains {
		if v.isAccepted(name) {
			continue
		}
		doms = append(doms, dn{name, rd.rcpts})
		st.rcpts += rd.rcpts
		st.span.add(rd.span.first, rd.span.last)
		st.samples.merge(rd.samples)
		st.senders.merge(&rd.senders, 64)
	}
	if g.other.rcpts > 0 {
		doms = append(doms, dn{"(other domains)", g.other.rcpts})
		st.rcpts += g.other.rcpts
		st.span.add(g.other.span.first, g.other.span.last)
		st.samples.merge(g.other.samples)
	}
	for addr := range g.rcpts.m {
		if !v.isAccepted(session.DomainOf(addr)) {
			st.distinctRcpts++
		}
	}
	st.distinctLower = g.rcpts.dropped || g.other.rcpts > 0
	sortDesc(doms, func(x dn) int64 { return x.n }, func(x dn) string { return x.name })
	for _, x := range doms {
		st.domains = append(st.domains, x.name)
	}
	return st
}

// detectorRelay names the anonymous-relay detector.
const detectorRelay = "anonymous-relay"

// report judges every group once the organisation and the NAT addresses
// are known. Relay through a NAT address raises that address's NAT
// finding. Internal hosts relaying through dedicated connectors go to the
// inventory, and refused attempts per connector to the probes: neither is
// a finding, since every Internet-facing server is probed all day.
func (d *RelayDetector) report(in *detectorInputs, r *Report) any {
	nat := in.result(detectorSNAT).(natResult)
	var res relayResult
	for k, g := range d.groups {
		st := g.outside(in.org)
		if st.rcpts == 0 {
			continue
		}
		nat.relayedThrough(r, k.server, k.client)
		f := relayFinding(k, g, st, in.org, in.use, nat.ids)
		if f.Severity == SeverityInfo {
			r.Inventory = append(r.Inventory, f)
		} else {
			r.Findings = append(r.Findings, f)
		}
		if f.Severity >= SeverityMedium {
			res = append(res, relayRun{id: f.ID, server: k.server, connector: k.connector, source: k.client, first: f.First, last: f.Last, rcpts: st.rcpts})
		}
	}
	for k, rg := range d.refused {
		r.Probes = append(r.Probes, probeFinding(k, rg))
	}
	return res
}

// relayResult is what the relay detector tells the detectors that need it:
// the relays it reported at medium or above (not the inventory), unordered.
type relayResult []relayRun

// relayRun is one reported relay: its finding, where, from whom, when, and
// how many recipients outside the organisation.
type relayRun struct {
	id, server, connector string
	source                netip.Addr
	first, last           time.Time
	rcpts                 int64
}

func relayFinding(k relayKey, g *relayGroup, st relayStats, v *orgView, use *connectorUsage, nat map[snatKey]string) Finding {
	cr := connRef{k.server, k.connector}
	public := k.client.IsValid() && !v.isInternal(k.client)
	facing := use.internetFacing(v, cr)
	natFinding, isNAT := nat[snatKey{k.server, k.client}]
	clients := 0
	if c := use.conns[cr]; c != nil {
		clients = len(c.clients)
	}
	many := len(st.domains) >= ManyRelayDomains
	src := sourceName(k.client, g.ehlo)

	f := Finding{
		ID: findingID("relay", k.server, k.connector, k.client.String()), Detector: detectorRelay,
		Server: k.server, Connector: k.connector, Source: addrString(k.client),
		First: st.span.first, Last: st.span.last,
		Counts: map[string]int64{"sessions": st.sessions, "messages": st.messages, "messages_queued": st.queued,
			"recipients": st.rcpts, "recipient_domains": int64(len(st.domains)),
			"connector_clients": int64(clients)},
		Samples: st.samples.list,
	}
	f.setCount("distinct_recipients", st.distinctRcpts, st.distinctLower)
	f.Facts = append(f.Facts, listFact("outside recipient domains, most recipients first", st.domains, 10),
		st.senders.top("top senders (MAIL FROM), by recipients accepted in outside domains", 5), g.ehlo.top("EHLO names, by sessions", 5))

	what := fmt.Sprintf("Between %s and %s, %s opened %d anonymous session(s) on %s (server %s), and Exchange accepted %d recipient(s) in %d domain(s) the organisation is not authoritative for (%s); %d of %d message(s) were queued for delivery.",
		stamp(st.span.first), stamp(st.span.last), src, st.sessions, dq(k.connector), k.server, st.rcpts, len(st.domains),
		strings.Join(firstN(st.domains, 5), ", "), st.queued, st.messages)
	removeIP := fmt.Sprintf(`Set-ReceiveConnector -Identity %s -RemoteIPRanges @{Remove=%s}   # if a wider range covers it, split that range instead`, psq(k.connector), psq(addrString(k.client)))
	trace := fmt.Sprintf(`Get-MessageTrackingLog -Server %s -Start %s -End %s -EventId RECEIVE -ResultSize Unlimited | ? OriginalClientIp -eq %s   # what it sent`,
		psq(k.server), psq(st.span.first.Format("2006-01-02 15:04")), psq(st.span.last.Add(time.Minute).Format("2006-01-02 15:04")), psq(addrString(k.client)))

	switch {
	case isNAT:
		f.Severity = SeverityCritical
		f.Title = fmt.Sprintf("Everyone behind the hidden NAT address %s can relay through %s", addrString(k.client), k.connector)
		f.Explanation = what + fmt.Sprintf(" %s is not one host: it is a NAT or load-balancer address (finding %s), so every client behind it inherits this connector's relay right.", addrString(k.client), natFinding)
		f.Cause = fmt.Sprintf("%s grants anonymous relay (SMTPAcceptAnyRecipient) and its RemoteIPRanges include %s, the address the load balancer or firewall gives every client it forwards.", dq(k.connector), addrString(k.client))
		f.Fix = []string{removeIP,
			"Make the load balancer keep the client address (routed/two-arm mode or transparent proxy), or give relaying applications their own addresses on a dedicated connector.",
			trace}
	case public && facing:
		f.Severity = SeverityCritical
		f.Title = fmt.Sprintf("Open relay: %s relays anonymously through the Internet-facing connector %s", addrString(k.client), k.connector)
		f.Explanation = what + " The connector takes mail from the Internet and grants relay to anonymous senders: anyone can send spam through your servers under your IP reputation."
		f.Cause = fmt.Sprintf("Anonymous users hold the relay right (ms-Exch-SMTP-Accept-Any-Recipient) on %s.", dq(k.connector))
		f.Fix = []string{
			fmt.Sprintf(`Get-ADPermission -Identity %s -User 'NT AUTHORITY\ANONYMOUS LOGON' | ? ExtendedRights -like '*Any-Recipient*' | Remove-ADPermission -Confirm:$false`, psq(k.connector)),
			"Move relaying applications to a dedicated connector scoped to their own addresses.",
			trace, "Check your public IP on the blocklists (Spamhaus, Barracuda, SpamCop) and ask for delisting once the relay is closed."}
	case public:
		f.Severity = SeverityHigh
		f.Title = fmt.Sprintf("Public host %s relays anonymously through %s", addrString(k.client), k.connector)
		f.Explanation = what + fmt.Sprintf(" %s is a public address, outside the organisation's networks: mail it sends leaves under your IP reputation, which is how organisations land on blocklists.", addrString(k.client))
		f.Cause = fmt.Sprintf("%s grants anonymous relay and its RemoteIPRanges include %s, most likely by mistake (a typo, or a range wider than the printers and applications it was made for).", dq(k.connector), addrString(k.client))
		f.Fix = []string{removeIP, trace,
			"Remove what is still queued: Get-Queue -Server " + psq(k.server) + " | Get-Message -ResultSize Unlimited | ? FromAddress -like '*@<sender domain>' | Remove-Message -WithNDR $false",
			"Check your public IP on the blocklists (Spamhaus, Barracuda, SpamCop) and ask for delisting once the relay is closed."}
	case facing || many:
		f.Severity = SeverityHigh
		why := fmt.Sprintf("the connector also takes Internet mail, so its relay right is not limited to %s", addrString(k.client))
		if many && !facing {
			why = fmt.Sprintf("%d outside domains from one internal host is mass mailing, not a printer or an application notifying a few partners: the host may be compromised or misused", len(st.domains))
		}
		f.Title = fmt.Sprintf("Internal host %s relays anonymously through %s to %d outside domain(s)", addrString(k.client), k.connector, len(st.domains))
		f.Explanation = what + " This is an alarm because " + why + "."
		f.Cause = fmt.Sprintf("%s grants anonymous relay to %s.", dq(k.connector), addrString(k.client))
		f.Fix = []string{"Find out what " + src + " is and whether it should send to these domains.", trace,
			"Relay for applications belongs on a dedicated connector scoped to single addresses, not on a connector that takes Internet mail."}
	default:
		f.Severity = SeverityInfo
		f.Title = fmt.Sprintf("%s relays through %s to %d outside domain(s)", src, k.connector, len(st.domains))
		f.Explanation = what + fmt.Sprintf(" This is the documented way to let a printer or an application send: an internal host on a dedicated connector (%d client(s) use it). Listed so you know who relays, through which connector, to where.", clients)
		f.Cause = "A relay connector set up for this host."
		f.Fix = []string{"Nothing to do if this host is meant to send to these domains. Keep the connector's RemoteIPRanges to single addresses."}
	}
	return f
}

func probeFinding(k connRef, rg *refusedGroup) Finding {
	f := Finding{
		ID: findingID("relay-probe", k.server, k.connector), Detector: "relay-probe", Severity: SeverityInfo,
		Server: k.server, Connector: k.connector, First: rg.span.first, Last: rg.span.last,
		Counts:  map[string]int64{"sessions": rg.sessions, "recipients_refused": rg.rcpts},
		Samples: rg.samples.list,
	}
	f.count("sources", rg.sources)
	f.count("recipient_domains", rg.domains)
	sources, sourcesLower := rg.sources.distinct()
	f.Title = fmt.Sprintf("Relay refused %d time(s) on %s, from %s source(s)", rg.rcpts, k.connector, countText(sources, sourcesLower))
	f.Explanation = fmt.Sprintf("Between %s and %s Exchange refused %d recipient(s) in %d session(s) on %s with \"Unable to relay\": the senders were anonymous and the domains are not accepted. The server did its job.",
		stamp(rg.span.first), stamp(rg.span.last), rg.rcpts, rg.sessions, dq(k.connector))
	f.Cause = "Relay probing: bots try every mail server they find for an open relay. If the refused domains include one you host, it is missing from the accepted domains and Exchange is refusing real inbound mail as relay."
	f.Fix = []string{"Nothing to do for Internet probes. Check that none of the refused recipient domains is yours (Get-AcceptedDomain); add it with New-AcceptedDomain if it is.",
		"If internal applications are among the sources, give them a dedicated relay connector scoped to their addresses."}
	f.Facts = []Fact{rg.domains.top("refused recipient domains, by refused recipients", 10), rg.sources.top("sources, by sessions with a refused recipient", 10)}
	if eop, eopLower := rg.eop.distinct(); eop > 0 {
		// Exchange Online Protection does not probe for relays: what it
		// delivers is real mail, so a refusal loses it.
		f.Severity = SeverityMedium
		f.Title = fmt.Sprintf("Mail from Microsoft 365 refused as relay on %s (%d recipient(s))", k.connector, rg.rcpts)
		f.Cause = fmt.Sprintf("%s of the sources are Exchange Online Protection servers (Microsoft 365 outbound), which deliver real mail and do not probe. Exchange refused their recipients as relay, so the recipient domain is most likely missing from the accepted domains (or mail for a domain hosted elsewhere is routed here). Other sources may still be probes.", countText(eop, eopLower))
		f.Facts = append(f.Facts, rg.eop.top("Exchange Online Protection sources, by sessions with a refused recipient", 5))
		f.Explanation = strings.TrimSuffix(f.Explanation, " The server did its job.") + " Mail from Microsoft 365 among them is real mail that was lost."
		f.Fix = []string{"Compare the refused recipient domains with Get-AcceptedDomain. For a domain you host: New-AcceptedDomain -DomainName '<domain>' -DomainType Authoritative.",
			"In a hybrid organisation, check that the Microsoft 365 outbound connector to on-premises only carries domains this organisation accepts."}
	}
	return f
}

// sourceName is "10.30.5.21 (EHLO SCAN01)" when one EHLO name dominates.
func sourceName(a netip.Addr, ehlo counter) string {
	if len(ehlo.m) == 1 {
		for n := range ehlo.m {
			if n != "" {
				return fmt.Sprintf("%s (EHLO %s)", addrString(a), n)
			}
		}
	}
	return addrString(a)
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "an unlogged address"
	}
	return a.String()
}

func listFact(name string, values []string, n int) Fact {
	f := Fact{Name: name, Values: firstN(values, n)}
	if len(values) > n {
		f.More = len(values) - n
	}
	return f
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

// eopRanges are Exchange Online Protection's published outbound ranges
// (Microsoft 365 URLs and IP address ranges, "Exchange Online" ID 2).
var eopRanges = []netip.Prefix{
	netip.MustParsePrefix("40.92.0.0/15"), netip.MustParsePrefix("40.107.0.0/16"),
	netip.MustParsePrefix("52.100.0.0/14"), netip.MustParsePrefix("104.47.0.0/17"),
	netip.MustParsePrefix("2a01:111:f400::/48"), netip.MustParsePrefix("2a01:111:f403::/48"),
}

func isEOP(a netip.Addr) bool {
	for _, p := range eopRanges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
