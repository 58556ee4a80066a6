package session

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/logscan/logscan/parser"
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

// TestContainsExchangeAuthFailureText: the search from the sentence's rare
// byte finds what strings.Contains finds, wherever the sentence is and
// whatever is around it (other x's, parts of the sentence, the edges).
func TestContainsExchangeAuthFailureText(t *testing.T) {
	if exchangeAuthFailureText[exchangeAuthFailureRare] != 'x' {
		t.Fatalf("the rare byte of %q is not at %d", exchangeAuthFailureText, exchangeAuthFailureRare)
	}
	pieces := []string{exchangeAuthFailureText, exchangeAuthFailureText[:30], exchangeAuthFailureText[10:], "x", "xx", "Exchange ",
		"Cannot achieve ", " ", "451 4.4.0 ", "CN=R3, O=Let's Encrypt, C=US", "0x1F", "\u00e9"}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 50000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		text := b.String()
		if got, want := containsExchangeAuthFailureText(text), strings.Contains(text, exchangeAuthFailureText); got != want {
			t.Fatalf("containsExchangeAuthFailureText(%q) = %v, strings.Contains says %v", text, got, want)
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

// TestIsASCII: the word-at-a-time isASCII says what utf8.RuneSelf byte by
// byte says, for every length around its 16-byte steps and a non-ASCII
// byte at every place.
func TestIsASCII(t *testing.T) {
	slow := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				return false
			}
		}
		return true
	}
	for n := range 50 {
		b := []byte(strings.Repeat("a", n))
		if got := isASCII(string(b)); !got {
			t.Fatalf("isASCII(%q) = false", b)
		}
		for at := range n {
			for _, c := range []byte{0x80, 0xff, 0xc2} {
				b[at] = c
				if got, want := isASCII(string(b)), slow(string(b)); got != want {
					t.Fatalf("isASCII(%q) = %v, want %v", b, got, want)
				}
				b[at] = 0x7f
				if got := isASCII(string(b)); !got {
					t.Fatalf("isASCII(%q) = false", b)
				}
				b[at] = 'a'
			}
		}
	}
}

