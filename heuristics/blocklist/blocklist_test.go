package blocklist

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

type tcase struct {
	name  string // the table row it exercises, or a description
	reply string
	kind  Kind
	list  string
	zone  string
	ip    string // "" = no ListedIP
	code  int
	enh   string
}

// cases: realistic reply texts. Names equal to a table row's name must be
// decided by that row (TestEveryRowHasACase). Texts come from published
// bounces (Postfix/Exim DSNs quoting the remote reply, vendor pages); IPs
// are replaced by documentation addresses.
var cases = []tcase{
	// Spamhaus
	{name: "spamhaus-zen-postfix", reply: "554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.10",
		kind: Blocklist, list: "Spamhaus ZEN", zone: "zen.spamhaus.org", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "spamhaus-sbl-url", reply: "554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using zen.spamhaus.org; https://www.spamhaus.org/sbl/query/SBL275661",
		kind: Blocklist, list: "Spamhaus SBL", zone: "zen.spamhaus.org", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "spamhaus", reply: "550 5.7.1 Service unavailable, Client host [198.51.100.10] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/198.51.100.10 (AS16012611) [AM5EUR02FT017.eop-EUR02.prod.protection.outlook.com]",
		kind: Blocklist, list: "Spamhaus", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "spamhaus-exim-black-list", reply: "550 Rejected because 198.51.100.10 is in a black list at zen.spamhaus.org",
		kind: Blocklist, list: "Spamhaus ZEN", zone: "zen.spamhaus.org", ip: "198.51.100.10", code: 550},
	{name: "spamhaus-xbl-words", reply: "550 5.7.1 Connections not accepted from IP addresses on Spamhaus XBL",
		kind: Blocklist, list: "Spamhaus XBL", code: 550, enh: "5.7.1"},
	{name: "spamhaus-pbl-words", reply: "554 5.7.1 [198.51.100.10] is listed in Spamhaus PBL, send through your provider",
		kind: Blocklist, list: "Spamhaus PBL", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "spamhaus-dq-zone", reply: "554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using abcdefghijklmnopqrstuvwxyz.zen.dq.spamhaus.net",
		kind: Blocklist, list: "Spamhaus ZEN", zone: "abcdefghijklmnopqrstuvwxyz.zen.dq.spamhaus.net", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "spamhaus-open-resolver", reply: "554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using zen.spamhaus.org; Error: open resolver; https://www.spamhaus.org/returnc/pub/203.0.113.53",
		kind: PolicyUnknown, list: "Spamhaus query refused (receiver's resolver)", code: 554, enh: "5.7.1"},
	{name: "spamhaus-returnc", reply: "554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using zen.spamhaus.org; https://www.spamhaus.org/returnc/vol/203.0.113.53",
		kind: PolicyUnknown, list: "Spamhaus query refused (receiver's resolver)", code: 554, enh: "5.7.1"},

	// Barracuda
	{name: "barracuda", reply: "554 Service unavailable; Client host [198.51.100.10] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?pr=1&ip=198.51.100.10",
		kind: Blocklist, list: "Barracuda BRBL", ip: "198.51.100.10", code: 554},
	{name: "barracuda-rbl-at", reply: "554 Refused. Your IP address is listed in the RBL at b.barracudacentral.org",
		kind: Blocklist, list: "Barracuda BRBL", zone: "b.barracudacentral.org", code: 554},

	// SpamCop, SORBS, UCEPROTECT, CBL
	{name: "spamcop", reply: "554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?198.51.100.10",
		kind: Blocklist, list: "SpamCop", zone: "bl.spamcop.net", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "spamcop-451", reply: "451 Blocked - see http://www.spamcop.net/bl.shtml?198.51.100.10",
		kind: Blocklist, list: "SpamCop", ip: "198.51.100.10", code: 451},
	{name: "spamcop-via-mimecast", reply: "550 spamcop.mimecast.org Blocked - see http://www.spamcop.net/bl.shtml?198.51.100.10. - https://community.mimecast.com/docs/DOC-1369#550",
		kind: Blocklist, list: "SpamCop", ip: "198.51.100.10", code: 550},
	{name: "sorbs", reply: "554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using dnsbl.sorbs.net; Currently Sending Spam See: http://www.sorbs.net/lookup.shtml?198.51.100.10",
		kind: Blocklist, list: "SORBS", zone: "dnsbl.sorbs.net", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "uceprotect", reply: "554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using dnsbl-1.uceprotect.net; IP 198.51.100.10 is UCEPROTECT-Level1 listed. See http://www.uceprotect.net/rblcheck.php?ipr=198.51.100.10",
		kind: Blocklist, list: "UCEPROTECT", zone: "dnsbl-1.uceprotect.net", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "cbl", reply: "550 5.7.1 Your sender's IP address is listed at cbl.abuseat.org",
		kind: Blocklist, list: "CBL", zone: "cbl.abuseat.org", code: 550, enh: "5.7.1"},

	// Microsoft
	{name: "microsoft-s3150", reply: "550 5.7.1 Unfortunately, messages from [198.51.100.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [DB3EUR04FT003.eop-eur04.prod.protection.outlook.com]",
		kind: Reputation, list: "Microsoft (S3150)", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "microsoft-s3140", reply: "550 5.7.1 Unfortunately, messages from [198.51.100.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (AS3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [AM5EUR02FT027.eop-EUR02.prod.protection.outlook.com]",
		kind: Reputation, list: "Microsoft (S3140)", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "microsoft-sc001", reply: "550 SC-001 (SNT004-MC10F17) Unfortunately, messages from 198.51.100.10 weren't sent. Please contact your Internet service provider since part of their network is on our block list. You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
		kind: Reputation, list: "Microsoft block list", ip: "198.51.100.10", code: 550},
	{name: "microsoft-5.7.606", reply: "550 5.7.606 Access denied, banned sending IP [198.51.100.10]. To request removal from this list please visit https://sender.office.com/ and follow the directions. For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609)",
		kind: Reputation, list: "Microsoft banned sending IP", ip: "198.51.100.10", code: 550, enh: "5.7.606"},
	{name: "microsoft-5.7.511", reply: "550 5.7.511 Access denied, banned sender[198.51.100.10]. To request removal from this list please forward this message to delist@messaging.microsoft.com. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653. AS(508) [SN1NAM04FT013.eop-NAM04.prod.protection.outlook.com]",
		kind: Reputation, list: "Microsoft banned sender", ip: "198.51.100.10", code: 550, enh: "5.7.511"},
	{name: "microsoft-blocklist1", reply: "550 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using Blocklist 1; To request removal from this list please forward this message to delist@messaging.microsoft.com",
		kind: Reputation, list: "Microsoft", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "microsoft-5.7.708", reply: "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653",
		kind: Reputation, list: "Microsoft", code: 550, enh: "5.7.708"},
	{name: "microsoft-not-accepting", reply: "550 OU-002 (COL004-MC1F9) Unfortunately, messages from 198.51.100.10 weren't sent. Not currently accepting mail from your IP.",
		kind: Reputation, list: "Microsoft", ip: "198.51.100.10", code: 550},
	{name: "microsoft-5.7.509-dmarc", reply: "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.",
		kind: Authentication, list: "DMARC", code: 550, enh: "5.7.509"},

	// Gmail: multi-line replies as Exchange joins them on one row.
	{name: "gmail-unsolicited-rate", reply: "421-4.7.0 [198.51.100.10 15] Our system has detected an unusual rate of 421-4.7.0 unsolicited mail originating from your IP address. To protect our 421-4.7.0 users from spam, mail sent from your IP address has been temporarily 421-4.7.0 rate limited. Please visit 421-4.7.0 https://support.google.com/mail/?p=UnsolicitedRateLimitError to 421 4.7.0 review our Bulk Email Senders Guidelines. p4si3522070uam.9 - gsmtp",
		kind: Reputation, list: "Gmail", ip: "198.51.100.10", code: 421, enh: "4.7.0"},
	{name: "gmail-unsolicited-rate-550", reply: "550-5.7.1 [198.51.100.10 1] Our system has detected an unusual rate of 550-5.7.1 unsolicited mail originating from your IP address. To protect our 550-5.7.1 users from spam, mail sent from your IP address has been blocked. 550-5.7.1 Please visit 550-5.7.1 https://support.google.com/mail/?p=UnsolicitedIPError to review our 550 5.7.1 Bulk Email Senders Guidelines. k33si11162128pld.22 - gsmtp",
		kind: Reputation, list: "Gmail", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "gmail-unsolicited-rate-crlf", reply: "550-5.7.1 [198.51.100.10 1] Our system has detected an unusual rate of\r\n550-5.7.1 unsolicited mail originating from your IP address.\r\n550 5.7.1 Bulk Email Senders Guidelines. k33si11162128pld.22 - gsmtp",
		kind: Reputation, list: "Gmail", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "gmail-4.7.28-dkim-domain", reply: "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating 421-4.7.28 from your DKIM domain [example.com 15]. Mail sent from your domain has been temporarily rate limited. - gsmtp",
		kind: Reputation, list: "Gmail", code: 421, enh: "4.7.28"},
	{name: "gmail-unsolicited-amount", reply: "421 4.7.0 [198.51.100.10] Our system has detected an unusual amount of 4.7.0 unsolicited mail originating from your IP address. To protect our 4.7.0 users from spam, mail sent from your IP address has been temporarily 4.7.0 blocked. 74si500133ioq.11 - gsmtp",
		kind: Reputation, list: "Gmail", ip: "198.51.100.10", code: 421, enh: "4.7.0"},
	{name: "gmail-low-reputation", reply: "550-5.7.1 [198.51.100.10 18] Our system has detected that this message is likely suspicious due to the very low reputation of the sending IP address. To best protect our users from spam, the message has been blocked. 550 5.7.1 Please visit https://support.google.com/mail/answer/188131 for more information. - gsmtp",
		kind: Reputation, list: "Gmail", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "gmail-likely-unsolicited", reply: "550-5.7.1 [198.51.100.10 12] Our system has detected that this message is 550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail, 550-5.7.1 this message has been blocked. Please visit 550-5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError 550 5.7.1 for more information. h52si12217192ede.134 - gsmtp",
		kind: Reputation, list: "Gmail", ip: "198.51.100.10", code: 550, enh: "5.7.1"},

	// Sender authentication
	{name: "auth-dmarc-policy", reply: "550-5.7.26 Unauthenticated email from example.com is not accepted due to 550-5.7.26 domain's DMARC policy. Please contact the administrator of example.com 550-5.7.26 domain if this was a legitimate mail. - gsmtp",
		kind: Authentication, list: "DMARC", code: 550, enh: "5.7.26"},
	{name: "auth-unauthenticated", reply: "550-5.7.26 This mail has been blocked because the sender is unauthenticated. 550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM. - gsmtp",
		kind: Authentication, list: "SPF/DKIM", code: 550, enh: "5.7.26"},
	{name: "auth-unauthenticated-4.7.26", reply: "421-4.7.26 This mail has been rate limited because it is unauthenticated. 421 4.7.26 Gmail requires all senders to authenticate with either SPF or DKIM. - gsmtp",
		kind: Authentication, list: "SPF/DKIM", code: 421, enh: "4.7.26"},
	{name: "auth-gmail-5.7.1", reply: "550-5.7.1 This message does not have authentication information or fails to 550-5.7.1 pass authentication checks. To best protect our users from spam, the 550-5.7.1 message has been blocked. - gsmtp",
		kind: Authentication, list: "SPF/DKIM", code: 550, enh: "5.7.1"},
	{name: "auth-gmail-5.7.26", reply: "550 5.7.26 Some future wording about your mail. - gsmtp",
		kind: Authentication, list: "SPF/DKIM", code: 550, enh: "5.7.26"},
	{name: "auth-spf-record", reply: "550 5.1.0 198.51.100.10 is not allowed to send from <example.com> per it's SPF Record. Please inspect your SPF settings, and try again.",
		kind: Authentication, list: "SPF", ip: "198.51.100.10", code: 550, enh: "5.1.0"},
	{name: "auth-spf-fail", reply: "550 5.7.23 The message was rejected because SPF check failed for example.com",
		kind: Authentication, list: "SPF", code: 550, enh: "5.7.23"},

	// Yahoo / AOL
	{name: "yahoo-tss04", reply: "421 4.7.0 [TSS04] Messages from 198.51.100.10 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
		kind: Reputation, list: "Yahoo/AOL", ip: "198.51.100.10", code: 421, enh: "4.7.0"},
	{name: "yahoo-tss06", reply: "553 5.7.2 [TSS06] All messages from 198.51.100.10 will be permanently deferred; Retrying will NOT succeed. See https://help.yahoo.com/kb/postmaster/SLN3436.html",
		kind: Reputation, list: "Yahoo/AOL", ip: "198.51.100.10", code: 553, enh: "5.7.2"},
	{name: "yahoo-bl21", reply: "553 5.7.1 [BL21] Connections will not be accepted from 198.51.100.10, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
		kind: Blocklist, list: "Spamhaus", ip: "198.51.100.10", code: 553, enh: "5.7.1"},
	{name: "yahoo-5.7.9", reply: "554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes",
		kind: PolicyUnknown, list: "Yahoo/AOL", code: 554, enh: "5.7.9"},

	// Trend Micro
	{name: "trend-ers-qil", reply: "450 4.7.1 <bob@example.org>: Recipient address rejected: ERS-QIL.",
		kind: Blocklist, list: "Trend Micro", code: 450, enh: "4.7.1"},
	{name: "trend-ers-qil-554", reply: "554 5.7.1 <bob@example.org>: Recipient address rejected: ERS-QIL.",
		kind: Blocklist, list: "Trend Micro", code: 554, enh: "5.7.1"},
	{name: "trend-ers-rbl", reply: "550 5.7.1 <bob@example.org>: Recipient address rejected: ERS-RBL.",
		kind: Blocklist, list: "Trend Micro", code: 550, enh: "5.7.1"},
	{name: "trend-ers-dul", reply: "550 5.7.1 <bob@example.org>: Recipient address rejected: ERS-DUL.",
		kind: Blocklist, list: "Trend Micro", code: 550, enh: "5.7.1"},
	{name: "trend-rbl-plus", reply: "550 Service unavailable; Client host [198.51.100.10] blocked using Trend Micro RBL+. Please see http://www.mail-abuse.com/cgi-bin/lookup?ip_address=198.51.100.10",
		kind: Blocklist, list: "Trend Micro", ip: "198.51.100.10", code: 550},
	{name: "trend-mail-abuse-org", reply: "550 Mail from 198.51.100.10 refused by rbl-plus.mail-abuse.org. Please refer to http://mail-abuse.org/rbl+ for an explanation",
		kind: Blocklist, list: "Trend Micro", zone: "rbl-plus.mail-abuse.org", ip: "198.51.100.10", code: 550},
	{name: "trend-mail-abuse", reply: "550 5.7.1 Mail from 198.51.100.10 rejected, see http://www.mail-abuse.com/cgi-bin/lookup?ip_address=198.51.100.10",
		kind: Blocklist, list: "Trend Micro", ip: "198.51.100.10", code: 550, enh: "5.7.1"},

	// Reputation gateways
	{name: "proofpoint", reply: "554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.10",
		kind: Reputation, list: "Proofpoint", ip: "198.51.100.10", code: 554, enh: "5.7.0"},
	{name: "cisco-poor-reputation", reply: "554 Your access to this mail system has been rejected due to the sending MTA's poor reputation. If you believe that this failure is in error, please contact the intended recipient via alternate means.",
		kind: Reputation, list: "Cisco/IronPort SenderBase", code: 554},
	{name: "cisco-senderbase", reply: "554 5.7.1 Message rejected: poor SenderBase reputation score for 198.51.100.10",
		kind: Reputation, list: "Cisco/IronPort SenderBase", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "cisco-talos", reply: "550 5.7.1 Rejected, see https://talosintelligence.com/reputation_center/lookup?search=198.51.100.10",
		kind: Reputation, list: "Cisco/IronPort SenderBase", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "cisco-sbrs", reply: "554 5.7.1 Connection refused (SBRS -4.5) from 198.51.100.10",
		kind: Reputation, list: "Cisco/IronPort SenderBase", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "mimecast-blocked-senders", reply: "550 Rejected by header based Blocked Senders - Block policy for Email Address - https://community.mimecast.com/docs/DOC-1369#550 [a1b2c3d4.uk123]",
		kind: PolicyUnknown, list: "Mimecast recipient policy", code: 550},
	{name: "mimecast-envelope-blocked", reply: "550 Envelope blocked - User Entry - https://community.mimecast.com/docs/DOC-1369#550 [a1b2c3d4.uk123]",
		kind: PolicyUnknown, list: "Mimecast recipient policy", code: 550},

	// Generic DNSBL and reputation wording
	{name: "generic-blocked-using", reply: "554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using bl.example.net; listed",
		kind: Blocklist, list: "generic DNSBL", zone: "bl.example.net", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "generic-blocked-using-psbl", reply: "554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using psbl.surriel.com",
		kind: Blocklist, list: "PSBL", zone: "psbl.surriel.com", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "generic-black-list-at", reply: "550 Rejected because 198.51.100.10 is in a black list at dnsbl.example.net",
		kind: Blocklist, list: "generic DNSBL", zone: "dnsbl.example.net", ip: "198.51.100.10", code: 550},
	{name: "generic-blacklist-at", reply: "550 5.7.1 Sender IP 198.51.100.10 found on blacklist at rbl.example.net",
		kind: Blocklist, list: "generic DNSBL", zone: "rbl.example.net", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "generic-listed-at", reply: "550 5.7.1 Sender 198.51.100.10 listed at bl.mailspike.net",
		kind: Blocklist, list: "Mailspike", zone: "bl.mailspike.net", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "generic-listed-in", reply: "550 Your IP 198.51.100.10 is listed in ix.dnsbl.manitu.net",
		kind: Blocklist, list: "NiX Spam", zone: "ix.dnsbl.manitu.net", ip: "198.51.100.10", code: 550},
	{name: "generic-listed-on", reply: "550 5.7.1 Client 198.51.100.10 is listed on bl.blocklist.de",
		kind: Blocklist, list: "blocklist.de", zone: "bl.blocklist.de", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "generic-listed-by", reply: "550 5.7.1 Client 198.51.100.10 is listed by dnsbl.dronebl.org",
		kind: Blocklist, list: "DroneBL", zone: "dnsbl.dronebl.org", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "generic-dnsbl", reply: "550 5.7.1 Message rejected: sending IP (198.51.100.10) is on our DNSBL",
		kind: Blocklist, list: "generic DNSBL", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "generic-rbl", reply: "550 mail.example.org ESMTP Connection rejected. Your IP 198.51.100.10 is in RBL",
		kind: Blocklist, list: "generic DNSBL", ip: "198.51.100.10", code: 550},
	{name: "generic-rbl-colon", reply: "550 5.7.1 Rejected (RBL:198.51.100.10)",
		kind: Blocklist, list: "generic DNSBL", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "generic-blocked-see", reply: "554 Blocked - see https://rbl.example.net/lookup?ip=198.51.100.10",
		kind: Blocklist, list: "generic DNSBL", ip: "198.51.100.10", code: 554},
	{name: "generic-refused-see", reply: "550 Refused - see http://rbl.example.net/198.51.100.10",
		kind: Blocklist, list: "generic DNSBL", ip: "198.51.100.10", code: 550},
	{name: "generic-blacklisted", reply: "550 5.7.1 Rejecting mail, 198.51.100.10 is blacklisted",
		kind: Blocklist, list: "generic blocklist", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "generic-blocklisted", reply: "550 5.7.1 Your IP (198.51.100.10) is blocklisted",
		kind: Blocklist, list: "generic blocklist", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "generic-blacklist", reply: "550 5.7.1 Sender address is on the recipient's blacklist",
		kind: Blocklist, list: "generic blocklist", code: 550, enh: "5.7.1"},
	{name: "generic-blocklist", reply: "554 5.7.1 IP 198.51.100.10 is on a blocklist",
		kind: Blocklist, list: "generic blocklist", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "generic-block-list", reply: "550 5.7.1 Policy level block list in force",
		kind: Blocklist, list: "generic blocklist", code: 550, enh: "5.7.1"},
	{name: "generic-poor-reputation", reply: "550 5.7.1 Connection rejected due to poor reputation of [198.51.100.10]",
		kind: Reputation, list: "generic reputation", ip: "198.51.100.10", code: 550, enh: "5.7.1"},
	{name: "generic-low-reputation", reply: "554 5.7.1 Low reputation sender 198.51.100.10",
		kind: Reputation, list: "generic reputation", ip: "198.51.100.10", code: 554, enh: "5.7.1"},
	{name: "generic-bad-reputation", reply: "550 Rejected: bad reputation",
		kind: Reputation, list: "generic reputation", code: 550},
	{name: "generic-ip-reputation", reply: "550 Message rejected due to sender IP reputation ([198.51.100.10])",
		kind: Reputation, list: "generic reputation", ip: "198.51.100.10", code: 550},
	{name: "generic-sender-reputation", reply: "550 5.7.1 Rejected by sender reputation filter",
		kind: Reputation, list: "generic reputation", code: 550, enh: "5.7.1"},
	{name: "ipv6-listed", reply: "554 5.7.1 Service unavailable; Client host [2001:db8::25] blocked using zen.spamhaus.org",
		kind: Blocklist, list: "Spamhaus ZEN", zone: "zen.spamhaus.org", ip: "2001:db8::25", code: 554, enh: "5.7.1"},

	// Not blocklist/reputation rejections.
	{name: "user-unknown", reply: "550 5.1.1 User unknown", code: 550, enh: "5.1.1"},
	{name: "too-many-recipients", reply: "452 4.5.3 Too many recipients", code: 452, enh: "4.5.3"},
	{name: "connection-dropped", reply: "421 4.4.2 Connection dropped", code: 421, enh: "4.4.2"},
	{name: "exchange-online-prx4", reply: "451 4.7.0 Temporary server error. Please try again later. PRX4", code: 451, enh: "4.7.0"},
	{name: "relay-unable", reply: "550 5.7.1 Unable to relay", code: 550, enh: "5.7.1"},
	{name: "relay-access-denied", reply: "554 5.7.1 <bob@example.org>: Relay access denied", code: 554, enh: "5.7.1"},
	{name: "relay-relaying-denied", reply: "550 5.7.1 <bob@example.org>... Relaying denied", code: 550, enh: "5.7.1"},
	{name: "relay-not-permitted", reply: "550 5.7.1 Relay not permitted", code: 550, enh: "5.7.1"},
	{name: "relay-relaying-not-permitted", reply: "550 5.7.1 Relaying not permitted", code: 550, enh: "5.7.1"},
	{name: "relay-not-permitted-to", reply: "554 5.7.1 You are not permitted to relay through this server", code: 554, enh: "5.7.1"},
	{name: "relay-denied", reply: "553 5.7.1 Relay denied", code: 553, enh: "5.7.1"},
	{name: "relay-5.7.54-exchange", reply: "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain", code: 550, enh: "5.7.54"},
	{name: "relay-5.7.54", reply: "550 5.7.54 SMTP; recipient in non-accepted domain", code: 550, enh: "5.7.54"},
	{name: "auth-not-authenticated", reply: "530 5.7.1 Client was not authenticated", code: 530, enh: "5.7.1"},
	{name: "auth-required", reply: "530 5.7.0 Authentication required", code: 530, enh: "5.7.0"},
	{name: "auth-exchange-5.7.3", reply: "451 5.7.3 Cannot achieve Exchange Server authentication", code: 451, enh: "5.7.3"},
	{name: "auth-exchange-5.7.3-550", reply: "550 5.7.3 Cannot achieve Exchange Server authentication", code: 550, enh: "5.7.3"},
	{name: "tls-starttls-first", reply: "530 5.7.0 Must issue a STARTTLS command first", code: 530, enh: "5.7.0"},
	{name: "tls-required", reply: "550 5.7.3 STARTTLS is required to send mail", code: 550, enh: "5.7.3"},
	{name: "greylisted", reply: "450 4.7.1 <bob@example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.org.html", code: 450, enh: "4.7.1"},
	{name: "graylisted", reply: "451 4.7.1 Graylisted, please try again in 300 seconds", code: 451, enh: "4.7.1"},
	{name: "grey-listed", reply: "451 Grey-listed for 5 minutes, blacklist not involved", code: 451},
	{name: "mimecast-451-greylist", reply: "451 Internal resource is temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451", code: 451},
	{name: "listed-in-no-zone", reply: "550 5.1.1 Recipient not listed in public directory", code: 550, enh: "5.1.1"},
	{name: "mimecast-421-temporary-policy", reply: "421 Envelope blocked - try later", code: 421},
	{name: "ok-250", reply: "250 2.0.0 OK"},
	{name: "empty", reply: ""},
	{name: "not-a-code", reply: "hello blocked using zen.spamhaus.org"},
	{name: "four-digit-code", reply: "5500 blocked using zen.spamhaus.org"},

	// Unknown 5xx 5.7.x policy rejections: grouped, not guessed.
	{name: "policy-unknown-5.7.1", reply: "550 5.7.1 Delivery not authorized, message refused", kind: PolicyUnknown, code: 550, enh: "5.7.1"},
	{name: "group-auth-5.7.133-is-none", reply: "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required", code: 550, enh: "5.7.133"},
	{name: "policy-unknown-5.7.0", reply: "554 5.7.0 Reject, id=12345-06 - spam-like content", kind: PolicyUnknown, code: 554, enh: "5.7.0"},
	{name: "policy-unknown-4.7.1-is-none", reply: "450 4.7.1 Client host rejected: cannot find your hostname", code: 450, enh: "4.7.1"},
}

