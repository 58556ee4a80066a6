package parser

import (
	"net/netip"
	"strconv"
	"strings"
)

// ConnFailureKind is what a connectivity log description says happened.
type ConnFailureKind uint8

const (
	ConnOther           ConnFailureKind = iota // nothing below: queue start, DNS answer, failover notes, service rows
	ConnEstablished                            // "Established connection to <ip>"
	ConnSummary                                // "Messages: N Bytes: M (...)" with no failure recognised in its reason
	ConnExchangeAuth451                        // 451 5.7.3 "Cannot achieve Exchange Server authentication" and kin
	ConnDNS                                    // DNS lookup of the next hop failed
	ConnTLS                                    // TLS required, negotiation failed, certificate problems
	ConnTimeout                                // socket TimedOut, "timed out"
	ConnRefused                                // socket ConnectionRefused
	ConnReset                                  // socket ConnectionReset
	ConnRemoteReply                            // a 4xx/5xx reply from the remote server not covered above
)

var connFailureKindNames = [...]string{"Other", "Established", "Summary", "ExchangeAuth451", "DNS", "TLS",
	"Timeout", "Refused", "Reset", "RemoteReply"}

func (k ConnFailureKind) String() string {
	if int(k) < len(connFailureKindNames) {
		return connFailureKindNames[k]
	}
	return "ConnFailureKind(" + strconv.Itoa(int(k)) + ")"
}

// Failed reports whether the kind is a failure to deliver.
func (k ConnFailureKind) Failed() bool { return k >= ConnExchangeAuth451 }

// ConnFailure is what ClassifyConnectivity read from one description.
type ConnFailure struct {
	Kind ConnFailureKind
	// Reply is the SMTP reply the description quotes, code first
	// ("451 5.7.3 Cannot achieve Exchange Server authentication"), without
	// the trailing period Exchange adds inside quotes; "" when there is none.
	// Exchange's own disconnect rows carry only the reply's text (see
	// Reason), so Reply is often empty where Kind is not.
	Reply string
	// Target is the address the description names as the one connected to
	// or attempted, IPv4 unmapped; the zero Addr when it names none.
	Target     netip.Addr
	TargetPort uint16 // 0 when not named
	// SocketError is the .NET SocketError name of a "Failed connection to"
	// row: TimedOut, ConnectionRefused, ConnectionReset, HostUnreachable, ...
	SocketError string
	// Counts of a disconnect row "Messages: N Bytes: M"; HasCounts says the
	// row had them.
	HasCounts       bool
	Messages, Bytes int64
	// Status and Reason come from the parentheses of a disconnect row:
	// "(Retry : Service not active)" gives "Retry" and "Service not active";
	// parentheses without a one-word status give Reason only.
	Status string
	Reason string
}

// ClassifyConnectivity reads one connectivity log description. It is pure
// and cheap enough to call per row. The first matching rule decides:
//
//   - ExchangeAuth451: "Exchange Server authentication" or "Exchange
//     Authentication" anywhere (the 451 5.7.3 texts "Cannot achieve Exchange
//     Server authentication" and "Cannot load Internal Transport Certificate.
//     Exchange Server authentication failed."), or a bare "451 5.7.3" reply.
//   - TLS: "TLS negotiation", "STARTTLS", "certificate", "TlsDomain",
//     "TlsAuthLevel".
//   - DNS: "DNS query", "DNS server", "DnsQueryFailed", "Non-existent domain",
//     "Invalid DNS data", "loop back to itself", "no MX", "domain name does
//     not exist".
//   - Timeout / Refused / Reset: the SocketError of "Failed connection to
//     ip:port (SocketError:code)", or "timed out", "actively refused",
//     "forcibly closed", Winsock codes 10060 / 10061 / 10054.
//   - RemoteReply: any other quoted or inline 4xx/5xx reply.
//   - Established, then Summary (counts), then Other.
func ClassifyConnectivity(description string) ConnFailure {
	var c ConnFailure
	d := description
	c.parseCounts(d)
	c.parseTarget(d)
	c.Reply = findReply(d)
	ld := strings.ToLower(d)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(ld, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("exchange server authentication", "exchange authentication") ||
		strings.TrimSpace(c.Reply) == "451 5.7.3":
		c.Kind = ConnExchangeAuth451
	case has("tls negotiation", "starttls", "certificate", "tlsdomain", "tls domain", "tlsauthlevel", "tls auth level"):
		c.Kind = ConnTLS
	case has("dns query", "dns server", "dnsqueryfailed", "non-existent domain", "nonexistent domain",
		"invalid dns data", "loop back to itself", "no mx", "domain name does not exist",
		"misconfigured records registered in dns"):
		c.Kind = ConnDNS
	case c.SocketError == "TimedOut" || has("timed out", "timedout", "error code: 10060"):
		c.Kind = ConnTimeout
	case c.SocketError == "ConnectionRefused" || has("actively refused", "connectionrefused", "error code: 10061"):
		c.Kind = ConnRefused
	case c.SocketError == "ConnectionReset" || has("forcibly closed", "connectionreset", "connection reset", "error code: 10054"):
		c.Kind = ConnReset
	case c.Reply != "":
		c.Kind = ConnRemoteReply
	case strings.HasPrefix(d, "Established connection to "):
		c.Kind = ConnEstablished
	case c.HasCounts:
		c.Kind = ConnSummary
	}
	return c
}

