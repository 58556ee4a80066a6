package heuristics

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/logscan/logscan/heuristics/session"
)

// InboundRefusedDetector finds inbound mail for one of the organisation's
// domains refused as relay ("550 5.7.54 ... Unable to relay recipient in
// non-accepted domain", "550 5.7.1 Unable to relay"): the domain is missing
// from the accepted domains, or mail for a domain hosted elsewhere (a hybrid
// organisation's cloud domain) is routed to a connector without the right
// to relay it. All inbound mail for the domain is lost.
//
// Refusals are grouped per recipient domain. A domain is reported when
//   - a sender is Exchange Online Protection (Microsoft 365's published
//     outbound ranges, eopRanges): it delivers real mail and never probes;
//   - or at least InboundRefusedMinSources different public hosts were
//     refused for it and the domain is the organisation's own: its users
//     send from it (MAIL FROM of authenticated submissions), or it is a
//     subdomain of an accepted domain.
//
// Many sources alone are not enough: that is what relay probing to
// gmail.com looks like, and it stays under relay probing (RelayDetector).
// The medium-severity probe entry RelayDetector lists for Microsoft 365 is
// not a finding; this is the finding.
type InboundRefusedDetector struct {
	domains    map[string]*refusedDomain
	orgSenders counter // MAIL FROM domains of the organisation's authenticated users
}

// InboundRefusedMinSources distinct public senders refused for one of the
// organisation's own domains make a finding without Microsoft 365 among them.
const InboundRefusedMinSources = 3

const maxRefusedDomains = 10_000

type refusedDomain struct {
	rcpts, sessions int64
	sources         counter
	eop             counter
	senders         counter // MAIL FROM
	connectors      counter // SERVER\connector
	servers         counter
	public          int // distinct public sources, set at report
	span            span
	samples         samples
}

func newInboundRefusedDetector() *InboundRefusedDetector {
	return &InboundRefusedDetector{domains: map[string]*refusedDomain{}}
}

func (d *InboundRefusedDetector) observe(s *session.Session) {
	if !s.IsReceive() || s.Proxied {
		return
	}
	if s.Auth == session.AuthUser {
		for _, m := range s.Messages {
			if dom := session.DomainOf(m.From); dom != "" {
				d.orgSenders.add(dom, 1, maxDistinctValues)
			}
		}
		return
	}
	if s.Auth != session.AuthNone {
		return
	}
	var seen []string // domains already counted for this session
	for _, m := range s.Messages {
		for _, r := range m.Rcpts {
			if !r.RelayRefused() || r.Domain == "" {
				continue
			}
			rd := d.domains[r.Domain]
			if rd == nil {
				if len(d.domains) >= maxRefusedDomains {
					continue
				}
				rd = &refusedDomain{}
				d.domains[strings.Clone(r.Domain)] = rd
			}
			rd.rcpts++
			from := cmp.Or(m.From, "<>")
			if m.FromMissing {
				from = "(not in these logs)"
			}
			rd.senders.add(from, 1, maxDistinctValues)
			if !slices.Contains(seen, r.Domain) {
				seen = append(seen, r.Domain)
				rd.sessions++
				rd.sources.add(s.Client.String(), 1, maxDistinctValues)
				if isEOP(s.Client) {
					rd.eop.add(s.Client.String(), 1, maxDistinctValues)
				}
				rd.connectors.add(s.Connector, 1, maxDistinctValues)
				rd.servers.add(s.Server, 1, maxDistinctValues)
				rd.span.add(s.Start, s.End)
				rd.samples.add(sampleOf(s, r.At))
			}
		}
	}
}

// detectorInboundRefused names the detector.
const detectorInboundRefused = "inbound-refused"

