package heuristics

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/logscan/logscan/heuristics/exconfig"
	"github.com/logscan/logscan/heuristics/session"
)

// This file holds the configuration against the logs, after the other
// detectors have reported: each log finding that names a connector gets
// the configuration that causes it (linkFindings), and the sessions show
// where the configuration and the traffic disagree (drift).

func (d *ConnectorConfigDetector) observe(s *session.Session) {
	if d.drift != nil {
		d.drift.observe(s)
	}
}

func (d *ConnectorConfigDetector) report(in *detectorInputs, r *Report) any {
	if d.cfg == nil {
		return nil
	}
	ai := AuditInputs{}
	if nat, ok := in.result(detectorSNAT).(natResult); ok {
		for k := range nat.ids {
			if !slices.Contains(ai.NAT, k.client) {
				ai.NAT = append(ai.NAT, k.client)
			}
		}
		slices.SortFunc(ai.NAT, netip.Addr.Compare)
	}
	for a, name := range in.org.exchange {
		ai.ExchangeServers = append(ai.ExchangeServers, ServerAddr{Name: name, Prefix: netip.PrefixFrom(a, a.BitLen())})
	}
	linkFindings(d.cfg, r.Findings)
	r.Findings = append(r.Findings, AuditConfig(d.cfg, ai)...)
	r.Findings = append(r.Findings, d.drift.findings(d.cfg)...)
	return nil
}

// linkFindings adds to every finding that names a server and a connector
// or source what the configuration says of it: which connector Exchange
// selects for the source, by which range, over which others, with which
// rights — or that the configuration would select another (drift).
func linkFindings(cfg *exconfig.Config, fs []Finding) {
	for i := range fs {
		f := &fs[i]
		if f.Detector == detectorConnectorConfig || f.Server == "" {
			continue
		}
		if line := linkLine(cfg, f); line != "" {
			f.Facts = append(f.Facts, Fact{Name: "configuration", Values: []string{line}})
			f.Explanation += " Configuration: " + line
		}
	}
}

func linkLine(cfg *exconfig.Config, f *Finding) string {
	src, err := netip.ParseAddr(f.Source)
	if err != nil {
		src = netip.Addr{}
	}
	src = src.Unmap()
	if f.Connector != "" {
		rc := cfg.Connector(f.Connector)
		if rc == nil {
			return fmt.Sprintf("%s is not in the configuration export (%s): it was removed or renamed since, or the export is of other servers.", f.Connector, cfg.Source)
		}
		if !src.IsValid() {
			return fmt.Sprintf("%s: %s.", rc.Identity, RightsText(rc))
		}
		var parts []string
		for _, b := range uniquePorts(rc.Bindings, src) {
			sel, ok := cfg.Select(rc.Server, b, src)
			switch {
			case !ok:
				parts = append(parts, fmt.Sprintf("on %s no connector in the export takes %s", bindingText(b), src))
			case sel.Connector == rc:
				parts = append(parts, fmt.Sprintf("%s takes %s on %s because its RemoteIPRanges entry %s is the most specific match%s; %s", rc.Identity, src, bindingText(b), sel.Range.Text, overText(sel), RightsText(rc)))
			default:
				parts = append(parts, fmt.Sprintf("the export sends %s on %s to %s (range %s), not to %s: the configuration changed since these logs, or a device rewrites addresses (see the drift finding)", src, bindingText(b), sel.Connector.Identity, sel.Range.Text, rc.Identity))
			}
		}
		if len(parts) == 0 {
			return fmt.Sprintf("%s has no binding for %s's address family.", rc.Identity, src)
		}
		return strings.Join(parts, "; ") + "."
	}
	if !src.IsValid() {
		return ""
	}
	// No connector named (a 451 seen only in send logs): say where the
	// configuration sends the source on the receiver's Transport ports.
	var parts []string
	for _, l := range cfg.Listeners() {
		if !strings.EqualFold(l.Server, f.Server) || l.Binding.Addr().Is4() != src.Is4() {
			continue
		}
		sel, ok := cfg.Select(l.Server, l.Binding, src)
		if !ok || sel.Range.IsAll() || !hubPort(l, sel.Connector) {
			continue
		}
		parts = append(parts, fmt.Sprintf("on %s the export sends %s to %s by its range %s%s; %s", bindingText(l.Binding), src, sel.Connector.Identity, sel.Range.Text, overText(sel), RightsText(sel.Connector)))
	}
	return strings.Join(parts, "; ")
}

func overText(sel exconfig.Selection) string {
	if len(sel.Over) == 0 {
		return ""
	}
	var o []string
	for _, x := range sel.Over {
		o = append(o, fmt.Sprintf("%s's %s", x.Connector.Identity, x.Range.Text))
	}
	return " (over " + strings.Join(o, ", ") + ")"
}

