package blocklist

import "bytes"

// pattern is one row of the table. A reply matches when its normalised text
// (lower case, single spaces, multi-line prefixes removed) contains every
// needle in all and, when enh is set, its enhanced status is exactly enh.
type pattern struct {
	name string   // the test case that exercises the row
	all  []string // lower-case needles, all required
	enh  string   // exact enhanced status required ("" = any)
	kind Kind     // None = recognised as not a reputation rejection
	list string   // canonical list or provider name
	// generic: the list name comes from the zone table when the text names
	// a zone ("generic DNSBL" when the zone is unknown).
	generic bool
	// needZone: only a match when a DNSBL zone follows a marker
	// ("listed in Domino Directory" is no listing).
	needZone bool

	mask needleSet // bits of all in needles, filled by init
}

func (p *pattern) matches(found *needleSet, enh string) bool {
	if p.enh != "" && p.enh != enh {
		return false
	}
	return found.hasAll(&p.mask)
}

// needleSet is a bit per distinct needle of the table.
type needleSet [4]uint64

func (s *needleSet) set(i int)   { s[i>>6] |= 1 << (i & 63) }
func (s *needleSet) empty() bool { return s[0]|s[1]|s[2]|s[3] == 0 }
func (s *needleSet) hasAll(m *needleSet) bool {
	return s[0]&m[0] == m[0] && s[1]&m[1] == m[1] && s[2]&m[2] == m[2] && s[3]&m[3] == m[3]
}

// needles are the distinct needles of the table; bucket[h] lists those whose
// first three bytes hash to h, so scan finds every needle in one pass.
var (
	needles     [][]byte
	bucketStart [bucketCount + 1]uint16
	bucketItems []uint8
)

const bucketCount = 4096

func bucketOf(a, b, c byte) int {
	return (int(a)<<6 ^ int(b)<<3 ^ int(c)*0x9d) & (bucketCount - 1)
}

// scan returns the set of needles that occur in text: one pass, one bucket
// look-up per byte, a comparison only when three bytes hash like a needle's.
func scan(text []byte) (found needleSet) {
	for i := 0; i+2 < len(text); i++ {
		h := bucketOf(text[i], text[i+1], text[i+2])
		for _, k := range bucketItems[bucketStart[h]:bucketStart[h+1]] {
			if bytes.HasPrefix(text[i:], needles[k]) {
				found.set(int(k))
			}
		}
	}
	return found
}

const (
	genericDNSBL      = "generic DNSBL"
	genericBlocklist  = "generic blocklist"
	genericReputation = "generic reputation"
	microsoft         = "Microsoft"
	gmail             = "Gmail"
	yahoo             = "Yahoo/AOL"
	spamhaus          = "Spamhaus"
	trendMicro        = "Trend Micro"
	cisco             = "Cisco/IronPort SenderBase"
	mimecastPolicy    = "Mimecast recipient policy"
)

