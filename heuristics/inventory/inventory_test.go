package inventory

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/memory"
	"go4.org/netipx"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

const fields = "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n"
const recvHeader = "#Software: Microsoft Exchange Server\r\n#Version: 15.2.1544.4\r\n#Log-type: SMTP Receive Protocol Log\r\n" + fields
const sendHeader = "#Software: Microsoft Exchange Server\r\n#Version: 15.2.1544.4\r\n#Log-type: SMTP Send Protocol Log\r\n" + fields

// sess writes the rows of one session at minute min of 2026-11-02 10:00:
// each entry is "event,data,context".
func sess(min int, conn, id, local, remote string, entries ...string) string {
	var b strings.Builder
	for i, e := range entries {
		fmt.Fprintf(&b, "2026-11-02T10:%02d:%02d.%03dZ,%s,%s,%d,%s,%s,%s\r\n", min, i/1000, i%1000, conn, id, i, local, remote, e)
	}
	return b.String()
}

// anonSession is an anonymous receive session with one message.
func anonSession(min int, conn, id, local, remote, ehlo, perms, from string, rcpts ...string) string {
	e := []string{"+,,", "*," + perms + ",Set Session Permissions", ">,220 EX01.contoso.com Microsoft ESMTP MAIL Service ready,",
		"<,EHLO " + ehlo + ",", ">,250 EX01.contoso.com Hello,", "<,MAIL FROM:<" + from + ">,"}
	for _, r := range rcpts {
		e = append(e, "<,RCPT TO:<"+r+">,")
	}
	e = append(e, ">,250 2.1.0 Sender OK,")
	for range rcpts {
		e = append(e, ">,250 2.1.5 Recipient OK,")
	}
	e = append(e, "<,BDAT 10 LAST,", ">,250 2.6.0 Queued mail for delivery,", "<,QUIT,", "-,,Local")
	return sess(min, conn, id, local, remote, e...)
}

const (
	anonPerms  = "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders"
	relayPerms = anonPerms + " SMTPAcceptAnyRecipient"
)

type logFile struct{ name, text string }

// build parses the files (file i by worker i%workers) into an Inventory.
func build(t *testing.T, opts Options, workers int, files ...logFile) *Inventory {
	t.Helper()
	inv := New(opts)
	b := session.NewBuilder(workers, 0, inv.Observe)
	for i, f := range files {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		r := parser.NewReader(strings.NewReader(f.text), f.name, parser.WithAllocator(mem), parser.WithLogType(parser.LogTypeFromPath(f.name)),
			parser.WithServer(parser.ServerFromPath(f.name)))
		for r.Next() {
			b.Add(i%workers, r.Record())
		}
		if r.Stats().RowsRejected != 0 {
			t.Fatalf("%s: rejected %v", f.name, r.Problems().Rejects)
		}
		r.Release()
		mem.AssertSize(t, 0)
	}
	b.Finish()
	return inv
}

