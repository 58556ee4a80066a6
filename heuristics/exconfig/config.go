package exconfig

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go4.org/netipx"
)

// Config is what an export says of the organisation. Every field may be
// empty: Missing says which parts the input did not hold, Notes what was
// read with trouble.
type Config struct {
	// Source is the shape the input had: "logscan-exchange-config/1",
	// "ConvertTo-Json", "Export-Clixml" or "Export-Csv".
	Source        string
	SchemaVersion int       // the collector's schema_version; 0 for other shapes
	CollectedAt   time.Time // zero when not said
	Organization  string

	Servers           []Server
	ReceiveConnectors []ReceiveConnector
	SendConnectors    []SendConnector
	AcceptedDomains   []AcceptedDomain
	// Devices are load balancers, firewalls and NAT devices whose
	// addresses clients arrive from, named by the admin.
	Devices []Device
	// Networks are the organisation's own networks, when the export names them.
	Networks []netip.Prefix

	// Missing lists what the input lacks, as sentences saying what cannot
	// be checked without it.
	Missing []string
	// Notes are values that could not be read, each with where it was.
	Notes []string
}

// Server is one Exchange server.
type Server struct {
	Name      string
	FQDN      string
	Version   string
	Roles     []string
	Addresses []netip.Addr
	Gateways  []netip.Addr   // default gateways of its network adapters
	Subnets   []netip.Prefix // the networks its adapters are on
}

// ReceiveConnector is one receive connector as configured.
type ReceiveConnector struct {
	Identity string // SERVER\Name
	Name     string
	Server   string
	// TransportRole is FrontendTransport or HubTransport (Exchange 2013 and
	// later); "" on Exchange 2010, where one service owns every connector.
	TransportRole    string
	Bindings         []netip.AddrPort // 0.0.0.0 or :: for "every local address"
	RemoteIPRanges   []Range
	PermissionGroups []string // AnonymousUsers, ExchangeUsers, ExchangeServers, ...
	AuthMechanisms   []string // Tls, Integrated, BasicAuth, ..., ExchangeServer, ExternalAuthoritative
	Enabled          bool
	EnabledKnown     bool
	ProtocolLogging  string // None or Verbose; "" when not said
	FQDN             string
	// Permissions are the connector's AD permissions (Get-ADPermission);
	// PermissionsKnown is false when the input did not carry them.
	Permissions      []Permission
	PermissionsKnown bool
}

// Range is one RemoteIPRanges entry: its text as configured and the
// addresses it covers.
type Range struct {
	Text  string
	Range netipx.IPRange
}

// Permission is one access control entry on a connector.
type Permission struct {
	User           string   // NT AUTHORITY\ANONYMOUS LOGON, MS Exchange\Hub Transport Servers, ...
	ExtendedRights []string // ms-Exch-SMTP-Accept-Any-Recipient, ...
	Deny           bool
	Inherited      bool
}

// SendConnector is one send connector.
type SendConnector struct {
	Identity      string
	AddressSpaces []string
	SmartHosts    []string
	SourceServers []string
	Enabled       bool
}

// AcceptedDomain is one accepted domain.
type AcceptedDomain struct {
	Domain string // contoso.com or *.contoso.com
	Type   string // Authoritative, InternalRelay, ExternalRelay
}

// Device is a network device clients may arrive from.
type Device struct {
	Kind    string // load-balancer, firewall, nat, gateway
	Address netip.Addr
	Name    string
}

// Well-known names.
const (
	RoleFrontend = "FrontendTransport"
	RoleHub      = "HubTransport"

	AnonymousLogon    = `NT AUTHORITY\ANONYMOUS LOGON`
	RightAnyRecipient = "ms-Exch-SMTP-Accept-Any-Recipient"
	RightAuthFlag     = "ms-Exch-SMTP-Accept-Authentication-Flag"
	RightBypassSpam   = "ms-Exch-Bypass-Anti-Spam"

	AuthExchangeServer = "ExchangeServer"
	AuthExternal       = "ExternalAuthoritative" // "Externally secured" in the admin center
	GroupAnonymous     = "AnonymousUsers"
	GroupExchangeSrv   = "ExchangeServers"
)

