package exconfig

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"
)

// Exchange hands a connection to the receive connector whose binding
// matches the local address and port, and whose RemoteIPRanges is the
// most specific match for the remote address (Microsoft documents the
// latter: overlapping ranges are allowed when one contains the other, and
// the most specific one wins). logscan ranks candidates by
//  1. the binding: one on the connection's own local address before one
//     on every address (0.0.0.0 or [::]) — a socket bound to one address
//     takes that address's connections (an assumption, stated as such);
//  2. the smallest RemoteIPRanges entry that contains the remote address;
//
// and reports a tie rather than guess. Disabled connectors take nothing.
// On a server running both transport services (Exchange 2013 and later),
// a port is the Front End's (25, 587, 717) or the Transport service's
// (2525, 465, the rest); connectors of the other service bound to it are
// reported as contesting it, and the port's usual owner is simulated.

// Candidate is a connector that matches a connection, with the entry of
// its RemoteIPRanges that matched.
type Candidate struct {
	Connector *ReceiveConnector
	Binding   netip.AddrPort
	Range     Range
}

// Selection is which connector takes a connection, and why.
type Selection struct {
	Candidate
	// Over are the other connectors that match, less specific: the
	// overlaps the winner overrides.
	Over []Candidate
	// Tie are connectors exactly as specific as the winner: Exchange's
	// choice between them is not documented.
	Tie []Candidate
	// Contested is set when connectors of the other transport service are
	// bound to the same port on this server.
	Contested []Candidate
}

// Listener is one binding on one server, and the connectors bound to it.
type Listener struct {
	Server     string
	Binding    netip.AddrPort
	Connectors []*ReceiveConnector
}

// Listeners lists every distinct binding of the enabled connectors, per
// server, in a stable order.
func (c *Config) Listeners() []Listener {
	type key struct {
		server string
		b      netip.AddrPort
	}
	m := map[key]*Listener{}
	for i := range c.ReceiveConnectors {
		rc := &c.ReceiveConnectors[i]
		if rc.EnabledKnown && !rc.Enabled {
			continue
		}
		for _, b := range rc.Bindings {
			k := key{strings.ToUpper(rc.Server), b}
			l := m[k]
			if l == nil {
				l = &Listener{Server: rc.Server, Binding: b}
				m[k] = l
			}
			if !slices.Contains(l.Connectors, rc) {
				l.Connectors = append(l.Connectors, rc)
			}
		}
	}
	var out []Listener
	for _, l := range m {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b Listener) int {
		return cmp.Or(cmp.Compare(strings.ToUpper(a.Server), strings.ToUpper(b.Server)), cmp.Compare(a.Binding.Port(), b.Binding.Port()),
			a.Binding.Addr().Compare(b.Binding.Addr()))
	})
	return out
}

// portOwner is the transport service that owns port on a multi-role server.
func portOwner(port uint16) string {
	if FrontendPorts[port] {
		return RoleFrontend
	}
	return RoleHub
}

// bindingMatches reports whether binding b takes a connection to local.
// A local address that is unspecified stands for "some address no
// connector is bound to specifically" (simulating a 0.0.0.0 listener).
func bindingMatches(b, local netip.AddrPort) bool {
	if b.Port() != local.Port() || b.Addr().Is4() != local.Addr().Is4() {
		return false
	}
	if b.Addr().IsUnspecified() {
		return true
	}
	return b.Addr() == local.Addr()
}

// Select simulates which connector on server takes a connection from
// remote to local. ok is false when no enabled connector matches
// (Exchange refuses the connection).
func (c *Config) Select(server string, local netip.AddrPort, remote netip.Addr) (Selection, bool) {
	remote = remote.Unmap()
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	var cands []Candidate
	for i := range c.ReceiveConnectors {
		rc := &c.ReceiveConnectors[i]
		if !strings.EqualFold(rc.Server, server) || rc.EnabledKnown && !rc.Enabled {
			continue
		}
		var bind netip.AddrPort
		found := false
		for _, b := range rc.Bindings {
			if bindingMatches(b, local) && (!found || !b.Addr().IsUnspecified()) {
				bind, found = b, true
			}
		}
		if !found {
			continue
		}
		best, ok := bestRange(rc.RemoteIPRanges, remote)
		if !ok {
			continue
		}
		cands = append(cands, Candidate{Connector: rc, Binding: bind, Range: best})
	}
	if len(cands) == 0 {
		return Selection{}, false
	}
	var sel Selection
	// Split off the other service's connectors on a multi-role server.
	owner := portOwner(local.Port())
	var mine, other []Candidate
	for _, cd := range cands {
		if cd.Connector.TransportRole != "" && cd.Connector.TransportRole != owner {
			other = append(other, cd)
		} else {
			mine = append(mine, cd)
		}
	}
	if len(mine) > 0 && len(other) > 0 {
		sel.Contested = other
		cands = mine
	}
	slices.SortFunc(cands, compareCandidates)
	sel.Candidate = cands[0]
	for _, cd := range cands[1:] {
		if compareSpecificity(cd, cands[0]) == 0 {
			sel.Tie = append(sel.Tie, cd)
		} else {
			sel.Over = append(sel.Over, cd)
		}
	}
	return sel, true
}