// org is a small organisation: a relay connector used by a printer and an
// Internet host, a Front End with TLS clients, a Hub session proxied from
// it, and a send log.
func org() []logFile {
	relay := `EX01\SMTP Relay EX01`
	fe := `EX01\Default Frontend EX01`
	recv := recvHeader +
		anonSession(0, relay, "08DD000000000001", "10.0.0.11:25", "10.30.5.21:5000", "SCAN01", relayPerms, "scanner@contoso.com", "bob@contoso.com") +
		anonSession(1, relay, "08DD000000000002", "10.0.0.11:25", "10.30.5.21:5001", "SCAN01", relayPerms, "scanner@contoso.com", "x@fabrikam.com") +
		anonSession(2, relay, "08DD000000000003", "10.0.0.11:25", "198.51.100.77:6000", "User", relayPerms, "a@paypa1.example",
			"v1@gmail.com", "v2@gmail.com", "v3@qq.com") +
		// A TLS 1.0 client with the combined certificate row.
		sess(3, fe, "08DD000000000004", "10.0.0.11:25", "203.0.113.9:7000", "+,,", "*,"+anonPerms+",Set Session Permissions",
			">,220 EX01.contoso.com Microsoft ESMTP MAIL Service ready,", "<,EHLO old.example.org,", ">,250 EX01.contoso.com Hello STARTTLS,",
			"<,STARTTLS,", ">,220 2.0.0 SMTP server ready,",
			`*," CN=mail.contoso.com CN=Contoso CA, O=Contoso 0A0B0C0D0E0F 00112233445566778899AABBCCDDEEFF00112233 2026-01-01T00:00:00.000Z 2027-01-01T00:00:00.000Z mail.contoso.com",Sending certificate Subject Issuer name Serial number Thumbprint Not before Not after Subject alternate names`,
			`*,,"TLS protocol SP_PROT_TLS1_0_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_ECDHE with strength 256 bits"`,
			"<,MAIL FROM:<a@example.org>,", "<,RCPT TO:<bob@contoso.com>,", ">,250 2.1.0 Sender OK,", ">,250 2.1.5 Recipient OK,",
			"<,QUIT,", "-,,Local") +
		// An authenticated user on TLS 1.2.
		sess(4, `EX01\Client Frontend EX01`, "08DD000000000005", "10.0.0.11:587", "10.40.0.9:7001", "+,,", "<,EHLO PC1,", ">,250 EX01.contoso.com Hello,",
			"<,STARTTLS,", ">,220 2.0.0 SMTP server ready,", `*,,"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits"`,
			"<,AUTH LOGIN,", ">,235 2.7.0 Authentication successful,", `*,CONTOSO\alice,authenticated`, "-,,Local")
	hub := recvHeader + sess(5, `EX02\Default EX02`, "08DE000000000001", "10.0.0.12:2525", "10.0.0.11:16000",
		"+,,", "*,"+anonPerms+",Set Session Permissions", "<,EHLO EX01.contoso.com,", ">,250 EX02.contoso.com Hello X-EXPS,",
		"<,X-EXPS GSSAPI,", ">,235 <authentication response>,", `*,CONTOSO\EX01$,authenticated`,
		"<,XPROXYFROM SID=08DD000000000003 IP=198.51.100.77 PORT=6000 DOMAIN=User SEQNUM=1 PERMS=1205 AUTHSRC=Anonymous,",
		">,250 XProxyFrom accepted,", "<,MAIL FROM:<a@paypa1.example>,", "<,RCPT TO:<v1@gmail.com>,", ">,250 2.1.0 Sender OK,",
		">,250 2.1.5 Recipient OK,", "-,,Local")
	send := sendHeader + sess(6, "Outbound to Internet", "08DD000000000006", "10.0.0.11:17000", "216.32.181.234:25",
		"*,SendRoutingHeaders,Set Session Permissions", "+,,", "<,220 mx.example.net ESMTP,", ">,EHLO mail.contoso.com,",
		"<,250 mx.example.net Hello STARTTLS,", ">,STARTTLS,", "<,220 2.0.0 Ready to start TLS,",
		`*,"CN=*.contoso.com, O=Contoso",Certificate subject`, "*,00FF00FF00FF00FF00FF,Certificate thumbprint",
		"*,,TLS negotiation failed with error UnknownCredentials", ">,QUIT,", "-,,Local")
	return []logFile{{"EX01/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110210-1.LOG", recv},
		{"EX02/Hub/ProtocolLog/SmtpReceive/RECV2026110210-1.LOG", hub},
		{"EX01/Hub/ProtocolLog/SmtpSend/SEND2026110210-1.LOG", send}}
}

func find(t *testing.T, res *Result, connector, addr string) Client {
	t.Helper()
	for _, c := range res.Clients {
		if c.Connector == connector && c.Addr.String() == addr {
			return c
		}
	}
	t.Fatalf("no client %s on %s in %+v", addr, connector, res.Clients)
	return Client{}
}

