package heuristics

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/logscan/logscan/heuristics/exconfig"
	"go4.org/netipx"
)

// ConnectorConfigDetector audits the receive connector configuration
// (Org.Config) for the traps that make the log findings happen, and holds
// it against the logs. It reports from the configuration, not from
// sessions; it watches sessions only to compare the connector each client
// was logged on with the one the configuration selects (drift).
//
// Checks, each simulating Exchange's connector selection (exconfig.Select)
// rather than reading ranges alone, so a range overridden by a more
// specific one elsewhere is not blamed:
//   - exchange-server: a connector without Exchange Server authentication
//     wins another Exchange server's address on a Transport-service port
//     (2525, or any port on Exchange 2010): that server's mail fails with
//     451 5.7.3 (high);
//   - device: a connector wins a gateway's, load balancer's or NAT
//     device's address through a range narrower than "everything": every
//     client behind the device gets its rights (critical when the
//     connector relays, high when its permissions are unknown, medium for
//     anonymous access, low otherwise);
//   - anonymous-relay: ANONYMOUS LOGON holds ms-Exch-SMTP-Accept-Any-Recipient
//     on a connector that wins public addresses (critical when it takes
//     Internet mail or covers everything, high for a few public ranges) or
//     BroadRelayAddrs or more internal ones (medium);
//   - externally-secured: ExternalAuthoritative with the ExchangeServers
//     group on addresses that are not Exchange servers: they are treated as
//     authenticated Exchange servers (high; medium for fewer than
//     BroadRelayAddrs private addresses and no device);
//   - hub-port-25: a Hub Transport connector bound to port 25 on a server
//     whose Front End Transport service owns port 25 (high);
//   - logging-off: connectors with protocol logging off, per server (low;
//     medium when one of them relays): logscan cannot see them.
type ConnectorConfigDetector struct {
	cfg   *exconfig.Config
	drift *driftObserver
}

// BroadRelayAddrs is how many addresses make a relay or bypass "broad": a
// /16. Printers and applications are single addresses or a small subnet.
const BroadRelayAddrs = 1 << 16

const detectorConnectorConfig = "connector-config"

func newConnectorConfigDetector(o Org) *ConnectorConfigDetector {
	d := &ConnectorConfigDetector{cfg: o.Config}
	if o.Config != nil {
		d.drift = newDriftObserver()
	}
	return d
}

// AuditInputs is what the audit knows beyond the configuration.
type AuditInputs struct {
	// ExchangeServers adds servers to those the configuration names.
	ExchangeServers []ServerAddr
	// NAT are addresses that stand for many clients (load balancers,
	// firewalls), e.g. the hidden-NAT findings of a scan.
	NAT []netip.Addr
	// Internal are the organisation's networks (default: the
	// configuration's, else the private ranges).
	Internal []netip.Prefix
}

// auditView is the configuration with what the checks look up.
type auditView struct {
	cfg      *exconfig.Config
	exchange map[netip.Addr]string
	devices  []exconfig.Device
	internal *netipx.IPSet
	lists    []exconfig.Listener
}

func newAuditView(cfg *exconfig.Config, in AuditInputs) *auditView {
	v := &auditView{cfg: cfg, exchange: cfg.ExchangeAddrs(), lists: cfg.Listeners()}
	for _, s := range in.ExchangeServers {
		if s.Prefix.IsSingleIP() {
			if _, ok := v.exchange[s.Prefix.Addr()]; !ok {
				v.exchange[s.Prefix.Addr()] = s.Name
			}
		}
	}
	seen := map[netip.Addr]bool{}
	add := func(d exconfig.Device) {
		if !d.Address.IsValid() || seen[d.Address] {
			return
		}
		if _, isEx := v.exchange[d.Address]; isEx {
			return
		}
		seen[d.Address] = true
		v.devices = append(v.devices, d)
	}
	for _, d := range cfg.Devices {
		add(d)
	}
	for _, s := range cfg.Servers {
		for _, g := range s.Gateways {
			add(exconfig.Device{Kind: "gateway", Address: g, Name: "default gateway of " + s.Name})
		}
	}
	for _, a := range in.NAT {
		add(exconfig.Device{Kind: "nat", Address: a.Unmap(), Name: "hidden NAT address seen in the logs"})
	}
	var b netipx.IPSetBuilder
	internal := in.Internal
	if len(internal) == 0 {
		internal = OrgFromConfig(cfg).Internal
	}
	if len(internal) == 0 {
		internal = defaultInternal
	}
	for _, p := range internal {
		b.AddPrefix(p)
	}
	v.internal, _ = b.IPSet()
	return v
}

