package heuristics

import (
	"strings"
	"testing"
)

func factOf(f Finding, name string) string {
	for _, x := range f.Facts {
		if x.Name == name {
			return strings.Join(x.Values, " / ")
		}
	}
	return ""
}

// TestConfigAgainstContoso scans the committed sample with its exported
// configuration: nothing about the organisation is inferred, the 451 and
// the NAT findings each name the connector range that causes them, and
// drift lists the printer the configuration now sends elsewhere, and
// EX02's sessions on EX01 from before the relay connector was widened.
func TestConfigAgainstContoso(t *testing.T) {
	cfg := readConfig(t, "../samples/contoso-config.json")
	org := OrgFromConfig(cfg)
	rep := scanDir(t, org, "../samples/contoso")

	for _, a := range rep.Assumptions {
		if strings.Contains(a.Source, "inferred") {
			t.Errorf("assumption %q was inferred: %s", a.What, a.Source)
		}
	}
	byTitle := func(det, sub string) Finding {
		t.Helper()
		for _, f := range rep.Findings {
			if f.Detector == det && strings.Contains(f.Title, sub) {
				return f
			}
		}
		var titles []string
		for _, f := range rep.Findings {
			titles = append(titles, f.Detector+": "+f.Title)
		}
		t.Fatalf("no %s finding %q among\n%s", det, sub, strings.Join(titles, "\n"))
		return Finding{}
	}

	ex := byTitle(detectorExchangeAuth, "451 5.7.3")
	if got := factOf(ex, "configuration"); !strings.Contains(got, `EX01\Relay Hub EX01 takes 10.20.0.12 on port 2525 (0.0.0.0:2525) because its RemoteIPRanges entry 10.20.0.12 is the most specific match (over EX01\Default EX01's 0.0.0.0-255.255.255.255)`) ||
		!strings.Contains(got, "no Exchange Server authentication") {
		t.Errorf("451 configuration fact: %q", got)
	}
	nat := byTitle(detectorSNAT, "10.20.0.5")
	if got := factOf(nat, "configuration"); !strings.Contains(got, `EX03\Relay LB EX03 takes 10.20.0.5 on port 25 (0.0.0.0:25) because its RemoteIPRanges entry 10.20.0.5 is the most specific match`) ||
		!strings.Contains(got, "ANONYMOUS LOGON holds ms-Exch-SMTP-Accept-Any-Recipient") {
		t.Errorf("NAT configuration fact: %q", got)
	}
	relay := byTitle(detectorRelay, "198.51.100.77")
	if got := factOf(relay, "configuration"); !strings.Contains(got, "RemoteIPRanges entry 198.51.100.0/24") {
		t.Errorf("relay configuration fact: %q", got)
	}

	printer := byTitle(detectorConnectorConfig, `logged on EX02\Anonymous Relay EX02 that the configuration sends to EX02\Default Frontend EX02`)
	if got := factOf(printer, "clients"); !strings.HasPrefix(got, "10.30.5.21 to 10.20.0.12:25: ") {
		t.Errorf("printer drift: %q", got)
	}
	widened := byTitle(detectorConnectorConfig, `logged on EX01\Default EX01 that the configuration sends to EX01\Relay Hub EX01`)
	if !strings.Contains(widened.Explanation, "the configuration most likely changed between") || !strings.Contains(factOf(widened, "clients"), "10.20.0.12 to 10.20.0.11:2525") {
		t.Errorf("EX02 drift on EX01: %s / %s", widened.Explanation, factOf(widened, "clients"))
	}
	unused := byTitle(detectorConnectorConfig, "Unused on EX02")
	if got := factOf(unused, "ranges never used"); !strings.Contains(got, `10.30.5.22 on EX02\Anonymous Relay EX02`) {
		t.Errorf("unused ranges on EX02: %q", got)
	}
	// The configuration's own findings are there too.
	byTitle(detectorConnectorConfig, `EX03\Relay LB EX03 takes everything behind the load-balancer 10.20.0.5`)
}