func TestInventory(t *testing.T) {
	res := build(t, Options{AcceptedDomains: []string{"contoso.com"}}, 1, org()...).Result(Query{})
	if res.Sessions != 6+1 || res.Filtered != 0 || res.Budget.Hit {
		t.Fatalf("sessions %d filtered %d budget %+v", res.Sessions, res.Filtered, res.Budget)
	}
	// Busiest connector first, receive before send; clients busiest first.
	var order []string
	for _, c := range res.Connectors {
		order = append(order, c.Connector)
	}
	if want := []string{`EX01\SMTP Relay EX01`, `EX01\Client Frontend EX01`, `EX01\Default Frontend EX01`, `EX02\Default EX02`, "Outbound to Internet"}; !slices.Equal(order, want) {
		t.Errorf("connectors %q, want %q", order, want)
	}
	if a, b := res.Clients[0].Addr.String(), res.Clients[1].Addr.String(); a != "10.30.5.21" || b != "198.51.100.77" {
		t.Errorf("relay clients in order %s, %s", a, b)
	}

	p := find(t, res, `EX01\SMTP Relay EX01`, "10.30.5.21")
	if p.Sessions != 2 || p.Messages != 2 || p.Queued != 2 || p.Recipients != 2 || p.Anonymous != 2 || p.Relay.Granted != 2 ||
		p.Relay.Relayed != 1 || p.OutsideRecipients != 1 || !slices.Equal(p.Names.Values, []string{"SCAN01"}) ||
		!slices.Equal(p.SenderDomains.Values, []string{"contoso.com"}) || p.TLS.None != 2 {
		t.Errorf("printer = %+v", p)
	}
	if p.First != time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC) || p.Last.Before(p.First) {
		t.Errorf("printer seen %s to %s", p.First, p.Last)
	}
	h := find(t, res, `EX01\SMTP Relay EX01`, "198.51.100.77")
	if h.Relay.Relayed != 3 || h.OutsideRecipients != 3 || !reflect.DeepEqual(h.OutsideDomains.Values, []Count{{"gmail.com", 2}, {"qq.com", 1}}) {
		t.Errorf("relaying host = %+v", h)
	}
	// The Hub counts the original client, and names the Front End.
	hub := find(t, res, `EX02\Default EX02`, "198.51.100.77")
	if hub.Proxied != 1 || hub.Anonymous != 1 || hub.ExchangeServerAuth != 0 || hub.Relay.Granted != 0 ||
		!slices.Equal(hub.ProxiedBy.Values, []string{"EX01 (10.0.0.11)"}) || !slices.Equal(hub.Names.Values, []string{"User"}) {
		t.Errorf("hub row = %+v", hub)
	}
	old := find(t, res, `EX01\Default Frontend EX01`, "203.0.113.9")
	wantCert := Certificate{session.Certificate{Subject: "CN=mail.contoso.com", Issuer: "CN=Contoso CA, O=Contoso",
		Thumbprint: "00112233445566778899AABBCCDDEEFF00112233", NotAfter: "2027-01-01T00:00:00.000Z"}, true}
	if old.TLS.Old != 1 || old.TLS.Modern != 0 || !reflect.DeepEqual(old.TLS.Protocols.Values, []Count{{"TLS1.0", 1}}) ||
		!slices.Equal(old.TLS.Ciphers.Values, []string{"AES_128 SHA1 ECDHE"}) || !reflect.DeepEqual(old.TLS.Certificates, []Certificate{wantCert}) {
		t.Errorf("TLS 1.0 client = %+v", old.TLS)
	}
	u := find(t, res, `EX01\Client Frontend EX01`, "10.40.0.9")
	if u.Authenticated != 1 || !slices.Equal(u.Users.Values, []string{`CONTOSO\alice`}) || u.TLS.Modern != 1 {
		t.Errorf("user = %+v", u)
	}
	// Send logs: the remote server is the row; the failed negotiation and
	// our certificate (field rows) are counted.
	s := find(t, res, "Outbound to Internet", "216.32.181.234")
	if s.TLS.Failed != 1 || !reflect.DeepEqual(s.TLS.Errors.Values, []Count{{"UnknownCredentials", 1}}) ||
		len(s.TLS.Certificates) != 1 || s.TLS.Certificates[0].Subject != "CN=*.contoso.com, O=Contoso" || !s.TLS.Certificates[0].Local ||
		!slices.Equal(s.Names.Values, []string{"mx.example.net"}) || s.Server != "EX01" {
		t.Errorf("send row = %+v", s)
	}
}

