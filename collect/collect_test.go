// Package collect holds the collector script; its test checks the script
// stays read-only and writes what logscan reads.
package collect

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/logscan/logscan/heuristics/exconfig"
)

func script(t *testing.T) string {
	b, err := os.ReadFile("Get-LogscanConfig.ps1")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadOnly: the script runs Get-* cmdlets and a few harmless
// built-ins, nothing that changes anything.
func TestReadOnly(t *testing.T) {
	allowed := []string{"New-Object", "Where-Object", "ForEach-Object", "Write-Host"}
	for _, m := range regexp.MustCompile(`\b([A-Z][a-z]+)-([A-Z][A-Za-z]+)\b`).FindAllStringSubmatch(script(t), -1) {
		cmd := m[0]
		if m[1] != "Get" && !slices.Contains(allowed, cmd) {
			t.Errorf("the collector calls %s: it must only read", cmd)
		}
	}
}

// TestSchema: the script writes the schema and version logscan reads, and
// only keys logscan's reader knows (plus "collector", for people).
func TestSchema(t *testing.T) {
	s := script(t)
	if !strings.Contains(s, `$root['schema'] = '`+exconfig.CollectorSchema+`'`) || !strings.Contains(s, `$root['schema_version'] = '`+strconv.Itoa(exconfig.CollectorVersion)+`'`) {
		t.Error("the script's schema or schema_version differs from exconfig.CollectorSchema/CollectorVersion")
	}
	known := []string{"schema", "schema_version", "collected_at", "collector", "organization", "exchange_servers", "name", "fqdn", "version", "roles",
		"addresses", "gateways", "subnets", "accepted_domains", "domain", "type", "receive_connectors", "identity", "server", "transport_role", "enabled",
		"bindings", "remote_ip_ranges", "permission_groups", "auth_mechanism", "protocol_logging_level", "permissions", "user", "extended_rights",
		"deny", "inherited", "send_connectors", "address_spaces", "smart_hosts", "source_transport_servers", "devices", "kind", "address",
		"internal_networks", "errors"}
	keys := regexp.MustCompile(`\$[a-z]+\['([a-z_]+)'\] =`).FindAllStringSubmatch(s, -1)
	if len(keys) < 30 {
		t.Fatalf("found only %d keys", len(keys))
	}
	for _, k := range keys {
		if !slices.Contains(known, k[1]) {
			t.Errorf("the script writes %q, which logscan does not read", k[1])
		}
	}
}
