package heuristics

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/montanaflynn/stats"
)

// SNATDetector finds a hidden source NAT: a load balancer in one-arm mode,
// or a firewall NATing inbound mail, makes many clients arrive from one
// address on the server's own subnet. The real clients are hidden, and a
// receive connector whose RemoteIPRanges names that address gives all of
// them its rights.
//
// Signal: a direct (not proxied) client on the server's own subnet (see
// Org.SubnetBitsV4/V6), not a known Exchange server, that
//   - carries an outlying number of the server's sessions: its modified
//     z-score 0.6745·(x − median)/MAD over the sessions per client of that
//     server is at least NATOutlierZ (Iglewicz and Hoaglin's cut-off), or,
//     with fewer than NATMinSources clients to compare, it carries at least
//     half of them; and
//   - shows breadth no single host has: at least NATMinEHLONames distinct
//     EHLO names. A smart host or spam filter relaying for others presents
//     one name of its own and is not flagged.
//
// Peak concurrency and distinct sender domains are reported as evidence.
// Severity rises to high when a connector grants it relay, and to critical
// when it relayed anonymously to outside domains.
type SNATDetector struct {
	perServer map[string]map[netip.Addr]int64
	cands     map[snatKey]*snatCand
	org       Org
}

// Thresholds of SNATDetector.
const (
	NATOutlierZ      = 3.5
	NATMinSources    = 5
	NATMinEHLONames  = 5
	maxNATIntervals  = 1 << 20 // per candidate, for peak concurrency (16 MiB at most)
	natMinShareSmall = 0.5
)

type snatKey struct {
	server string
	client netip.Addr
}

type snatCand struct {
	sessions      int64
	local         netip.Addr
	ehlo          counter
	senderDomains counter
	connectors    counter
	relayConns    map[string]bool
	intervals     [][2]int64
	span          span
	samples       samples
}

func newSNATDetector(org Org) *SNATDetector {
	return &SNATDetector{perServer: map[string]map[netip.Addr]int64{}, cands: map[snatKey]*snatCand{}, org: org}
}

func (d *SNATDetector) observe(s *session.Session) {
	if !s.IsReceive() || s.Proxied || !s.Client.IsValid() || !s.Local.Addr().IsValid() {
		return
	}
	m := d.perServer[s.Server]
	if m == nil {
		m = map[netip.Addr]int64{}
		d.perServer[strings.Clone(s.Server)] = m
	}
	m[s.Client]++
	local := s.Local.Addr()
	p, err := local.Prefix(d.org.subnetBits(local))
	if err != nil || !p.Contains(s.Client) || s.Client == local || s.Client.IsLoopback() {
		return
	}
	k := snatKey{s.Server, s.Client}
	c := d.cands[k]
	if c == nil {
		c = &snatCand{local: local, relayConns: map[string]bool{}}
		d.cands[snatKey{strings.Clone(s.Server), s.Client}] = c
	}
	if local.Less(c.local) {
		c.local = local // a server with several addresses: the lowest, whatever the order
	}
	c.sessions++
	c.ehlo.add(s.EHLO, 1, maxDistinctValues)
	for _, m := range s.Messages {
		if dom := session.DomainOf(m.From); dom != "" {
			c.senderDomains.add(dom, 1, maxDistinctValues)
		}
	}
	c.connectors.add(s.Connector, 1, 64)
	if s.HasPermission(permAnyRecipient) && s.Auth == session.AuthNone && !c.relayConns[s.Connector] {
		c.relayConns[strings.Clone(s.Connector)] = true
	}
	if len(c.intervals) < maxNATIntervals {
		c.intervals = append(c.intervals, [2]int64{s.Start.UnixMilli(), s.End.UnixMilli()})
	}
	c.span.add(s.Start, s.End)
	c.samples.add(sampleOf(s, s.First))
}

// natHit is a candidate the statistics picked out.
type natHit struct {
	key       snatKey
	c         *snatCand
	z         float64
	median    float64
	mad       float64
	sources   int
	total     int64
	peak      int
	id        string
	relayConn []string
}

// detect applies the thresholds; severity waits for the relay detector.
func (d *SNATDetector) detect(v *orgView) []natHit {
	var hits []natHit
	for k, c := range d.cands {
		if names, _ := c.ehlo.distinct(); v.isExchange(k.client) || names < NATMinEHLONames {
			continue
		}
		var counts stats.Float64Data
		var total int64
		for a, n := range d.perServer[k.server] {
			if v.isExchange(a) {
				continue
			}
			counts = append(counts, float64(n))
			total += n
		}
		h := natHit{key: k, c: c, sources: len(counts), total: total}
		if len(counts) >= NATMinSources {
			h.median, _ = stats.Median(counts)
			h.mad, _ = stats.MedianAbsoluteDeviation(counts)
			h.z = 0.6745 * (float64(c.sessions) - h.median) / max(h.mad, 1)
			if h.z < NATOutlierZ {
				continue
			}
		} else if float64(c.sessions) < natMinShareSmall*float64(total) {
			continue
		}
		h.peak = peakConcurrency(c.intervals)
		h.id = findingID("snat", k.server, k.client.String())
		for conn := range c.relayConns {
			h.relayConn = append(h.relayConn, conn)
		}
		slices.Sort(h.relayConn)
		hits = append(hits, h)
	}
	return hits
}

// peakConcurrency is the most intervals open at one instant.
func peakConcurrency(iv [][2]int64) int {
	type ev struct {
		t int64
		d int
	}
	evs := make([]ev, 0, 2*len(iv))
	for _, x := range iv {
		evs = append(evs, ev{x[0], 1}, ev{x[1], -1})
	}
	// Ends before starts at the same instant: back-to-back sessions do not overlap.
	slices.SortFunc(evs, func(a, b ev) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.d, b.d)) })
	cur, peak := 0, 0
	for _, e := range evs {
		cur += e.d
		peak = max(peak, cur)
	}
	return peak
}

