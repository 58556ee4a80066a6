package heuristics

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/logscan/logscan/heuristics/domains"
	"github.com/logscan/logscan/heuristics/exconfig"
	"github.com/logscan/logscan/heuristics/session"
	"go4.org/netipx"
)

// Org is what the detectors must know of the organisation. Whatever is left
// empty is inferred from the logs, and the report's assumptions say how.
type Org struct {
	// AcceptedDomains are the domains the organisation accepts mail for
	// (Get-AcceptedDomain); "*.contoso.com" also matches subdomains.
	AcceptedDomains []string
	// ExchangeServers are the organisation's Exchange servers, by address
	// or range, with an optional name.
	ExchangeServers []ServerAddr
	// Internal are the organisation's own networks. Default: the private
	// and local ranges (RFC 1918, RFC 6598, RFC 4193, loopback, link-local).
	Internal []netip.Prefix
	// SubnetBitsV4 and SubnetBitsV6 size "the server's own subnet" for the
	// hidden-NAT detector. Zero means DefaultSubnetBitsV4 and V6.
	SubnetBitsV4, SubnetBitsV6 int
	// Config is the receive connector configuration, when an export was
	// given: the connector-config detector audits it and holds it against
	// the logs. GivenBy says where the fields above came from ("" for flags).
	Config  *exconfig.Config
	GivenBy string
}

// Default sizes of a server's own subnet: the usual server VLAN.
const (
	DefaultSubnetBitsV4 = 24
	DefaultSubnetBitsV6 = 64
)

// subnetBits is the prefix length of the server's own subnet around local.
func (o Org) subnetBits(local netip.Addr) int {
	if local.Is6() {
		return cmp.Or(o.SubnetBitsV6, DefaultSubnetBitsV6)
	}
	return cmp.Or(o.SubnetBitsV4, DefaultSubnetBitsV4)
}

// ServerAddr is one Exchange server's address or range.
type ServerAddr struct {
	Name   string // "" when not given
	Prefix netip.Prefix
}

// ParseAcceptedDomains checks and normalises domain patterns
// ("contoso.com", "*.contoso.com").
func ParseAcceptedDomains(list []string) ([]string, error) {
	var out []string
	for _, d := range list {
		d = strings.ToLower(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(d), ".")))
		if d == "" {
			continue
		}
		base := strings.TrimPrefix(d, "*.")
		if base == "" || strings.ContainsAny(base, " @*/\\,;") || !strings.Contains(base, ".") && base != "localhost" {
			return nil, fmt.Errorf("%q is not a domain (want e.g. contoso.com or *.contoso.com)", d)
		}
		out = append(out, d)
	}
	return out, nil
}

// ParseExchangeServers reads "10.20.0.11", "10.20.0.0/28" or
// "EX01=10.20.0.11".
func ParseExchangeServers(list []string) ([]ServerAddr, error) {
	var out []ServerAddr
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		name, addr, ok := strings.Cut(s, "=")
		if !ok {
			name, addr = "", s
		}
		p, err := parsePrefix(addr)
		if err != nil {
			return nil, fmt.Errorf("%q: want an address, a range (10.20.0.0/28) or NAME=address", s)
		}
		out = append(out, ServerAddr{Name: strings.TrimSpace(name), Prefix: p})
	}
	return out, nil
}

// ParsePrefixes reads addresses and CIDR ranges.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if strings.TrimSpace(s) == "" {
			continue
		}
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR range", s)
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// defaultInternal are the address ranges no Internet host can have.
var defaultInternal = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fc00::/7"), netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("::1/128"),
}

// Assumption is one thing the report takes as given, and where it came from.
type Assumption struct {
	What   string   `json:"what"`
	Values []string `json:"values"`
	Source string   `json:"source"`
}

// orgEvidence is what the logs say about the organisation itself.
// The scanned servers' own (local) addresses are evidence too: the
// Summary keeps them (Summary.local), and resolve is given them.
type orgEvidence struct {
	peers   map[netip.Addr]string // X-EXPS peers -> the account they authenticated as
	domains *domains.Evidence     // what Exchange did with recipient domains
}

func newOrgEvidence() *orgEvidence {
	return &orgEvidence{peers: map[netip.Addr]string{}, domains: domains.NewEvidence()}
}

func (e *orgEvidence) observe(s *session.Session) {
	if s.Auth == session.AuthExchange && s.Remote.Addr().IsValid() {
		// One account per peer: the first by name, whatever the order.
		if u, ok := e.peers[s.Remote.Addr()]; !ok || s.AuthUser < u {
			e.peers[s.Remote.Addr()] = strings.Clone(s.AuthUser)
		}
	}
	e.domains.Observe(s)
}

// orgView is the organisation as the detectors use it: given, else inferred.
type orgView struct {
	accepted       []string // patterns
	exchange       map[netip.Addr]string
	exchangeRanges *netipx.IPSet
	internal       *netipx.IPSet
	bits4, bits6   int
	assumptions    []Assumption
	serverOf       map[netip.Addr]string // scanned servers' own addresses
}

const permAnyRecipient = "SMTPAcceptAnyRecipient"