// TestSplitVerb: the one-pass split of a command row gives what trimming,
// cutting and upper-casing give, for commands as clients send them and
// for spaces, tabs, Unicode spaces, lower case and non-ASCII anywhere.
func TestSplitVerb(t *testing.T) {
	texts := []string{"", " ", "MAIL FROM:<a@b.com> SIZE=12", "RCPT TO:<x@y.org>", "EHLO mail.example.com", "QUIT", "quit",
		"DATA", " DATA", "DATA ", "MAIL  FROM:<a@b>", "MAIL\tFROM:<a@b>", "Mail FROM:<a@b>", "\u00a0QUIT", "QUIT\u00a0",
		"X-EXPS GSSAPI", "AUTH NTLM", "\u0085EHLO x", "ÉHLO x", "EHLO é", "EHLO x\x7f", "\x01EHLO", "EHLO \x01x"}
	pieces := []string{"MAIL", "mail", "EHLO", " ", "  ", "\t", "\n", "\u00a0", "\u0085", "\u2028", "FROM:<a@b>", "é", "ß", "ſ", "x", "X", "-", "\x00", "\x7f", ":"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	for _, text := range texts {
		v, a := splitVerb(text)
		wv, wa := splitVerbSlow(text)
		if v != wv || a != wa {
			t.Fatalf("splitVerb(%q) = %q, %q; want %q, %q", text, v, a, wv, wa)
		}
	}
}

// TestDomainOf: a domain returned as it is agrees with trimming and
// lowering it, on addresses and on texts made of the pieces that could trip
// it: upper case, spaces and dots at either end, Unicode spaces and
// letters, no '@' or several.
func TestDomainOf(t *testing.T) {
	texts := []string{"", "@", "a@", "a@b", "x@contoso.com", "x@Contoso.com", "x@contoso.com.", "x@contoso.com. ", "x@ contoso.com",
		"x@contoso.com\t", "x@\u00a0contoso.com", "x@contoso.com\u0085", "x@ÉXAMPLE.fr", "x@exa\u212aple.com", "a@b@c.org", "noat.com", "x@.", "x@..", "x@ . "}
	pieces := []string{"a", "Z", "contoso", ".", "..", "@", " ", "\t", "\u00a0", "\u0085", "\u2028", "\u212a", "é", "É", "-", "\x7f", "\x80"}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 50000 {
		var b strings.Builder
		for range rng.IntN(7) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	for _, addr := range texts {
		want := ""
		if i := strings.LastIndexByte(addr, '@'); i >= 0 {
			want = strings.ToLower(strings.TrimRight(strings.TrimSpace(addr[i+1:]), "."))
		}
		if got := DomainOf(addr); got != want {
			t.Fatalf("DomainOf(%q) = %q, want %q", addr, got, want)
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
		if got, want := proxyBothWays(arg); !reflect.DeepEqual(got, want) {
			t.Errorf("applyProxy(%q) = %+v, want %+v", arg, got, want)
		}
	}
}

// proxyBothWays reads an XPROXYFROM argument with applyProxy, and as
// strings.Fields and applyProxyField read it.
func proxyBothWays(arg string) (got, want Session) {
	got.applyProxy(arg)
	want.Proxied = true
	for _, f := range strings.Fields(arg) {
		want.applyProxyField(f)
	}
	return got, want
}

// TestAsciiFieldEnd: the search eight bytes at a time ends a field where
// the byte loop does, with spaces and control bytes that are none
// anywhere in a word, from any start.
func TestAsciiFieldEnd(t *testing.T) {
	pieces := []string{"a", "SID=08DD0000000000AB", " ", "\t", "\v", "\r\n", "\x00", "\x01", "\x1f", "!", "~", "\x7f", "IP=[2001:db8::7]", "=", "  "}
	rng := rand.New(rand.NewPCG(11, 12))
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		text := b.String()
		for i := 0; i <= len(text); i++ {
			want := i
			for want < len(text) && !isSpace[text[want]] {
				want++
			}
			if got := asciiFieldEnd(text, i); got != want {
				t.Fatalf("asciiFieldEnd(%q, %d) = %d, want %d", text, i, got, want)
			}
		}
	}
}

// TestApplyProxyRandom: XPROXYFROM arguments of random fields, spaces and
// control bytes read as strings.Fields and applyProxyField read them.
func TestApplyProxyRandom(t *testing.T) {
	pieces := []string{"SID=08DD0000000000AB", "IP=10.0.0.9", "IP=[::1]", "ip=10.1.1.1", "DOMAIN=a.example", "DOMAIN=", "AUTHSRC=Anonymous",
		"PORT=25", "=x", "SID", "x=y=z", " ", "\t", "\x01", "\x1f", "  ", "a", "IP=]10.0.0.8[", "IP=[10.0.0.7"}
	rng := rand.New(rand.NewPCG(13, 14))
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(10) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		arg := b.String()
		if got, want := proxyBothWays(arg); !reflect.DeepEqual(got, want) {
			t.Fatalf("applyProxy(%q) = %+v, want %+v", arg, got, want)
		}
	}
}

// TestApplyInfoSkipsNoneOfItsRows: applyInfo, which skips rows by their
// first bytes, does what applyInfoRow does with every row, of every kind
// it reads and of others.
func TestApplyInfoSkipsNoneOfItsRows(t *testing.T) {
	contexts := []string{"Inbound AUTH LOGIN failed because of LogonDenied", "User Name: admin", "Set Session Permissions", "authenticated",
		"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits",
		"TLS negotiation failed with error UnknownCredentials", "Sending certificate", "Received certificate", "Certificate subject",
		"Certificate thumbprint", "Outbound Exchange Authentication failed with TargetUnknown", "Inbound ExchangeAuth negotiation failed because of X",
		"receiving message", "Proxy destination(s) obtained from OnProxyInboundMessage event", "", "a", "Z", "CN=x", "TlsDomainCapabilities='None'"}
	datas := []string{"", "Tarpit for '0.00:00:05' due to '535 5.7.3 Authentication unsuccessful'", "Outbound Exchange Authentication failed with X",
		"Inbound ExchangeAuth negotiation failed because of Y", "CONTOSO\\alice", "SMTPSubmit SMTPAcceptAnyRecipient",
		"CN=mail.contoso.com CN=R3, O=Let's Encrypt, C=US 0404C0AB EC5A76CD 2023-08-12T10:39:24.000Z 2023-11-10T09:39:23.000Z x", "08DE1A206760617A;1", "T", "I", "O"}
	rng := rand.New(rand.NewPCG(15, 16))
	for range 2000 {
		var got, want Session
		var gotAuth, wantAuth authAttempts
		var gotCert, wantCert *Certificate
		var sc emitScratch
		for i := range 1 + rng.IntN(8) {
			r := row{seq: uint32(i), event: '*', context: contexts[rng.IntN(len(contexts))], data: datas[rng.IntN(len(datas))], ref: Ref{File: "f", Line: int64(i)}}
			got.applyInfo(&r, &gotAuth, &gotCert, &sc)
			want.applyInfoRow(&r, &wantAuth, &wantCert, &sc)
		}
		if !reflect.DeepEqual(got, want) || gotAuth != wantAuth || (gotCert == &got.LocalCert) != (wantCert == &want.LocalCert) ||
			(gotCert == &got.RemoteCert) != (wantCert == &want.RemoteCert) {
			t.Fatalf("applyInfo gave %+v (%+v), applyInfoRow %+v (%+v)", got, gotAuth, want, wantAuth)
		}
	}
}

// TestApplyProxyFieldKeys: the keys Exchange writes, compared as written,
// and any other spelling, upper-cased first (ſ is S), read as upper-casing
// every key did.
func TestApplyProxyFieldKeys(t *testing.T) {
	upper := func(s *Session, f string) { // every key upper-cased
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return
		}
		switch strings.ToUpper(k) {
		case "IP":
			if a, err := netip.ParseAddr(strings.Trim(v, "[]")); err == nil {
				s.Client = a.Unmap()
			}
		case "SID":
			if id, ok := parseHex64(v); ok {
				s.ProxySID = id
			}
		case "AUTHSRC":
			s.ProxyAuth = v
		case "DOMAIN":
			s.EHLO = v
		}
	}
	values := map[string]string{"IP": "[::ffff:10.0.0.1]", "SID": "08DD0000000000AB", "AUTHSRC": "Anonymous", "DOMAIN": "x.example",
		"PORT": "25", "SEQNUM": "1", "PERMS": "1205"}
	for key, v := range values {
		for _, k := range []string{key, strings.ToLower(key), strings.ToLower(key[:1]) + key[1:], strings.ReplaceAll(key, "S", "\u017f"), key + "X", ""} {
			var got, want Session
			got.applyProxyField(k + "=" + v)
			upper(&want, k+"="+v)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("applyProxyField(%q) = %+v, want %+v", k+"="+v, got, want)
			}
		}
	}
}