// Flag values of the Exchange enums, for exports that hold them as
// numbers (ConvertTo-Json writes enums as their value). Checked against a
// real Export-Clixml of Get-ReceiveConnector, which carries both the name
// and the value (AuthMechanism 31, PermissionGroups 13/14/6, TransportRole
// 32/16384, ProtocolLoggingLevel 0/1).
var (
	authMechanismFlags = []flagName{{1, "Tls"}, {2, "Integrated"}, {4, "BasicAuth"}, {8, "BasicAuthRequireTLS"},
		{16, AuthExchangeServer}, {32, AuthExternal}}
	permissionGroupFlags = []flagName{{1, GroupAnonymous}, {2, "ExchangeUsers"}, {4, GroupExchangeSrv},
		{8, "ExchangeLegacyServers"}, {16, "Partners"}, {32, "Custom"}}
	serverRoleFlags = []flagName{{1, "Cafe"}, {2, "Mailbox"}, {4, "ClientAccess"}, {16, "UnifiedMessaging"},
		{32, RoleHub}, {64, "Edge"}, {16384, RoleFrontend}}
	loggingLevels = []flagName{{0, "None"}, {1, "Verbose"}}
)

type flagName struct {
	v    int64
	name string
}

// flagNames turns a flags value into its names; ok is false when bits
// are left that no name covers.
func flagNames(v int64, table []flagName) (names []string, ok bool) {
	rest := v
	for _, f := range table {
		if v&f.v == f.v && f.v != 0 {
			names = append(names, f.name)
			rest &^= f.v
		}
	}
	return names, rest == 0
}

// canonical returns the table's spelling of name, or name when unknown.
// "ExternallySecured" (the admin center's word) is ExternalAuthoritative.
func canonical(name string, table []flagName) string {
	n := strings.TrimSpace(name)
	if strings.EqualFold(n, "ExternallySecured") || strings.EqualFold(n, "Externally Secured") {
		return AuthExternal
	}
	for _, f := range table {
		if strings.EqualFold(f.name, n) {
			return f.name
		}
	}
	return n
}

