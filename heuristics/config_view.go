package heuristics

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/logscan/logscan/heuristics/exconfig"
)

// ConfigReport is the configuration as `logscan connectors` shows it:
// every connector, which connector wins which addresses on each binding,
// and where the addresses that matter (Exchange servers, gateways, NAT
// devices) land.
type ConfigReport struct {
	Source       string          `json:"source"`
	CollectedAt  string          `json:"collected_at,omitempty"`
	Organization string          `json:"organization,omitempty"`
	Servers      []string        `json:"servers"`
	Missing      []string        `json:"missing"`
	Notes        []string        `json:"notes"`
	Connectors   []ConnectorInfo `json:"connectors"`
	Selection    []ListenerInfo  `json:"selection"`
	Addresses    []AddressInfo   `json:"addresses"`
}

// ConnectorInfo is one receive connector.
type ConnectorInfo struct {
	Identity         string   `json:"identity"`
	Server           string   `json:"server"`
	TransportRole    string   `json:"transport_role"`
	Enabled          string   `json:"enabled"` // yes, no, or unknown
	Bindings         []string `json:"bindings"`
	RemoteIPRanges   []string `json:"remote_ip_ranges"`
	PermissionGroups []string `json:"permission_groups"`
	AuthMechanisms   []string `json:"auth_mechanisms"`
	ProtocolLogging  string   `json:"protocol_logging"`
	Rights           string   `json:"rights"`
	// AnonymousRights are the extended rights ANONYMOUS LOGON holds on it
	// (null when the export has no AD permissions).
	AnonymousRights []string `json:"anonymous_rights"`
}

// ListenerInfo is one binding on one server and who wins what on it.
type ListenerInfo struct {
	Server  string     `json:"server"`
	Binding string     `json:"binding"`
	Parts   []PartInfo `json:"parts"`
}

// PartInfo is a stretch of addresses one connector wins, and why.
type PartInfo struct {
	Addresses string   `json:"addresses"`
	Connector string   `json:"connector"`
	Range     string   `json:"range"`          // the deciding RemoteIPRanges entry
	Over      []string `json:"over,omitempty"` // "connector (range)" it is more specific than
	Tie       []string `json:"tie,omitempty"`  // equally specific: Exchange's pick is undocumented
	Contested []string `json:"contested,omitempty"`
}

// AddressInfo is where one address that matters lands.
type AddressInfo struct {
	Address string      `json:"address"`
	Role    string      `json:"role"` // Exchange server, gateway, load-balancer, nat, ...
	Name    string      `json:"name,omitempty"`
	Taken   []TakenInfo `json:"taken_by"`
}

// TakenInfo is the connector a listener hands the address to.
type TakenInfo struct {
	Server    string `json:"server"`
	Binding   string `json:"binding"`
	Connector string `json:"connector"`
	Range     string `json:"range"`
	Default   bool   `json:"by_default_range"` // only the whole-address-space range covers it
}

// BuildConfigReport describes cfg; in adds Exchange servers and NAT
// addresses that the configuration does not name.
func BuildConfigReport(cfg *exconfig.Config, in AuditInputs) *ConfigReport {
	v := newAuditView(cfg, in)
	r := &ConfigReport{Source: cfg.Source, Organization: cfg.Organization, Missing: cfg.Missing, Notes: cfg.Notes}
	if !cfg.CollectedAt.IsZero() {
		r.CollectedAt = stamp(cfg.CollectedAt)
	}
	seen := map[string]bool{}
	for _, rc := range cfg.ReceiveConnectors {
		if !seen[strings.ToUpper(rc.Server)] {
			seen[strings.ToUpper(rc.Server)] = true
			r.Servers = append(r.Servers, rc.Server)
		}
	}
	slices.Sort(r.Servers)
	for i := range cfg.ReceiveConnectors {
		rc := &cfg.ReceiveConnectors[i]
		ci := ConnectorInfo{Identity: rc.Identity, Server: rc.Server, TransportRole: cmp.Or(rc.TransportRole, "(one service: 2010)"),
			Enabled: "unknown", PermissionGroups: rc.PermissionGroups, AuthMechanisms: rc.AuthMechanisms,
			ProtocolLogging: cmp.Or(rc.ProtocolLogging, "unknown"), Rights: RightsText(rc)}
		if rc.EnabledKnown {
			ci.Enabled = map[bool]string{true: "yes", false: "no"}[rc.Enabled]
		}
		for _, b := range rc.Bindings {
			ci.Bindings = append(ci.Bindings, b.String())
		}
		for _, x := range rc.RemoteIPRanges {
			ci.RemoteIPRanges = append(ci.RemoteIPRanges, x.Text)
		}
		if rc.PermissionsKnown {
			ci.AnonymousRights = []string{}
			for _, p := range rc.Permissions {
				if strings.EqualFold(p.User, exconfig.AnonymousLogon) && !p.Deny {
					for _, x := range p.ExtendedRights {
						if !slices.Contains(ci.AnonymousRights, x) {
							ci.AnonymousRights = append(ci.AnonymousRights, x)
						}
					}
				}
			}
		}
		r.Connectors = append(r.Connectors, ci)
	}
	slices.SortFunc(r.Connectors, func(a, b ConnectorInfo) int {
		return cmp.Or(cmp.Compare(strings.ToUpper(a.Server), strings.ToUpper(b.Server)), cmp.Compare(a.Identity, b.Identity))
	})
	for _, l := range v.lists {
		li := ListenerInfo{Server: l.Server, Binding: l.Binding.String()}
		for _, s := range cfg.Partition(l) {
			p := PartInfo{Addresses: exconfig.RangeText(s.Addrs), Connector: s.Connector.Identity, Range: s.Range.Text}
			for _, o := range s.Over {
				p.Over = append(p.Over, fmt.Sprintf("%s (%s)", o.Connector.Identity, o.Range.Text))
			}
			for _, o := range s.Tie {
				p.Tie = append(p.Tie, fmt.Sprintf("%s (%s)", o.Connector.Identity, o.Range.Text))
			}
			for _, o := range s.Contested {
				p.Contested = append(p.Contested, fmt.Sprintf("%s (%s)", o.Connector.Identity, o.Range.Text))
			}
			li.Parts = append(li.Parts, p)
		}
		r.Selection = append(r.Selection, li)
	}
	add := func(a netip.Addr, role, name string) {
		ai := AddressInfo{Address: a.String(), Role: role, Name: name, Taken: []TakenInfo{}}
		for _, l := range v.lists {
			if l.Binding.Addr().Is4() != a.Is4() {
				continue
			}
			sel, ok := cfg.Select(l.Server, l.Binding, a)
			if !ok {
				continue
			}
			ai.Taken = append(ai.Taken, TakenInfo{Server: l.Server, Binding: l.Binding.String(), Connector: sel.Connector.Identity, Range: sel.Range.Text, Default: sel.Range.IsAll()})
		}
		r.Addresses = append(r.Addresses, ai)
	}
	for _, a := range slices.SortedFunc(func(yield func(netip.Addr) bool) {
		for a := range v.exchange {
			if !yield(a) {
				return
			}
		}
	}, netip.Addr.Compare) {
		add(a, "Exchange server", v.exchange[a])
	}
	for _, d := range v.devices {
		add(d.Address, d.Kind, d.Name)
	}
	return r
}