// table is searched in order; the first matching row wins. Order: provider
// and list specific rows, then rows that recognise rejections which are NOT
// about our reputation (Kind None), then generic DNSBL/reputation wording.
// The source each text was checked against is in the report of the commit
// that added the row and in blocklist_test.go.
var table = []pattern{
	// Spamhaus answers "open resolver"/"no IP queries" error codes to a
	// receiver whose DNS resolver it refuses: that is the receiver's fault,
	// not a listing of our IP. Recognised, but kept out of Blocklist.
	{name: "spamhaus-open-resolver", all: []string{"spamhaus", "open resolver"}, kind: PolicyUnknown, list: "Spamhaus query refused (receiver's resolver)"},
	{name: "spamhaus-returnc", all: []string{"spamhaus.org/returnc/"}, kind: PolicyUnknown, list: "Spamhaus query refused (receiver's resolver)"},

	// Microsoft (Outlook.com, Hotmail, Exchange Online Protection).
	{name: "microsoft-s3150", all: []string{"on our block list", "s3150"}, kind: Reputation, list: "Microsoft (S3150)"},
	{name: "microsoft-s3140", all: []string{"on our block list", "s3140"}, kind: Reputation, list: "Microsoft (S3140)"},
	{name: "microsoft-sc001", all: []string{"part of their network is on our block list"}, kind: Reputation, list: "Microsoft block list"},
	{name: "microsoft-5.7.606", all: []string{"banned sending ip"}, kind: Reputation, list: "Microsoft banned sending IP"},
	{name: "microsoft-5.7.511", all: []string{"access denied, banned sender"}, kind: Reputation, list: "Microsoft banned sender"},
	{name: "microsoft-blocklist1", all: []string{"blocked using blocklist 1"}, kind: Reputation, list: microsoft},
	{name: "microsoft-5.7.708", all: []string{"traffic not accepted from this ip"}, kind: Reputation, list: microsoft},
	{name: "microsoft-not-accepting", all: []string{"not currently accepting mail from your ip"}, kind: Reputation, list: microsoft},
	{name: "microsoft-5.7.509-dmarc", all: []string{"does not pass dmarc verification"}, kind: Authentication, list: "DMARC"},

	// Gmail. 421-4.7.0 / 550-5.7.1 for the IP, 421-4.7.28 for the SPF or
	// DKIM domain: all "unusual rate of unsolicited mail".
	{name: "gmail-unsolicited-rate", all: []string{"unusual rate of unsolicited mail"}, kind: Reputation, list: gmail},
	{name: "gmail-unsolicited-amount", all: []string{"unusual amount of unsolicited mail"}, kind: Reputation, list: gmail},
	{name: "gmail-low-reputation", all: []string{"very low reputation of the sending"}, kind: Reputation, list: gmail},
	{name: "gmail-likely-unsolicited", all: []string{"likely unsolicited mail"}, kind: Reputation, list: gmail},

	// Sender authentication (SPF/DKIM/DMARC), Gmail 5.7.26/4.7.26 and alike.
	{name: "auth-dmarc-policy", all: []string{"dmarc policy"}, kind: Authentication, list: "DMARC"},
	{name: "auth-unauthenticated", all: []string{"sender is unauthenticated"}, kind: Authentication, list: "SPF/DKIM"},
	{name: "auth-unauthenticated-4.7.26", all: []string{"because it is unauthenticated"}, kind: Authentication, list: "SPF/DKIM"},
	{name: "auth-gmail-5.7.1", all: []string{"fails to pass authentication checks"}, kind: Authentication, list: "SPF/DKIM"},
	{name: "auth-gmail-5.7.26", enh: "5.7.26", kind: Authentication, list: "SPF/DKIM"},
	{name: "auth-spf-record", all: []string{"per it's spf record"}, kind: Authentication, list: "SPF"},
	{name: "auth-spf-fail", all: []string{"spf check failed"}, kind: Authentication, list: "SPF"},

	// Yahoo and AOL.
	{name: "yahoo-tss04", all: []string{"messages from", "deferred due to"}, kind: Reputation, list: yahoo},
	{name: "yahoo-tss06", all: []string{"messages from", "permanently deferred"}, kind: Reputation, list: yahoo},
	{name: "yahoo-bl21", all: []string{"because the ip is in spamhaus"}, kind: Blocklist, list: spamhaus},
	{name: "yahoo-5.7.9", all: []string{"not accepted for policy reasons"}, kind: PolicyUnknown, list: yahoo},

	// Spamhaus, most precise first; a zone in the text refines "Spamhaus".
	{name: "spamhaus-sbl-url", all: []string{"spamhaus.org/sbl/query"}, kind: Blocklist, list: "Spamhaus SBL"},
	{name: "spamhaus-xbl-words", all: []string{"spamhaus xbl"}, kind: Blocklist, list: "Spamhaus XBL"},
	{name: "spamhaus-pbl-words", all: []string{"spamhaus pbl"}, kind: Blocklist, list: "Spamhaus PBL"},
	{name: "spamhaus", all: []string{"spamhaus"}, kind: Blocklist, list: spamhaus},

	// Other named DNSBLs.
	{name: "barracuda", all: []string{"barracuda"}, kind: Blocklist, list: "Barracuda BRBL"},
	{name: "spamcop", all: []string{"spamcop"}, kind: Blocklist, list: "SpamCop"},
	{name: "sorbs", all: []string{"sorbs.net"}, kind: Blocklist, list: "SORBS"},
	{name: "uceprotect", all: []string{"uceprotect"}, kind: Blocklist, list: "UCEPROTECT"},
	{name: "cbl", all: []string{"abuseat.org"}, kind: Blocklist, list: "CBL"},

	// Trend Micro Email Reputation Services: the QIL/RBL/DUL databases are
	// queried like DNSBLs by Trend gateways; delisting at ers.trendmicro.com.
	{name: "trend-ers-qil", all: []string{"ers-qil"}, kind: Blocklist, list: trendMicro},
	{name: "trend-ers-rbl", all: []string{"ers-rbl"}, kind: Blocklist, list: trendMicro},
	{name: "trend-ers-dul", all: []string{"ers-dul"}, kind: Blocklist, list: trendMicro},
	{name: "trend-rbl-plus", all: []string{"trend micro rbl"}, kind: Blocklist, list: trendMicro},
	{name: "trend-mail-abuse", all: []string{"mail-abuse.com"}, kind: Blocklist, list: trendMicro},
	{name: "trend-mail-abuse-org", all: []string{"mail-abuse.org"}, kind: Blocklist, list: trendMicro},

	// Gateways with their own reputation service.
	{name: "proofpoint", all: []string{"proofpoint"}, kind: Reputation, list: "Proofpoint"},
	{name: "cisco-poor-reputation", all: []string{"rejected due to the sending mta"}, kind: Reputation, list: cisco},
	{name: "cisco-senderbase", all: []string{"senderbase"}, kind: Reputation, list: cisco},
	{name: "cisco-talos", all: []string{"talosintelligence.com"}, kind: Reputation, list: cisco},
	{name: "cisco-sbrs", all: []string{"sbrs"}, kind: Reputation, list: cisco},

	// Mimecast blocks set by the recipient's administrators or users: a
	// policy, not a verdict on our reputation.
	{name: "mimecast-blocked-senders", all: []string{"rejected by header based"}, kind: PolicyUnknown, list: mimecastPolicy},
	{name: "mimecast-envelope-blocked", all: []string{"envelope blocked"}, kind: PolicyUnknown, list: mimecastPolicy},

	// Recognised rejections that are not about our reputation: Kind None.
	// Greylisting is a first-contact deferral of an unknown (IP, sender,
	// recipient) triplet; it says nothing about reputation and Exchange's
	// retry gets through, so counting it would flag every new correspondent.
	{name: "greylisted", all: []string{"greylist"}, kind: None},
	{name: "graylisted", all: []string{"graylist"}, kind: None},
	{name: "grey-listed", all: []string{"grey-list"}, kind: None},
	// Relay refusals: the recipient domain is not the server's (wrong MX,
	// smart host, connector), not a verdict on us.
	{name: "relay-unable", all: []string{"unable to relay"}, kind: None},
	{name: "relay-access-denied", all: []string{"relay access denied"}, kind: None},
	{name: "relay-relaying-denied", all: []string{"relaying denied"}, kind: None},
	{name: "relay-not-permitted", all: []string{"relay not permitted"}, kind: None},
	{name: "relay-relaying-not-permitted", all: []string{"relaying not permitted"}, kind: None},
	{name: "relay-not-permitted-to", all: []string{"not permitted to relay"}, kind: None},
	{name: "relay-denied", all: []string{"relay denied"}, kind: None},
	{name: "relay-5.7.54", enh: "5.7.54", kind: None},
	// Submission/authentication/TLS requirements of the remote server.
	{name: "auth-not-authenticated", all: []string{"not authenticated"}, kind: None},
	{name: "auth-required", all: []string{"authentication required"}, kind: None},
	{name: "auth-exchange-5.7.3", all: []string{"cannot achieve exchange server authentication"}, kind: None},
	{name: "tls-starttls-first", all: []string{"must issue a starttls"}, kind: None},
	{name: "tls-required", all: []string{"starttls is required"}, kind: None},

	// Generic DNSBL wording; the zone, when named, picks the list.
	{name: "generic-blocked-using", all: []string{"blocked using "}, kind: Blocklist, list: genericDNSBL, generic: true},
	{name: "generic-black-list-at", all: []string{"black list at "}, kind: Blocklist, list: genericDNSBL, generic: true, needZone: true},
	{name: "generic-blacklist-at", all: []string{"blacklist at "}, kind: Blocklist, list: genericDNSBL, generic: true, needZone: true},
	{name: "generic-listed-at", all: []string{"listed at "}, kind: Blocklist, list: genericDNSBL, generic: true, needZone: true},
	{name: "generic-listed-in", all: []string{"listed in "}, kind: Blocklist, list: genericDNSBL, generic: true, needZone: true},
	{name: "generic-listed-on", all: []string{"listed on "}, kind: Blocklist, list: genericDNSBL, generic: true, needZone: true},
	{name: "generic-listed-by", all: []string{"listed by "}, kind: Blocklist, list: genericDNSBL, generic: true, needZone: true},
	{name: "generic-dnsbl", all: []string{"dnsbl"}, kind: Blocklist, list: genericDNSBL, generic: true},
	{name: "generic-rbl", all: []string{" rbl"}, kind: Blocklist, list: genericDNSBL, generic: true},
	{name: "generic-rbl-colon", all: []string{"rbl:"}, kind: Blocklist, list: genericDNSBL, generic: true},
	{name: "generic-blocked-see", all: []string{"blocked - see http"}, kind: Blocklist, list: genericDNSBL, generic: true},
	{name: "generic-refused-see", all: []string{"refused - see http"}, kind: Blocklist, list: genericDNSBL, generic: true},
	{name: "generic-blacklisted", all: []string{"blacklisted"}, kind: Blocklist, list: genericBlocklist, generic: true},
	{name: "generic-blocklisted", all: []string{"blocklisted"}, kind: Blocklist, list: genericBlocklist, generic: true},
	{name: "generic-blacklist", all: []string{"blacklist"}, kind: Blocklist, list: genericBlocklist, generic: true},
	{name: "generic-blocklist", all: []string{"blocklist"}, kind: Blocklist, list: genericBlocklist, generic: true},
	{name: "generic-block-list", all: []string{"block list"}, kind: Blocklist, list: genericBlocklist, generic: true},

	// Generic reputation wording, last.
	{name: "generic-poor-reputation", all: []string{"poor reputation"}, kind: Reputation, list: genericReputation},
	{name: "generic-low-reputation", all: []string{"low reputation"}, kind: Reputation, list: genericReputation},
	{name: "generic-bad-reputation", all: []string{"bad reputation"}, kind: Reputation, list: genericReputation},
	{name: "generic-ip-reputation", all: []string{"ip reputation"}, kind: Reputation, list: genericReputation},
	{name: "generic-sender-reputation", all: []string{"sender reputation"}, kind: Reputation, list: genericReputation},
}