func TestClassify(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := Classify(c.reply)
			if m.Kind != c.kind || m.List != c.list || m.Zone != c.zone || m.Code != c.code || m.Enhanced != c.enh {
				t.Errorf("Classify(%q)\n got  kind=%v list=%q zone=%q code=%d enh=%q\n want kind=%v list=%q zone=%q code=%d enh=%q",
					c.reply, m.Kind, m.List, m.Zone, m.Code, m.Enhanced, c.kind, c.list, c.zone, c.code, c.enh)
			}
			var want netip.Addr
			if c.ip != "" {
				want = netip.MustParseAddr(c.ip)
			}
			if m.ListedIP != want {
				t.Errorf("ListedIP = %v, want %v", m.ListedIP, want)
			}
			if m.Temporary != (c.code >= 400 && c.code < 500) {
				t.Errorf("Temporary = %v for code %d", m.Temporary, c.code)
			}
		})
	}
}

// TestEveryRowHasACase: each table row is decided by the case of its name.
func TestEveryRowHasACase(t *testing.T) {
	byName := map[string]string{}
	for _, c := range cases {
		byName[c.name] = c.reply
	}
	for i, p := range table {
		reply, ok := byName[p.name]
		if !ok {
			t.Errorf("row %d %q has no test case of that name", i, p.name)
			continue
		}
		if _, row := classify(reply); row != i {
			t.Errorf("case %q is decided by row %d, want row %d", p.name, row, i)
		}
	}
}