func TestInventoryFiltersAndQueries(t *testing.T) {
	files := org()
	ips, _ := func() (*netipx.IPSet, error) {
		var b netipx.IPSetBuilder
		b.AddPrefix(netip.MustParsePrefix("198.51.100.0/24"))
		return b.IPSet()
	}()
	for _, c := range []struct {
		name  string
		opts  Options
		q     Query
		want  []string // connector|client of the clients listed
		count int64    // sessions counted
	}{
		{"connector, any case", Options{Filter: Filter{Connectors: []string{`ex01\smtp relay ex01`}}}, Query{},
			[]string{`EX01\SMTP Relay EX01|10.30.5.21`, `EX01\SMTP Relay EX01|198.51.100.77`}, 3},
		{"connector wildcard", Options{Filter: Filter{Connectors: []string{`*Frontend*`}}}, Query{},
			[]string{`EX01\Client Frontend EX01|10.40.0.9`, `EX01\Default Frontend EX01|203.0.113.9`}, 2},
		{"server", Options{Filter: Filter{Servers: []string{"ex02"}}}, Query{}, []string{`EX02\Default EX02|198.51.100.77`}, 1},
		{"client range, receive and send", Options{Filter: Filter{Clients: ips}}, Query{},
			[]string{`EX01\SMTP Relay EX01|198.51.100.77`, `EX02\Default EX02|198.51.100.77`}, 2},
		{"anonymous sessions only", Options{Filter: Filter{Anonymous: true, LogType: parser.LogTypeReceive}}, Query{},
			[]string{`EX01\SMTP Relay EX01|10.30.5.21`, `EX01\SMTP Relay EX01|198.51.100.77`, `EX01\Default Frontend EX01|203.0.113.9`, `EX02\Default EX02|198.51.100.77`}, 5},
		{"send logs", Options{Filter: Filter{LogType: parser.LogTypeSend}}, Query{}, []string{"Outbound to Internet|216.32.181.234"}, 1},
		{"TLS below 1.2", Options{}, Query{TLSBelow: TLS12}, []string{`EX01\Default Frontend EX01|203.0.113.9`}, 7},
		{"no TLS (or failed)", Options{Filter: Filter{Connectors: []string{"Outbound*", `*\Client*`}}}, Query{NoTLS: true}, []string{"Outbound to Internet|216.32.181.234"}, 2},
		{"idle since 10:02", Options{Filter: Filter{Connectors: []string{`*Relay*`}}}, Query{IdleSince: time.Date(2026, 11, 2, 10, 2, 0, 0, time.UTC)},
			[]string{`EX01\SMTP Relay EX01|10.30.5.21`}, 3},
		{"top 1 per connector", Options{Filter: Filter{Connectors: []string{`*Relay*`}}}, Query{Top: 1}, []string{`EX01\SMTP Relay EX01|10.30.5.21`}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := build(t, c.opts, 2, files...).Result(c.q)
			var got []string
			for _, cl := range res.Clients {
				got = append(got, cl.Connector+"|"+cl.Addr.String())
			}
			if !slices.Equal(got, c.want) || res.Sessions != c.count || res.Sessions+res.Filtered != 7 {
				t.Errorf("got %q (%d sessions, %d filtered), want %q (%d)", got, res.Sessions, res.Filtered, c.want, c.count)
			}
			for _, cn := range res.Connectors {
				if cn.Listed == 0 || cn.AllSessions < cn.Sessions {
					t.Errorf("connector %+v", cn)
				}
			}
		})
	}
}

// TestBoundedOrderIndependent: the bounded lists keep the smallest values
// with exact counts whatever order values arrive in.
func TestBoundedOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var vals []string
	for i := range 200 {
		for range 1 + i%5 {
			vals = append(vals, fmt.Sprintf("d%03d.example", i))
		}
	}
	var first Counts
	var firstSet List
	for round := range 20 {
		rng.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
		tab := newStrTable()
		var ta idTally
		var t8 tally8
		var s16 set16
		for _, v := range vals {
			ta.add(v, 1, 48, tab)
			t8.add(v, 1, 6, tab)
			s16.add(v, 16, tab)
		}
		got, got8, set := ta.counts(tab), t8.counts(tab), s16.list(tab)
		if len(got.Values) != 48 || !got.More || got.Values[0] != (Count{"d000.example", 1}) || got.Values[47] != (Count{"d047.example", 3}) {
			t.Fatalf("tally = %+v", got)
		}
		if got.Rest+sumCounts(got) != int64(len(vals)) || got8.Rest+sumCounts(got8) != int64(len(vals)) {
			t.Fatalf("counts do not add up: %d + %d", got.Rest, sumCounts(got))
		}
		if len(set.Values) != 16 || !set.More || set.Values[15] != "d015.example" {
			t.Fatalf("set = %+v", set)
		}
		if round == 0 {
			first, firstSet = got, set
		} else if !reflect.DeepEqual(got, first) || !reflect.DeepEqual(set, firstSet) {
			t.Fatal("a different arrival order kept different values")
		}
	}
}