// zone is a DNSBL zone suffix and its canonical list name. More specific
// suffixes come first.
type zone struct {
	suffix []byte
	list   string
}

var zoneTable = [][2]string{
	{"zen.spamhaus.org", "Spamhaus ZEN"},
	{"sbl-xbl.spamhaus.org", "Spamhaus SBL-XBL"},
	{"sbl.spamhaus.org", "Spamhaus SBL"},
	{"xbl.spamhaus.org", "Spamhaus XBL"},
	{"pbl.spamhaus.org", "Spamhaus PBL"},
	{"dbl.spamhaus.org", "Spamhaus DBL"},
	{"zen.dq.spamhaus.net", "Spamhaus ZEN"},
	{"sbl.dq.spamhaus.net", "Spamhaus SBL"},
	{"xbl.dq.spamhaus.net", "Spamhaus XBL"},
	{"pbl.dq.spamhaus.net", "Spamhaus PBL"},
	{"dbl.dq.spamhaus.net", "Spamhaus DBL"},
	{"spamhaus.org", "Spamhaus"},
	{"spamhaus.net", "Spamhaus"},
	{"barracudacentral.org", "Barracuda BRBL"},
	{"spamcop.net", "SpamCop"},
	{"sorbs.net", "SORBS"},
	{"uceprotect.net", "UCEPROTECT"},
	{"cbl.abuseat.org", "CBL"},
	{"mail-abuse.com", "Trend Micro"},
	{"mail-abuse.org", "Trend Micro"},
	{"psbl.surriel.com", "PSBL"},
	{"mailspike.net", "Mailspike"},
	{"ix.dnsbl.manitu.net", "NiX Spam"},
	{"dnsbl.dronebl.org", "DroneBL"},
	{"bl.blocklist.de", "blocklist.de"},
	{"truncate.gbudb.net", "GBUdb"},
	{"ips.backscatterer.org", "Backscatterer"},
	{"bl.spameatingmonkey.net", "SEM"},
	{"rbl.interserver.net", "InterServer"},
	{"dnsbl.spfbl.net", "SPFBL"},
	{"abusix.zone", "Abusix"},
	{"score.senderscore.com", "Validity SenderScore"},
	{"hostkarma.junkemailfilter.com", "Hostkarma"},
}

