package heuristics

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

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
//
// One finding per NAT address, whatever the number of servers behind it:
// the address lies in each server's own subnet, so the servers share that
// subnet and the address is one device (a load balancer in front of EX01
// and EX02). The statistics are judged per server; the finding lists every
// server and connector the address fronts.
//
// The sessions per client of each server are counted exactly for clients
// on the server's subnet (a few hundred at most, the candidates among them)
// and, for the rest, within a budget (MaxAddrEntries for all servers): past
// it the statistics are taken over the subnet's clients and the lowest
// addresses kept, a sample that does not depend on the order sessions
// arrive in, and the server's session total stays exact.
type SNATDetector struct {
	servers map[string]uint32     // server -> group in public
	near    map[snatKey]int64     // sessions per client on the server's subnet
	public  addrTable             // sessions per other client, per server
	cands   map[snatKey]*snatCand // candidates: near clients that are not the server
	org     Org
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
	hours         hourly // sessions per hour
}

func newSNATDetector(org Org) *SNATDetector {
	return &SNATDetector{servers: map[string]uint32{}, near: map[snatKey]int64{}, cands: map[snatKey]*snatCand{}, org: org}
}

func (d *SNATDetector) observe(s *session.Session) {
	if !s.IsReceive() || s.Proxied || !s.Client.IsValid() || !s.Local.Addr().IsValid() {
		return
	}
	g, ok := d.servers[s.Server]
	if !ok {
		g = uint32(len(d.servers))
		d.servers[strings.Clone(s.Server)] = g
	}
	local := s.Local.Addr()
	p, err := local.Prefix(d.org.subnetBits(local))
	if err != nil || !p.Contains(s.Client) {
		d.public.add(g, s.Client, 1)
		return
	}
	k := snatKey{s.Server, s.Client}
	if _, ok := d.near[k]; ok {
		d.near[k]++
	} else {
		d.near[snatKey{strings.Clone(s.Server), s.Client}] = 1
	}
	if s.Client == local || s.Client.IsLoopback() {
		return
	}
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
	c.hours.add(s.Start, 1, 0, 0)
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
	relayConn []string
	// sampled: the server's public clients passed the budget; median,
	// MAD and sources are over the clients kept (sources is then a lower
	// bound), total still counts every session.
	sampled bool
}