// TestParseHex64: the session-id parse of XPROXYFROM accepts and refuses
// what strconv.ParseUint(v, 16, 64) does.
func TestParseHex64(t *testing.T) {
	texts := []string{"08DD0000000000AB", "08dd0000000000ab", "FFFFFFFFFFFFFFFF", "10000000000000000", "000000000000000001",
		"0", "", "-1", "+1", "0x1F", "1_0", "G", "ffff ", " 1", "\u00e9"}
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "0123456789abcdefABCDEFgxX_+- "
	for range 20000 {
		b := make([]byte, rng.IntN(20))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		texts = append(texts, string(b))
	}
	for _, v := range texts {
		got, ok := parseHex64(v)
		want, err := strconv.ParseUint(v, 16, 64)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("parseHex64(%q) = %d, %v; strconv says %d, %v", v, got, ok, want, err)
		}
	}
}

// TestTLSNames: the protocol and cipher kept per negotiation row are what
// tlsProtocol and tlsCipher read, on real rows and rows missing parts, and
// hold no lent text; the rows kept stay bounded.
func TestTLSNames(t *testing.T) {
	var sc emitScratch
	for _, ctx := range []string{
		"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 384 bits",
		"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits and key exchange algorithm CALG_ECDHE with strength 256 bits",
		"TLS protocol SP_PROT_TLS1_3_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits",
		"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded",
		"TLS protocol SP_PROT_SSL3_FOO negotiation succeeded",
	} {
		lent := []byte(ctx)
		view := unsafe.String(&lent[0], len(lent))
		p1, c1 := sc.tlsNames(view)
		for i := range lent {
			lent[i] = '~' // what the next session does to lent text
		}
		p2, c2 := sc.tlsNames(ctx)
		if wp, wc := tlsProtocol(ctx), tlsCipher(ctx); p1 != wp || c1 != wc || p2 != wp || c2 != wc {
			t.Errorf("tlsNames(%q) = %q %q, then %q %q; want %q %q", ctx, p1, c1, p2, c2, wp, wc)
		}
	}
	for i := range 2 * maxTLSRows { // a new suite in every row
		ctx := fmt.Sprintf("TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_X%d with", i)
		if p, c := sc.tlsNames(ctx); p != tlsProtocol(ctx) || c != tlsCipher(ctx) {
			t.Fatalf("tlsNames(%q) = %q %q", ctx, p, c)
		}
	}
	if len(sc.tls) > maxTLSRows {
		t.Errorf("%d negotiation rows kept, at most %d wanted", len(sc.tls), maxTLSRows)
	}
}