// TestTableWellFormed: needles are what normalize produces.
func TestTableWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range table {
		if seen[p.name] {
			t.Errorf("duplicate row name %q", p.name)
		}
		seen[p.name] = true
		if len(p.all) == 0 && p.enh == "" {
			t.Errorf("row %q matches everything", p.name)
		}
		for _, n := range p.all {
			if n != strings.ToLower(n) || strings.Contains(n, "  ") || n == "" {
				t.Errorf("row %q: needle %q is not normalised", p.name, n)
			}
		}
		if (p.kind == None) != (p.list == "") {
			t.Errorf("row %q: kind %v with list %q", p.name, p.kind, p.list)
		}
	}
}

func TestMultiLineContinuationOnlySameCode(t *testing.T) {
	// "421-" inside a 550 reply is text, not a continuation prefix.
	var buf [maxScan]byte
	got := string(normalize(buf[:0], " a 421-4.7.0 b\r\n550-5.7.1 c  550 5.7.1 d", "550", "5.7.1"))
	if want := "a 421-4.7.0 b c d"; got != want {
		t.Errorf("normalize = %q, want %q", got, want)
	}
}

func TestHostileInput(t *testing.T) {
	big := "554 5.7.1 " + strings.Repeat("blocked using ", 1<<20) + "zen.spamhaus.org"
	m := Classify(big) // the zone is past maxScan: generic, no zone
	if m.Kind != Blocklist || m.Zone != "" || m.List != genericDNSBL {
		t.Errorf("10 MB reply: %+v", m)
	}
	for _, s := range []string{"5", "55", "550", "550-", "550 5.", "550 5.7", "550 5.7.", "550 5.7.1", "550 5.7.1 [", "550 5.7.1 blocked using ", "550 5.7.1 blocked using .", "550 5.7.1 blocked using a..b", "550 5.7.1 1.2.3.4.5 rbl:", "550 5.7.1 [::1%eth0] rbl:", "\x00\xff550", "550\xff5.7.1\x00blocked using zen.spamhaus.org"} {
		_ = Classify(s)
	}
	m = Classify("550 5.7.1 Client host [::1%25eth0] blocked using rbl.example.net")
	if m.ListedIP.Zone() != "" {
		t.Errorf("zoned IPv6 accepted: %v", m.ListedIP)
	}
}