// uniquePorts keeps one binding per port of a's family, a specific local
// address before 0.0.0.0.
func uniquePorts(bs []netip.AddrPort, a netip.Addr) []netip.AddrPort {
	var out []netip.AddrPort
	for _, b := range bs {
		if b.Addr().Is4() != a.Is4() || slices.ContainsFunc(out, func(x netip.AddrPort) bool { return x.Port() == b.Port() }) {
			continue
		}
		out = append(out, b)
	}
	return out
}

// driftObserver remembers, per server, logged connector, local endpoint
// and remote address, the sessions seen: enough to ask the configuration
// which connector it would have chosen.
type driftObserver struct {
	keys    map[driftKey]*driftUse
	servers map[string]bool // servers whose receive logs were read
	over    int64           // sessions past maxDriftKeys, not kept
}

type driftKey struct {
	server, connector string
	local             netip.AddrPort
	remote            netip.Addr
}

type driftUse struct {
	sessions int64
	span     span
	samples  samples
}

// maxDriftKeys bounds what drift keeps: distinct (connector, local
// endpoint, remote address) triples.
const maxDriftKeys = 200_000

func newDriftObserver() *driftObserver {
	return &driftObserver{keys: map[driftKey]*driftUse{}, servers: map[string]bool{}}
}

func (d *driftObserver) observe(s *session.Session) {
	if !s.IsReceive() || s.Server == "" || !s.Local.IsValid() || !s.Remote.Addr().IsValid() {
		return
	}
	if !d.servers[s.Server] {
		d.servers[strings.Clone(s.Server)] = true
	}
	k := driftKey{s.Server, s.Connector, netip.AddrPortFrom(s.Local.Addr().Unmap(), s.Local.Port()), s.Remote.Addr().Unmap()}
	u := d.keys[k]
	if u == nil {
		if len(d.keys) >= maxDriftKeys {
			d.over++
			return
		}
		u = &driftUse{samples: samples{n: 3}}
		k.server, k.connector = strings.Clone(k.server), strings.Clone(k.connector)
		d.keys[k] = u
	}
	u.sessions++
	u.span.add(s.Start, s.End)
	u.samples.add(sampleOf(s, s.First))
}

type driftGroup struct {
	server, logged, selected string
	entries                  []driftEntry
}

type driftEntry struct {
	k    driftKey
	u    *driftUse
	sel  exconfig.Selection
	ok   bool
	then *driftUse // the same client on the selected connector
}

func (d *driftObserver) findings(cfg *exconfig.Config) []Finding {
	if d == nil {
		return nil
	}
	groups := map[[3]string]*driftGroup{}
	used := map[*exconfig.ReceiveConnector]bool{}
	usedRange := map[*exconfig.ReceiveConnector]map[string]bool{}
	for k, u := range d.keys {
		rc := cfg.Connector(k.connector)
		if rc != nil {
			used[rc] = true
			for _, r := range rc.RemoteIPRanges {
				if r.Range.Contains(k.remote) {
					if usedRange[rc] == nil {
						usedRange[rc] = map[string]bool{}
					}
					usedRange[rc][r.Text] = true
				}
			}
		}
		if !cfg.HasServer(k.server) {
			continue
		}
		sel, ok := cfg.Select(k.server, k.local, k.remote)
		if ok && strings.EqualFold(sel.Connector.Identity, k.connector) {
			continue
		}
		selected := "(none: the export has no connector that takes it)"
		if ok {
			selected = sel.Connector.Identity
		}
		gk := [3]string{k.server, k.connector, selected}
		g := groups[gk]
		if g == nil {
			g = &driftGroup{server: k.server, logged: k.connector, selected: selected}
			groups[gk] = g
		}
		e := driftEntry{k: k, u: u, sel: sel, ok: ok}
		if ok {
			e.then = d.keys[driftKey{k.server, sel.Connector.Identity, k.local, k.remote}]
		}
		g.entries = append(g.entries, e)
	}
	var out []Finding
	for _, g := range groups {
		out = append(out, driftFinding(cfg, g))
	}
	out = append(out, d.unused(cfg, used, usedRange)...)
	SortFindings(out)
	return out
}