// resolve decides what the detectors take as the organisation;
// serverAddrs are each scanned server's local addresses, by name.
func (e *orgEvidence) resolve(org Org, serverAddrs map[string]map[netip.Addr]struct{}) *orgView {
	v := &orgView{exchange: map[netip.Addr]string{}, serverOf: map[netip.Addr]string{},
		bits4: cmp.Or(org.SubnetBitsV4, DefaultSubnetBitsV4), bits6: cmp.Or(org.SubnetBitsV6, DefaultSubnetBitsV6)}

	// Accepted domains.
	if len(org.AcceptedDomains) > 0 {
		v.accepted = slices.Clone(org.AcceptedDomains)
		v.assumptions = append(v.assumptions, Assumption{"accepted domains", v.accepted, "given (" + cmp.Or(org.GivenBy, "--accepted-domains") + ")"})
	} else {
		var fromBanner []string
		v.accepted, fromBanner = e.domains.Infer()
		src := domains.Source(v.accepted, fromBanner, "none could be inferred: no anonymous mail to the organisation in these logs; relay judgement needs --accepted-domains")
		v.assumptions = append(v.assumptions, Assumption{"accepted domains", v.accepted, src + ". Give --accepted-domains to be exact"})
	}

	// Exchange servers: the scanned ones are facts; the rest given or inferred.
	// In name order, the first server to claim an address keeps it, so
	// that anonymised logs where several names share one address give the
	// same answer on every run.
	for _, name := range slices.Sorted(maps.Keys(serverAddrs)) {
		for a := range serverAddrs[name] {
			if _, taken := v.serverOf[a]; !taken {
				v.exchange[a] = name
				v.serverOf[a] = name
			}
		}
	}
	var b netipx.IPSetBuilder
	if len(org.ExchangeServers) > 0 {
		var vals []string
		for _, s := range org.ExchangeServers {
			b.AddPrefix(s.Prefix)
			if s.Prefix.IsSingleIP() && s.Name != "" {
				v.exchange[s.Prefix.Addr()] = s.Name
			}
			val := s.Prefix.String()
			if s.Prefix.IsSingleIP() {
				val = s.Prefix.Addr().String()
			}
			if s.Name != "" {
				val = s.Name + "=" + val
			}
			vals = append(vals, val)
		}
		v.assumptions = append(v.assumptions, Assumption{"Exchange servers", vals, "given (" + cmp.Or(org.GivenBy, "--exchange-servers") + "), plus the servers whose logs were read"})
	} else {
		var vals []string
		for a, user := range e.peers {
			if _, ok := v.exchange[a]; !ok {
				v.exchange[a] = strings.TrimSuffix(userName(user), "$")
			}
		}
		for a, name := range v.exchange {
			vals = append(vals, cmp.Or(name, "?")+"="+a.String())
		}
		slices.Sort(vals)
		v.assumptions = append(v.assumptions, Assumption{"Exchange servers", vals,
			"inferred: the servers whose logs were read (their local endpoints) and peers that passed Exchange Server authentication (X-EXPS). Give --exchange-servers to add others"})
	}
	for a := range v.exchange {
		b.Add(a)
	}
	v.exchangeRanges, _ = b.IPSet()

	var ib netipx.IPSetBuilder
	internal := org.Internal
	src := "given (" + cmp.Or(org.GivenBy, "--internal") + ")"
	if len(internal) == 0 {
		internal, src = defaultInternal, "default: private and local address ranges. Give --internal to name your own public ranges"
	}
	var vals []string
	for _, p := range internal {
		ib.AddPrefix(p)
		vals = append(vals, p.String())
	}
	v.internal, _ = ib.IPSet()
	v.assumptions = append(v.assumptions, Assumption{"internal networks", vals, src})
	v.assumptions = append(v.assumptions, Assumption{"server subnet for hidden NAT",
		[]string{fmt.Sprintf("/%d (IPv4)", v.bits4), fmt.Sprintf("/%d (IPv6)", v.bits6)}, "around each server's own local endpoint"})
	return v
}

// userName strips the domain from DOMAIN\user.
func userName(u string) string {
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		return u[i+1:]
	}
	return u
}

// isAccepted reports whether domain matches an accepted pattern.
func (v *orgView) isAccepted(domain string) bool {
	return domains.Matches(domain, v.accepted)
}

func (v *orgView) isExchange(a netip.Addr) bool {
	return a.IsValid() && v.exchangeRanges.Contains(a)
}

func (v *orgView) isInternal(a netip.Addr) bool {
	return a.IsValid() && v.internal.Contains(a)
}

// name returns "EX02 (10.20.0.12)" for a known server, else the address.
func (v *orgView) name(a netip.Addr) string {
	if n := v.exchange[a]; n != "" {
		return n + " (" + a.String() + ")"
	}
	return a.String()
}

// subnet returns the server's own subnet around its local address.
func (v *orgView) subnet(local netip.Addr) netip.Prefix {
	bits := v.bits4
	if local.Is6() {
		bits = v.bits6
	}
	p, _ := local.Prefix(bits)
	return p
}