func TestNoAllocsOnNonMatch(t *testing.T) {
	for _, r := range nonMatches {
		if n := testing.AllocsPerRun(100, func() { Classify(r) }); n != 0 {
			t.Errorf("Classify(%q): %v allocs", r, n)
		}
	}
}

var nonMatches = []string{
	"250 2.1.5 Recipient OK",
	"550 5.1.1 User unknown",
	"452 4.5.3 Too many recipients",
	"421 4.4.2 Connection dropped",
	"451 4.7.0 Temporary server error. Please try again later. PRX4",
	"550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain",
	"550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT011.eop-EUR03.prod.protection.outlook.com]",
	"451 4.4.0 DNS query failed. The error was: SMTPSEND.DNS.NonExistentDomain; nonexistent domain",
}

var matches = []string{
	"554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.10",
	"550 5.7.606 Access denied, banned sending IP [198.51.100.10]. To request removal from this list please visit https://sender.office.com/ and follow the directions. For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609)",
	"421-4.7.0 [198.51.100.10 15] Our system has detected an unusual rate of 421-4.7.0 unsolicited mail originating from your IP address. To protect our 421-4.7.0 users from spam, mail sent from your IP address has been temporarily 421-4.7.0 rate limited. Please visit 421-4.7.0 https://support.google.com/mail/?p=UnsolicitedRateLimitError to 421 4.7.0 review our Bulk Email Senders Guidelines. p4si3522070uam.9 - gsmtp",
	"550 5.7.1 Delivery not authorized, message refused",
}

