package inventory

import "testing"

func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Version
	}{
		{"1.2", TLS12}, {"TLS1.2", TLS12}, {"tls 1.0", TLS10}, {"TLS1", TLS10}, {"TLS1_1", TLS11},
		{"TLS1.3", TLS13}, {"SSL3", SSL3}, {"ssl 3.0", SSL3}, {"v1.2", TLS12}, {" 1.1 ", TLS11},
	} {
		got, err := ParseVersion(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "TLS", "2.0", "1.4", "1.", ".2", "SSL4", "TLS1.2x", "PCT1", "1..2", "11.2"} {
		if v, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) = %v, want an error", bad, v)
		}
	}
	if !TLS11.Less(TLS12) || TLS12.Less(TLS12) || !SSL3.Less(TLS10) || TLS13.Less(TLS12) {
		t.Error("Less is not the protocol order")
	}
	if TLS10.String() != "TLS1.0" || SSL3.String() != "SSL3" {
		t.Errorf("String: %s %s", TLS10, SSL3)
	}
	if n := testing.AllocsPerRun(100, func() { ParseVersion("TLS1.1"); _ = TLS10.String() }); n != 0 {
		t.Errorf("ParseVersion allocates %v times per call; it runs per session", n)
	}
}