// zoneMarkers precede a zone name in DNSBL rejection texts.
var zoneMarkerWords = []string{
	"blocked using ", "listed at ", "listed in ", "listed on ", "listed by ",
	"black list at ", "blacklist at ", "blacklisted by ", "blacklisted at ", "rbl at ",
	"refused by ", "found in ", "is in ",
}

var (
	zones       []zone
	zoneMarkers [][]byte
)

func init() {
	index := map[string]int{}
	for i := range table {
		for _, n := range table[i].all {
			k, ok := index[n]
			if !ok {
				k = len(needles)
				index[n] = k
				needles = append(needles, []byte(n))
			}
			table[i].mask.set(k)
		}
	}
	if len(needles) > 256 || len(needles) > len(needleSet{})*64 || minNeedle(needles) < 3 {
		panic("blocklist: too many needles for needleSet")
	}
	var lists [bucketCount][]uint8
	for k, n := range needles {
		h := bucketOf(n[0], n[1], n[2])
		lists[h] = append(lists[h], uint8(k))
	}
	for h := range lists {
		bucketStart[h] = uint16(len(bucketItems))
		bucketItems = append(bucketItems, lists[h]...)
	}
	bucketStart[bucketCount] = uint16(len(bucketItems))
	for _, z := range zoneTable {
		zones = append(zones, zone{[]byte(z[0]), z[1]})
	}
	for _, m := range zoneMarkerWords {
		zoneMarkers = append(zoneMarkers, []byte(m))
	}
}

func minNeedle(ns [][]byte) int {
	m := 1 << 30
	for _, n := range ns {
		m = min(m, len(n))
	}
	return m
}
