package heuristics

import (
	"fmt"
	"slices"
	"strings"

	"github.com/logscan/logscan/heuristics/session"
)

// FrontEndProxyDetector finds a Front End that cannot hand mail on to a
// Transport (Hub) service: it answers its own clients
// "451 4.7.0 Temporary server error. Please try again later. PRXn"
// (n from 1 to 8), so mail from the Internet and from users is deferred
// on the sender's side while the fault lasts.
//
// Replies are counted per server and per PRX code, with first and last
// time and sample sessions; one finding per server. Microsoft publishes no
// table of the codes: the likely cause given per code comes from reported
// cases (PRX2 and PRX5 with DNS on the Front End, PRX4 with the proxy
// session to the Hub's connector on 2525 failing to set up; none found for
// the others), and the finding says so.
//
// Threshold: PRXManyReplies replies or more make it high (a lasting fault);
// fewer are medium (a Hub restarting also causes a few).
type FrontEndProxyDetector struct {
	servers map[string]*prxServer
}

// PRXManyReplies PRX replies on one server make the finding high.
const PRXManyReplies = 10

type prxServer struct {
	codes      map[string]*prxCode
	sessions   int64
	connectors counter
	clients    counter
	span       span
	samples    samples
}

type prxCode struct {
	replies int64
	span    span
}

func newFrontEndProxyDetector() *FrontEndProxyDetector {
	return &FrontEndProxyDetector{servers: map[string]*prxServer{}}
}

func (d *FrontEndProxyDetector) observe(s *session.Session) {
	if !s.IsReceive() || s.Proxied {
		return
	}
	hit := false
	for _, e := range s.Errors {
		code := prxCodeOf(e)
		if code == "" {
			continue
		}
		ps := d.servers[s.Server]
		if ps == nil {
			ps = &prxServer{codes: map[string]*prxCode{}}
			d.servers[strings.Clone(s.Server)] = ps
		}
		pc := ps.codes[code]
		if pc == nil {
			pc = &prxCode{}
			ps.codes[code] = pc
		}
		pc.replies++
		pc.span.add(s.Start, s.End)
		if !hit {
			hit = true
			ps.sessions++
			ps.connectors.add(s.Connector, 1, maxDistinctValues)
			ps.clients.add(s.Client.String(), 1, maxDistinctValues)
			ps.span.add(s.Start, s.End)
			ps.samples.add(sampleOf(s, e.At))
		}
	}
}

// prxCodeOf returns "PRX4" for a 451 reply that ends in a PRX code, else "".
func prxCodeOf(e session.Reply) string {
	if e.Code != 451 || !strings.Contains(e.Text, "PRX") {
		return ""
	}
	for f := range strings.FieldsSeq(e.Text) {
		if rest, ok := strings.CutPrefix(f, "PRX"); ok && len(rest) == 1 && rest[0] >= '1' && rest[0] <= '9' {
			return f
		}
	}
	return ""
}

// prxCauses are the causes reported for each code. Microsoft documents no
// table of PRX codes; these come from reported cases and are worded as such:
// PRX2 with DNS (an Exchange MVP's write-up, c7solutions.com), PRX4 with the
// proxy session to the Hub (third-party write-ups; Exchange Online answers
// "PRX4 NextHop:" too), PRX5 with DNS (forum reports). No case was found for
// PRX1 and PRX3: their hint is the general one, and says so.
var prxCauses = map[string]string{
	"PRX2": "reported with DNS on the Front End: lookups of the Mailbox servers failing or answered by the wrong DNS server (a second network adapter's DNS)",
	"PRX4": "reported when the Front End cannot set up its proxy session with the Hub's receive connector on port 2525: TLS (X-ANONYMOUSTLS) or authentication refused there, or a custom connector on 2525 covering the Front End's address",
	"PRX5": "reported with DNS on the Front End (the server's own name or the Mailbox servers not resolving)",
}

// detectorFrontEndProxy names the PRX detector.
const detectorFrontEndProxy = "frontend-proxy-prx"

func (d *FrontEndProxyDetector) report(_ *detectorInputs, r *Report) any {
	for server, ps := range d.servers {
		r.Findings = append(r.Findings, prxFinding(server, ps))
	}
	return nil
}

func prxFinding(server string, ps *prxServer) Finding {
	codes := make([]string, 0, len(ps.codes))
	var total int64
	for c, pc := range ps.codes {
		codes = append(codes, c)
		total += pc.replies
	}
	slices.SortFunc(codes, func(a, b string) int {
		if n := ps.codes[b].replies - ps.codes[a].replies; n != 0 {
			if n > 0 {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	f := Finding{
		ID: findingID(detectorFrontEndProxy, server), Detector: detectorFrontEndProxy, Severity: SeverityMedium,
		Server: server, First: ps.span.first, Last: ps.span.last, Samples: ps.samples.out(),
		Counts: map[string]int64{"replies": total, "sessions": ps.sessions, "clients": int64(len(ps.clients.m))},
	}
	if total >= PRXManyReplies {
		f.Severity = SeverityHigh
	}
	if len(ps.connectors.m) == 1 {
		for c := range ps.connectors.m {
			f.Connector = c
		}
	}
	var parts, causes []string
	for _, c := range codes {
		pc := ps.codes[c]
		f.Counts[strings.ToLower(c)] = pc.replies
		parts = append(parts, fmt.Sprintf("%s %d time(s), %s to %s", c, pc.replies, stamp(pc.span.first), stamp(pc.span.last)))
		cause, ok := prxCauses[c]
		if !ok {
			cause = "no reported case found; like the others, the Front End could not reach or resolve a Mailbox server's Transport service: read its connectivity log (FrontEnd\\Connectivity) at these times"
		}
		causes = append(causes, c+": "+cause)
	}
	f.Facts = []Fact{{Name: "replies per code", Values: parts}, ps.connectors.top("connectors", 5), ps.clients.top("clients answered", 5)}
	f.Title = fmt.Sprintf("%s's Front End could not hand mail to a Transport service: 451 4.7.0 %s (%d replies)", server, strings.Join(codes, ", "), total)
	f.Explanation = fmt.Sprintf("Between %s and %s, %s answered %d client session(s) with \"451 4.7.0 Temporary server error. Please try again later. PRXn\" (%d replies): its Front End Transport service could not open the proxy session to a Transport (Hub) service. Senders keep the mail and retry, so it is delayed, and returned if the fault lasts.",
		stamp(ps.span.first), stamp(ps.span.last), server, ps.sessions, total)
	f.Cause = "Microsoft publishes no table of PRX codes; from reported cases — " + strings.Join(causes, "; ") + "."
	f.Fix = []string{
		fmt.Sprintf("Read %s's Front End connectivity log (TransportRoles\\Logs\\FrontEnd\\Connectivity) at the times above: it says which Mailbox server the Front End tried and why it failed.", server),
		fmt.Sprintf("Check DNS on %s: Resolve-DnsName of every Mailbox server's FQDN, and the DNS servers of each network adapter (Get-DnsClientServerAddress).", server),
		fmt.Sprintf("Check the Transport service and its connectors on port 2525: Get-ReceiveConnector -Server %s | ? Bindings -match '2525' | ft Identity,Bindings,RemoteIPRanges,AuthMechanism,PermissionGroups — no custom connector may cover the Front End's own addresses.", psq(server)),
	}
	return f
}
