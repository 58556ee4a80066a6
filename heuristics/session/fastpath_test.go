package session

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// TestIsExchangeAuthFailure: the length checks in front of the search miss
// none of the texts the logs and the FORMAT notes hold, and still refuse a
// user's bad password.
func TestIsExchangeAuthFailure(t *testing.T) {
	for _, tt := range []struct {
		text string
		want bool
	}{
		{"451 5.7.3 Cannot achieve Exchange Server authentication", true},  // the handmade send log's reply row
		{"451 5.7.3 Cannot achieve Exchange Server authentication.", true}, // an information row's text
		{`451 4.4.0 Primary target IP address responded with: "451 5.7.3 Cannot achieve Exchange Server authentication."`, true},
		{"Cannot achieve Exchange Server authentication", true}, // the sentence alone, exactly as long as it
		{"451 5.7.3 Require basic authentication", true},
		{"451 5.7.3 x123456789", true}, // 20 bytes: the shortest that counts
		{"451 5.7.3 x12345678", false}, // 19
		{"451 5.7.3", false},
		{"Cannot achieve Exchange Server authenticatio", false},
		{"535 5.7.3 Authentication unsuccessful", false},
		{"Tarpit for '0.00:00:05' due to '535 5.7.3 Authentication unsuccessful'", false},
		{"451 4.7.0 Temporary server error. Please try again later. PRX4 ", false},
		{"cannot achieve exchange server authentication", false}, // Exchange writes one spelling
		{"", false},
	} {
		if got := isExchangeAuthFailure(tt.text); got != tt.want {
			t.Errorf("isExchangeAuthFailure(%q) = %v, want %v", tt.text, got, tt.want)
		}
		if want := len(tt.text) >= 20 && (strings.HasPrefix(tt.text, "451 5.7.3") ||
			strings.Contains(tt.text, "Cannot achieve Exchange Server authentication")); isExchangeAuthFailure(tt.text) != want {
			t.Errorf("isExchangeAuthFailure(%q) differs from the plain search", tt.text)
		}
	}
}

// hasTokenFields is hasToken as strings.Fields and strings.EqualFold define it.
func hasTokenFields(text, tok string) bool {
	for _, f := range strings.Fields(text) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}

// TestHasToken: the search for a token agrees with splitting into fields,
// on EHLO replies and on texts made of the pieces that could trip it:
// tabs, Unicode spaces, letters that fold to ASCII (the Kelvin sign, long
// s), tokens glued to others, at either end.
func TestHasToken(t *testing.T) {
	texts := []string{
		"EX01.contoso.com Hello [203.0.113.7] SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS X-ANONYMOUSTLS AUTH NTLM X-EXPS GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING SMTPUTF8 XRDST",
		"EX01.contoso.com Hello [10.20.0.12] SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES AUTH NTLM 8BITMIME BINARYMIME CHUNKING",
		"X-EXPS GSSAPI NTLM", "x-exps", "X-EXPS", "XX-EXPS", "X-EXPSS", "-EXPS", "X-EXP", "", " ", "X-ANONYMOUSTLS",
		"a\tx-Exps\tb", "a\u00a0X-EXPS", "X-EXP\u017f", "X-EXP\u017f GSSAPI", "\u0085X-EXPS\u0085", "X-EXPS\u3000NTLM",
	}
	pieces := []string{"X-EXPS", "x-exps", "X-", "EXPS", "-", "X", " ", "\t", "\n", "\u00a0", "\u017f", "\u212a", "AUTH", "S", "--"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(7) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	for _, text := range texts {
		for _, tok := range []string{"X-EXPS", "AUTH", "S", "k", "X-\u212a"} {
			if got, want := hasToken(text, tok), hasTokenFields(text, tok); got != want {
				t.Fatalf("hasToken(%q, %q) = %v, strings.Fields says %v", text, tok, got, want)
			}
		}
	}
}

// TestApplyProxy: XPROXYFROM read field by field without an iterator
// gives what strings.Fields gives, with tabs and Unicode spaces too.
func TestApplyProxy(t *testing.T) {
	for _, arg := range []string{
		"SID=08DD0000000000AB IP=198.51.100.9 PORT=5555 DOMAIN=bulk.example.com SEQNUM=1 PERMS=1205 AUTHSRC=Anonymous",
		"SID=08DD0000000000AB  IP=[2001:db8::7]\tPORT=5555 DOMAIN=x AUTHSRC=Organization ",
		"  ip=::ffff:10.0.0.1 sid=zz domain= AUTHSRC",
		"SID=1\u00a0IP=10.0.0.2 DOMAIN=caf\u00e9.example",
		"",
	} {
		var got, want Session
		got.applyProxy(arg)
		want.Proxied = true
		for _, f := range strings.Fields(arg) {
			want.applyProxyField(f)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("applyProxy(%q) = %+v, want %+v", arg, got, want)
		}
	}
}