func driftFinding(cfg *exconfig.Config, g *driftGroup) Finding {
	slices.SortFunc(g.entries, func(a, b driftEntry) int {
		return cmp.Or(cmp.Compare(b.u.sessions, a.u.sessions), a.k.remote.Compare(b.k.remote), cmp.Compare(a.k.local.Port(), b.k.local.Port()))
	})
	f := Finding{ID: findingID(detectorConnectorConfig, "drift", g.server, g.logged, g.selected), Detector: detectorConnectorConfig,
		Severity: SeverityLow, Server: g.server, Connector: g.logged, Counts: map[string]int64{}}
	var sp span
	var sm samples
	var lines []string
	clients := map[netip.Addr]bool{}
	changed := ""
	for _, e := range g.entries {
		clients[e.k.remote] = true
		f.Counts["sessions"] += e.u.sessions
		sp.add(e.u.span.first, e.u.span.last)
		sm.merge(e.u.samples)
		line := fmt.Sprintf("%s to %s: %d session(s) on %s, %s to %s", e.k.remote, e.k.local, e.u.sessions, g.logged, stamp(e.u.span.first), stamp(e.u.span.last))
		if e.ok {
			line += fmt.Sprintf("; the export selects %s by its range %s", e.sel.Connector.Identity, e.sel.Range.Text)
		}
		if e.then != nil && !e.then.span.first.Before(e.u.span.last) {
			line += fmt.Sprintf("; the logs show it on %s from %s", e.sel.Connector.Identity, stamp(e.then.span.first))
			if changed == "" {
				changed = fmt.Sprintf("between %s and %s", stamp(e.u.span.last), stamp(e.then.span.first))
			}
		}
		lines = append(lines, line)
	}
	f.Source = g.entries[0].k.remote.String()
	f.First, f.Last, f.Samples = sp.first, sp.last, sm.out()
	f.Counts["clients"] = int64(len(clients))
	f.Facts = []Fact{listFact("clients", lines, 10)}
	f.Title = fmt.Sprintf("Drift on %s: %d client(s) logged on %s that the configuration sends to %s", g.server, len(clients), g.logged, g.selected)
	f.Explanation = fmt.Sprintf("The logs show %d session(s) from %d client(s) on %s, but the configuration export (%s) would hand them to %s.", f.Counts["sessions"], len(clients), g.logged, exportWhen(cfg), g.selected)
	if changed != "" {
		f.Explanation += fmt.Sprintf(" The same clients then appear on %s: the configuration most likely changed %s.", g.selected, changed)
	}
	f.Cause = "The configuration changed between these logs and the export (a range added, removed or widened), or a device between the clients and the server rewrites their addresses."
	f.Fix = []string{
		fmt.Sprintf("Compare: Get-ReceiveConnector -Server %s | ft Identity,Bindings,RemoteIPRanges,WhenChanged", psq(g.server)),
		"If the change was not meant, restore the ranges; if it was, nothing to do: the next logs will agree.",
	}
	return f
}

func exportWhen(cfg *exconfig.Config) string {
	if cfg.CollectedAt.IsZero() {
		return cfg.Source
	}
	return cfg.Source + ", collected " + stamp(cfg.CollectedAt)
}

// unused lists, per server whose receive logs were read, the enabled
// connectors with no session and the ranges no logged client fell in
// (the whole address space is left out: default connectors cover it by
// design).
func (d *driftObserver) unused(cfg *exconfig.Config, used map[*exconfig.ReceiveConnector]bool, usedRange map[*exconfig.ReceiveConnector]map[string]bool) []Finding {
	var out []Finding
	servers := slices.Sorted(func(yield func(string) bool) {
		for s := range d.servers {
			if !yield(s) {
				return
			}
		}
	})
	for _, s := range servers {
		var idle, ranges []string
		for i := range cfg.ReceiveConnectors {
			rc := &cfg.ReceiveConnectors[i]
			if !strings.EqualFold(rc.Server, s) || rc.EnabledKnown && !rc.Enabled {
				continue
			}
			if !used[rc] {
				t := rc.Identity
				if rc.ProtocolLogging == "None" {
					t += " (protocol logging off: it may have had traffic)"
				}
				idle = append(idle, t)
				continue
			}
			for _, r := range rc.RemoteIPRanges {
				if !r.IsAll() && !usedRange[rc][r.Text] {
					ranges = append(ranges, fmt.Sprintf("%s on %s", r.Text, rc.Identity))
				}
			}
		}
		if len(idle)+len(ranges) == 0 {
			continue
		}
		f := Finding{ID: findingID(detectorConnectorConfig, "unused", s), Detector: detectorConnectorConfig, Severity: SeverityInfo, Server: s,
			Counts: map[string]int64{"connectors_without_traffic": int64(len(idle)), "ranges_never_used": int64(len(ranges))}, Samples: []Sample{}}
		f.Title = fmt.Sprintf("Unused on %s: %d connector(s) without traffic, %d range(s) no logged client fell in", s, len(idle), len(ranges))
		f.Explanation = fmt.Sprintf("In these logs no session on %s used the connectors or ranges listed. Ranges nobody uses are where mistakes hide: each one is an address that would get the connector's rights.", s)
		f.Cause = "Connectors and ranges left from old printers, applications or servers, or traffic outside the time the logs cover."
		f.Fix = []string{"Remove what is no longer needed: Set-ReceiveConnector -Identity <connector> -RemoteIPRanges @{Remove='<range>'}, Remove-ReceiveConnector for a connector nobody uses."}
		f.Facts = []Fact{listFact("connectors without traffic", idle, 20), listFact("ranges never used", ranges, 20)}
		out = append(out, f)
	}
	return out
}