// rights says what a connector lets its clients do, worst first.
type rights int

const (
	rightsAuthenticated rights = iota // only authenticated users or servers
	rightsAnonymous                   // anonymous submission to the organisation
	rightsUnknown                     // anonymous, and the AD permissions are not in the export
	rightsRelay                       // anonymous relay, or authentication bypassed
)

func connectorRights(rc *exconfig.ReceiveConnector) rights {
	switch {
	case rc.AnonymousHas(exconfig.RightAnyRecipient), bypass(rc):
		return rightsRelay
	case rc.HasGroup(exconfig.GroupAnonymous) && !rc.PermissionsKnown:
		return rightsUnknown
	case rc.HasGroup(exconfig.GroupAnonymous):
		return rightsAnonymous
	}
	return rightsAuthenticated
}

// bypass: Externally Secured with the ExchangeServers group treats every
// client in range as an authenticated Exchange server.
func bypass(rc *exconfig.ReceiveConnector) bool {
	return rc.HasAuth(exconfig.AuthExternal) && rc.HasGroup(exconfig.GroupExchangeSrv)
}

// RightsText describes what a connector grants, for people.
func RightsText(rc *exconfig.ReceiveConnector) string {
	var parts []string
	if len(rc.PermissionGroups) > 0 {
		parts = append(parts, "PermissionGroups "+strings.Join(rc.PermissionGroups, ", "))
	}
	if len(rc.AuthMechanisms) > 0 {
		parts = append(parts, "AuthMechanism "+strings.Join(rc.AuthMechanisms, ", "))
	}
	switch {
	case bypass(rc):
		parts = append(parts, "Externally Secured: every client in range is treated as an authenticated Exchange server (relay, any sender, no anti-spam)")
	case rc.AnonymousHas(exconfig.RightAnyRecipient):
		parts = append(parts, "ANONYMOUS LOGON holds "+exconfig.RightAnyRecipient+" (anonymous relay)")
	case !rc.PermissionsKnown:
		parts = append(parts, "AD permissions not in the export")
	}
	if !rc.HasAuth(exconfig.AuthExchangeServer) {
		parts = append(parts, "no Exchange Server authentication (no X-EXPS)")
	}
	return strings.Join(parts, "; ")
}

// AuditConfig runs every check over the configuration and returns the
// findings, in a stable order.
func AuditConfig(cfg *exconfig.Config, in AuditInputs) []Finding {
	v := newAuditView(cfg, in)
	var out []Finding
	out = append(out, v.checkExchangeServers()...)
	out = append(out, v.checkDevices()...)
	out = append(out, v.checkAnonymousRelay()...)
	out = append(out, v.checkBypass()...)
	out = append(out, v.checkHubPort25()...)
	out = append(out, v.checkLogging()...)
	SortFindings(out)
	return out
}

// capture is one address a connector wins, and how.
type capture struct {
	addr netip.Addr
	name string
	sel  exconfig.Selection
}

func (c capture) text() string {
	who := c.addr.String()
	if c.name != "" {
		who = c.name + " (" + who + ")"
	}
	s := fmt.Sprintf("%s on %s, by its range %s", who, bindingText(c.sel.Binding), c.sel.Range.Text)
	if len(c.sel.Over) > 0 {
		var o []string
		for _, x := range c.sel.Over {
			o = append(o, fmt.Sprintf("%s's %s", x.Connector.Identity, x.Range.Text))
		}
		s += ", more specific than " + strings.Join(o, " and ")
	}
	return s
}

