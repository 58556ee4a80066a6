// Package gen writes the protocol logs of a fictitious Exchange organisation,
// Contoso, for logscan's demo, tests and benchmarks: three multi-role servers
// with Front End and Hub receive and send logs, hourly files, and the
// incidents logscan exists to find (hidden NAT, anonymous relay, 451 5.7.3,
// a blocklisting; optionally a botnet through an open relay), buried in
// ordinary traffic.
//
// Nothing in the output labels an incident. Each one can only be told from
// normal traffic the way a detector would tell it from a real organisation's
// logs (see the README beside this package for what each one looks like).
package gen

// server is one Exchange server of the organisation.
type server struct {
	name    string // NetBIOS name, as in connector-ids
	fqdn    string
	ip      string
	version string // #Version of its logs
	v2016   bool   // 2016+: relay refusals read 550 5.7.54
}

var servers = []server{
	{name: "EX01", fqdn: "EX01.contoso.com", ip: "10.20.0.11", version: "15.2.1544.4", v2016: true},
	{name: "EX02", fqdn: "EX02.contoso.com", ip: "10.20.0.12", version: "15.2.1544.4", v2016: true},
	{name: "EX03", fqdn: "EX03.contoso.com", ip: "10.20.0.13", version: "15.1.2507.6", v2016: true},
}

// The organisation's accepted (authoritative) domains.
var acceptedDomains = []string{"contoso.com", "contoso.co.uk"}

var users = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
	"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda",
	"accounts", "hr", "helpdesk", "sales", "noreply"}

// External correspondents: sending MTAs with their EHLO names and domains.
type peer struct {
	ip, ehlo, domain string
}

var externalDomains = []string{"fabrikam.com", "adatum.com", "northwindtraders.com", "wingtiptoys.com",
	"tailspintoys.com", "litwareinc.com", "proseware.com", "woodgrovebank.com", "lucernepublishing.com",
	"alpineskihouse.com", "gmail.com", "outlook.com", "yahoo.com", "web.de", "orange.fr", "libero.it",
	"mail.ru", "qq.com", "yandex.ru", "gmx.net", "t-online.de", "comcast.net", "btinternet.com"}

// Spam and relay targets: recipients the organisation is not authoritative for.
var relayTargets = []string{"gmail.com", "yahoo.com", "hotmail.com", "aol.com", "mail.ru", "qq.com",
	"163.com", "naver.com", "yahoo.co.jp", "uol.com.br", "libero.it", "wp.pl", "seznam.cz", "rambler.ru"}

const (
	lbSNAT        = "10.20.0.5"     // incident 1: one-arm load balancer in front of EX03
	relayAbuser   = "198.51.100.77" // incident 2: an internet host relaying through EX02
	scannerIP     = "10.30.5.21"    // a multifunction printer: legitimate anonymous relay
	scannerEHLO   = "SCAN01"
	gatewayIP     = "10.20.0.1"
	orgEHLO       = "mail.contoso.com"
	anonPerms     = "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders"
	relayPerms    = "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders SMTPAcceptAnyRecipient"
	exchangePerms = "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAuthenticationFlag SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender BypassAntiSpam BypassMessageSizeLimit SMTPAcceptEXCH50 AcceptRoutingHeaders AcceptOrganizationHeaders SendXShadow SMTPAcceptXShadow SMTPAcceptXProxyFrom SMTPAcceptXSessionParams SMTPAcceptXMessageContextADRecipientCache SMTPAcceptXMessageContextExtendedProperties SMTPAcceptXMessageContextFastIndex SMTPAcceptXAttr SMTPAcceptXSysProbe"
	userPerms     = "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAuthenticationFlag SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender BypassAntiSpam BypassMessageSizeLimit AcceptRoutingHeaders"
	sendPerms     = "SendRoutingHeaders SendExchangeAuthentication SendXShadow SendXProxyFrom SendXSessionParams SendXMessageContextADRecipientCache SendXMessageContextExtendedProperties SendXMessageContextFastIndex"
	ehloFE        = "SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS X-ANONYMOUSTLS AUTH NTLM X-EXPS GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING SMTPUTF8 XRDST"
	ehloFETLS     = "SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES AUTH NTLM LOGIN X-EXPS GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING SMTPUTF8 XRDST"
	ehloHub       = "SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS X-ANONYMOUSTLS AUTH NTLM X-EXPS GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING XEXCH50 SMTPUTF8 XRDST XSHADOWREQUEST XPROXY XPROXYFROM X-MESSAGECONTEXT ADRC-2.1.0.0 EPROP-2.1.0.0 FSTINDX-1.0.0.0 XATTR XSYSPROBE XORIGFROM"
	ehloHubTLS    = "SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES AUTH NTLM X-EXPS GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING XEXCH50 SMTPUTF8 XRDST XSHADOWREQUEST XPROXY XPROXYFROM X-MESSAGECONTEXT ADRC-2.1.0.0 EPROP-2.1.0.0 FSTINDX-1.0.0.0 XATTR XSYSPROBE XORIGFROM"
	// A custom connector offers no Exchange Server authentication: no X-EXPS.
	ehloCustom    = "SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS X-ANONYMOUSTLS AUTH NTLM 8BITMIME BINARYMIME CHUNKING SMTPUTF8"
	ehloCustomTLS = "SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES AUTH NTLM 8BITMIME BINARYMIME CHUNKING SMTPUTF8"
)
