package exconfig

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

func mustRead(t *testing.T, name string) *Config {
	t.Helper()
	c, err := ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rangesText(rs []Range) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Text)
	}
	return out
}

func bindingsText(bs []netip.AddrPort) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.String())
	}
	return out
}

// TestReadShapes reads each shape an admin may have, and checks one
// connector's every field came through, whatever the shape made of it.
func TestReadShapes(t *testing.T) {
	relayHub := ReceiveConnector{Identity: `EX01\Relay Hub EX01`, Name: "Relay Hub EX01", Server: "EX01", TransportRole: RoleHub,
		PermissionGroups: []string{GroupAnonymous}, AuthMechanisms: []string{"Tls"}, Enabled: true, EnabledKnown: true,
		ProtocolLogging: "Verbose", FQDN: "EX01.contoso.com"}
	tests := []struct {
		name, file, source string
		connectors         int
		ranges, bindings   []string
		missing            []string // substrings of Config.Missing
		noFQDN             bool
	}{
		{name: "Windows PowerShell 5.1 ConvertTo-Json of all connectors, UTF-16 LE with BOM", file: "ps51-convertto-json-utf16.json", source: "ConvertTo-Json",
			connectors: 4, ranges: []string{"10.20.0.12", "10.20.5.0/24"}, bindings: []string{"0.0.0.0:2525"}, missing: []string{"AD permissions", "Exchange servers' addresses", "default gateways", "accepted domains"}},
		{name: "Windows PowerShell 5.1 ConvertTo-Json of one connector, UTF-8 with BOM", file: "ps51-convertto-json-single.json", source: "ConvertTo-Json",
			connectors: 1, ranges: []string{"10.20.0.12", "10.20.5.0/24"}, bindings: []string{"0.0.0.0:2525"}, missing: []string{"AD permissions"}},
		{name: "Export-Clixml from a remote Exchange Management Shell, UTF-16 LE", file: "export-clixml-deserialized.xml", source: "Export-Clixml",
			connectors: 2, ranges: []string{"10.20.0.12", "10.20.5.0/24"}, bindings: []string{"0.0.0.0:2525"}, missing: []string{"AD permissions"}},
		{name: "Export-Csv with the lists joined", file: "export-csv-joined.csv", source: "Export-Csv",
			connectors: 4, ranges: []string{"10.20.0.12", "10.20.5.0/24"}, bindings: []string{"0.0.0.0:2525"}, missing: []string{"AD permissions"}, noFQDN: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustRead(t, filepath.Join("testdata", tc.file))
			if c.Source != tc.source || len(c.ReceiveConnectors) != tc.connectors {
				t.Fatalf("source %q with %d connectors, want %q with %d", c.Source, len(c.ReceiveConnectors), tc.source, tc.connectors)
			}
			rc := c.Connector(`ex01\relay hub ex01`)
			if rc == nil {
				t.Fatalf("no EX01\\Relay Hub EX01 among %v", identities(c))
			}
			if got := rangesText(rc.RemoteIPRanges); !reflect.DeepEqual(got, tc.ranges) {
				t.Errorf("ranges %q, want %q", got, tc.ranges)
			}
			if got := bindingsText(rc.Bindings); !reflect.DeepEqual(got, tc.bindings) {
				t.Errorf("bindings %q, want %q", got, tc.bindings)
			}
			want := relayHub
			if tc.noFQDN {
				want.FQDN = ""
			}
			got := *rc
			got.RemoteIPRanges, got.Bindings = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("connector\n got %+v\nwant %+v", got, want)
			}
			for _, m := range tc.missing {
				if !slices.ContainsFunc(c.Missing, func(s string) bool { return strings.Contains(s, m) }) {
					t.Errorf("Missing %q does not say %q", c.Missing, m)
				}
			}
			if len(c.Notes) > 0 {
				t.Errorf("notes: %q", c.Notes)
			}
		})
	}
}

func identities(c *Config) []string {
	var out []string
	for _, rc := range c.ReceiveConnectors {
		out = append(out, rc.Identity)
	}
	return out
}

// TestReadEnumsAsNumbers: ConvertTo-Json writes enums as their values.
func TestReadEnumsAsNumbers(t *testing.T) {
	c := mustRead(t, "testdata/ps51-convertto-json-utf16.json")
	fe := c.Connector(`EX01\Default Frontend EX01`)
	if fe == nil {
		t.Fatal("no Default Frontend")
	}
	if want := []string{GroupAnonymous, GroupExchangeSrv, "ExchangeLegacyServers"}; !reflect.DeepEqual(fe.PermissionGroups, want) {
		t.Errorf("PermissionGroups 13 read as %q, want %q", fe.PermissionGroups, want)
	}
	if want := []string{"Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", AuthExchangeServer}; !reflect.DeepEqual(fe.AuthMechanisms, want) {
		t.Errorf("AuthMechanism 31 read as %q, want %q", fe.AuthMechanisms, want)
	}
	if fe.TransportRole != RoleFrontend || fe.ProtocolLogging != "Verbose" {
		t.Errorf("TransportRole %q, logging %q", fe.TransportRole, fe.ProtocolLogging)
	}
	if got := rangesText(fe.RemoteIPRanges); !reflect.DeepEqual(got, []string{"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0-255.255.255.255"}) {
		t.Errorf("ranges %q", got)
	}
}