func bindingText(b netip.AddrPort) string {
	if b.Addr().IsUnspecified() {
		return fmt.Sprintf("port %d (%s)", b.Port(), b)
	}
	return b.String()
}

// winsFor lists, per connector, the addresses it wins among addrs.
func (v *auditView) winsFor(addrs map[netip.Addr]string, keep func(l exconfig.Listener, sel exconfig.Selection) bool) map[*exconfig.ReceiveConnector][]capture {
	out := map[*exconfig.ReceiveConnector][]capture{}
	keys := slices.SortedFunc(func(yield func(netip.Addr) bool) {
		for a := range addrs {
			if !yield(a) {
				return
			}
		}
	}, netip.Addr.Compare)
	for _, l := range v.lists {
		for _, a := range keys {
			if a.Is4() != l.Binding.Addr().Is4() {
				continue
			}
			sel, ok := v.cfg.Select(l.Server, l.Binding, a)
			if !ok || !keep(l, sel) {
				continue
			}
			rc := sel.Connector
			if !slices.ContainsFunc(out[rc], func(c capture) bool { return c.addr == a }) {
				out[rc] = append(out[rc], capture{addr: a, name: addrs[a], sel: sel})
			}
		}
	}
	return out
}

func sortedCapturingConnectors[T any](m map[*exconfig.ReceiveConnector]T) []*exconfig.ReceiveConnector {
	keys := make([]*exconfig.ReceiveConnector, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b *exconfig.ReceiveConnector) int { return cmp.Compare(a.Identity, b.Identity) })
	return keys
}

// hubPort: the Transport service's ports, where Exchange servers deliver
// to each other (2525 on 2013 and later; any port on 2010, whose
// connectors have no TransportRole).
func hubPort(l exconfig.Listener, rc *exconfig.ReceiveConnector) bool {
	return rc.TransportRole == exconfig.RoleHub || rc.TransportRole == "" && !exconfig.FrontendPorts[l.Binding.Port()] || rc.TransportRole == "" && l.Binding.Port() == 25
}

func (v *auditView) checkExchangeServers() []Finding {
	wins := v.winsFor(v.exchange, func(l exconfig.Listener, sel exconfig.Selection) bool {
		rc := sel.Connector
		return hubPort(l, rc) && !rc.HasAuth(exconfig.AuthExchangeServer) && !sel.Range.IsAll()
	})
	var out []Finding
	for _, rc := range sortedCapturingConnectors(wins) {
		// On Exchange 2010 a server does not deliver to itself over SMTP;
		// from 2013 its Front End proxies to its own Transport service.
		caps := slices.DeleteFunc(wins[rc], func(c capture) bool { return rc.TransportRole == "" && strings.EqualFold(c.name, rc.Server) })
		if len(caps) == 0 {
			continue
		}
		f := v.finding(rc, "exchange-server", SeverityHigh)
		var names, lines []string
		for _, c := range caps {
			names = append(names, cmp.Or(c.name, c.addr.String()))
			lines = append(lines, c.text())
		}
		f.Fix = removeFixes(rc, caps)
		f.Source = caps[0].addr.String()
		f.Title = fmt.Sprintf("%s takes the mail of Exchange server(s) %s without Exchange Server authentication: 451 5.7.3", rc.Identity, strings.Join(names, ", "))
		f.Explanation = fmt.Sprintf("On %s, Exchange hands connections from %s to %s, because its RemoteIPRanges are the most specific match for them. The connector does not offer Exchange Server authentication (AuthMechanism %s, no ExchangeServer), so its EHLO reply has no X-EXPS and the sending server gives up with \"451 5.7.3 Cannot achieve Exchange Server authentication\": mail between your servers queues, then is returned.",
			rc.Server, strings.Join(names, ", "), rc.Identity, cmp.Or(strings.Join(rc.AuthMechanisms, ", "), "not known"))
		f.Cause = "A custom connector's RemoteIPRanges cover another Exchange server's address (often a subnet given where single addresses were meant)."
		f.Facts = append(f.Facts, Fact{Name: "Exchange servers it takes", Values: lines})
		f.Fix = append(f.Fix, fmt.Sprintf("Check with: Get-ReceiveConnector -Server %s | ft Identity,Bindings,RemoteIPRanges,AuthMechanism", psq(rc.Server)))
		f.Counts["exchange_servers"] = int64(len(caps))
		out = append(out, f)
	}
	return out
}