func (d *InboundRefusedDetector) report(in *detectorInputs, r *Report) any {
	v := in.org
	for dom, rd := range d.domains {
		for a := range rd.sources.m {
			if ad, err := netip.ParseAddr(a); err == nil && !v.isInternal(ad) {
				rd.public++
			}
		}
		own := d.orgSenders.get(dom) > 0 || v.isSubdomainOfAccepted(dom)
		if len(rd.eop.m) == 0 && !(own && rd.public >= InboundRefusedMinSources) {
			continue
		}
		r.Findings = append(r.Findings, inboundRefusedFinding(dom, rd, own))
	}
	return nil
}

// isSubdomainOfAccepted reports whether domain lies under an accepted
// domain without being accepted itself (a "*." entry missing).
func (v *orgView) isSubdomainOfAccepted(domain string) bool {
	for _, p := range v.accepted {
		base := strings.TrimPrefix(p, "*.")
		if strings.HasSuffix(domain, "."+base) {
			return true
		}
	}
	return false
}

// topKey returns the most frequent value of a counter (ties by value).
func topKey(c counter) string {
	best, n := "", int64(-1)
	for k, p := range c.m {
		if x := *p; x > n || x == n && k < best {
			best, n = k, x
		}
	}
	return best
}

func inboundRefusedFinding(dom string, rd *refusedDomain, own bool) Finding {
	conn := topKey(rd.connectors)
	f := Finding{
		ID: findingID(detectorInboundRefused, dom), Detector: detectorInboundRefused, Severity: SeverityHigh,
		Server: topKey(rd.servers), Connector: conn, First: rd.span.first, Last: rd.span.last, Samples: rd.samples.out(),
		Counts: map[string]int64{"recipients_refused": rd.rcpts, "sessions": rd.sessions, "sources": int64(len(rd.sources.m)),
			"eop_sources": int64(len(rd.eop.m)), "senders": int64(len(rd.senders.m))},
		Facts: []Fact{{Name: "refused recipient domain", Values: []string{dom}}, rd.sources.top("sources", 10), rd.eop.top("Exchange Online Protection (Microsoft 365) sources", 5),
			rd.senders.top("senders (MAIL FROM)", 10), rd.connectors.top("connectors", 5)},
	}
	f.Title = fmt.Sprintf("Inbound mail for %s refused as relay: %d recipient(s) from %d source(s)", dom, rd.rcpts, len(rd.sources.m))
	why := fmt.Sprintf("%d of the sources are Exchange Online Protection servers (Microsoft 365 outbound), which deliver real mail and do not probe for relays", len(rd.eop.m))
	if len(rd.eop.m) == 0 {
		why = fmt.Sprintf("%d different public hosts sent to it, and it is the organisation's own domain (its users send from it, or it lies under an accepted domain)", rd.public)
	} else if own {
		why += "; and it is the organisation's own domain"
	}
	f.Explanation = fmt.Sprintf("Between %s and %s, Exchange refused %d recipient(s) at %s in %d session(s) with \"Unable to relay\": it does not take %s as one of its domains. This is not relay probing: %s. Inbound mail for %s is being lost (senders get a non-delivery report).",
		stamp(rd.span.first), stamp(rd.span.last), rd.rcpts, dom, rd.sessions, dom, why, dom)
	f.Cause = fmt.Sprintf("%s is missing from the accepted domains, so Exchange treats mail for it as relay and the anonymous sender has no right to relay. In a hybrid organisation, mail for a domain hosted in Microsoft 365 may be routed here (centralized mail transport, or the MX record pointing on-premises) to a connector that lacks the right to relay it.", dom)
	f.Fix = []string{
		fmt.Sprintf("Get-AcceptedDomain | ft DomainName,DomainType — if %s is yours: New-AcceptedDomain -Name %s -DomainName %s -DomainType Authoritative (InternalRelay if its mailboxes are elsewhere)", psq(dom), psq(dom), psq(dom)),
		fmt.Sprintf("If the domain is hosted in Microsoft 365: check its MX record and the Microsoft 365 outbound connector to on-premises; the receive connector that takes Microsoft 365's mail (%s) must accept it for %s.", psq(conn), psq(dom)),
		"Ask senders to resend: the refused messages were returned to them.",
	}
	return f
}
