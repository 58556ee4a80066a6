package exconfig

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// object is a PowerShell object as an export holds it, whatever the shape:
// a JSON object, a Clixml <Obj> or a CSV row. Keys are case-insensitive,
// as PowerShell's are.
type object struct {
	keys     []string
	m        map[string]any // lower-cased key -> string, json.Number, bool, nil, []any, *object
	toString string         // Clixml <ToString>
	types    []string       // Clixml <TN> type names
	value    any            // Clixml primitive inside an <Obj> (an enum's number)
	hasValue bool
}

func newObject() *object { return &object{m: map[string]any{}} }

func (o *object) set(k string, v any) {
	lk := strings.ToLower(k)
	if _, ok := o.m[lk]; !ok {
		o.keys = append(o.keys, k)
	}
	o.m[lk] = v
}

func (o *object) get(k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.m[strings.ToLower(k)]
	return v, ok
}

// fromJSON turns decoded JSON (with UseNumber) into objects.
func fromJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		o := newObject()
		for k, e := range x {
			o.set(k, fromJSON(e))
		}
		return o
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromJSON(e)
		}
		return out
	}
	return v
}

// decodeJSONObjects decodes JSON keeping numbers exact and key order.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return fromJSON(v), nil
}

// scalar returns the text of a value that stands for one thing: a string,
// a number, a bool, an object's ToString, or the single property that
// names it (Name, Domain, Expression, value). ok is false for nil.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case *object:
		if x.toString != "" {
			return x.toString, true
		}
		if x.hasValue {
			return scalar(x.value)
		}
		for _, k := range []string{"value", "Expression", "Name", "Domain", "IPAddressToString"} {
			if e, ok := x.get(k); ok {
				if s, ok := scalar(e); ok && s != "" {
					return s, true
				}
			}
		}
	}
	return "", false
}

// list returns a multi-valued property's items. A string holds several
// values when an export joined them (Export-Csv after -join, or
// PowerShell's string conversion of a list, which joins with spaces).
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case string:
		var out []any
		for _, f := range strings.FieldsFunc(x, func(r rune) bool {
			return r == ',' || r == ';' || r == '|' || r == ' ' || r == '\t' || r == '\r' || r == '\n'
		}) {
			out = append(out, f)
		}
		return out
	case *object:
		if l, ok := x.get("\x00list"); ok {
			return list(l)
		}
		if v, ok := x.get("value"); ok {
			if l, ok := v.([]any); ok {
				return l
			}
		}
	}
	return []any{v}
}

// looksLikeTypeName reports whether s is a .NET type name that an export
// wrote instead of the values ("System.Object[]",
// "Microsoft.Exchange.Data.MultiValuedProperty`1[...]").
func looksLikeTypeName(s string) bool {
	s = strings.TrimSpace(s)
	for _, p := range []string{"System.", "Microsoft.", "Deserialized."} {
		if strings.HasPrefix(s, p) && !strings.ContainsAny(s, " /") {
			return true
		}
	}
	return false
}

// flags reads an enum that may be written as names ("Tls, Integrated"), a
// number (31), or an object holding either.
func flags(v any, table []flagName) ([]string, error) {
	if o, ok := v.(*object); ok && o.toString != "" {
		v = o.toString
	} else if ok && o.hasValue {
		v = o.value
	}
	s, ok := scalar(v)
	if !ok {
		return nil, nil
	}
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		names, ok := flagNames(n, table)
		if !ok {
			return names, fmt.Errorf("%d has bits no known name covers", n)
		}
		if n == 0 {
			return []string{"None"}, nil
		}
		return names, nil
	}
	if looksLikeTypeName(s) {
		return nil, fmt.Errorf("the export holds the type name %q, not the value", s)
	}
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '|' || r == ' ' }) {
		out = append(out, canonical(f, table))
	}
	return out, nil
}

// boolOf reads True/False/true/1.
func boolOf(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case *object:
		if x.hasValue {
			return boolOf(x.value)
		}
	}
	s, ok := scalar(v)
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "$true", "yes":
		return true, true
	case "false", "0", "$false", "no":
		return false, true
	}
	return false, false
}

// rangeOf reads one RemoteIPRanges item: a string or an IPRange object
// (Expression, or LowerBound and UpperBound, or its ToString).
func rangeOf(v any) (Range, error) {
	if o, ok := v.(*object); ok {
		if e, ok := o.get("Expression"); ok {
			if s, ok := scalar(e); ok && s != "" {
				return ParseRange(s)
			}
		}
		lo, ok1 := o.get("LowerBound")
		hi, ok2 := o.get("UpperBound")
		if ok1 && ok2 {
			l, _ := scalar(lo)
			h, _ := scalar(hi)
			if l == h {
				return ParseRange(l)
			}
			return ParseRange(l + "-" + h)
		}
		if o.toString != "" {
			return ParseRange(o.toString)
		}
		return Range{}, fmt.Errorf("an IPRange object without Expression, LowerBound/UpperBound or ToString")
	}
	s, ok := scalar(v)
	if !ok {
		return Range{}, fmt.Errorf("an empty range")
	}
	if looksLikeTypeName(s) {
		return Range{}, errTypeName{s}
	}
	return ParseRange(s)
}

