package heuristics

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// ExchangeAuthDetector explains "451 5.7.3 Cannot achieve Exchange Server
// authentication": mail between the organisation's own servers fails.
//
// It collects every row that says so, in send and receive logs, grouped as
// sending server -> receiving server. The cause is looked for in the
// receiver's receive logs: sessions from an Exchange server's address that
// landed on a connector whose EHLO reply offers no X-EXPS (so Exchange
// Server authentication cannot happen) and that did not authenticate. A
// custom connector whose RemoteIPRanges covers another Exchange server
// captures its sessions, because Exchange picks the most specific range.
// The fix names that connector and the address to take out of its
// RemoteIPRanges. The cause alone, with no 451 in the scanned logs (the
// sender's send logs were not read), is reported too: it fails the same way.
type ExchangeAuthDetector struct {
	occurrences map[exKey]*exOccurrence
	landings    map[exLandingKey]*exLanding
}

// exKey is one sender address -> receiver address pair as a log saw it.
type exKey struct {
	logServer string // whose log it is
	send      bool   // a send log (logServer sent) or a receive log (logServer received)
	connector string
	local     netip.Addr
	remote    netip.Addr
}

type exOccurrence struct {
	rows, sessions int64
	span           span
	samples        samples
}

type exLandingKey struct {
	server, connector string
	remote            netip.Addr
}

// exLanding is sessions from one address on a connector without X-EXPS.
type exLanding struct {
	sessions, withoutMail int64
	ehlo                  counter
	span                  span
	samples               samples
}

const maxLandings = 100_000 // distinct (connector, client) pairs kept

func newExchangeAuthDetector() *ExchangeAuthDetector {
	return &ExchangeAuthDetector{occurrences: map[exKey]*exOccurrence{}, landings: map[exLandingKey]*exLanding{}}
}

func (d *ExchangeAuthDetector) observe(s *session.Session) {
	if len(s.ExchangeAuthFailures) > 0 {
		k := exKey{logServer: s.Server, send: s.LogType == parser.LogTypeSend, connector: s.Connector, local: s.Local.Addr(), remote: s.Remote.Addr()}
		o := d.occurrences[k]
		if o == nil {
			o = &exOccurrence{}
			k.logServer, k.connector = strings.Clone(k.logServer), strings.Clone(k.connector)
			d.occurrences[k] = o
		}
		o.rows += int64(len(s.ExchangeAuthFailures))
		o.sessions++
		o.span.add(s.Start, s.End)
		o.samples.add(sampleOf(s, s.ExchangeAuthFailures[0]))
	}
	if !s.IsReceive() || s.Proxied || !s.EHLOReplied || s.OfferedEXPS || s.Auth != session.AuthNone || !s.Remote.Addr().IsValid() {
		return
	}
	k := exLandingKey{s.Server, s.Connector, s.Remote.Addr()}
	l := d.landings[k]
	if l == nil {
		if len(d.landings) >= maxLandings {
			return
		}
		l = &exLanding{}
		d.landings[exLandingKey{strings.Clone(s.Server), strings.Clone(s.Connector), k.remote}] = l
	}
	l.sessions++
	queued := false
	for _, m := range s.Messages {
		queued = queued || m.Queued
	}
	if !queued {
		l.withoutMail++
	}
	l.ehlo.add(s.EHLO, 1, 16)
	l.span.add(s.Start, s.End)
	l.samples.add(sampleOf(s, s.First))
}

// exPair is what the findings are grouped by: sending address -> receiving server.
type exPair struct {
	sender   netip.Addr
	receiver string // server name, or the address when unknown
}

type exPairAgg struct {
	rows, sessions int64
	span           span
	samples        samples
	where          []string // which logs said it
	landings       []exLandingRef
}

type exLandingRef struct {
	key exLandingKey
	l   *exLanding
}

// detectorExchangeAuth names the 451 5.7.3 detector.
const detectorExchangeAuth = "exchange-auth-5.7.3"

func (d *ExchangeAuthDetector) report(in *detectorInputs, r *Report) any {
	r.Findings = append(r.Findings, d.findings(in.org)...)
	return nil
}

func (d *ExchangeAuthDetector) findings(v *orgView) []Finding {
	pairs := map[exPair]*exPairAgg{}
	get := func(p exPair) *exPairAgg {
		a := pairs[p]
		if a == nil {
			a = &exPairAgg{}
			pairs[p] = a
		}
		return a
	}
	for k, o := range d.occurrences {
		var p exPair
		var where string
		if k.send {
			p = exPair{sender: k.local, receiver: cmp.Or(v.exchange[k.remote], k.remote.String())}
			if !k.local.IsValid() {
				p.sender = v.firstAddr(k.logServer)
			}
			where = fmt.Sprintf("send log of %s (connector %s)", cmp.Or(k.logServer, "an unnamed server"), dq(k.connector))
		} else {
			p = exPair{sender: k.remote, receiver: cmp.Or(k.logServer, v.exchange[k.local])}
			where = fmt.Sprintf("receive log of %s (connector %s)", k.logServer, dq(k.connector))
		}
		a := get(p)
		a.rows += o.rows
		a.sessions += o.sessions
		a.span.add(o.span.first, o.span.last)
		a.samples.merge(o.samples)
		if !slices.Contains(a.where, where) {
			a.where = append(a.where, where)
		}
	}
	for k, l := range d.landings {
		if !v.isExchange(k.remote) {
			continue
		}
		a := get(exPair{sender: k.remote, receiver: k.server})
		a.landings = append(a.landings, exLandingRef{k, l})
	}
	var out []Finding
	for p, a := range pairs {
		out = append(out, exFinding(p, a, v))
	}
	return out
}