func BenchmarkClassify(b *testing.B) {
	// Mostly non-matching replies, as in real send logs, and a few matches.
	mix := append(append([]string{}, nonMatches...), nonMatches...)
	mix = append(mix, matches...)
	b.Run("mix", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			Classify(mix[i%len(mix)])
		}
	})
	b.Run("nonmatch", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			Classify(nonMatches[i%len(nonMatches)])
		}
	})
	b.Run("match", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			Classify(matches[i%len(matches)])
		}
	})
}

func FuzzClassify(f *testing.F) {
	for _, c := range cases {
		f.Add(c.reply)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := Classify(s)
		if m.Kind > PolicyUnknown {
			t.Fatalf("kind %d", m.Kind)
		}
		if m.ListedIP.IsValid() {
			if m.Kind == None || m.Kind == PolicyUnknown {
				t.Fatalf("ListedIP %v with kind %v", m.ListedIP, m.Kind)
			}
			if m.ListedIP.Zone() != "" {
				t.Fatalf("ListedIP with zone %v", m.ListedIP)
			}
		} else if m.ListedIP != (netip.Addr{}) {
			t.Fatalf("invalid non-zero ListedIP")
		}
		if m.Kind != None && m.Code == 0 {
			t.Fatalf("kind %v without code", m.Kind)
		}
		if m.Code != 0 && (m.Code < 400 || m.Code > 599) {
			t.Fatalf("code %d", m.Code)
		}
		if m.Temporary != (m.Code >= 400 && m.Code < 500) {
			t.Fatalf("temporary %v code %d", m.Temporary, m.Code)
		}
		if m.Enhanced != "" && !strings.Contains(s, m.Enhanced) {
			t.Fatalf("enhanced %q not in reply", m.Enhanced)
		}
		if len(m.Zone) > 253 || m.Zone != strings.ToLower(m.Zone) || !utf8.ValidString(m.Zone) {
			t.Fatalf("zone %q", m.Zone)
		}
		// The work is bounded: text past maxScan never changes the result.
		if len(s) > maxScan {
			if m2 := Classify(s[:maxScan]); m2 != m {
				t.Fatalf("result depends on bytes past maxScan: %+v vs %+v", m, m2)
			}
		}
	})
}
