package exconfig

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// CollectorSchema names the JSON that collect/Get-LogscanConfig.ps1 writes;
// CollectorVersion is the schema_version this reader was written for. A
// field is only ever added within a version; a removal or a change of
// meaning bumps it.
const (
	CollectorSchema  = "logscan-exchange-config"
	CollectorVersion = 1
)

// readCollector reads the collector's JSON. Every value in it is a string
// (PowerShell's ToString of the Exchange value), lists are JSON arrays.
func readCollector(o *object) (*Config, error) {
	c := &Config{}
	vs := str(o, "schema_version")
	v, err := strconv.Atoi(vs)
	if err != nil || v < 1 {
		return nil, fmt.Errorf("%w: schema_version %q is not a version number", ErrUnknownShape, vs)
	}
	c.SchemaVersion = v
	c.Source = fmt.Sprintf("%s/%d", CollectorSchema, v)
	if v > CollectorVersion {
		c.Notes = append(c.Notes, fmt.Sprintf("written by a newer collector (schema_version %d; this logscan reads %d): fields it does not know are ignored", v, CollectorVersion))
	}
	if t := str(o, "collected_at"); t != "" {
		if ts, err := time.Parse(time.RFC3339, t); err == nil {
			c.CollectedAt = ts.UTC()
		} else {
			c.Notes = append(c.Notes, fmt.Sprintf("collected_at %q is not an RFC 3339 time", t))
		}
	}
	c.Organization = str(o, "organization")
	note := func(where, format string, a ...any) { c.Notes = append(c.Notes, where+": "+fmt.Sprintf(format, a...)) }

	for i, it := range objects(o, "exchange_servers") {
		s := Server{Name: str(it, "name"), FQDN: str(it, "fqdn"), Version: str(it, "version"), Roles: strs(it, "roles")}
		where := fmt.Sprintf("exchange_servers[%d] %s", i, s.Name)
		for _, a := range strs(it, "addresses") {
			if ip, err := netip.ParseAddr(a); err == nil {
				s.Addresses = append(s.Addresses, ip.Unmap())
			} else if a != "" {
				note(where, "address %q is not an IP address", a)
			}
		}
		for _, a := range strs(it, "gateways") {
			if ip, err := netip.ParseAddr(a); err == nil {
				s.Gateways = append(s.Gateways, ip.Unmap())
			} else if a != "" {
				note(where, "gateway %q is not an IP address", a)
			}
		}
		for _, p := range strs(it, "subnets") {
			// 10.20.0.0/24, or address(mask) as the collector writes it.
			r, err := ParseRange(p)
			pf, ok := r.Range.Prefix()
			if err != nil || !ok {
				note(where, "subnet %q is not a CIDR range or address(mask)", p)
				continue
			}
			s.Subnets = append(s.Subnets, pf)
		}
		c.Servers = append(c.Servers, s)
	}
	for _, it := range objects(o, "accepted_domains") {
		if d := str(it, "domain"); d != "" {
			c.AcceptedDomains = append(c.AcceptedDomains, AcceptedDomain{Domain: d, Type: str(it, "type")})
		}
	}
	for i, it := range objects(o, "receive_connectors") {
		where := fmt.Sprintf("receive_connectors[%d]", i)
		// The same tolerant reading as for Get-ReceiveConnector objects,
		// under the collector's key names.
		ps := newObject()
		for k, pk := range map[string]string{"identity": "Identity", "name": "Name", "server": "Server", "transport_role": "TransportRole",
			"bindings": "Bindings", "remote_ip_ranges": "RemoteIPRanges", "permission_groups": "PermissionGroups",
			"auth_mechanism": "AuthMechanism", "enabled": "Enabled", "protocol_logging_level": "ProtocolLoggingLevel", "fqdn": "Fqdn"} {
			if v, ok := it.get(k); ok {
				ps.set(pk, v)
			}
		}
		rc := connectorFrom(ps, where+" "+str(it, "identity"), &c.Notes)
		if _, ok := it.get("permissions"); ok {
			rc.PermissionsKnown = true
			for _, p := range objects(it, "permissions") {
				deny, _ := boolOf(mustGet(p, "deny"))
				inh, _ := boolOf(mustGet(p, "inherited"))
				rc.Permissions = append(rc.Permissions, Permission{User: str(p, "user"), ExtendedRights: strs(p, "extended_rights"), Deny: deny, Inherited: inh})
			}
		}
		c.ReceiveConnectors = append(c.ReceiveConnectors, rc)
	}
	for _, it := range objects(o, "send_connectors") {
		en, _ := boolOf(mustGet(it, "enabled"))
		c.SendConnectors = append(c.SendConnectors, SendConnector{Identity: str(it, "identity"), AddressSpaces: strs(it, "address_spaces"),
			SmartHosts: strs(it, "smart_hosts"), SourceServers: strs(it, "source_transport_servers"), Enabled: en})
	}
	for i, it := range objects(o, "devices") {
		a, err := netip.ParseAddr(str(it, "address"))
		if err != nil {
			note(fmt.Sprintf("devices[%d]", i), "address %q is not an IP address", str(it, "address"))
			continue
		}
		c.Devices = append(c.Devices, Device{Kind: strings.ToLower(str(it, "kind")), Address: a.Unmap(), Name: str(it, "name")})
	}
	for _, p := range strs(o, "internal_networks") {
		if pf, err := netip.ParsePrefix(p); err == nil {
			c.Networks = append(c.Networks, pf.Masked())
		} else {
			note("internal_networks", "%q is not a CIDR range", p)
		}
	}
	for _, e := range strs(o, "errors") {
		c.Notes = append(c.Notes, "collector: "+e)
	}
	return c, nil
}

func mustGet(o *object, k string) any { v, _ := o.get(k); return v }

func str(o *object, k string) string {
	v, ok := o.get(k)
	if !ok {
		return ""
	}
	s, _ := scalar(v)
	return strings.TrimSpace(s)
}

func strs(o *object, k string) []string {
	v, ok := o.get(k)
	if !ok || v == nil {
		return nil
	}
	var out []string
	items, isList := v.([]any)
	if !isList {
		items = list(v)
	}
	for _, it := range items {
		if s, ok := scalar(it); ok && strings.TrimSpace(s) != "" {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}

func objects(o *object, k string) []*object {
	v, ok := o.get(k)
	if !ok {
		return nil
	}
	var out []*object
	for _, it := range list(v) {
		if x, ok := it.(*object); ok {
			out = append(out, x)
		}
	}
	return out
}
