//go:build realclixml

// This test needs a file that cannot be committed here (test data from
// other repositories lives only in the steering repository's shared/):
// make check-real-clixml runs it, and fails when the file is absent.

package exconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// realClixml is the real Export-Clixml of Get-ReceiveConnector on an
// Exchange 2019 server from microsoft/CSS-Exchange (MIT), see
// testdata/README.md. It is not committed here: test data from other
// repositories lives in the steering repository's shared/realdata, which
// sits beside the work tree; LOGSCAN_REAL_CLIXML names another copy.
func realClixml(t *testing.T) string {
	if p := os.Getenv("LOGSCAN_REAL_CLIXML"); p != "" {
		return p
	}
	p := filepath.Join("..", "..", "..", "shared", "realdata", "exchange-config", "HealthChecker-E19-GetReceiveConnector.xml")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the real Clixml is not at %s (see testdata/README.md), and LOGSCAN_REAL_CLIXML is not set", p)
	}
	return p
}

// TestRealClixml reads the five default connectors of a real Exchange 2019
// server, live (not deserialized) objects with SerializationData blobs.
func TestRealClixml(t *testing.T) {
	c := mustRead(t, realClixml(t))
	if c.Source != "Export-Clixml" || len(c.Notes) != 0 {
		t.Fatalf("source %q, notes %q", c.Source, c.Notes)
	}
	type conn struct {
		id, role, logging string
		bindings, ranges  []string
		groups, auth      []string
	}
	all := []string{"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0-255.255.255.255"}
	a5 := []string{"Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", AuthExchangeServer}
	want := map[string]conn{
		`WIN-CTD3L0RGEN4\Default WIN-CTD3L0RGEN4`:                 {role: RoleHub, logging: "None", bindings: []string{"0.0.0.0:2525", "[::]:2525"}, groups: []string{"ExchangeUsers", GroupExchangeSrv, "ExchangeLegacyServers"}, auth: a5},
		`WIN-CTD3L0RGEN4\Default Frontend WIN-CTD3L0RGEN4`:        {role: RoleFrontend, logging: "Verbose", bindings: []string{"0.0.0.0:25", "[::]:25"}, groups: []string{GroupAnonymous, GroupExchangeSrv, "ExchangeLegacyServers"}, auth: a5},
		`WIN-CTD3L0RGEN4\Outbound Proxy Frontend WIN-CTD3L0RGEN4`: {role: RoleFrontend, logging: "Verbose", bindings: []string{"0.0.0.0:717", "[::]:717"}, groups: []string{GroupExchangeSrv}, auth: a5},
		`WIN-CTD3L0RGEN4\Client Frontend WIN-CTD3L0RGEN4`:         {role: RoleFrontend, logging: "None", bindings: []string{"0.0.0.0:587", "[::]:587"}, groups: []string{"ExchangeUsers"}, auth: a5[:4]},
		`WIN-CTD3L0RGEN4\Client Proxy WIN-CTD3L0RGEN4`:            {role: RoleHub, logging: "None", bindings: []string{"0.0.0.0:465", "[::]:465"}, groups: []string{"ExchangeUsers", GroupExchangeSrv}, auth: a5},
	}
	if len(c.ReceiveConnectors) != len(want) {
		t.Fatalf("%d connectors: %q", len(c.ReceiveConnectors), identities(c))
	}
	for _, rc := range c.ReceiveConnectors {
		w, ok := want[rc.Identity]
		if !ok {
			t.Errorf("unexpected connector %q", rc.Identity)
			continue
		}
		got := conn{role: rc.TransportRole, logging: rc.ProtocolLogging, bindings: slices.Sorted(slices.Values(bindingsText(rc.Bindings))), groups: rc.PermissionGroups, auth: rc.AuthMechanisms}
		if gotRanges := rangesText(rc.RemoteIPRanges); !reflect.DeepEqual(gotRanges, all) {
			t.Errorf("%s: ranges %q", rc.Identity, gotRanges)
		}
		if !reflect.DeepEqual(got, w) || rc.Server != "WIN-CTD3L0RGEN4" || !rc.Enabled || rc.FQDN != "WIN-CTD3L0RGEN4.exlab.dom" {
			t.Errorf("%s:\n got %+v (server %q, enabled %v, fqdn %q)\nwant %+v", rc.Identity, got, rc.Server, rc.Enabled, rc.FQDN, w)
		}
	}
}
