package session

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/logscan/logscan/parser"
)

// TestTLSDetails: the cipher of the negotiation row, the failed
// negotiation, and the certificate in both shapes Exchange logs it — one
// combined row in receive logs, one row per field in send logs — from the
// real excerpts and hand-made rows.
func TestTLSDetails(t *testing.T) {
	t.Run("combined certificate row, Let's Encrypt (real excerpt)", func(t *testing.T) {
		// The fixture holds a row of another log (rejected); take the
		// rows of one session.
		var text strings.Builder
		for line := range strings.Lines(readRealData(t, "recv-mixed-ipban-fixture-auth-unsuccessful.log")) {
			if strings.Contains(line, ",08DB994D2DD19B09,") {
				text.WriteString(line)
			}
		}
		s := one(t, buildSessions(t, 1, logFile{"recv.log", text.String(), []parser.Option{parser.WithLogType(parser.LogTypeReceive)}}))
		want := Certificate{Subject: "CN=webmail.domain1.com", Issuer: "CN=R3, O=Let's Encrypt, C=US",
			Thumbprint: "EC5A76488FE0A501C5FC28EC845E443889BA16E2", NotAfter: "2023-11-10T09:39:23.000Z"}
		if s.LocalCert != want || !s.RemoteCert.IsZero() {
			t.Errorf("certs = %+v / %+v, want local %+v", s.LocalCert, s.RemoteCert, want)
		}
		if s.TLSProtocol != "TLS1.2" || s.TLSCipher != "AES_256 SHA_384 ECDH_EPHEM" {
			t.Errorf("TLS %q %q", s.TLSProtocol, s.TLSCipher)
		}
	})
	t.Run("combined row with same subject and issuer (real excerpt)", func(t *testing.T) {
		s := one(t, buildSessions(t, 1, logFile{"recv.log", readRealData(t, "recv-2016-qazeer-artefacts-help.log"), nil}))
		if s.LocalCert.Subject != "CN=SERVER-HOSTNAME" || s.LocalCert.Issuer != "CN=SERVER-HOSTNAME" ||
			s.LocalCert.Thumbprint != "12DEABC6565646512346ABDC1345689413589876" || s.LocalCert.NotAfter != "2025-01-17T15:15:33.000Z" {
			t.Errorf("cert = %+v", s.LocalCert)
		}
	})
	t.Run("redacted combined row kept whole (real excerpt)", func(t *testing.T) {
		s := one(t, buildSessions(t, 1, logFile{"recv.log", readRealData(t, "recv-2016-ipban-fixture-auth-successful.log"), nil}))
		if s.LocalCert.Subject != "CN=*.example.com, OU=Redacted Certificate Information *.example.com;example.com" || s.LocalCert.Thumbprint != "" {
			t.Errorf("cert = %+v", s.LocalCert)
		}
	})
	t.Run("per-field rows and UnknownCredentials (real excerpt, KB 4051498)", func(t *testing.T) {
		s := one(t, buildSessions(t, 1, logFile{"send.log", readRealData(t, "send-2013to2016-ms-kb4051498-tls-unknowncredentials.log"),
			[]parser.Option{parser.WithLogType(parser.LogTypeSend), parser.WithServer("EX")}}))
		want := Certificate{Subject: "CN=*.domain.com, OU=Enterprise SSL Wildcard, OU=Contoso IT, O=Contoso Corporation",
			Issuer: "CN=Trusted Secure Certificate Authority 5, O=Corporation Service Company, L=Wilmington, S=DE, C=US", Thumbprint: "xxxxxxxxxxxxxxxxxxxxxx"}
		if s.LocalCert != want || s.TLSFailure != "UnknownCredentials" || s.TLS {
			t.Errorf("cert %+v, failure %q, TLS %v", s.LocalCert, s.TLSFailure, s.TLS)
		}
	})
	t.Run("send log: our certificate, then the remote's", func(t *testing.T) {
		s := one(t, buildSessions(t, 1, logFile{"EX01/SmtpSend/s.log", sendHeader + rows("Outbound to Internet", "7", "10.0.0.11:16000", "203.0.113.25:25", 0,
			"*,SendRoutingHeaders,Set Session Permissions",
			"+,,",
			"<,220 mx.example.org ESMTP,",
			">,STARTTLS,",
			"<,220 2.0.0 Ready to start TLS,",
			"*,,Sending certificate",
			"*,CN=mail.contoso.com,Certificate subject",
			"*,,Received certificate",
			`*,"CN=mx.example.org, O=Example",Certificate subject`,
			"*,AB12AB12AB12AB12AB12,Certificate thumbprint",
			`*,,"TLS protocol SP_PROT_TLS1_0_CLIENT negotiation succeeded using bulk encryption algorithm CALG_RC4 with strength 128 bits, MAC hash algorithm CALG_MD5 with strength 128 bits and key exchange algorithm CALG_RSA_KEYX with strength 2048 bits"`,
			">,QUIT,",
			"-,,Local"), []parser.Option{parser.WithServer("EX01")}}))
		if s.LocalCert.Subject != "CN=mail.contoso.com" || s.RemoteCert.Subject != "CN=mx.example.org, O=Example" || s.RemoteCert.Thumbprint != "AB12AB12AB12AB12AB12" {
			t.Errorf("certs %+v / %+v", s.LocalCert, s.RemoteCert)
		}
		if s.TLSProtocol != "TLS1.0" || s.TLSCipher != "RC4 MD5 RSA_KEYX" || s.TLSFailure != "" {
			t.Errorf("TLS %q %q %q", s.TLSProtocol, s.TLSCipher, s.TLSFailure)
		}
	})
}

