package heuristics

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/logscan/logscan/heuristics/exconfig"
)

func readConfig(t *testing.T, name string) *exconfig.Config {
	t.Helper()
	c, err := exconfig.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkOf is the check a connector-config finding comes from (its id is a
// hash; the check is the first word hashed, and the title tells it).
func summary(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s", f.Severity, f.Connector, f.Title))
	}
	return out
}

// TestAuditTraps: each trap fixture makes its check fire, on the right
// connector, and nothing else; the clean configurations stay quiet.
func TestAuditTraps(t *testing.T) {
	tests := []struct {
		file string
		want []string // "severity connector title-substring"
	}{
		{"clean.json", nil},
		{"clean-relay.json", nil},
		{"trap-exchange-server.json", []string{`high EX01\Relay Apps EX01 | takes the mail of Exchange server(s) EX01, EX02 without Exchange Server authentication`}},
		{"trap-gateway.json", []string{`critical EX01\Relay Printers EX01 | takes everything behind the gateway 10.20.0.1`}},
		{"trap-nat.json", []string{`critical EX01\Relay LB EX01 | takes everything behind the load-balancer 10.20.0.5`}},
		{"trap-open-relay.json", []string{`critical EX01\Default Frontend EX01 | Open relay: anonymous clients from public addresses can relay`}},
		{"trap-externally-secured.json", []string{`high EX01\Partner Gateway EX01 | skips authentication for 65536 address(es)`}},
		{"trap-hub-port-25.json", []string{`high EX01\Scanners Hub EX01 | is a Hub Transport connector on the Front End's port`}},
		{"trap-logging-off.json", []string{`medium EX01\Relay Apps EX01 | Protocol logging is off on 1 connector(s) of EX01`}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			cfg := readConfig(t, filepath.Join("testdata", "connector-config", tc.file))
			fs := AuditConfig(cfg, AuditInputs{})
			got := summary(fs)
			if len(got) != len(tc.want) {
				t.Fatalf("findings:\n%s\nwant %d", strings.Join(got, "\n"), len(tc.want))
			}
			for i, w := range tc.want {
				sev, rest, _ := strings.Cut(w, " ")
				conn, title, _ := strings.Cut(rest, " | ")
				f := fs[i]
				if f.Severity.String() != sev || f.Connector != conn || !strings.Contains(f.Title, title) || !strings.HasPrefix(f.ID, detectorConnectorConfig+"-") {
					t.Errorf("finding %d: %s (%s), want %s", i, got[i], f.ID, w)
				}
				if len(f.Fix) == 0 {
					t.Errorf("finding %d has no fix", i)
				}
			}
		})
	}
}

// TestAuditFixes: the fixes are exact commands with every value quoted.
func TestAuditFixes(t *testing.T) {
	fix := func(file string) []string {
		fs := AuditConfig(readConfig(t, filepath.Join("testdata", "connector-config", file)), AuditInputs{})
		if len(fs) == 0 {
			t.Fatalf("%s: no finding", file)
		}
		return fs[0].Fix
	}
	if got := fix("trap-exchange-server.json"); !slices.Contains(got, `Set-ReceiveConnector -Identity 'EX01\Relay Apps EX01' -RemoteIPRanges @{Remove='10.20.0.8/29'; Add='10.20.0.8-10.20.0.10','10.20.0.13-10.20.0.15'}   # 10.20.0.8/29 without 10.20.0.11, 10.20.0.12`) {
		t.Errorf("exchange-server fixes: %q", got)
	}
	if got := fix("trap-open-relay.json"); got[0] != `Remove-ADPermission -Identity 'EX01\Default Frontend EX01' -User 'NT AUTHORITY\ANONYMOUS LOGON' -ExtendedRights 'ms-Exch-SMTP-Accept-Any-Recipient' -Confirm:$false` {
		t.Errorf("open relay fix: %q", got[0])
	}
	if got := fix("trap-nat.json"); got[0] != `Set-ReceiveConnector -Identity 'EX01\Relay LB EX01' -RemoteIPRanges @{Remove='10.20.0.5'}` {
		t.Errorf("nat fix: %q", got[0])
	}
}

// TestAuditContoso: the sample organisation's export shows the three
// incidents' causes.
func TestAuditContoso(t *testing.T) {
	cfg := readConfig(t, "../samples/contoso-config.json")
	got := summary(AuditConfig(cfg, AuditInputs{}))
	want := []string{
		`critical EX03\Relay LB EX03 EX03\Relay LB EX03 takes everything behind the load-balancer 10.20.0.5`,
		`high EX01\Relay Hub EX01 EX01\Relay Hub EX01 takes the mail of Exchange server(s) EX02 without Exchange Server authentication: 451 5.7.3`,
		`high EX02\Anonymous Relay EX02 Open relay: anonymous clients from public addresses can relay through EX02\Anonymous Relay EX02`,
		`low EX01\Client Proxy EX01 Protocol logging is off on 1 connector(s) of EX01: logscan cannot see them`,
		`low EX02\Client Proxy EX02 Protocol logging is off on 1 connector(s) of EX02: logscan cannot see them`,
		`low EX03\Client Proxy EX03 Protocol logging is off on 1 connector(s) of EX03: logscan cannot see them`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAuditExchange2010: on Exchange 2010 one service owns every port, so
// a relay connector bound to the server's address on port 25 takes the
// other server's mail; it also takes the gateway and the NAT device.
func TestAuditExchange2010(t *testing.T) {
	got := summary(AuditConfig(readConfig(t, "exconfig/testdata/collector-v1.json"), AuditInputs{}))
	want := []string{
		`critical FAB-EX2010\Printers "3rd floor" FAB-EX2010\Printers "3rd floor" takes everything behind the gateway 192.168.10.1, nat 192.168.10.254`,
		`high FAB-EX2010\Printers "3rd floor" FAB-EX2010\Printers "3rd floor" takes the mail of Exchange server(s) FAB-EX2019 without Exchange Server authentication: 451 5.7.3`,
		`medium FAB-EX2010\Printers "3rd floor" Protocol logging is off on 1 connector(s) of FAB-EX2010: logscan cannot see them`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