// removeFixes are the Set-ReceiveConnector commands that take the
// captured addresses out of the ranges that capture them, one per range,
// splitting a range wider than its addresses.
func removeFixes(rc *exconfig.ReceiveConnector, caps []capture) []string {
	var out []string
	done := map[string]bool{}
	for _, c := range caps {
		if done[c.sel.Range.Text] {
			continue
		}
		done[c.sel.Range.Text] = true
		var addrs []netip.Addr
		for _, x := range caps {
			if x.sel.Range.Text == c.sel.Range.Text {
				addrs = append(addrs, x.addr)
			}
		}
		out = append(out, removeFix(rc, c.sel.Range, addrs))
	}
	return out
}

// removeFix is the Set-ReceiveConnector that takes addrs out of range r.
func removeFix(rc *exconfig.ReceiveConnector, r exconfig.Range, addrs []netip.Addr) string {
	rest := exconfig.Without(r, addrs...)
	if len(rest) == 0 {
		return fmt.Sprintf("Set-ReceiveConnector -Identity %s -RemoteIPRanges @{Remove=%s}", psq(rc.Identity), psq(r.Text))
	}
	q := make([]string, len(rest))
	for i, x := range rest {
		q[i] = psq(x)
	}
	var as []string
	for _, a := range addrs {
		as = append(as, a.String())
	}
	return fmt.Sprintf("Set-ReceiveConnector -Identity %s -RemoteIPRanges @{Remove=%s; Add=%s}   # %s without %s", psq(rc.Identity), psq(r.Text), strings.Join(q, ","), r.Text, strings.Join(as, ", "))
}

func (v *auditView) finding(rc *exconfig.ReceiveConnector, check string, sev Severity) Finding {
	return Finding{ID: findingID(detectorConnectorConfig, check, rc.Server, rc.Identity), Detector: detectorConnectorConfig, Severity: sev,
		Server: rc.Server, Connector: rc.Identity, Counts: map[string]int64{}, Samples: []Sample{},
		Facts: []Fact{{Name: "connector", Values: []string{RightsText(rc)}}}}
}

