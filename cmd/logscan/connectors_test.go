package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const contosoConfig = "../../samples/contoso-config.json"

func runLogscan(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	io, _, out, errOut := Test()
	code := execute(args, io)
	return code, out.String(), errOut.String()
}

// TestConnectorsConfigOnly: the audit of the sample's export, without logs.
func TestConnectorsConfigOnly(t *testing.T) {
	code, out, errOut := runLogscan(t, "connectors", contosoConfig)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Configuration: logscan-exchange-config/1, collected 2026-11-02 23:55:00Z; 3 server(s), 18 receive connector(s)",
		`10.20.0.12                 EX01\Relay Hub EX01  by 10.20.0.12, over EX01\Default EX01 (0.0.0.0-255.255.255.255)`,
		`10.20.0.12 (Exchange server EX02): EX01 0.0.0.0:2525 -> EX01\Relay Hub EX01 (by 10.20.0.12)`,
		`10.20.0.5 (load-balancer LB01 one-arm SNAT in front of EX03): EX03 0.0.0.0:25 -> EX03\Relay LB EX03 (by 10.20.0.5)`,
		"Findings: 6",
		`[CRITICAL] EX03\Relay LB EX03 takes everything behind the load-balancer 10.20.0.5`,
		`1. Set-ReceiveConnector -Identity 'EX01\Relay Hub EX01' -RemoteIPRanges @{Remove='10.20.0.12'}`,
		`Remove-ADPermission -Identity 'EX02\Anonymous Relay EX02' -User 'NT AUTHORITY\ANONYMOUS LOGON' -ExtendedRights 'ms-Exch-SMTP-Accept-Any-Recipient' -Confirm:$false`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code, _, _ := runLogscan(t, "connectors", "--fail-on", "high", contosoConfig); code != exitFinding {
		t.Errorf("--fail-on high: exit %d", code)
	}
}

// TestConnectorsJSON: the machine output is versioned and holds the
// selection.
func TestConnectorsJSON(t *testing.T) {
	code, out, errOut := runLogscan(t, "connectors", "--format", "json", contosoConfig)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		FormatVersion int `json:"format_version"`
		Configuration struct {
			Selection []struct {
				Server, Binding string
				Parts           []struct{ Addresses, Connector, Range string }
			}
		}
		Findings []struct{ Detector, Severity, Connector string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.FormatVersion != 1 || len(rep.Findings) != 6 {
		t.Fatalf("format_version %d, %d findings", rep.FormatVersion, len(rep.Findings))
	}
	found := false
	for _, l := range rep.Configuration.Selection {
		for _, p := range l.Parts {
			if l.Server == "EX01" && l.Binding == "0.0.0.0:2525" && p.Addresses == "10.20.0.12" && p.Connector == `EX01\Relay Hub EX01` && p.Range == "10.20.0.12" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("selection lacks EX01 0.0.0.0:2525 10.20.0.12 -> Relay Hub: %+v", rep.Configuration.Selection)
	}
}

// TestConnectorsWithLogs: the log findings name the configuration that
// causes them, and drift is reported.
func TestConnectorsWithLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("scans the sample")
	}
	code, out, errOut := runLogscan(t, "connectors", contosoConfig, "../../samples/contoso")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`[HIGH] EX02 (10.20.0.12) -> EX01: 451 5.7.3`,
		`Configuration: EX01\Relay Hub EX01 takes 10.20.0.12 on port 2525 (0.0.0.0:2525) because its`,
		`Configuration: EX03\Relay LB EX03 takes 10.20.0.5 on port 25 (0.0.0.0:25) because its`,
		`Drift on EX02: 1 client(s) logged on EX02\Anonymous Relay EX02 that the configuration sends to EX02\Default Frontend EX02`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestScanConfig: scan --config takes the organisation from the export
// and adds the configuration's findings.
func TestScanConfig(t *testing.T) {
	code, out, errOut := runLogscan(t, "scan", "--config", contosoConfig, "../../samples/contoso/EX01")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Accepted domains: contoso.com, contoso.co.uk — given (the configuration export)",
		"detector connector-config",
		`[HIGH] EX01\Relay Hub EX01 takes the mail of Exchange server(s) EX02`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code, _, errOut := runLogscan(t, "scan", "--config", "testdata/does-not-exist.json", "../../samples/contoso/EX01"); code != exitError || !strings.Contains(errOut, "--config") {
		t.Errorf("missing config: exit %d, %s", code, errOut)
	}
}

// TestConnectorsBadInput: what is not a configuration is refused with a
// sentence; hostile text from an export is escaped.
func TestConnectorsBadInput(t *testing.T) {
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	os.WriteFile(notes, []byte("hello\n"), 0o644)
	code, _, errOut := runLogscan(t, "connectors", notes)
	if code != exitError || !strings.Contains(errOut, "not a configuration logscan can read") || !strings.Contains(errOut, "Try: ") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runLogscan(t, "connectors"); code != exitError {
		t.Errorf("no CONFIG: exit %d", code)
	}
	hostile := filepath.Join(dir, "hostile.json")
	os.WriteFile(hostile, []byte(`[{"Identity":"EX01\\Relay \u001b[31mRED\u202e","Bindings":["0.0.0.0:25"],"RemoteIPRanges":["10.20.0.0/24"],"PermissionGroups":"AnonymousUsers","TransportRole":"FrontendTransport"}]`), 0o644)
	code, out, errOut := runLogscan(t, "connectors", hostile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.ContainsAny(out, "\x1b\u202e") || !strings.Contains(out, `\x1b[31mRED\u202e`) {
		t.Errorf("hostile text not escaped:\n%s", out)
	}
}

func TestConnectorsFlags(t *testing.T) {
	io, _, _, _ := Test()
	var got *connectorsOptions
	cmd := newConnectorsCmd(io, func(o *connectorsOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--nat", "10.20.0.5,10.20.0.6", "--format", "json", "cfg.json", "logs"})
	if _, err := cmd.ExecuteC(); err != nil {
		t.Fatal(err)
	}
	if got.Config != "cfg.json" || !reflect.DeepEqual(got.Paths, []string{"logs"}) || got.Format != "json" ||
		!reflect.DeepEqual(got.nat, []netip.Addr{netip.MustParseAddr("10.20.0.5"), netip.MustParseAddr("10.20.0.6")}) {
		t.Errorf("options %+v", got)
	}
	cmd = newConnectorsCmd(io, func(*connectorsOptions) error { return nil })
	cmd.SetArgs([]string{"--nat", "not-an-ip", "cfg.json"})
	if _, err := cmd.ExecuteC(); err == nil {
		t.Error("--nat not-an-ip accepted")
	}
}