// TestRecipientsShareNoRoom: the messages of a session keep their own
// recipients, paired with their replies, although they share one array;
// appending to one message's recipients leaves the next one's alone.
func TestRecipientsShareNoRoom(t *testing.T) {
	s := one(t, buildSessions(t, 1, logFile{"a.log", recvHeader + rows("EX01\\Default EX01", "7", "10.0.0.11:25", "203.0.113.9:5000", 0,
		"+,,", ">,220 EX01 Microsoft ESMTP MAIL Service ready,", "<,EHLO client,", ">,250 EX01 Hello,",
		"<,MAIL FROM:<a@x.example>,", "<,RCPT TO:<b@Y.example>,", "<,rcpt TO:<c@y.example>,", "<,RCPT TO:<d@z.example>,",
		">,250 2.1.0 Sender OK,", ">,250 2.1.5 Recipient OK,", ">,550 5.7.54 Unable to relay recipient in non-accepted domain,", ">,250 2.1.5 Recipient OK,",
		"<,DATA,", ">,354 Start mail input,", ">,250 2.6.0 Queued mail for delivery,",
		"<,MAIL FROM:<e@x.example>,", "<,RCPT TO:<f@y.example>,", "<,  RCPT TO:<g@y.example>,", "<,RCPT TO:<h@y.example>,",
		">,250 2.1.0 Sender OK,", ">,250 2.1.5 Recipient OK,", ">,250 2.1.5 Recipient OK,", ">,451 4.4.0 Try later,",
		"<,QUIT,", ">,221 2.0.0 Closing,", "-,,Local"), nil}))
	type rc struct {
		addr, domain string
		code         int
	}
	var got [][]rc
	for _, m := range s.Messages {
		var l []rc
		for _, r := range m.Rcpts {
			l = append(l, rc{r.Addr, r.Domain, r.Code})
		}
		got = append(got, l)
		if cap(m.Rcpts) != len(m.Rcpts) {
			t.Errorf("message %s: %d recipients with room for %d: appending would overwrite another's", m.From, len(m.Rcpts), cap(m.Rcpts))
		}
	}
	want := [][]rc{{{"b@Y.example", "y.example", 250}, {"c@y.example", "y.example", 550}, {"d@z.example", "z.example", 250}},
		{{"f@y.example", "y.example", 250}, {"g@y.example", "y.example", 250}, {"h@y.example", "y.example", 451}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("recipients %v, want %v", got, want)
	}
	_ = append(s.Messages[0].Rcpts, Rcpt{Addr: "x@x"})
	if s.Messages[1].Rcpts[0].Addr != "f@y.example" {
		t.Error("appending to the first message's recipients changed the second's")
	}
}

// TestOpenFragments: the open fragments, kept by session-id with chains and
// a map for ids used past maxSameID times, hold what a map by the whole key
// holds, through random opening and closing of few ids on many endpoints.
func TestOpenFragments(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	o := openFragments{byID: map[uint64]*fragment{}}
	want := map[fragKey]*fragment{}
	key := func() fragKey {
		return fragKey{sessKey: sessKey{server: uint32(rng.IntN(2)), logType: parser.LogType(rng.IntN(2)), id: uint64(rng.IntN(3))},
			file: uint32(rng.IntN(3)), remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(4))}), uint16(rng.IntN(5)))}
	}
	for step := range 20000 {
		k := key()
		if f := o.get(k); f != want[k] {
			t.Fatalf("step %d: get(%v) = %p, want %p", step, k, f, want[k])
		}
		if want[k] == nil {
			f := &fragment{}
			o.put(k, f)
			want[k] = f
		} else if rng.IntN(2) == 0 {
			o.del(k)
			delete(want, k)
		}
		if o.len() != len(want) {
			t.Fatalf("step %d: %d open, want %d", step, o.len(), len(want))
		}
		if step%1000 == 0 {
			seen := map[fragKey]*fragment{}
			for k, f := range o.all {
				seen[k] = f
			}
			if !maps.Equal(seen, want) {
				t.Fatalf("step %d: all yields %d fragments, want %d", step, len(seen), len(want))
			}
		}
	}
	if len(o.more) == 0 {
		t.Error("no id was used past maxSameID times: the overflow map went untested")
	}
	o.clear()
	if o.len() != 0 || o.get(key()) != nil {
		t.Error("fragments left after clear")
	}
}

