package heuristics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutboundFailures: a connectivity log with DNS, TLS and timeout
// failures (fabrikam.com, contoso-typo.com; woodgrovebank.com; litware.com)
// and a 451 5.7.3 series gives one outbound-failures finding for
// its server, one failure per delivery attempt, the 451 left to its own
// detector; and a destination delivered to after its failures is not stuck.
func TestOutboundFailures(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "parser", "testdata", "connectivity", "hub-ex02-CONNECTLOG20261102-1.LOG"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "EX02", "Hub", "Connectivity", "CONNECTLOG20261102-1.LOG")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, src, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := scanWorkers(t, 2, Org{}, dir)
	var got []Finding
	for _, f := range rep.Findings {
		if f.Detector == detectorOutbound {
			got = append(got, f)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d outbound findings, want 1: %+v", len(got), rep.Findings)
	}
	f := got[0]
	if f.Server != "EX02" || f.Counts["failures_dns"] != 2 || f.Counts["failures_tls"] != 1 || f.Counts["failures_timeout"] != 1 ||
		f.Counts["failures_exchangeauth451"] != 0 || f.Counts["destinations"] != 4 || f.Counts["failures"] != 4 {
		t.Errorf("finding %s %v", f.Title, f.Counts)
	}
	if f.Severity != SeverityLow || f.Counts["destinations_stuck"] != 0 {
		t.Errorf("one failure per destination within minutes is not stuck mail: %v %v", f.Severity, f.Counts)
	}
	if lines := strings.Join(factValues(f, "destinations"), "\n"); !strings.Contains(lines, "litware.com at 192.0.2.40: 1 Timeout failure(s)") {
		t.Errorf("destinations:\n%s", lines)
	}
}

// TestOutboundStuckBoundary: a destination that keeps failing for
// OutboundStuckAfter with no delivery after is stuck (medium); a minute
// less, or a delivery after the last failure, is not.
func TestOutboundStuckBoundary(t *testing.T) {
	row := func(ts, sid, dest, dir, desc string) string {
		return "2026-11-02T" + ts + "Z," + sid + ",SMTP," + dest + "," + dir + "," + desc + "\r\n"
	}
	fail := func(ts, sid, dest string) string {
		return row(ts, sid, dest, "+", "DnsConnectorDelivery x;QueueLength=TQ=1;AN=1;. ") +
			row(ts, sid, dest, "-", "Messages: 0 Bytes: 0 (Retry : STARTTLS is required to send mail)")
	}
	log := "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: Transport Connectivity Log\r\n#Date: 2026-11-02T10:00:00.000Z\r\n" +
		"#Fields: date-time,session,source,destination,direction,description\r\n"
	for _, tc := range []struct {
		dest   string
		stuck  bool
		events string
	}{
		{"short.example", false, fail("10:00:00.000", "01", "short.example") + fail("10:59:59.999", "02", "short.example")},
		{"stuck.example", true, fail("10:00:00.000", "03", "stuck.example") + fail("11:00:00.000", "04", "stuck.example")},
		{"recovered.example", false, fail("10:00:00.000", "05", "recovered.example") + fail("11:30:00.000", "06", "recovered.example") +
			row("11:40:00.000", "07", "recovered.example", "-", "Messages: 1 Bytes: 2000 ()")},
	} {
		t.Run(tc.dest, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "EX01", "Hub", "Connectivity", "CONNECTLOG20261102-1.LOG")
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(log+tc.events), 0o644); err != nil {
				t.Fatal(err)
			}
			rep := scanWorkers(t, 1, Org{}, dir)
			if len(rep.Findings) != 1 || rep.Findings[0].Detector != detectorOutbound {
				t.Fatalf("findings %+v", rep.Findings)
			}
			f := rep.Findings[0]
			if got := f.Severity == SeverityMedium; got != tc.stuck || (f.Counts["destinations_stuck"] == 1) != tc.stuck {
				t.Errorf("stuck = %v (%v, %v), want %v", got, f.Severity, f.Counts, tc.stuck)
			}
		})
	}
}