func sumCounts(c Counts) int64 {
	var n int64
	for _, v := range c.Values {
		n += v.N
	}
	return n
}

// TestBudget: past MaxClients, the clients with the largest keys are
// counted together per connector, exactly, and the same ones whatever the
// order.
func TestBudget(t *testing.T) {
	var text strings.Builder
	text.WriteString(recvHeader)
	for i := range 40 {
		conn := `EX01\Default Frontend EX01`
		if i%4 == 0 {
			conn = `EX01\SMTP Relay EX01`
		}
		text.WriteString(anonSession(i%60, conn, fmt.Sprintf("%016X", i+1), "10.0.0.11:25", fmt.Sprintf("203.0.113.%d:5000", i%25+1), "h", anonPerms, "a@b.example", "x@contoso.com"))
	}
	lines := strings.SplitAfter(strings.TrimPrefix(text.String(), recvHeader), "\r\n")
	var want *Result
	for round := range 4 {
		rand.New(rand.NewPCG(uint64(round), 9)).Shuffle(len(lines)-1, func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
		// Rows shuffled across two files, read by two workers.
		half := len(lines) / 2
		res := build(t, Options{MaxClients: 10}, 2, logFile{"EX01/a.log", recvHeader + strings.Join(lines[:half], "")},
			logFile{"EX01/b.log", recvHeader + strings.Join(lines[half:], "")}).Result(Query{})
		if !res.Budget.Hit || res.Budget.Spilled == 0 {
			t.Fatalf("budget = %+v", res.Budget)
		}
		var sessions int64
		kept := 0
		for _, c := range res.Clients {
			sessions += c.Sessions
			if !c.Other {
				kept++
			}
		}
		if sessions != 40 || kept != 10 || res.Sessions != 40 {
			t.Fatalf("sessions %d of %d in %d clients kept", sessions, res.Sessions, kept)
		}
		if round == 0 {
			want = res
		} else if !reflect.DeepEqual(res, want) {
			t.Fatal("the budget kept different clients in another order")
		}
	}
}

// TestAcceptedInference: given nothing, the accepted domains are those
// Exchange accepted from anonymous senders without the relay right, and
// the banner's parent domain.
func TestAcceptedInference(t *testing.T) {
	text := recvHeader + anonSession(0, `EX01\Default Frontend EX01`, "1", "10.0.0.11:25", "203.0.113.1:1", "a", anonPerms, "a@b.example", "x@contoso.co.uk")
	res := build(t, Options{}, 1, logFile{"EX01/r.log", text}).Result(Query{})
	if got := res.Accepted.Values; !slices.Equal(got, []string{"contoso.co.uk", "contoso.com"}) || !strings.HasPrefix(res.Accepted.Source, "inferred") {
		t.Errorf("accepted = %+v", res.Accepted)
	}
}

func TestMatchAny(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{`EX01\SMTP Relay EX01`, `ex01\smtp relay ex01`, true},
		{`*relay*`, `EX01\SMTP Relay EX01`, true},
		{`EX01\*`, `EX02\Default EX02`, false},
		{`*\Default *`, `EX02\Default EX02`, true},
		{`*\Default *`, `EX02\Default Frontend EX02`, true},
		{`Default`, `EX02\Default EX02`, false},
		{` Outbound to Internet `, `Outbound to Internet`, true},
	} {
		if got := MatchAny([]string{c.p}, c.s); got != c.want {
			t.Errorf("MatchAny(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

// TestRelayPermission: the relay right is a whole word of the permissions.
func TestRelayPermission(t *testing.T) {
	for _, c := range []struct {
		list string
		want bool
	}{
		{relayPerms, true}, {anonPerms, false}, {"SMTPAcceptAnyRecipientX", false}, {"XSMTPAcceptAnyRecipient SMTPAcceptAnyRecipient", true}, {"", false},
	} {
		s := session.Session{Permissions: c.list}
		if got := s.HasPermission(permAnyRecipient); got != c.want {
			t.Errorf("HasPermission on %q = %v", c.list, got)
		}
	}
}