// compareSpecificity orders the more specific candidate first.
func compareSpecificity(a, b Candidate) int {
	if x, y := a.Binding.Addr().IsUnspecified(), b.Binding.Addr().IsUnspecified(); x != y {
		if !x {
			return -1
		}
		return 1
	}
	return compareSize(a.Range.Range, b.Range.Range)
}

func compareCandidates(a, b Candidate) int {
	return cmp.Or(compareSpecificity(a, b), cmp.Compare(strings.ToLower(a.Connector.Identity), strings.ToLower(b.Connector.Identity)))
}

// bestRange is the smallest entry of ranges that contains a.
func bestRange(ranges []Range, a netip.Addr) (Range, bool) {
	var best Range
	found := false
	for _, r := range ranges {
		if r.Range.Contains(a) && (!found || compareSize(r.Range, best.Range) < 0) {
			best, found = r, true
		}
	}
	return best, found
}

// compareSize compares the number of addresses in two ranges.
func compareSize(a, b netipx.IPRange) int {
	ah, al := size(a)
	bh, bl := size(b)
	return cmp.Or(cmp.Compare(ah, bh), cmp.Compare(al, bl))
}

// size is To - From as a 128-bit number (high, low).
func size(r netipx.IPRange) (uint64, uint64) {
	f, t := r.From().As16(), r.To().As16()
	fh, fl := be64(f[:8]), be64(f[8:])
	th, tl := be64(t[:8]), be64(t[8:])
	lo := tl - fl
	borrow := uint64(0)
	if tl < fl {
		borrow = 1
	}
	return th - fh - borrow, lo
}

func be64(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// Slice is a part of the address space that one connector wins on a
// listener, and the range entry that decides it.
type Slice struct {
	Addrs netipx.IPRange
	Selection
}

// Partition divides the address space of the listener's family into the
// parts each connector wins: for every address, the connector Select
// gives. Parts no connector covers are left out (Exchange refuses them).
func (c *Config) Partition(l Listener) []Slice {
	v4 := l.Binding.Addr().Is4()
	// Every range of a connector that can take this listener's
	// connections starts or ends a part.
	var cuts []netip.Addr
	for i := range c.ReceiveConnectors {
		rc := &c.ReceiveConnectors[i]
		if !strings.EqualFold(rc.Server, l.Server) {
			continue
		}
		for _, r := range rc.RemoteIPRanges {
			if r.Range.From().Is4() != v4 {
				continue
			}
			cuts = append(cuts, r.Range.From())
			if n := r.Range.To().Next(); n.IsValid() {
				cuts = append(cuts, n)
			}
		}
	}
	slices.SortFunc(cuts, netip.Addr.Compare)
	cuts = slices.Compact(cuts)
	var out []Slice
	for i, a := range cuts {
		end := allV4.To()
		if !v4 {
			end = allV6.To()
		}
		if i+1 < len(cuts) {
			end = cuts[i+1].Prev()
		}
		sel, ok := c.Select(l.Server, l.Binding, a)
		if !ok {
			continue
		}
		if n := len(out); n > 0 && sameSelection(out[n-1].Selection, sel) && out[n-1].Addrs.To().Next() == a {
			out[n-1].Addrs = netipx.IPRangeFrom(out[n-1].Addrs.From(), end)
			continue
		}
		out = append(out, Slice{Addrs: netipx.IPRangeFrom(a, end), Selection: sel})
	}
	return out
}

func sameSelection(a, b Selection) bool {
	if a.Connector != b.Connector || a.Range.Text != b.Range.Text || len(a.Over) != len(b.Over) || len(a.Tie) != len(b.Tie) {
		return false
	}
	for i := range a.Over {
		if a.Over[i].Connector != b.Over[i].Connector || a.Over[i].Range.Text != b.Over[i].Range.Text {
			return false
		}
	}
	return true
}

// WinSet is the set of addresses connector rc wins on listener l.
func (c *Config) WinSet(l Listener, rc *ReceiveConnector) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, s := range c.Partition(l) {
		if s.Connector == rc {
			b.AddRange(s.Addrs)
		}
	}
	set, _ := b.IPSet()
	return set
}

// RangeText prints a range the way Exchange accepts it: an address, a
// CIDR prefix, or first-last.
func RangeText(r netipx.IPRange) string {
	if r.From() == r.To() {
		return r.From().String()
	}
	if p, ok := r.Prefix(); ok {
		return p.String()
	}
	return r.From().String() + "-" + r.To().String()
}

// Without returns the entries that replace r so that it no longer covers
// the addresses (r itself when it covers none of them).
func Without(r Range, addrs ...netip.Addr) []string {
	if !slices.ContainsFunc(addrs, r.Range.Contains) {
		return []string{r.Text}
	}
	var b netipx.IPSetBuilder
	b.AddRange(r.Range)
	for _, a := range addrs {
		b.Remove(a)
	}
	set, _ := b.IPSet()
	var out []string
	for _, x := range set.Ranges() {
		out = append(out, RangeText(x))
	}
	return out
}
