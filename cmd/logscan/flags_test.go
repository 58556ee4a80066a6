package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics"
)

// parseScan runs only the flag parsing of scan (through its runF hook) and
// returns the options it would run with.
func parseScan(t *testing.T, args ...string) (*scanOptions, error) {
	t.Helper()
	io, _, _, _ := Test()
	var got *scanOptions
	cmd := newScanCmd(io, func(o *scanOptions) error { got = o; return nil })
	cmd.SetFlagErrorFunc(flagError) // as the root command sets it
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	cmd.SetOut(io.Out)
	cmd.SetErr(io.ErrOut)
	err := cmd.Execute()
	return got, err
}

func TestScanFlags(t *testing.T) {
	domains := filepath.Join(t.TempDir(), "domains.txt")
	// What Windows PowerShell's Out-File writes: UTF-16 LE with a BOM.
	utf16 := []byte{0xff, 0xfe}
	for _, r := range "contoso.com\r\n# comment\r\n*.fabrikam.com\r\n" {
		utf16 = append(utf16, byte(r), 0)
	}
	if err := os.WriteFile(domains, utf16, 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := parseScan(t, "--format", "json", "--workers", "3", "--top", "7", "--fail-on", "HIGH",
		"--since", "2026-11-02", "--until", "2026-11-03T12:00:00Z", "--accepted-domains", "@"+domains,
		"--exchange-servers", "EX04=10.20.0.14,10.20.1.0/28", "--internal", "10.0.0.0/8", "--nat-subnet-v4", "26", `D:\logs`, "more")
	if err != nil {
		t.Fatal(err)
	}
	if o.Format != "json" || o.Workers != 3 || o.Top != 7 || o.failOn != heuristics.SeverityHigh {
		t.Errorf("format %q workers %d top %d fail-on %v", o.Format, o.Workers, o.Top, o.failOn)
	}
	if strings.Join(o.Paths, "|") != `D:\logs|more` {
		t.Errorf("paths %q", o.Paths)
	}
	if want := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC); !o.window.since.Equal(want) {
		t.Errorf("since %v", o.window.since)
	}
	if want := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC); !o.window.until.Equal(want) {
		t.Errorf("until %v", o.window.until)
	}
	if len(o.org.AcceptedDomains) != 2 || len(o.org.ExchangeServers) != 2 || o.org.ExchangeServers[0].Name != "EX04" ||
		len(o.org.Internal) != 1 || o.org.SubnetBitsV4 != 26 || o.org.SubnetBitsV6 != heuristics.DefaultSubnetBitsV6 {
		t.Errorf("org %+v", o.org)
	}
}

func TestScanFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no path", nil, "at least one PATH"},
		{"bad format", []string{"--format", "xml", "x"}, "valid values are {text|json|csv|html}"},
		{"negative workers", []string{"--workers", "-1", "x"}, "--workers"},
		{"top zero", []string{"--top", "0", "x"}, "--top"},
		{"bad severity", []string{"--fail-on", "urgent", "x"}, "unknown severity"},
		{"until before since", []string{"--since", "2026-11-03", "--until", "2026-11-02", "x"}, "must be after --since"},
		{"bad time", []string{"--since", "yesterday", "x"}, "want a date"},
		{"bad subnet", []string{"--nat-subnet-v4", "40", "x"}, "--nat-subnet-v4"},
		{"bad domain list file", []string{"--accepted-domains", "@/nonexistent/list.txt", "x"}, "--accepted-domains"},
		{"bad network", []string{"--internal", "10.0.0.0/33", "x"}, "--internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseScan(t, tc.args...)
			var fe *FlagError
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a usage error (the exit status and hint depend on it)", err)
			}
		})
	}
}

func TestIngestFlags(t *testing.T) {
	io, _, _, _ := Test()
	var got *ingestOptions
	cmd := newIngestCmd(io, func(o *ingestOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--out", "ds", "--format", "arrow", "--since", "2026-11-02", "logs"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Out != "ds" || got.Format != "arrow" || got.window.since.IsZero() || got.Paths[0] != "logs" {
		t.Errorf("options %+v", got)
	}
	cmd = newIngestCmd(io, func(o *ingestOptions) error { return nil })
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs([]string{"logs"})
	var fe *FlagError
	if err := cmd.Execute(); !errors.As(err, &fe) || !strings.Contains(err.Error(), "--out") {
		t.Errorf("no --out: %v", err)
	}
}

// TestHelpOnStdout: logscan scan --help | less must show the help.
func TestHelpOnStdout(t *testing.T) {
	code, out, errOut := runCLI(t, "scan", "--help")
	if code != exitOK || !strings.Contains(out, "Usage:") || !strings.Contains(out, "--fail-on") || errOut != "" {
		t.Errorf("exit %d, stdout %d bytes, stderr %q", code, len(out), errOut)
	}
}