// ParseRange reads a RemoteIPRanges entry in any form Exchange accepts:
// 10.0.0.1, 10.0.0.0/24, 10.0.0.1-10.0.0.9, 10.0.0.0(255.255.255.0), and
// the IPv6 equivalents.
func ParseRange(s string) (Range, error) {
	t := strings.TrimSpace(s)
	r := Range{Text: t}
	switch {
	case t == "":
		return r, fmt.Errorf("empty range")
	case strings.Contains(t, "/"):
		p, err := netip.ParsePrefix(t)
		if err != nil {
			return r, fmt.Errorf("%q is not a CIDR range", t)
		}
		r.Range = netipx.RangeOfPrefix(unmapPrefix(p.Masked()))
	case strings.HasSuffix(t, ")") && strings.Contains(t, "("):
		a, m, _ := strings.Cut(strings.TrimSuffix(t, ")"), "(")
		addr, err1 := netip.ParseAddr(strings.TrimSpace(a))
		mask, err2 := netip.ParseAddr(strings.TrimSpace(m))
		bits, ok := maskBits(mask)
		if err1 != nil || err2 != nil || !ok || addr.BitLen() != mask.BitLen() {
			return r, fmt.Errorf("%q is not an address with a subnet mask", t)
		}
		p, _ := addr.Prefix(bits)
		r.Range = netipx.RangeOfPrefix(p)
	case strings.Contains(t, "-"):
		lo, hi, _ := strings.Cut(t, "-")
		a, err1 := netip.ParseAddr(strings.TrimSpace(lo))
		b, err2 := netip.ParseAddr(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil {
			return r, fmt.Errorf("%q is not an address range", t)
		}
		r.Range = netipx.IPRangeFrom(a.Unmap(), b.Unmap())
		if !r.Range.IsValid() {
			return r, fmt.Errorf("%q: the first address is above the last, or the families differ", t)
		}
	default:
		a, err := netip.ParseAddr(t)
		if err != nil {
			return r, fmt.Errorf("%q is not an address or range", t)
		}
		a = a.Unmap()
		r.Range = netipx.IPRangeFrom(a, a)
	}
	return r, nil
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// maskBits is the prefix length of a contiguous subnet mask.
func maskBits(m netip.Addr) (int, bool) {
	b := m.AsSlice()
	n, done := 0, false
	for _, x := range b {
		for i := 7; i >= 0; i-- {
			if x&(1<<i) != 0 {
				if done {
					return 0, false
				}
				n++
			} else {
				done = true
			}
		}
	}
	return n, true
}

// ParseBinding reads a binding: 0.0.0.0:25, [::]:25, 10.20.0.11:2525.
func ParseBinding(s string) (netip.AddrPort, error) {
	t := strings.TrimSpace(s)
	ap, err := netip.ParseAddrPort(t)
	if err != nil {
		// "::" alone with a port, as some exports print it.
		if i := strings.LastIndexByte(t, ':'); i > 0 {
			a, err1 := netip.ParseAddr(strings.Trim(t[:i], "[]"))
			p, err2 := strconv.ParseUint(t[i+1:], 10, 16)
			if err1 == nil && err2 == nil {
				return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
			}
		}
		return netip.AddrPort{}, fmt.Errorf("%q is not a binding (want address:port)", t)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// String prints the range as Exchange would take it back.
func (r Range) String() string { return r.Text }

// IsAll reports whether the range is the whole IPv4 or IPv6 address space.
func (r Range) IsAll() bool {
	return r.Range == allV4 || r.Range == allV6
}

var (
	allV4 = netipx.IPRangeFrom(netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255}))
	allV6 = netipx.IPRangeFrom(netip.IPv6Unspecified(), netip.AddrFrom16([16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
)

// Has reports whether the connector's permission groups include g.
func (c *ReceiveConnector) HasGroup(g string) bool { return containsFold(c.PermissionGroups, g) }

// HasAuth reports whether the connector's auth mechanisms include m.
func (c *ReceiveConnector) HasAuth(m string) bool { return containsFold(c.AuthMechanisms, m) }

// Grants returns the permission entries that give user the extended right
// (not denied), and whether a deny entry takes it away.
func (c *ReceiveConnector) Grants(user, right string) (grants []Permission, denied bool) {
	for _, p := range c.Permissions {
		if !strings.EqualFold(p.User, user) || !containsFold(p.ExtendedRights, right) {
			continue
		}
		if p.Deny {
			denied = true
		} else {
			grants = append(grants, p)
		}
	}
	return grants, denied
}

// AnonymousHas reports whether ANONYMOUS LOGON holds right on c.
func (c *ReceiveConnector) AnonymousHas(right string) bool {
	g, denied := c.Grants(AnonymousLogon, right)
	return len(g) > 0 && !denied
}

// IsDefault reports whether the connector is one Exchange setup creates
// (by its name), whose ranges cover every address by design.
func (c *ReceiveConnector) IsDefault() bool {
	n, s := strings.ToLower(c.Name), strings.ToLower(c.Server)
	for _, d := range []string{"default ", "default frontend ", "client frontend ", "client proxy ", "outbound proxy frontend ", "client "} {
		if s != "" && n == d+s {
			return true
		}
	}
	return false
}

// FrontendPorts are the ports the Front End Transport service listens on
// by default on Exchange 2013 and later; the Transport (Hub) service has
// 2525 and 465.
var FrontendPorts = map[uint16]bool{25: true, 587: true, 717: true}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Connector returns the receive connector with this identity (SERVER\Name,
// case-insensitive), or nil.
func (c *Config) Connector(identity string) *ReceiveConnector {
	for i := range c.ReceiveConnectors {
		if strings.EqualFold(c.ReceiveConnectors[i].Identity, strings.TrimSpace(identity)) {
			return &c.ReceiveConnectors[i]
		}
	}
	return nil
}

// ServerRunsFrontend reports whether server has the Front End Transport
// service: a connector of that role, or a 2013+ Mailbox/ClientAccess role.
func (c *Config) ServerRunsFrontend(server string) bool {
	for _, rc := range c.ReceiveConnectors {
		if strings.EqualFold(rc.Server, server) && rc.TransportRole == RoleFrontend {
			return true
		}
	}
	for _, s := range c.Servers {
		if strings.EqualFold(s.Name, server) && (containsFold(s.Roles, RoleFrontend) || containsFold(s.Roles, "ClientAccess")) {
			return true
		}
	}
	return false
}

// ExchangeAddrs maps every known Exchange server address to its name.
func (c *Config) ExchangeAddrs() map[netip.Addr]string {
	m := map[netip.Addr]string{}
	for _, s := range c.Servers {
		for _, a := range s.Addresses {
			m[a] = s.Name
		}
	}
	return m
}

// HasServer reports whether the export has receive connectors of server.
func (c *Config) HasServer(server string) bool {
	for _, rc := range c.ReceiveConnectors {
		if strings.EqualFold(rc.Server, server) {
			return true
		}
	}
	return false
}