func TestParseCombinedCert(t *testing.T) {
	for _, c := range []struct {
		data string
		want Certificate
	}{
		{"", Certificate{}},
		{"garbage", Certificate{Subject: "garbage"}},
		{" CN=a, O=B C CN=ca 0011223344 00112233445566778899 2020-01-01T00:00:00.000Z 2030-01-01T00:00:00.000Z a;b",
			Certificate{Subject: "CN=a, O=B C", Issuer: "CN=ca", Thumbprint: "00112233445566778899", NotAfter: "2030-01-01T00:00:00.000Z"}},
		{"CN=a 0011223344 00112233445566778899 2020-01-01T00:00:00.000Z", // no issuer, no not-after
			Certificate{Subject: "CN=a", Thumbprint: "00112233445566778899"}},
	} {
		if got := parseCombinedCert(c.data); got != c.want {
			t.Errorf("parseCombinedCert(%q) = %+v, want %+v", c.data, got, c.want)
		}
	}
}

// TestCombinedCertKept: the certificate kept per row is what
// parseCombinedCert reads, the first time and the next, and holds no lent
// text; the rows kept stay bounded.
func TestCombinedCertKept(t *testing.T) {
	var sc emitScratch
	for _, data := range []string{
		" CN=mail.contoso.com, O=Contoso Ltd, C=GB CN=Contoso Issuing CA 1, DC=contoso, DC=com 2A0000003F1B2C 6F3A9C1D2E4B5A69788796A5B4C3D2E1F0A1B2C3 2026-01-10T00:00:00.000Z 2027-01-10T00:00:00.000Z mail.contoso.com;autodiscover.contoso.com",
		"CN=webmail.domain1.com CN=R3, O=Let's Encrypt, C=US 0404C0A1B2C3 EC5A76A1B2C3D4 2023-08-12T10:39:24.000Z 2023-11-10T09:39:23.000Z webmail.domain1.com",
		"CN=only.subject 0404C0A1B2C3 EC5A76A1B2C3D4 2023-08-12T10:39:24.000Z",
		"<redacted>",
		" ",
	} {
		want := parseCombinedCert(data)
		lent := []byte(data)
		view := unsafe.String(&lent[0], len(lent))
		first := sc.combinedCert(view)
		for i := range lent {
			lent[i] = '~' // what the next session does to lent text
		}
		if again := sc.combinedCert(data); first != want || again != want {
			t.Errorf("combinedCert(%q) = %+v, then %+v; want %+v", data, first, again, want)
		}
	}
	for i := range 2 * maxCertRows { // a new certificate in every row
		data := fmt.Sprintf("CN=host%d.example CN=CA 0404C0A1B2C3 EC5A76A1B2C3D4 2023-08-12T10:39:24.000Z 2023-11-10T09:39:23.000Z", i)
		if got, want := sc.combinedCert(data), parseCombinedCert(data); got != want {
			t.Fatalf("combinedCert(%q) = %+v, want %+v", data, got, want)
		}
	}
	if len(sc.certs) > maxCertRows {
		t.Errorf("%d certificate rows kept, at most %d wanted", len(sc.certs), maxCertRows)
	}
}