func (v *auditView) checkDevices() []Finding {
	addrs := map[netip.Addr]string{}
	kinds := map[netip.Addr]exconfig.Device{}
	for _, d := range v.devices {
		addrs[d.Address] = cmp.Or(d.Name, d.Kind)
		kinds[d.Address] = d
	}
	wins := v.winsFor(addrs, func(_ exconfig.Listener, sel exconfig.Selection) bool { return !sel.Range.IsAll() })
	var out []Finding
	for _, rc := range sortedCapturingConnectors(wins) {
		caps := wins[rc]
		r := connectorRights(rc)
		sev := map[rights]Severity{rightsRelay: SeverityCritical, rightsUnknown: SeverityHigh, rightsAnonymous: SeverityMedium, rightsAuthenticated: SeverityLow}[r]
		f := v.finding(rc, "device", sev)
		var names, lines []string
		for _, c := range caps {
			names = append(names, fmt.Sprintf("%s %s", kinds[c.addr].Kind, c.addr))
			lines = append(lines, c.text())
		}
		f.Fix = removeFixes(rc, caps)
		f.Source = caps[0].addr.String()
		f.Title = fmt.Sprintf("%s takes everything behind the %s", rc.Identity, strings.Join(names, ", "))
		what := map[rights]string{
			rightsRelay:         "the connector relays for anonymous clients: everyone behind the device can relay through your organisation, an open relay from inside",
			rightsUnknown:       "the connector takes anonymous mail and its AD permissions are not in the export: if ANONYMOUS LOGON holds ms-Exch-SMTP-Accept-Any-Recipient, everyone behind the device can relay",
			rightsAnonymous:     "the connector's settings (anonymous access, limits, TLS, banner) apply to every client behind it, and connection filtering sees one address",
			rightsAuthenticated: "clients behind it must still authenticate, but they are all subject to this connector's settings",
		}[r]
		f.Explanation = fmt.Sprintf("On %s, connections from %s are handed to %s by a range that singles the device out. Every client the device forwards arrives from that one address. %s.", rc.Server, strings.Join(names, ", "), rc.Identity, capitalise(what))
		f.Cause = "A gateway, load balancer in SNAT mode or firewall NAT presents many clients as one address, and a connector's RemoteIPRanges name that address (or a range around it)."
		f.Facts = append(f.Facts, Fact{Name: "device addresses it takes", Values: lines})
		f.Fix = append(f.Fix, "Make the load balancer or firewall keep client addresses (no SNAT), and list the real relaying hosts one by one.")
		f.Counts["devices"] = int64(len(caps))
		out = append(out, f)
	}
	return out
}

// winAll is the set of addresses rc wins on all its listeners.
func (v *auditView) winAll(rc *exconfig.ReceiveConnector) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, l := range v.lists {
		if slices.Contains(l.Connectors, rc) {
			b.AddSet(v.cfg.WinSet(l, rc))
		}
	}
	s, _ := b.IPSet()
	return s
}

// count is how many addresses a set holds, capped at 2^62.
func count(s *netipx.IPSet) int64 {
	var n int64
	for _, r := range s.Ranges() {
		h, l := rangeSize(r)
		if h > 0 || l >= 1<<62 || n+int64(l)+1 >= 1<<62 {
			return 1 << 62
		}
		n += int64(l) + 1
	}
	return n
}

func rangeSize(r netipx.IPRange) (uint64, uint64) {
	f, t := r.From().As16(), r.To().As16()
	var fh, fl, th, tl uint64
	for i := 0; i < 8; i++ {
		fh, th = fh<<8|uint64(f[i]), th<<8|uint64(t[i])
		fl, tl = fl<<8|uint64(f[i+8]), tl<<8|uint64(t[i+8])
	}
	borrow := uint64(0)
	if tl < fl {
		borrow = 1
	}
	return th - fh - borrow, tl - fl
}

func setText(s *netipx.IPSet, n int) []string {
	var out []string
	for _, r := range s.Ranges() {
		out = append(out, exconfig.RangeText(r))
	}
	return firstN(out, n)
}

func (v *auditView) public(s *netipx.IPSet) *netipx.IPSet {
	var b netipx.IPSetBuilder
	b.AddSet(s)
	b.RemoveSet(v.internal)
	p, _ := b.IPSet()
	return p
}