// parseCounts reads "Messages: N Bytes: M[ ...][ (reason)]" (SMTP and
// MapiDelivery) and "Messages:N Bytes:M" (DeliveryAgent).
func (c *ConnFailure) parseCounts(d string) {
	rest, ok := strings.CutPrefix(d, "Messages:")
	if !ok {
		return
	}
	msgs, rest, ok := cutNumber(rest)
	if !ok {
		return
	}
	rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " "), "Bytes:")
	if !ok {
		return
	}
	n, rest, ok := cutNumber(rest)
	if !ok {
		return
	}
	c.HasCounts, c.Messages, c.Bytes = true, msgs, n
	open := strings.Index(rest, " (")
	if open < 0 || !strings.HasSuffix(rest, ")") {
		return
	}
	inner := rest[open+2 : len(rest)-1]
	if status, reason, ok := strings.Cut(inner, " : "); ok && isWord(status) {
		c.Status, c.Reason = status, reason
		return
	}
	c.Reason = inner
}

// cutNumber reads spaces and then a decimal number.
func cutNumber(s string) (int64, string, bool) {
	s = strings.TrimLeft(s, " ")
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, s, false
	}
	v, err := strconv.ParseInt(s[:i], 10, 64)
	return v, s[i:], err == nil
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// targetMarkers precede the address a description names as the target.
var targetMarkers = []string{"Established connection to ", "Failed connection to ", "Aborted connection to ",
	"The last endpoint attempted was ", "[TargetIPAddress:"}

// parseTarget finds the target address, and the socket error of a
// "Failed connection to ip:port (SocketError:code)" row.
func (c *ConnFailure) parseTarget(d string) {
	for _, m := range targetMarkers {
		i := strings.Index(d, m)
		if i < 0 {
			continue
		}
		tok := d[i+len(m):]
		end := strings.IndexAny(tok, " (),|]\"")
		if end < 0 {
			end = len(tok)
		}
		after := tok[end:]
		tok = strings.TrimRight(tok[:end], ".")
		ep, bad := parseEndpoint([]byte(tok))
		if bad || !ep.ipOK {
			continue
		}
		c.Target = netip.AddrFrom16(ep.ip).Unmap()
		if ep.portOK {
			c.TargetPort = ep.port
		}
		if m == "Failed connection to " {
			if s, ok := strings.CutPrefix(strings.TrimLeft(after, " "), "("); ok {
				if name, _, ok := strings.Cut(s, ":"); ok && isWord(name) {
					c.SocketError = name
				}
			}
		}
		return
	}
}

// findReply returns the SMTP reply a description carries: the one after
// "-> " (Exchange 2016's "Target host responded with error. -> 451 5.7.3
// ..."), else the first quoted one, else the first inline "ddd d.d.d ...".
func findReply(d string) string {
	if i := strings.Index(d, "-> "); i >= 0 {
		if r := replyAt(d[i+3:]); r != "" {
			return r
		}
	}
	if i := strings.IndexByte(d, '"'); i >= 0 {
		q := d[i+1:]
		if j := strings.IndexByte(q, '"'); j >= 0 {
			if r := replyAt(q[:j]); r != "" {
				return r
			}
		}
	}
	for i := 0; i+3 <= len(d); i++ {
		if (i == 0 || !isAlnum(d[i-1])) && isReplyCode(d[i:]) {
			return replyAt(d[i:])
		}
	}
	return ""
}

// replyAt returns the reply s starts with, up to a closing quote or
// parenthesis or a comma, without a trailing period; "" when s does not
// start with a 4xx/5xx code and an enhanced status code.
func replyAt(s string) string {
	s = strings.TrimLeft(s, " ")
	if !isReplyCode(s) {
		return ""
	}
	if j := strings.IndexAny(s, "\"),"); j >= 0 {
		s = s[:j]
	}
	return strings.TrimRight(strings.TrimSpace(s), ".")
}

// isReplyCode reports whether s starts with "4dd d.d" or "5dd d.d" (a basic
// and an enhanced status code), so counts and addresses are never replies.
func isReplyCode(s string) bool {
	if len(s) < 7 || (s[0] != '4' && s[0] != '5') || !isDigit(s[1]) || !isDigit(s[2]) || s[3] != ' ' {
		return false
	}
	return (s[4] == '4' || s[4] == '5' || s[4] == '2') && s[5] == '.' && isDigit(s[6])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