// TestReadCSVTypeNames: a plain Export-Csv holds the type name of each
// list; that is said, not read as ranges.
func TestReadCSVTypeNames(t *testing.T) {
	c := mustRead(t, "testdata/export-csv-raw.csv")
	if len(c.ReceiveConnectors) != 4 {
		t.Fatalf("%d connectors", len(c.ReceiveConnectors))
	}
	for _, f := range []string{"Bindings:", "RemoteIPRanges:"} {
		if !slices.ContainsFunc(c.Missing, func(s string) bool { return strings.HasPrefix(s, f) && strings.Contains(s, "-join") }) {
			t.Errorf("Missing %q does not explain %s", c.Missing, f)
		}
	}
	rc := c.Connector(`EX01\Relay Hub EX01`)
	if rc == nil || len(rc.RemoteIPRanges) != 0 || rc.TransportRole != RoleHub || !reflect.DeepEqual(rc.AuthMechanisms, []string{"Tls"}) {
		t.Errorf("connector %+v", rc)
	}
}

// TestReadCollectorEncodings: the collector's JSON is read the same in
// UTF-8, UTF-8 with BOM, UTF-16 LE/BE with BOM and UTF-16 LE without.
func TestReadCollectorEncodings(t *testing.T) {
	b, err := os.ReadFile("../../samples/contoso-config.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if want.Source != "logscan-exchange-config/1" || len(want.ReceiveConnectors) != 18 || len(want.Servers) != 3 || len(want.Notes) != 0 {
		t.Fatalf("source %q, %d connectors, %d servers, notes %q", want.Source, len(want.ReceiveConnectors), len(want.Servers), want.Notes)
	}
	u := utf16.Encode([]rune(string(b)))
	le, be := new(bytes.Buffer), new(bytes.Buffer)
	binary.Write(le, binary.LittleEndian, u)
	binary.Write(be, binary.BigEndian, u)
	for name, in := range map[string][]byte{
		"utf-8 bom":         append([]byte{0xEF, 0xBB, 0xBF}, b...),
		"utf-16 le bom":     append([]byte{0xFF, 0xFE}, le.Bytes()...),
		"utf-16 be bom":     append([]byte{0xFE, 0xFF}, be.Bytes()...),
		"utf-16 le, no bom": le.Bytes(),
		"crlf line ends":    bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")),
	} {
		got, err := Read(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read differently", name)
		}
	}
	rc := want.Connector(`EX02\Anonymous Relay EX02`)
	if rc == nil || !rc.PermissionsKnown || !rc.AnonymousHas(RightAnyRecipient) {
		t.Errorf("EX02\\Anonymous Relay EX02: %+v", rc)
	}
	if d := want.Devices; len(d) != 1 || d[0].Address != netip.MustParseAddr("10.20.0.5") || d[0].Kind != "load-balancer" {
		t.Errorf("devices %+v", d)
	}
}

// TestReadCollectorVersions: a newer collector is read with a note; a
// broken version is refused.
func TestReadCollectorVersions(t *testing.T) {
	c, err := Read([]byte(`{"schema":"logscan-exchange-config","schema_version":"2","receive_connectors":[],"new_field":"x"}`))
	if err != nil || c.SchemaVersion != 2 || len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "newer collector") {
		t.Errorf("v2: %v %+v", err, c)
	}
	if _, err := Read([]byte(`{"schema":"logscan-exchange-config","schema_version":"one"}`)); err == nil {
		t.Error("schema_version one was read")
	}
}

func TestReadRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not a connector":     `[{"Name":"x","Foo":1}]`,
		"broken json":         `{"schema":`,
		"clixml of processes": `<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj RefId="0"><TN RefId="0"><T>System.Diagnostics.Process</T></TN><Props><S N="Name">x</S></Props></Obj></Objs>`,
		"text":                "hello",
		"utf-32":              "\xff\xfe\x00\x00{\x00\x00\x00",
	} {
		if _, err := Read([]byte(in)); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct{ in, from, to string }{
		{"10.20.0.12", "10.20.0.12", "10.20.0.12"},
		{" 10.20.5.0/24 ", "10.20.5.0", "10.20.5.255"},
		{"10.20.5.7/24", "10.20.5.0", "10.20.5.255"},
		{"10.0.0.1-10.0.0.9", "10.0.0.1", "10.0.0.9"},
		{"10.0.0.1 - 10.0.0.9", "10.0.0.1", "10.0.0.9"},
		{"192.168.1.10(255.255.255.0)", "192.168.1.0", "192.168.1.255"},
		{"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"::ffff:10.1.2.3", "10.1.2.3", "10.1.2.3"},
	} {
		r, err := ParseRange(tc.in)
		if err != nil || r.Range.From().String() != tc.from || r.Range.To().String() != tc.to {
			t.Errorf("ParseRange(%q) = %v %v, want %s-%s", tc.in, r.Range, err, tc.from, tc.to)
		}
	}
	for _, bad := range []string{"", "10.0.0.9-10.0.0.1", "10.0.0.1-::1", "10.0.0.0(255.0.255.0)", "x", "Microsoft.Exchange.Data.IPRange", "10.0.0.0/33"} {
		if _, err := ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q) accepted", bad)
		}
	}
}

func TestParseBinding(t *testing.T) {
	for in, want := range map[string]string{"0.0.0.0:25": "0.0.0.0:25", "[::]:2525": "[::]:2525", "10.20.0.11:587": "10.20.0.11:587", "::ffff:10.1.1.1:25": "10.1.1.1:25"} {
		b, err := ParseBinding(in)
		if err != nil || b.String() != want {
			t.Errorf("ParseBinding(%q) = %v %v, want %s", in, b, err, want)
		}
	}
	if _, err := ParseBinding("0.0.0.0"); err == nil {
		t.Error("a binding without a port was accepted")
	}
}

func TestWithout(t *testing.T) {
	r, _ := ParseRange("10.20.0.8/29")
	got := Without(r, netip.MustParseAddr("10.20.0.12"))
	if want := []string{"10.20.0.8/30", "10.20.0.13-10.20.0.15"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Without = %q, want %q", got, want)
	}
	if got := Without(r, netip.MustParseAddr("10.1.1.1")); !reflect.DeepEqual(got, []string{"10.20.0.8/29"}) {
		t.Errorf("Without outside = %q", got)
	}
}

// TestReadCollectorFixture reads a file in the shape the collector's J
// function writes (", " separators, every value a string), from a mixed
// Exchange 2010 / 2019 organisation with collector errors.
func TestReadCollectorFixture(t *testing.T) {
	c := mustRead(t, "testdata/collector-v1.json")
	if c.Source != "logscan-exchange-config/1" || c.Organization != "Fabrikam" || c.CollectedAt.Format("2006-01-02T15:04:05Z07:00") != "2026-11-03T08:15:02Z" {
		t.Errorf("header: %q %q %v", c.Source, c.Organization, c.CollectedAt)
	}
	if len(c.Notes) != 2 || !strings.HasPrefix(c.Notes[0], "collector: WMI on FAB-EX2019") || !strings.Contains(c.Notes[1], "\r\nThe supplied credential") {
		t.Errorf("notes %q", c.Notes)
	}
	if s := c.Servers[0]; s.Name != "FAB-EX2010" || len(s.Addresses) != 2 || s.Gateways[0].String() != "192.168.10.1" || s.Subnets[0].String() != "192.168.10.0/24" {
		t.Errorf("server %+v", s)
	}
	p := c.Connector(`FAB-EX2010\Printers "3rd floor"`)
	if p == nil || p.TransportRole != "" || bindingsText(p.Bindings)[0] != "192.168.10.5:25" || p.RemoteIPRanges[0].Range.String() != "192.168.10.0-192.168.10.255" ||
		!p.PermissionsKnown || !p.AnonymousHas(RightAnyRecipient) || p.ProtocolLogging != "None" {
		t.Errorf("printers connector %+v", p)
	}
	if fe := c.Connector(`FAB-EX2019\Default Frontend FAB-EX2019`); fe == nil || fe.PermissionsKnown {
		t.Errorf("a connector whose Get-ADPermission failed has permissions known: %+v", fe)
	}
	if d := c.Connector(`FAB-EX2019\Default FAB-EX2019`); d == nil || !d.EnabledKnown || d.Enabled {
		t.Errorf("disabled connector %+v", d)
	}
	if len(c.SendConnectors) != 1 || c.SendConnectors[0].SmartHosts[0] != "[203.0.113.25]" || len(c.Devices) != 1 || c.Networks[0].String() != "192.168.0.0/16" || len(c.AcceptedDomains) != 2 {
		t.Errorf("send %+v devices %+v networks %v domains %v", c.SendConnectors, c.Devices, c.Networks, c.AcceptedDomains)
	}
	if len(c.Missing) != 0 {
		t.Errorf("missing %q", c.Missing)
	}
}
