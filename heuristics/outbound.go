package heuristics

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// detectorOutbound names the outbound-failures detector.
const detectorOutbound = "outbound-failures"

// outboundDetector reports, per sending server, the destinations its
// queues could not deliver to, from the connectivity logs: DNS failures,
// TLS failures, hosts that time out, refuse or reset the connection, and
// remote 4xx/5xx replies. (451 5.7.3 between the organisation's own
// servers is the exchange-auth-5.7.3 finding's.)
//
// Severity: medium when some destination kept failing for at least
// OutboundStuckAfter with no delivery to it after its last failure — mail
// to it is queuing and will be returned; low otherwise (the Internet always
// has a few unreachable hosts and queues retry).
type outboundDetector struct{}

// OutboundStuckAfter is how long a destination must keep failing, with no
// delivery after, for its mail to count as stuck: Exchange retries for 2
// days by default, and an hour of failures is past any transient fault.
const OutboundStuckAfter = time.Hour

// maxOutboundDestinations is how many destinations a finding lists in
// text; JSON and CSV get all of them in Counts.
const maxOutboundDestinations = 10

func (outboundDetector) observe(*session.Session) {}

func (outboundDetector) report(in *detectorInputs, r *Report) any {
	cf := in.conn
	if cf == nil {
		return nil
	}
	byServer := map[string][]*connGroup{}
	for _, g := range cf.groups {
		if g.kind == parser.ConnExchangeAuth451 {
			continue
		}
		byServer[g.server] = append(byServer[g.server], g)
	}
	for _, server := range slices.Sorted(maps.Keys(byServer)) {
		r.Findings = append(r.Findings, outboundFinding(server, byServer[server], cf))
	}
	return nil
}

func outboundFinding(server string, groups []*connGroup, cf *connFailures) Finding {
	// Most failures first; ties by destination and kind, for stable output.
	slices.SortFunc(groups, func(a, b *connGroup) int {
		return cmp.Or(cmp.Compare(b.count, a.count), cmp.Compare(a.destination, b.destination), cmp.Compare(a.kind, b.kind), a.target.Compare(b.target))
	})
	var sp span
	var smp samples
	kinds := map[string]int64{}
	dests := map[string]bool{}
	var stuck []string
	var total int64
	var lines []string
	for _, g := range groups {
		sp.add(g.first, g.last)
		for _, at := range g.samples {
			smp.add(sampleRec{server: server, noID: true, start: g.first, ref: at})
		}
		kinds[g.kind.String()] += g.count
		dests[g.destination] = true
		total += g.count
		delivered := cf.success[connDestKey{server, g.destination}]
		isStuck := g.last.Sub(g.first) >= OutboundStuckAfter && !delivered.After(g.last)
		target := ""
		if g.target.IsValid() {
			target = " at " + g.target.String()
		}
		line := fmt.Sprintf("%s%s: %d %s failure(s), %s to %s: %q", g.destination, target, g.count, g.kind, stamp(g.first), stamp(g.last), g.description)
		if isStuck {
			line += " — no delivery after the last failure"
			if !slices.Contains(stuck, g.destination) {
				stuck = append(stuck, g.destination)
			}
		}
		lines = append(lines, line)
	}
	f := Finding{
		ID: findingID(detectorOutbound, server), Detector: detectorOutbound, Severity: SeverityLow, Server: server,
		First: sp.first, Last: sp.last, Samples: smp.out(),
		Counts: map[string]int64{"failures": total, "destinations": int64(len(dests)), "destinations_stuck": int64(len(stuck))},
	}
	var kindList []string
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		f.Counts["failures_"+strings.ToLower(k)] = kinds[k]
		kindList = append(kindList, fmt.Sprintf("%s %d", k, kinds[k]))
	}
	f.Facts = append(f.Facts, listFact("destinations, by failed attempts (kind, span, first failure text)", lines, maxOutboundDestinations))
	if cf.dropped > 0 {
		// Past maxConnEvents failed sessions, only some were kept.
		f.setCount("failures", total, true)
		f.Facts = append(f.Facts, Fact{Name: "note", Values: []string{fmt.Sprintf(
			"the connectivity logs hold more than %d failed connectivity sessions: logscan kept a sample of them (chosen by session, whatever the order of the files), so every failure count here is a lower bound", maxConnEvents)}})
	}
	failures := strconv.FormatInt(total, 10)
	if cf.dropped > 0 {
		failures = "at least " + failures
	}
	f.Title = fmt.Sprintf("%s could not deliver to %d destination(s): %s failed attempt(s) in its connectivity log (%s)", server, len(dests), failures, strings.Join(kindList, ", "))
	f.Explanation = fmt.Sprintf("Between %s and %s, %s's connectivity log records %s failed delivery attempt(s) to %d destination(s): %s.",
		stamp(sp.first), stamp(sp.last), server, failures, len(dests), strings.Join(kindList, ", "))
	if len(stuck) > 0 {
		f.Severity = SeverityMedium
		f.Explanation += fmt.Sprintf(" Mail to %s kept failing for an hour or more with no delivery after: it is queuing and will be returned when it expires.", strings.Join(quoteAll(stuck), ", "))
	}
	f.Cause = "Each kind has its own cause. DNS: the next hop's MX or A record cannot be resolved from this server (its DNS servers, or the domain). TLS: the remote side requires TLS or a certificate this server cannot offer or accept (send connector TlsAuthLevel/TlsDomain, or an expired certificate). Timeout/Refused/Reset: a firewall or the remote host blocks port 25, or the remote host is down. RemoteReply: the remote server answered with a refusal (see its text)."
	f.Fix = []string{
		fmt.Sprintf("See what is queued and why: Get-Queue -Server %s | ? MessageCount -gt 0 | ft Identity,DeliveryType,NextHopDomain,Status,MessageCount,LastError -AutoSize", psq(server)),
		"DNS: Resolve-DnsName -Type MX <domain> on the server itself; check the DNS servers on its network adapter and Get-TransportService | fl ExternalDNS*,InternalDNS*.",
		"TLS: Get-SendConnector | fl Name,RequireTLS,TlsAuthLevel,TlsDomain,TlsCertificateName; Get-ExchangeCertificate | fl Thumbprint,Services,NotAfter,Subject.",
		"Timeout/Refused: Test-NetConnection <target> -Port 25 from the server; check the outbound firewall rules for port 25.",
		fmt.Sprintf("Once fixed: Get-Queue -Server %s | ? Status -eq Retry | Retry-Queue", psq(server)),
	}
	return f
}