// bindingOf reads one Bindings item: "0.0.0.0:25" or an IPBinding object
// (Address and Port, or its ToString).
func bindingOf(v any) (netip.AddrPort, error) {
	if o, ok := v.(*object); ok {
		if o.toString != "" {
			return ParseBinding(o.toString)
		}
		a, ok1 := o.get("Address")
		p, ok2 := o.get("Port")
		if ok1 && ok2 {
			as, _ := scalar(a)
			ps, _ := scalar(p)
			addr, err := netip.ParseAddr(strings.Trim(as, "[]"))
			port, err2 := strconv.ParseUint(ps, 10, 16)
			if err != nil || err2 != nil {
				return netip.AddrPort{}, fmt.Errorf("binding {Address %q, Port %q} is not an address and port", as, ps)
			}
			return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
		}
		return netip.AddrPort{}, fmt.Errorf("an IPBinding object without Address and Port or ToString")
	}
	s, ok := scalar(v)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("an empty binding")
	}
	if looksLikeTypeName(s) {
		return netip.AddrPort{}, errTypeName{s}
	}
	return ParseBinding(s)
}

type errTypeName struct{ name string }

func (e errTypeName) Error() string {
	return fmt.Sprintf("the export holds the type name %q instead of the values", e.name)
}

// nameOf reads an ADObjectId-like value: a string, or an object whose
// ToString or Name says it.
func nameOf(v any) string {
	if o, ok := v.(*object); ok {
		if o.toString != "" {
			return o.toString
		}
		if n, ok := o.get("Name"); ok {
			s, _ := scalar(n)
			return s
		}
		s, _ := scalar(o)
		return s
	}
	s, _ := scalar(v)
	return s
}

// connectorFrom reads a receive connector from a PowerShell object of
// Get-ReceiveConnector, in whatever shape the export left it. Problems go
// to notes, prefixed with where.
func connectorFrom(o *object, where string, notes *[]string) ReceiveConnector {
	note := func(format string, a ...any) { *notes = append(*notes, where+": "+fmt.Sprintf(format, a...)) }
	var c ReceiveConnector
	if v, ok := o.get("Name"); ok {
		c.Name, _ = scalar(v)
	}
	if v, ok := o.get("Server"); ok {
		c.Server = nameOf(v)
	}
	if v, ok := o.get("Identity"); ok {
		c.Identity = nameOf(v)
		if io, ok := v.(*object); ok && io.toString == "" {
			// ConvertTo-Json expands an ADObjectId: its Name is the
			// connector's name, not SERVER\Name.
			c.Identity = ""
			if c.Name == "" {
				c.Name = nameOf(io)
			}
			if c.Server == "" {
				if dn, ok := io.get("DistinguishedName"); ok {
					s, _ := scalar(dn)
					c.Server = serverFromDN(s)
				}
			}
		}
	}
	if c.Identity == "" && c.Server != "" && c.Name != "" {
		c.Identity = c.Server + `\` + c.Name
	}
	if srv, name, ok := strings.Cut(c.Identity, `\`); ok {
		if c.Server == "" {
			c.Server = srv
		}
		if c.Name == "" {
			c.Name = name
		}
	}
	if c.Identity == "" {
		c.Identity = c.Name
		note("no Identity or Server: the connector cannot be tied to a server")
	}
	if v, ok := o.get("TransportRole"); ok {
		names, err := flags(v, serverRoleFlags)
		if err != nil {
			note("TransportRole: %v", err)
		}
		for _, n := range names {
			if n == RoleFrontend || n == RoleHub {
				c.TransportRole = n
			}
		}
	}
	if v, ok := o.get("Bindings"); ok {
		for _, it := range list(v) {
			b, err := bindingOf(it)
			if err != nil {
				note("Bindings: %v", err)
				continue
			}
			c.Bindings = append(c.Bindings, b)
		}
	}
	if v, ok := o.get("RemoteIPRanges"); ok {
		for _, it := range list(v) {
			r, err := rangeOf(it)
			if err != nil {
				note("RemoteIPRanges: %v", err)
				continue
			}
			c.RemoteIPRanges = append(c.RemoteIPRanges, r)
		}
	}
	if v, ok := o.get("PermissionGroups"); ok {
		var err error
		if c.PermissionGroups, err = flags(v, permissionGroupFlags); err != nil {
			note("PermissionGroups: %v", err)
		}
	}
	if v, ok := o.get("AuthMechanism"); ok {
		var err error
		if c.AuthMechanisms, err = flags(v, authMechanismFlags); err != nil {
			note("AuthMechanism: %v", err)
		}
	}
	if v, ok := o.get("Enabled"); ok {
		c.Enabled, c.EnabledKnown = boolOf(v)
	}
	if v, ok := o.get("ProtocolLoggingLevel"); ok {
		if l, err := flags(v, loggingLevels); err == nil && len(l) > 0 {
			c.ProtocolLogging = l[0]
		} else if err != nil {
			note("ProtocolLoggingLevel: %v", err)
		}
	}
	if v, ok := o.get("Fqdn"); ok {
		c.FQDN = nameOf(v)
	}
	return c
}

// serverFromDN finds the server in a connector's distinguished name:
// CN=Name,CN=SMTP Receive Connectors,CN=Protocols,CN=EX01,CN=Servers,...
func serverFromDN(dn string) string {
	parts := strings.Split(dn, ",")
	for i, p := range parts {
		if strings.EqualFold(strings.TrimSpace(p), "CN=Protocols") && i+1 < len(parts) {
			return strings.TrimPrefix(strings.TrimSpace(parts[i+1]), "CN=")
		}
	}
	return ""
}