// detect applies the thresholds; severity waits for the relay detector.
func (d *SNATDetector) detect(v *orgView) []natHit {
	var hits []natHit
	type perServer struct {
		counts  stats.Float64Data
		total   int64
		sampled bool
	}
	servers := map[string]*perServer{}
	for k, c := range d.cands {
		if names, _ := c.ehlo.distinct(); v.isExchange(k.client) || names < NATMinEHLONames {
			continue
		}
		ps := servers[k.server]
		if ps == nil {
			ps = &perServer{}
			servers[k.server] = ps
			// One count per client: a server with addresses in two
			// subnets may have counted a client in both tables.
			per := map[netip.Addr]int64{}
			for nk, n := range d.near {
				if nk.server == k.server {
					per[nk.client] += n
				}
			}
			g := d.servers[k.server]
			for _, ac := range d.public.kept(g) {
				per[ac.Addr] += ac.Sessions
			}
			for a, n := range per {
				if !v.isExchange(a) {
					ps.counts = append(ps.counts, float64(n))
					ps.total += n
				}
			}
			rest, dropped := d.public.rest(g)
			ps.total += rest
			ps.sampled = dropped
		}
		counts, total := ps.counts, ps.total
		h := natHit{key: k, c: c, sources: len(counts), total: total, sampled: ps.sampled}
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
// it: the NAT addresses seen per server, each with its finding's id (one
// finding per address, for every server behind it) and place in the report.
type natResult struct {
	ids   map[snatKey]string
	index map[netip.Addr]int // in Report.Findings
	nat   map[netip.Addr]*natState
}

// natState is what relays through one NAT address add to its finding.
type natState struct {
	hours          hourly // the NAT's sessions, then the recipients relayed through it
	span           span
	logs           span
	rcpts, relayed int64 // recipients relayed through it; sessions that relayed
	raised         bool
}

func (d *SNATDetector) report(in *detectorInputs, r *Report) any {
	res := natResult{ids: map[snatKey]string{}, index: map[netip.Addr]int{}, nat: map[netip.Addr]*natState{}}
	for _, g := range groupNAT(d.detect(in.org)) {
		f, st := d.finding(g, in)
		for _, h := range g {
			res.ids[h.key] = f.ID
		}
		res.index[g[0].key.client] = len(r.Findings)
		res.nat[g[0].key.client] = st
		r.Findings = append(r.Findings, f)
	}
	var where []BudgetPlace
	for server, g := range d.servers {
		if rest, dropped := d.public.rest(g); dropped {
			n, _ := d.public.distinct(g)
			where = append(where, BudgetPlace{Server: server, LogType: "receive", Kept: int64(n), OtherSessions: rest})
		}
	}
	if len(where) > 0 {
		r.Budgets = append(r.Budgets, Budget{Table: budgetNATClients, Limit: int64(maxAddrEntries), Where: sortPlaces(where), Meaning: meaningAddr})
	}
	return res
}

// groupNAT puts the hits of one address together, servers by name.
func groupNAT(hits []natHit) [][]natHit {
	slices.SortFunc(hits, func(a, b natHit) int {
		return cmp.Or(a.key.client.Compare(b.key.client), cmp.Compare(a.key.server, b.key.server))
	})
	var out [][]natHit
	for i, h := range hits {
		if i > 0 && h.key.client == hits[i-1].key.client {
			out[len(out)-1] = append(out[len(out)-1], h)
			continue
		}
		out = append(out, []natHit{h})
	}
	return out
}

// relayedThrough raises the NAT finding of addr once the relay detector
// has seen mail relayed to outside domains from it, and adds what was
// relayed to its counts and timeline.
func (res natResult) relayedThrough(r *Report, addr netip.Addr, sessions, rcpts int64, hours hourly) {
	i, ok := res.index[addr]
	if !ok {
		return
	}
	st, f := res.nat[addr], &r.Findings[i]
	st.rcpts += rcpts
	st.relayed += sessions
	for k, c := range hours {
		st.hours.add(time.Unix(k, 0), 0, c[1], 0)
	}
	f.Counts["relayed_recipients"] = st.rcpts
	f.Counts["relayed_sessions"] = st.relayed
	f.Timeline = st.hours.timeline(MeasureSessions, st.span.first, st.span.last, st.logs)
	if st.raised {
		return
	}
	st.raised = true
	f.Severity = SeverityCritical
	f.Explanation += " It did relay to outside domains (the anonymous-relay findings citing this one): everyone behind it can relay."
}

// finding is the one finding of a NAT address: hits are its servers, by name.
func (d *SNATDetector) finding(hits []natHit, in *detectorInputs) (Finding, *natState) {
	v := in.org
	addr := hits[0].key.client
	ip := addr.String()
	var ehlo, domains, connectors counter
	var sessions, total int64
	var sp span
	var smp samples
	var iv [][2]int64
	st := &natState{}
	var servers, relayConns, perServer []string
	for _, h := range hits {
		c := h.c
		ehlo.merge(&c.ehlo, maxDistinctValues)
		domains.merge(&c.senderDomains, maxDistinctValues)
		connectors.merge(&c.connectors, 64)
		sessions += c.sessions
		total += h.total
		sp.add(c.span.first, c.span.last)
		smp.merge(c.samples)
		st.hours.merge(c.hours)
		if len(iv) < maxNATIntervals {
			iv = append(iv, c.intervals[:min(len(c.intervals), maxNATIntervals-len(iv))]...)
		}
		servers = append(servers, h.key.server)
		relayConns = append(relayConns, h.relayConn...)
		share := float64(c.sessions) / float64(max(h.total, 1)) * 100
		stat := fmt.Sprintf("%.0f robust deviations above a typical client (median %.0f session(s), MAD %.0f)", h.z, h.median, h.mad)
		if h.sources < NATMinSources {
			stat = fmt.Sprintf("%d client address(es) in all", h.sources)
		} else if h.sampled {
			stat += fmt.Sprintf(", over the %d client addresses kept of more (a memory budget: its subnet's and the lowest others)", h.sources)
		}
		perServer = append(perServer, fmt.Sprintf("on %s (subnet %s), %d of its %d direct sessions (%.0f%%), %s",
			h.key.server, v.subnet(c.local), c.sessions, h.total, share, stat))
	}
	slices.Sort(relayConns)
	relayConns = slices.Compact(relayConns)
	peak := peakConcurrency(iv)
	st.span, st.logs = sp, in.logs.of(false, servers...)
	names, namesLower := ehlo.distinct()
	doms, domsLower := domains.distinct()

	f := Finding{
		ID: findingID(detectorSNAT, ip), Detector: detectorSNAT, Severity: SeverityMedium, Server: mainServer(hits), Source: ip,
		First: sp.first, Last: sp.last, Samples: smp.out(),
		Counts: map[string]int64{"sessions": sessions, "server_sessions": total, "servers": int64(len(hits)),
			"peak_concurrent_sessions": int64(peak)},
		Facts: []Fact{connectors.top("servers and connectors it fronts, by sessions", MaxListed), ehlo.top("EHLO names, by sessions", MaxListed),
			domains.top("sender domains, by messages", MaxListed)},
		Timeline: st.hours.timeline(MeasureSessions, sp.first, sp.last, st.logs),
	}
	if len(hits) == 1 {
		h := hits[0]
		f.setCount("server_sources", int64(h.sources), h.sampled)
	} else {
		f.Servers = servers
	}
	f.setCount("distinct_ehlo_names", names, namesLower)
	f.setCount("distinct_sender_domains", doms, domsLower)
	namesText, domainsText := countText(names, namesLower), countText(doms, domsLower)
	if conns := connectors.top("", 1).Values; len(conns) == 1 {
		f.Connector, _, _ = strings.Cut(conns[0], " (")
	}
	where := fmt.Sprintf("on %s's own subnet", servers[0])
	if len(servers) > 1 {
		where = "in front of " + joinAnd(servers)
	}
	f.Title = fmt.Sprintf("Hidden NAT: %s %s stands for many clients (%s EHLO names)", ip, where, namesText)
	breadth := fmt.Sprintf("%s different EHLO names and %s sender domains", namesText, domainsText)
	if peak > 1 {
		breadth = fmt.Sprintf("%s different EHLO names, %s sender domains and up to %d sessions at once", namesText, domainsText, peak)
	}
	f.Explanation = fmt.Sprintf("%s, an address on the server's own subnet, carries an outlying share of the sessions: %s. Behind that one address the logs show %s. One host does not look like that: a device in front of the server%s is translating the source address of many clients.",
		ip, strings.Join(perServer, "; "), breadth, plural(len(servers) > 1))
	if len(servers) > 1 {
		f.Explanation += fmt.Sprintf(" It is on the subnet of %s alike: one device fronts them all.", joinAnd(servers))
	}
	f.Cause = fmt.Sprintf("A load balancer in one-arm (SNAT) mode or a firewall NATing inbound SMTP presents every client as %s. Exchange can no longer tell clients apart: connection filtering, IP allow/block lists and every receive connector whose RemoteIPRanges names %s apply to all of them.", ip, ip)
	f.Fix = []string{"Make the load balancer or firewall keep the client address (routed/two-arm mode, transparent proxy, or no SNAT on the SMTP rule)."}
	quoted := make([]string, len(servers))
	for i, server := range servers {
		quoted[i] = psq(server)
	}
	f.Fix = append(f.Fix, fmt.Sprintf("Until then, make sure no connector that grants relay or authentication bypass lists %s: %s | %% { Get-ReceiveConnector -Server $_ } | ? { $_.RemoteIPRanges -match %s } | ft Identity,PermissionGroups,AuthMechanism", ip, strings.Join(quoted, ","), psq(strings.ReplaceAll(ip, ".", `\.`))))
	if len(relayConns) > 0 {
		f.Severity = SeverityHigh
		f.Explanation += fmt.Sprintf(" Sessions from it hold the anonymous relay right on %s.", strings.Join(quoteAll(relayConns), ", "))
		for _, conn := range relayConns {
			f.Fix = append(f.Fix, fmt.Sprintf(`Set-ReceiveConnector -Identity %s -RemoteIPRanges @{Remove=%s}   # applications that must relay get their own addresses`, psq(conn), psq(ip)))
		}
	}
	return f, st
}

// mainServer is the server with the most of the NAT's sessions (ties: by name).
func mainServer(hits []natHit) string {
	best, most := "", int64(-1)
	for _, h := range hits {
		if h.c.sessions > most || h.c.sessions == most && h.key.server < best {
			best, most = h.key.server, h.c.sessions
		}
	}
	return best
}

func plural(many bool) string {
	if many {
		return "s"
	}
	return ""
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = dq(x)
	}
	return out
}