// TestHasPermissionFastPath: HasPermission, which looks for the name with
// strings.Index, answers as splitting the list into fields does
// (hasPermissionFields), whatever surrounds the name: ASCII and Unicode
// spaces, names that contain it, non-ASCII and invalid bytes.
func TestHasPermissionFastPath(t *testing.T) {
	const p = "SMTPAcceptAnyRecipient"
	parts := []string{p, p, "SMTPSubmit", "SMTPAcceptAnySender", p + "X", "X" + p, "Ms-Exch-" + p, p[:10], p[10:],
		" ", " ", "  ", "\t", "\n", "\v", "\f", "\r", "\u0085", "\u00a0", "\u2000", "\u3000", "\xff", "\xe2\x80", "é", ""}
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(perms string) {
		s := &Session{Permissions: perms}
		for _, q := range []string{p, "SMTPSubmit", ""} {
			if got, want := s.HasPermission(q), s.hasPermissionFields(q); got != want {
				t.Fatalf("HasPermission(%q) of %q = %v, splitting into fields %v", q, perms, got, want)
			}
		}
	}
	for _, perms := range []string{"", p, " " + p + " ", "SMTPSubmit " + p + " SMTPAcceptAnySender", p + "\u00a0x", "x\u0085" + p, p + p, p + " " + p} {
		check(perms)
	}
	for range 20_000 {
		var b strings.Builder
		for range rng.IntN(8) {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		check(b.String())
	}
}

// TestSentenceSearchedOnlyWhereItMayBe: the replay searches a row's fields
// for the 5.7.3 sentence only when the row's record holds it somewhere
// (frow.noSentence); the rows it lists are those whose data or context, as
// kept (cut to MaxFieldBytes), the check finds it in: in data or context,
// whole, cut off at the end of a long field, and in records of one row,
// a few, or all, so that records with and without it alternate. It fails
// if Add searches the data alone, or the replay skips the 5.7.3 code at a
// field's start in records without the sentence.
func TestSentenceSearchedOnlyWhereItMayBe(t *testing.T) {
	long := strings.Repeat("y", MaxFieldBytes-20)
	pieces := []string{"", "250 2.1.5 Recipient OK", "receiving message", "451 5.7.3 Require basic authentication",
		exchangeAuthFailureText, "451 4.4.0 Primary target IP address responded with: 451 5.7.3 " + exchangeAuthFailureText + ".",
		long + exchangeAuthFailureText, // cut within the sentence: not kept whole
		long[:len(long)-30] + exchangeAuthFailureText, "Proxy destination(s) obtained from OnProxyInboundMessage event"}
	rng := rand.New(rand.NewPCG(21, 22))
	for round := range 40 {
		var b strings.Builder
		b.WriteString(recvHeader)
		want := map[uint64][]int64{} // session-id: the lines the check finds
		line := int64(4)             // the header's
		for id := uint64(1); id <= 6; id++ {
			n := 2 + rng.IntN(12)
			for seq := range n {
				event, data, ctx := "*", pieces[rng.IntN(len(pieces))], pieces[rng.IntN(len(pieces))]
				if round%2 == 0 && rng.IntN(4) > 0 {
					data, ctx = pieces[rng.IntN(4)], pieces[rng.IntN(4)] // records without the sentence
				}
				switch {
				case seq == 0:
					event, data, ctx = "+", "", ""
				case seq == n-1:
					event, data = "-", ""
				case rng.IntN(3) == 0:
					event, ctx = ">", ""
				}
				line++
				if isExchangeAuthFailure(data[:min(len(data), MaxFieldBytes)]) || isExchangeAuthFailure(ctx[:min(len(ctx), MaxFieldBytes)]) {
					want[id] = append(want[id], line)
				}
				fmt.Fprintf(&b, "2026-11-02T10:00:00.%03dZ,EX01\\Default EX01,%016X,%d,10.0.0.11:25,203.0.113.%d:1,%s,%s,%s\r\n", seq, id, seq, id, event, data, ctx)
			}
		}
		for _, batch := range []int{1, 3, 1000} {
			ss := buildSessions(t, 1, logFile{"a.log", b.String(), []parser.Option{parser.WithBatchRows(batch)}})
			if len(ss) != 6 {
				t.Fatalf("%d sessions, want 6", len(ss))
			}
			for _, s := range ss {
				var got []int64
				for _, r := range s.ExchangeAuthFailures {
					got = append(got, r.Line)
				}
				if !reflect.DeepEqual(got, want[s.ID]) {
					t.Fatalf("round %d, records of %d rows: session %d lists the 5.7.3 rows %v, want %v", round, batch, s.ID, got, want[s.ID])
				}
			}
		}
	}
}

// TestEventLeftEmpty: a row whose event the log left empty (a null in
// the event column) is read as one without an event, whether its record
// has other rows or not: Add looks at the validity bitmap only for a
// column with nulls. The row's "Set Session Permissions" counts (the
// replay reads such rows as information rows); read as another event it
// would not. It fails if Add reads the dictionary index of a null.
func TestEventLeftEmpty(t *testing.T) {
	text := recvHeader + rows(`EX01\Default EX01`, "08DE0000000000A1", "10.0.0.11:25", "203.0.113.1:1", 0,
		"+,,", ",SMTPSubmit SMTPAcceptAnySender,Set Session Permissions", ">,220 EX01 ready,", "<,EHLO a.example,", "-,,Local")
	for _, batch := range []int{1, 2, 1000} {
		ss := buildSessions(t, 1, logFile{"a.log", text, []parser.Option{parser.WithBatchRows(batch)}})
		if len(ss) != 1 || !ss[0].Complete || ss[0].Permissions != "SMTPSubmit SMTPAcceptAnySender" || ss[0].EHLO != "a.example" {
			t.Errorf("records of %d rows: %+v, want one complete session with the permissions of the row without an event", batch, ss)
		}
	}
}