// firstAddr is a scanned server's lowest local address (zero if none).
func (v *orgView) firstAddr(server string) netip.Addr {
	var best netip.Addr
	for a, n := range v.serverOf {
		if n == server && (!best.IsValid() || a.Less(best)) {
			best = a
		}
	}
	return best
}

func exFinding(p exPair, a *exPairAgg, v *orgView) Finding {
	slices.SortFunc(a.landings, func(x, y exLandingRef) int {
		return cmp.Or(cmp.Compare(y.l.sessions, x.l.sessions), cmp.Compare(x.key.connector, y.key.connector))
	})
	sender := v.name(p.sender)
	if !p.sender.IsValid() {
		sender = "an unknown server"
	}
	f := Finding{
		ID: findingID("exchange-auth", p.sender.String(), p.receiver), Detector: detectorExchangeAuth, Severity: SeverityHigh,
		Server: p.receiver, Source: addrString(p.sender),
		Counts: map[string]int64{"failures": a.rows, "failed_sessions": a.sessions},
	}
	var landed int64
	var conns []string
	for _, lr := range a.landings {
		landed += lr.l.sessions
		a.span.add(lr.l.span.first, lr.l.span.last)
		a.samples.merge(lr.l.samples)
		conns = append(conns, lr.key.connector)
	}
	f.First, f.Last, f.Samples = a.span.first, a.span.last, a.samples.list
	f.Counts["sessions_on_connector_without_x_exps"] = landed
	if len(conns) > 0 {
		f.Connector = conns[0]
	}
	slices.Sort(a.where)
	f.Facts = append(f.Facts, Fact{Name: "seen in", Values: a.where})

	switch {
	case a.rows > 0:
		f.Title = fmt.Sprintf("%s -> %s: 451 5.7.3 Cannot achieve Exchange Server authentication (%d times)", sender, p.receiver, a.rows)
		f.Explanation = fmt.Sprintf("Between %s and %s, %d session(s) from %s to %s failed with 451 5.7.3 \"Cannot achieve Exchange Server authentication\". Mail between your own servers is queuing on the sender (451 4.4.0 in Get-Queue) and will be delayed, then returned.",
			stamp(a.span.first), stamp(a.span.last), a.sessions, sender, p.receiver)
	default:
		f.Title = fmt.Sprintf("%s lands on %s's connector %s without Exchange Server authentication", sender, p.receiver, f.Connector)
		f.Explanation = fmt.Sprintf("Between %s and %s, %d session(s) from the Exchange server %s reached %s on a connector whose EHLO reply offers no X-EXPS. The sender's send logs were not in this scan, but this is what makes it fail with 451 5.7.3 \"Cannot achieve Exchange Server authentication\".",
			stamp(a.span.first), stamp(a.span.last), landed, sender, p.receiver)
	}
	if len(a.landings) > 0 {
		var parts []string
		for _, lr := range a.landings {
			parts = append(parts, fmt.Sprintf("%s (%d session(s), %d without mail)", dq(lr.key.connector), lr.l.sessions, lr.l.withoutMail))
		}
		f.Facts = append(f.Facts, Fact{Name: "connectors without X-EXPS that took its sessions", Values: parts})
		f.Cause = fmt.Sprintf("On %s, sessions from %s land on %s, which does not offer Exchange Server authentication (no X-EXPS in its EHLO reply). Its RemoteIPRanges cover %s, and Exchange gives a connection to the connector with the most specific matching range, so it wins over the Default connector that would authenticate the server.",
			p.receiver, sender, strings.Join(quoteAll(conns), " and "), addrString(p.sender))
		for _, c := range conns {
			f.Fix = append(f.Fix, fmt.Sprintf(`Set-ReceiveConnector -Identity %s -RemoteIPRanges @{Remove=%s}   # if a wider range covers it, split the range so it no longer does`, psq(c), psq(addrString(p.sender))))
		}
		f.Fix = append(f.Fix, fmt.Sprintf("Check with: Get-ReceiveConnector -Server %s | ft Identity,Bindings,RemoteIPRanges,AuthMechanism — no custom connector may cover another Exchange server's address.", psq(p.receiver)))
	} else {
		f.Cause = fmt.Sprintf("The receive logs of %s for these sessions are not in the scan, or they show X-EXPS offered: then the usual causes are a firewall or SMTP inspection between the servers stripping X-EXPS (Cisco ESMTP inspection), a custom connector covering %s, or a failing Kerberos/NTLM authentication (clock skew, the server's computer account missing from Exchange Servers).",
			p.receiver, addrString(p.sender))
		f.Fix = []string{fmt.Sprintf("Scan %s's receive logs (Hub\\ProtocolLog\\SmtpReceive) with these to see the connector the sessions land on.", p.receiver),
			fmt.Sprintf("Get-ReceiveConnector -Server %s | ft Identity,Bindings,RemoteIPRanges,AuthMechanism; telnet %s 2525 and check that EHLO offers X-EXPS.", psq(p.receiver), p.receiver),
			"Turn off SMTP/ESMTP inspection on any firewall between the servers."}
	}
	f.Fix = append(f.Fix, fmt.Sprintf("Then retry the queue on the sender: Get-Queue -Server %s | ? LastError -like '*5.7.3*' | Retry-Queue", psq(cmp.Or(v.exchange[p.sender], addrString(p.sender)))))
	return f
}