// detectorSNAT names the hidden-NAT detector.
const detectorSNAT = "hidden-snat"

// natResult is what the hidden-NAT detector tells the detectors that need
// it: the NAT addresses per server, each with its finding's id and place
// in the report. Keyed by server and address: two servers behind one load
// balancer each have their own finding.
type natResult struct {
	ids   map[snatKey]string
	index map[snatKey]int // in Report.Findings
}

func (d *SNATDetector) report(in *detectorInputs, r *Report) any {
	res := natResult{ids: map[snatKey]string{}, index: map[snatKey]int{}}
	hits := d.detect(in.org)
	for i, f := range d.findings(hits, in.org) {
		res.ids[hits[i].key] = f.ID
		res.index[hits[i].key] = len(r.Findings)
		r.Findings = append(r.Findings, f)
	}
	return res
}

// relayedThrough raises the NAT finding of addr on server, once the relay
// detector has seen mail relayed to outside domains from it.
func (res natResult) relayedThrough(r *Report, server string, addr netip.Addr) {
	i, ok := res.index[snatKey{server, addr}]
	if !ok || r.Findings[i].Severity == SeverityCritical {
		return
	}
	r.Findings[i].Severity = SeverityCritical
	r.Findings[i].Explanation += " It did relay to outside domains (see the anonymous-relay finding for this address): everyone behind the NAT can use the organisation as a relay."
}

func (d *SNATDetector) findings(hits []natHit, v *orgView) []Finding {
	var out []Finding
	for _, h := range hits {
		k, c := h.key, h.c
		ip := k.client.String()
		subnet := v.subnet(c.local)
		names, namesLower := c.ehlo.distinct()
		domains, domainsLower := c.senderDomains.distinct()
		f := Finding{
			ID: h.id, Detector: detectorSNAT, Severity: SeverityMedium, Server: k.server, Source: ip,
			First: c.span.first, Last: c.span.last, Samples: c.samples.list,
			Counts: map[string]int64{"sessions": c.sessions, "server_sessions": h.total, "server_sources": int64(h.sources),
				"peak_concurrent_sessions": int64(h.peak)},
			Facts: []Fact{c.connectors.top("connectors, by sessions", 5), c.ehlo.top("EHLO names, by sessions", 8),
				c.senderDomains.top("sender domains, by messages", 8)},
		}
		f.setCount("distinct_ehlo_names", names, namesLower)
		f.setCount("distinct_sender_domains", domains, domainsLower)
		namesText, domainsText := countText(names, namesLower), countText(domains, domainsLower)
		if conns := c.connectors.top("", 1).Values; len(conns) == 1 {
			f.Connector, _, _ = strings.Cut(conns[0], " (")
		}
		share := float64(c.sessions) / float64(max(h.total, 1)) * 100
		stat := fmt.Sprintf("a typical client of %s opens %.0f session(s) (median; MAD %.0f), so %d is %.0f robust deviations above it", k.server, h.median, h.mad, c.sessions, h.z)
		if h.sources < NATMinSources {
			stat = fmt.Sprintf("%s has only %d client address(es), and this one carries %.0f%% of its sessions", k.server, h.sources, share)
		}
		f.Title = fmt.Sprintf("Hidden NAT: %s on %s's own subnet stands for many clients (%s EHLO names)", ip, k.server, namesText)
		breadth := fmt.Sprintf("%s different EHLO names and %s sender domains", namesText, domainsText)
		if h.peak > 1 {
			breadth = fmt.Sprintf("%s different EHLO names, %s sender domains and up to %d sessions at once", namesText, domainsText, h.peak)
		}
		f.Explanation = fmt.Sprintf("%d of %s's %d direct sessions (%.0f%%) came from %s, inside the server's own subnet %s; %s. Behind that one address the logs show %s. One host does not look like that: a device in front of the server is translating the source address of many clients.",
			c.sessions, k.server, h.total, share, ip, subnet, stat, breadth)
		f.Cause = fmt.Sprintf("A load balancer in one-arm (SNAT) mode or a firewall NATing inbound SMTP presents every client as %s. Exchange can no longer tell clients apart: connection filtering, IP allow/block lists and every receive connector whose RemoteIPRanges names %s apply to all of them.", ip, ip)
		f.Fix = []string{
			"Make the load balancer or firewall keep the client address (routed/two-arm mode, transparent proxy, or no SNAT on the SMTP rule).",
			fmt.Sprintf("Until then, make sure no connector that grants relay or authentication bypass lists %s: Get-ReceiveConnector -Server %s | ? { $_.RemoteIPRanges -match %s } | ft Identity,PermissionGroups,AuthMechanism", ip, psq(k.server), psq(strings.ReplaceAll(ip, ".", `\.`))),
		}
		if len(h.relayConn) > 0 {
			f.Severity = SeverityHigh
			f.Explanation += fmt.Sprintf(" Sessions from it hold the anonymous relay right on %s.", strings.Join(quoteAll(h.relayConn), ", "))
			for _, conn := range h.relayConn {
				f.Fix = append(f.Fix, fmt.Sprintf(`Set-ReceiveConnector -Identity %s -RemoteIPRanges @{Remove=%s}   # applications that must relay get their own addresses`, psq(conn), psq(ip)))
			}
		}
		out = append(out, f)
	}
	return out
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = dq(x)
	}
	return out
}