func (v *auditView) checkAnonymousRelay() []Finding {
	var out []Finding
	for i := range v.cfg.ReceiveConnectors {
		rc := &v.cfg.ReceiveConnectors[i]
		if !rc.AnonymousHas(exconfig.RightAnyRecipient) || rc.EnabledKnown && !rc.Enabled {
			continue
		}
		win := v.winAll(rc)
		pub := v.public(win)
		all := slices.ContainsFunc(rc.RemoteIPRanges, exconfig.Range.IsAll)
		nPub, nAll := count(pub), count(win)
		var sev Severity
		switch {
		case all && nPub > 0 || nPub >= BroadRelayAddrs:
			sev = SeverityCritical
		case nPub > 0:
			sev = SeverityHigh
		case nAll >= BroadRelayAddrs:
			sev = SeverityMedium
		default:
			continue // a relay connector scoped to internal hosts: as Microsoft documents
		}
		f := v.finding(rc, "anonymous-relay", sev)
		f.Counts["public_addresses"], f.Counts["addresses"] = nPub, nAll
		grants, _ := rc.Grants(exconfig.AnonymousLogon, exconfig.RightAnyRecipient)
		inherited := slices.ContainsFunc(grants, func(p exconfig.Permission) bool { return p.Inherited })
		removePerm := fmt.Sprintf("Remove-ADPermission -Identity %s -User %s -ExtendedRights %s -Confirm:$false", psq(rc.Identity), psq(exconfig.AnonymousLogon), psq(exconfig.RightAnyRecipient))
		if inherited {
			removePerm += "   # the right is inherited: remove it where Get-ADPermission -Identity " + psq(rc.Identity) + " | ? IsInherited shows it comes from"
		}
		switch {
		case nPub > 0:
			f.Title = fmt.Sprintf("Open relay: anonymous clients from public addresses can relay through %s", rc.Identity)
			f.Explanation = fmt.Sprintf("ANONYMOUS LOGON holds %s on %s, and the connector is the one Exchange selects for public addresses (%s%s). Anyone there can send mail anywhere through your servers, under your IP reputation.",
				exconfig.RightAnyRecipient, rc.Identity, strings.Join(setText(pub, 5), ", "), moreText(pub, 5))
			f.Facts = append(f.Facts, Fact{Name: "public addresses it takes", Values: setText(pub, 10)})
			if all {
				f.Fix = []string{removePerm, "Give relaying applications a dedicated connector scoped to their own addresses."}
			} else {
				for _, r := range rc.RemoteIPRanges {
					if len(v.public(setOf(r.Range)).Ranges()) > 0 {
						f.Fix = append(f.Fix, fmt.Sprintf("Set-ReceiveConnector -Identity %s -RemoteIPRanges @{Remove=%s}   # a public range on a relay connector", psq(rc.Identity), psq(r.Text)))
					}
				}
				f.Fix = append(f.Fix, removePerm+"   # instead, if the connector should not relay at all")
			}
		default:
			f.Title = fmt.Sprintf("%s lets %d internal addresses relay anonymously", rc.Identity, nAll)
			f.Explanation = fmt.Sprintf("ANONYMOUS LOGON holds %s on %s, which Exchange selects for %d addresses (%s%s). Every host there — a compromised PC included — can relay to the Internet.",
				exconfig.RightAnyRecipient, rc.Identity, nAll, strings.Join(setText(win, 5), ", "), moreText(win, 5))
			f.Fix = []string{fmt.Sprintf("Scope the connector to the printers and applications that must relay: Set-ReceiveConnector -Identity %s -RemoteIPRanges <their addresses>", psq(rc.Identity))}
		}
		f.Cause = "Anonymous relay was granted (Add-ADPermission ... -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient) on a connector whose ranges are wider than the hosts it was meant for."
		out = append(out, f)
	}
	return out
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func setOf(r netipx.IPRange) *netipx.IPSet {
	var b netipx.IPSetBuilder
	b.AddRange(r)
	s, _ := b.IPSet()
	return s
}

func moreText(s *netipx.IPSet, n int) string {
	if k := len(s.Ranges()); k > n {
		return fmt.Sprintf(" and %d more", k-n)
	}
	return ""
}

func (v *auditView) checkBypass() []Finding {
	var out []Finding
	var ex netipx.IPSetBuilder
	for a := range v.exchange {
		ex.Add(a)
	}
	exSet, _ := ex.IPSet()
	for i := range v.cfg.ReceiveConnectors {
		rc := &v.cfg.ReceiveConnectors[i]
		if !bypass(rc) || rc.EnabledKnown && !rc.Enabled {
			continue
		}
		var b netipx.IPSetBuilder
		b.AddSet(v.winAll(rc))
		b.RemoveSet(exSet)
		others, _ := b.IPSet()
		n := count(others)
		if n == 0 {
			continue
		}
		pub := v.public(others)
		var devs []string
		for _, d := range v.devices {
			if others.Contains(d.Address) {
				devs = append(devs, d.Kind+" "+d.Address.String())
			}
		}
		sev := SeverityMedium
		if count(pub) > 0 || len(devs) > 0 || n >= BroadRelayAddrs {
			sev = SeverityHigh
		}
		f := v.finding(rc, "externally-secured", sev)
		f.Counts["addresses"], f.Counts["public_addresses"] = n, count(pub)
		f.Title = fmt.Sprintf("%s skips authentication for %d address(es) that are not Exchange servers (Externally Secured)", rc.Identity, n)
		f.Explanation = fmt.Sprintf("%s has AuthMechanism ExternalAuthoritative (\"Externally secured\") with the ExchangeServers permission group, so every client it takes (%s%s) is treated as an authenticated Exchange server without authenticating: it can relay, send as any sender, and bypass anti-spam.",
			rc.Identity, strings.Join(setText(others, 5), ", "), moreText(others, 5))
		if len(devs) > 0 {
			f.Explanation += " Among them: " + strings.Join(devs, ", ") + ", which stand for many clients."
		}
		f.Cause = "Externally Secured is meant for connections secured outside Exchange (IPsec, a dedicated link) from servers you own; here it covers other hosts."
		f.Facts = append(f.Facts, Fact{Name: "addresses treated as Exchange servers", Values: setText(others, 10)})
		f.Fix = []string{
			fmt.Sprintf("Set-ReceiveConnector -Identity %s -RemoteIPRanges <only the servers secured this way>", psq(rc.Identity)),
			fmt.Sprintf("or, for anonymous relay instead: Set-ReceiveConnector -Identity %s -AuthMechanism 'Tls' -PermissionGroups 'AnonymousUsers'; then Add-ADPermission -Identity %s -User %s -ExtendedRights %s", psq(rc.Identity), psq(rc.Identity), psq(exconfig.AnonymousLogon), psq(exconfig.RightAnyRecipient)),
		}
		out = append(out, f)
	}
	return out
}

func (v *auditView) checkHubPort25() []Finding {
	var out []Finding
	for i := range v.cfg.ReceiveConnectors {
		rc := &v.cfg.ReceiveConnectors[i]
		if rc.TransportRole != exconfig.RoleHub || rc.EnabledKnown && !rc.Enabled || !v.cfg.ServerRunsFrontend(rc.Server) {
			continue
		}
		var on []string
		for _, b := range rc.Bindings {
			if exconfig.FrontendPorts[b.Port()] {
				on = append(on, b.String())
			}
		}
		if len(on) == 0 {
			continue
		}
		f := v.finding(rc, "hub-port-25", SeverityHigh)
		f.Title = fmt.Sprintf("%s is a Hub Transport connector on the Front End's port (%s)", rc.Identity, strings.Join(on, ", "))
		f.Explanation = fmt.Sprintf("%s runs the Front End Transport service, which owns port %d. %s belongs to the Transport (Hub) service but is bound to the same port, so the two services contend for it: mail for its clients lands on the wrong service, or the Transport service logs bind errors and the connector never takes mail.",
			rc.Server, 25, rc.Identity)
		if len(on) > 0 && !strings.HasSuffix(on[0], ":25") {
			f.Explanation = strings.Replace(f.Explanation, "port 25", "port "+on[0][strings.LastIndexByte(on[0], ':')+1:], 1)
		}
		f.Cause = "The connector was created without -TransportRole FrontendTransport (New-ReceiveConnector makes Hub Transport connectors by default on a Mailbox server)."
		var ranges []string
		for _, r := range rc.RemoteIPRanges {
			ranges = append(ranges, psq(r.Text))
		}
		var binds []string
		for _, b := range rc.Bindings {
			binds = append(binds, psq(b.String()))
		}
		f.Fix = []string{
			fmt.Sprintf("Remove-ReceiveConnector -Identity %s", psq(rc.Identity)),
			fmt.Sprintf("New-ReceiveConnector -Name %s -Server %s -TransportRole FrontendTransport -Custom -Bindings %s -RemoteIPRanges %s -PermissionGroups %s   # then re-add its AD permissions", psq(rc.Name), psq(rc.Server), strings.Join(binds, ","), strings.Join(ranges, ","), psq(cmp.Or(strings.Join(rc.PermissionGroups, ","), "AnonymousUsers"))),
		}
		out = append(out, f)
	}
	return out
}

func (v *auditView) checkLogging() []Finding {
	byServer := map[string][]*exconfig.ReceiveConnector{}
	var servers []string
	for i := range v.cfg.ReceiveConnectors {
		rc := &v.cfg.ReceiveConnectors[i]
		if rc.ProtocolLogging != "None" || rc.EnabledKnown && !rc.Enabled {
			continue
		}
		if byServer[rc.Server] == nil {
			servers = append(servers, rc.Server)
		}
		byServer[rc.Server] = append(byServer[rc.Server], rc)
	}
	slices.Sort(servers)
	var out []Finding
	for _, s := range servers {
		conns := byServer[s]
		sev := SeverityLow
		var ids, relay []string
		for _, rc := range conns {
			ids = append(ids, rc.Identity)
			if connectorRights(rc) >= rightsUnknown || !rc.IsDefault() {
				sev = SeverityMedium
				relay = append(relay, rc.Identity)
			}
		}
		f := Finding{ID: findingID(detectorConnectorConfig, "logging-off", s), Detector: detectorConnectorConfig, Severity: sev, Server: s,
			Counts: map[string]int64{"connectors": int64(len(conns))}, Samples: []Sample{}}
		if len(conns) == 1 {
			f.Connector = conns[0].Identity
		}
		f.Title = fmt.Sprintf("Protocol logging is off on %d connector(s) of %s: logscan cannot see them", len(conns), s)
		f.Explanation = fmt.Sprintf("%s log nothing (ProtocolLoggingLevel None): what they accept, relay or refuse leaves no protocol log, so no analysis of the logs can find it.", strings.Join(ids, ", "))
		if len(relay) > 0 {
			f.Explanation += " " + strings.Join(relay, ", ") + " are custom or take anonymous mail: exactly the connectors whose traffic matters."
		}
		f.Cause = "Protocol logging is off by default on some connectors (Client Proxy, and the Hub's Default connector on some versions) and on connectors created without -ProtocolLoggingLevel Verbose."
		for _, rc := range conns {
			f.Fix = append(f.Fix, fmt.Sprintf("Set-ReceiveConnector -Identity %s -ProtocolLoggingLevel Verbose", psq(rc.Identity)))
		}
		f.Facts = []Fact{{Name: "connectors", Values: ids}}
		out = append(out, f)
	}
	return out
}

// OrgFromConfig is the organisation as the configuration says it: its
// accepted domains, its Exchange servers' addresses, and its networks
// (the export's internal networks and the servers' subnets).
func OrgFromConfig(cfg *exconfig.Config) Org {
	o := Org{Config: cfg, GivenBy: "the configuration export"}
	for _, d := range cfg.AcceptedDomains {
		if ds, err := ParseAcceptedDomains([]string{d.Domain}); err == nil {
			o.AcceptedDomains = append(o.AcceptedDomains, ds...)
		}
	}
	for _, s := range cfg.Servers {
		for _, a := range s.Addresses {
			o.ExchangeServers = append(o.ExchangeServers, ServerAddr{Name: s.Name, Prefix: netip.PrefixFrom(a, a.BitLen())})
		}
	}
	seen := map[netip.Prefix]bool{}
	for _, p := range cfg.Networks {
		if !seen[p] {
			seen[p] = true
			o.Internal = append(o.Internal, p)
		}
	}
	for _, s := range cfg.Servers {
		for _, p := range s.Subnets {
			if !seen[p] {
				seen[p] = true
				o.Internal = append(o.Internal, p)
			}
		}
	}
	return o
}
