package heuristics

import (
	"bytes"
	"cmp"
	"container/heap"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// ExchangeAuthDetector explains "451 5.7.3 Cannot achieve Exchange Server
// authentication": mail between the organisation's own servers fails.
//
// Exchange does not write that text to its protocol logs (FORMAT.md: it
// goes to the queue's LastError and the connectivity log), so the signal is
// the shape of the sessions:
//
//   - send side: a session to one of the organisation's Exchange servers
//     whose EHLO reply offers no X-EXPS, followed at once by QUIT, with no
//     MAIL FROM. A smart host on the Internet never offers X-EXPS, so a
//     session to a non-Exchange address is not counted;
//   - receive side: a session from an Exchange server's address that lands
//     on a connector whose EHLO reply offers no X-EXPS, unauthenticated, and
//     QUITs after EHLO without mail.
//
// A row that does carry the text (a 451 5.7.3 reply, or "Cannot achieve
// Exchange Server authentication" anywhere) counts too, but is never
// needed. One attempt logged at both ends is counted once: a send-log
// session and a receive-log session are the same attempt when they start
// within exMatchWindow of each other and, when both ends logged them, the
// sender's local address and port are the receiver's remote ones. The
// queue retries at intervals (10 minutes by default), so the attempts
// repeat; the report gives their number, span and median gap.
//
// The cause is looked for in the receiver's receive logs: the connector the
// sender's sessions land on. A custom connector whose RemoteIPRanges covers
// another Exchange server captures its sessions, because Exchange picks the
// most specific range; the fix names that connector and the address.
//
// When X-EXPS is offered but fails ("Outbound Exchange Authentication
// failed with <status>", "Inbound ExchangeAuth negotiation failed because
// of <...>"), that is reported as a cause of its own: certificates,
// Kerberos or time skew, not a connector's ranges.
type ExchangeAuthDetector struct {
	send, recv   []exAttempt
	dropped      int64                 // attempts past maxAttempts, counted only
	maxAttempts  int                   // maxAttempts (tests lower it)
	heaped       map[*[]exAttempt]bool // send, recv: a heap once full
	landings     map[exLandingKey]*exLanding
	authFailures map[exAuthKey]*exAuthFailure
	sendServers  map[string]bool     // servers whose send logs were read
	sendLocals   map[netip.Addr]bool // local addresses seen in send logs
}

// Thresholds of ExchangeAuthDetector.
const (
	// exMatchWindow: the two ends of one attempt start within this of
	// each other (the servers' clocks and the connection set-up).
	exMatchWindow = 5 * time.Second

	// ExAuthMinAttempts failed attempts make a retry series: one session
	// that gave up after EHLO may be a restart or a probe, and is not
	// reported on its own (a row with the 451 5.7.3 text always is).
	ExAuthMinAttempts = 2

	// maxAttempts per side are kept for matching (about 280 bytes each:
	// 36 MB for both sides at the bound), the earliest; more are counted,
	// not matched, and the finding says its count is a lower bound. A
	// queue retrying every 10 minutes makes 144 a day.
	maxAttempts      = 1 << 16
	maxLandings      = 100_000 // distinct (connector, client) pairs kept
	maxAuthFailPairs = 10_000
)

// exAttempt is one failed session, as one log saw it.
type exAttempt struct {
	logServer string // whose log it is
	connector string
	local     netip.AddrPort
	remote    netip.AddrPort
	start     time.Time
	rows451   int // rows with the 451 5.7.3 text
	sample    sampleRec
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

type exAuthKey struct {
	send          bool
	logServer     string
	local, remote netip.Addr
}

// exAuthFailure is sessions in which X-EXPS was tried and failed.
type exAuthFailure struct {
	sessions int64
	status   counter
	span     span
	samples  samples
}

func newExchangeAuthDetector() *ExchangeAuthDetector {
	return &ExchangeAuthDetector{landings: map[exLandingKey]*exLanding{}, authFailures: map[exAuthKey]*exAuthFailure{},
		sendServers: map[string]bool{}, sendLocals: map[netip.Addr]bool{}, maxAttempts: maxAttempts, heaped: map[*[]exAttempt]bool{}}
}

func (d *ExchangeAuthDetector) observe(s *session.Session) {
	isSend := s.LogType == parser.LogTypeSend
	if isSend {
		if s.Server != "" && !d.sendServers[s.Server] {
			d.sendServers[strings.Clone(s.Server)] = true
		}
		if a := s.Local.Addr(); a.IsValid() && len(d.sendLocals) < maxLandings {
			d.sendLocals[a] = true
		}
	}
	if len(s.ExchangeAuthInfo) > 0 {
		d.observeAuthFailure(s, isSend)
	}
	// The signature: an EHLO reply without X-EXPS, then QUIT, no mail.
	noEXPS := s.EHLOReplied && !s.OfferedEXPS && s.QuitAfterEHLO
	switch {
	case isSend && (noEXPS && s.Remote.Addr().IsValid() || len(s.ExchangeAuthFailures) > 0):
		d.keep(&d.send, s)
	case !isSend && (noEXPS && !s.Proxied && s.Auth == session.AuthNone && s.Remote.Addr().IsValid() || len(s.ExchangeAuthFailures) > 0):
		d.keep(&d.recv, s)
	}
	if isSend || s.Proxied || !s.EHLOReplied || s.OfferedEXPS || s.Auth != session.AuthNone || !s.Remote.Addr().IsValid() {
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

// keep adds s's attempt to list. Past maxAttempts the list keeps the
// earliest (in matchAttempts' order), a max-heap on that order, so that
// which attempts are matched does not depend on the order sessions come
// in; the others are counted in dropped.
func (d *ExchangeAuthDetector) keep(list *[]exAttempt, s *session.Session) {
	at := s.First
	if len(s.ExchangeAuthFailures) > 0 {
		at = s.ExchangeAuthFailures[0]
	}
	x := exAttempt{local: s.Local, remote: s.Remote, start: s.Start, rows451: len(s.ExchangeAuthFailures), sample: sampleOf(s, at)}
	if len(*list) >= d.maxAttempts {
		d.dropped++
		h := (*attemptHeap)(list)
		if !d.heaped[list] {
			heap.Init(h)
			d.heaped[list] = true
		}
		if len(*list) == 0 || attemptOrder(x, (*list)[0]) >= 0 {
			return
		}
		x.logServer, x.connector = strings.Clone(s.Server), strings.Clone(s.Connector)
		(*list)[0] = x
		heap.Fix(h, 0)
		return
	}
	x.logServer, x.connector = strings.Clone(s.Server), strings.Clone(s.Connector)
	*list = append(*list, x)
}

// attemptOrder is matchAttempts' order: start, place, session-id.
func attemptOrder(x, y exAttempt) int {
	if c := x.start.Compare(y.start); c != 0 {
		return c
	}
	return cmp.Or(compareRefText(x.sample.ref, y.sample.ref), cmp.Compare(x.sample.id, y.sample.id))
}

// attemptHeap is a max-heap of attempts in attemptOrder.
type attemptHeap []exAttempt

func (h attemptHeap) Len() int           { return len(h) }
func (h attemptHeap) Less(i, j int) bool { return attemptOrder(h[i], h[j]) > 0 }
func (h attemptHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *attemptHeap) Push(x any)        { *h = append(*h, x.(exAttempt)) }
func (h *attemptHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (d *ExchangeAuthDetector) observeAuthFailure(s *session.Session, isSend bool) {
	k := exAuthKey{send: isSend, logServer: s.Server, local: s.Local.Addr(), remote: s.Remote.Addr()}
	f := d.authFailures[k]
	if f == nil {
		if len(d.authFailures) >= maxAuthFailPairs {
			return
		}
		f = &exAuthFailure{}
		k.logServer = strings.Clone(k.logServer)
		d.authFailures[k] = f
	}
	f.sessions++
	for _, r := range s.ExchangeAuthInfo {
		f.status.add(r.Text, 1, 16)
	}
	f.span.add(s.Start, s.End)
	f.samples.add(sampleOf(s, s.ExchangeAuthInfo[0].At))
}

// exPair is what the findings are grouped by: sending address -> receiving server.
type exPair struct {
	sender   netip.Addr
	receiver string // server name, or the address when unknown
}

type exPairAgg struct {
	send, recv []exAttempt
	landings   []exLandingRef
}

type exLandingRef struct {
	key exLandingKey
	l   *exLanding
}

// detectorExchangeAuth names the 451 5.7.3 detector.
const detectorExchangeAuth = "exchange-auth-5.7.3"

func (d *ExchangeAuthDetector) report(in *detectorInputs, r *Report) any {
	r.Findings = append(r.Findings, d.findings(in)...)
	r.Findings = append(r.Findings, d.authFailureFindings(in.org)...)
	return nil
}

// sendPair is the pair a send-log session is about.
func (v *orgView) sendPair(logServer string, local, remote netip.Addr) exPair {
	p := exPair{sender: local, receiver: cmp.Or(v.exchange[remote], remote.String())}
	if !local.IsValid() {
		p.sender = v.firstAddr(logServer)
	}
	return p
}

func (d *ExchangeAuthDetector) findings(in *detectorInputs) []Finding {
	v := in.org
	pairs := map[exPair]*exPairAgg{}
	get := func(p exPair) *exPairAgg {
		a := pairs[p]
		if a == nil {
			a = &exPairAgg{}
			pairs[p] = a
		}
		return a
	}
	for _, at := range d.send {
		// Internet servers never offer X-EXPS: only a peer that is one of
		// the organisation's Exchange servers counts, unless the log
		// itself says 451 5.7.3.
		if at.rows451 == 0 && !v.isExchange(at.remote.Addr()) {
			continue
		}
		p := v.sendPair(at.logServer, at.local.Addr(), at.remote.Addr())
		get(p).send = append(get(p).send, at)
	}
	for _, at := range d.recv {
		if at.rows451 == 0 && !v.isExchange(at.remote.Addr()) {
			continue
		}
		p := exPair{sender: at.remote.Addr(), receiver: cmp.Or(at.logServer, v.exchange[at.local.Addr()])}
		get(p).recv = append(get(p).recv, at)
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
		if f, ok := d.exFinding(p, a, in); ok {
			out = append(out, f)
		}
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

// exMatch is the pair's attempts once both ends are matched.
type exMatch struct {
	total, sendOnly, recvOnly, both int
	starts                          []time.Time // one per attempt, sorted
	rows451                         int
}

// matchAttempts counts each attempt once: a send-log session and a
// receive-log session are one attempt when they start within
// exMatchWindow and, when both logged the endpoint, the sender's local
// address and port are the receiver's remote ones. Each session matches
// at most one other, the earliest that fits.
func matchAttempts(send, recv []exAttempt) exMatch {
	byStart := attemptOrder
	slices.SortFunc(send, byStart)
	slices.SortFunc(recv, byStart)
	var m exMatch
	used := make([]bool, len(recv))
	lo := 0
	for _, s := range send {
		m.rows451 += s.rows451
		for lo < len(recv) && recv[lo].start.Before(s.start.Add(-exMatchWindow)) {
			lo++
		}
		matched := false
		for j := lo; j < len(recv) && !recv[j].start.After(s.start.Add(exMatchWindow)); j++ {
			if used[j] {
				continue
			}
			if s.local.IsValid() && recv[j].remote.IsValid() && s.local != recv[j].remote {
				continue
			}
			used[j], matched = true, true
			break
		}
		if matched {
			m.both++
		} else {
			m.sendOnly++
		}
		m.starts = append(m.starts, s.start)
	}
	for j, r := range recv {
		m.rows451 += r.rows451
		if !used[j] {
			m.recvOnly++
			m.starts = append(m.starts, r.start)
		}
	}
	m.total = m.both + m.sendOnly + m.recvOnly
	slices.SortFunc(m.starts, time.Time.Compare)
	return m
}

// compareRefText compares x.String() with y.String() without building
// them: a sort by it allocated two strings per comparison (cmp.Or
// evaluates every argument), 17 MB in use at the end of 20 GB of logs.
func compareRefText(x, y session.Ref) int {
	var bx, by [24]byte
	tx, ty := refTail(x, bx[:0]), refTail(y, by[:0])
	if x.File == y.File {
		return bytes.Compare(tx, ty)
	}
	nx, ny := len(x.File)+len(tx), len(y.File)+len(ty)
	if x.File == "" || y.File == "" {
		return cmp.Compare(nx, ny) // "" (a Ref without a file) sorts first
	}
	at := func(f string, t []byte, i int) byte {
		if i < len(f) {
			return f[i]
		}
		return t[i-len(f)]
	}
	for i := 0; i < nx && i < ny; i++ {
		if a, b := at(x.File, tx, i), at(y.File, ty, i); a != b {
			return cmp.Compare(a, b)
		}
	}
	return cmp.Compare(nx, ny)
}

// refTail appends ":line" of a Ref with a file (Ref.String's tail).
func refTail(r session.Ref, buf []byte) []byte {
	if r.File == "" {
		return buf
	}
	return strconv.AppendInt(append(buf, ':'), r.Line, 10)
}

// medianGap is the median time between consecutive attempts (0 with
// fewer than two).
func medianGap(starts []time.Time) time.Duration {
	if len(starts) < 2 {
		return 0
	}
	gaps := make([]time.Duration, 0, len(starts)-1)
	for i := 1; i < len(starts); i++ {
		gaps = append(gaps, starts[i].Sub(starts[i-1]))
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2]
}

func (d *ExchangeAuthDetector) exFinding(p exPair, a *exPairAgg, in *detectorInputs) (Finding, bool) {
	v, conn := in.org, in.conn
	slices.SortFunc(a.landings, func(x, y exLandingRef) int {
		return cmp.Or(cmp.Compare(y.l.sessions, x.l.sessions), cmp.Compare(x.key.connector, y.key.connector))
	})
	sender := v.name(p.sender)
	if !p.sender.IsValid() {
		sender = "an unknown server"
	}
	senderName := cmp.Or(v.exchange[p.sender], addrString(p.sender))
	m := matchAttempts(a.send, a.recv)
	single := 0
	if m.total < ExAuthMinAttempts && m.rows451 == 0 {
		// Not a retry series: only the connector (if any) is reported.
		single, a.send, a.recv = m.total, nil, nil
		m = exMatch{}
		if len(a.landings) == 0 {
			return Finding{}, false
		}
	}

	var sp span
	var smp samples
	var sendLogs, recvLogs, sendConns []string
	for _, at := range a.send {
		sp.add(at.start, at.start)
		smp.add(at.sample)
		if n := cmp.Or(at.logServer, "an unnamed server"); !slices.Contains(sendLogs, n) {
			sendLogs = append(sendLogs, n)
		}
		if !slices.Contains(sendConns, at.connector) {
			sendConns = append(sendConns, at.connector)
		}
	}
	for _, at := range a.recv {
		sp.add(at.start, at.start)
		smp.add(at.sample)
		if !slices.Contains(recvLogs, at.logServer) {
			recvLogs = append(recvLogs, at.logServer)
		}
	}
	slices.Sort(sendLogs)
	slices.Sort(recvLogs)
	slices.Sort(sendConns)

	f := Finding{
		ID: findingID(detectorExchangeAuth, p.sender.String(), p.receiver), Detector: detectorExchangeAuth, Severity: SeverityHigh,
		Server: p.receiver, Source: addrString(p.sender),
		Counts: map[string]int64{"failed_attempts": int64(m.total), "attempts_in_send_logs": int64(len(a.send)),
			"attempts_in_receive_logs": int64(len(a.recv)), "attempts_in_both": int64(m.both), "rows_with_451_text": int64(m.rows451)},
	}
	gap := medianGap(m.starts)
	if gap > 0 {
		f.Counts["retry_interval_seconds"] = int64(gap / time.Second)
	}
	var landed int64
	var conns []string
	for _, lr := range a.landings {
		landed += lr.l.sessions
		if m.total == 0 {
			sp.add(lr.l.span.first, lr.l.span.last)
			smp.merge(lr.l.samples)
		}
		conns = append(conns, lr.key.connector)
	}
	f.First, f.Last, f.Samples = sp.first, sp.last, smp.out()
	f.Counts["sessions_on_connector_without_x_exps"] = landed
	if len(conns) > 0 {
		f.Connector = conns[0]
	}

	// Where the attempts were seen, and whether the sender's send logs
	// were read at all: never say they are missing when they were read.
	sendRead := d.sendServers[v.exchange[p.sender]] && v.exchange[p.sender] != "" || d.sendLocals[p.sender]
	var where []string
	if single > 0 {
		where = append(where, fmt.Sprintf("%d session(s) that gave up after EHLO, fewer than a retry series", single))
	} else if len(a.send) > 0 {
		where = append(where, fmt.Sprintf("%d in the send logs of %s (send connector %s)", len(a.send), strings.Join(sendLogs, ", "), strings.Join(quoteAll(sendConns), ", ")))
	} else if sendRead {
		where = append(where, fmt.Sprintf("none in %s's send logs, which were read: they hold no session to %s in this span", senderName, p.receiver))
	} else {
		where = append(where, fmt.Sprintf("%s's send logs were not in this scan", senderName))
	}
	switch {
	case single > 0:
	case len(a.recv) > 0:
		where = append(where, fmt.Sprintf("%d in the receive logs of %s", len(a.recv), strings.Join(recvLogs, ", ")))
	default:
		where = append(where, fmt.Sprintf("none in %s's receive logs", p.receiver))
	}
	f.Facts = append(f.Facts, Fact{Name: "seen in", Values: where})
	if gap > 0 {
		f.Facts = append(f.Facts, Fact{Name: "retry interval (median gap between attempts)", Values: []string{gap.Round(time.Second).String()}})
	}
	if d.dropped > 0 {
		f.Facts = append(f.Facts, Fact{Name: "note", Values: []string{fmt.Sprintf("%d failed session(s) past a cap were counted but not matched; the attempt count is a lower bound", d.dropped)}})
	}

	seen := fmt.Sprintf("%d failed attempt(s) (%d seen in %s's send logs, %d in %s's receive logs, %d in both)",
		m.total, len(a.send), senderName, len(a.recv), p.receiver, m.both)
	switch {
	case m.total > 0:
		f.Title = fmt.Sprintf("%s -> %s: 451 5.7.3 Cannot achieve Exchange Server authentication (%d failed attempts)", sender, p.receiver, m.total)
		f.Explanation = fmt.Sprintf("Between %s and %s, %s tried %d time(s) to deliver to %s and gave up after the EHLO reply, which offered no Exchange Server authentication (X-EXPS): %s.",
			stamp(sp.first), stamp(sp.last), sender, m.total, p.receiver, seen)
		if gap > 0 {
			f.Explanation += fmt.Sprintf(" The attempts repeat about every %s: the sender's queue retrying.", gap.Round(time.Second))
		}
		if m.rows451 > 0 {
			f.Explanation += fmt.Sprintf(" %d log row(s) carry the text 451 5.7.3 itself.", m.rows451)
		} else {
			f.Explanation += " Exchange writes the 451 5.7.3 itself only to the queue (Get-Queue LastError) and the connectivity log, not to protocol logs: this is its signature there."
		}
		f.Explanation += " Mail between your own servers is queuing on the sender (451 4.4.0 in Get-Queue) and will be delayed, then returned."
		connectivityEvidence(&f, conn, v.exchange[p.sender], v.firstAddr(p.receiver), p.receiver)
		// Failed attempts per hour, for the timeline strip and charts.
		f.Timeline = in.failureTimeline(m.starts, p.receiver, v.exchange[p.sender])
	default:
		f.Title = fmt.Sprintf("%s lands on %s's connector %s without Exchange Server authentication", sender, p.receiver, f.Connector)
		f.Explanation = fmt.Sprintf("Between %s and %s, %d session(s) from the Exchange server %s reached %s on a connector whose EHLO reply offers no X-EXPS. Mail from another Exchange server through such a connector fails with 451 5.7.3 \"Cannot achieve Exchange Server authentication\".",
			stamp(sp.first), stamp(sp.last), landed, sender, p.receiver)
		if single > 0 {
			f.Explanation += fmt.Sprintf(" %d session(s) gave up after EHLO, fewer than a retry series (%d).", single, ExAuthMinAttempts)
		}
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
		f.Cause = fmt.Sprintf("The EHLO reply %s gave lacked X-EXPS. %s's receive logs for these sessions are not in the scan, so the connector is not known: the usual causes are a custom receive connector whose RemoteIPRanges cover %s, or a firewall or SMTP inspection between the servers stripping X-EXPS (Cisco ESMTP inspection).",
			p.receiver, p.receiver, addrString(p.sender))
		f.Fix = []string{fmt.Sprintf("Scan %s's receive logs (Hub\\ProtocolLog\\SmtpReceive) with these to see the connector the sessions land on.", p.receiver),
			fmt.Sprintf("Get-ReceiveConnector -Server %s | ft Identity,Bindings,RemoteIPRanges,AuthMechanism; telnet %s 2525 and check that EHLO offers X-EXPS.", psq(p.receiver), p.receiver),
			"Turn off SMTP/ESMTP inspection on any firewall between the servers."}
	}
	f.Fix = append(f.Fix, fmt.Sprintf("Then retry the queue on the sender: Get-Queue -Server %s | ? LastError -like '*5.7.3*' | Retry-Queue", psq(senderName)))
	return f, true
}

// authFailureFindings reports X-EXPS offered but failing, per sender ->
// receiver, with the status texts the logs give.
func (d *ExchangeAuthDetector) authFailureFindings(v *orgView) []Finding {
	type agg struct {
		sendSessions, recvSessions int64
		status                     counter
		span                       span
		samples                    samples
	}
	pairs := map[exPair]*agg{}
	for k, f := range d.authFailures {
		var p exPair
		if k.send {
			p = v.sendPair(k.logServer, k.local, k.remote)
		} else {
			p = exPair{sender: k.remote, receiver: cmp.Or(k.logServer, v.exchange[k.local])}
		}
		a := pairs[p]
		if a == nil {
			a = &agg{}
			pairs[p] = a
		}
		if k.send {
			a.sendSessions += f.sessions
		} else {
			a.recvSessions += f.sessions
		}
		a.status.merge(&f.status, 16)
		a.span.add(f.span.first, f.span.last)
		a.samples.merge(f.samples)
	}
	var out []Finding
	for p, a := range pairs {
		sender := v.name(p.sender)
		if !p.sender.IsValid() {
			sender = "an unknown server"
		}
		statuses := a.status.top("failure texts (as logged)", 5)
		f := Finding{
			ID: findingID(detectorExchangeAuth, "x-exps-failed", p.sender.String(), p.receiver), Detector: detectorExchangeAuth, Severity: SeverityHigh,
			Server: p.receiver, Source: addrString(p.sender), First: a.span.first, Last: a.span.last, Samples: a.samples.out(),
			Counts: map[string]int64{"sessions_in_send_logs": a.sendSessions, "sessions_in_receive_logs": a.recvSessions},
			Facts:  []Fact{statuses},
		}
		f.Title = fmt.Sprintf("%s -> %s: Exchange Server authentication (X-EXPS) offered but failing", sender, p.receiver)
		f.Explanation = fmt.Sprintf("Between %s and %s, Exchange Server authentication from %s to %s was offered and tried, and failed: %d session(s) in the sender's send logs say \"Outbound Exchange Authentication failed\", %d in the receiver's receive logs \"Inbound ExchangeAuth negotiation failed\" (one attempt may be logged at both ends). Mail between the servers fails with 451 5.7.3 and queues.",
			stamp(a.span.first), stamp(a.span.last), sender, p.receiver, a.sendSessions, a.recvSessions)
		f.Cause = "The connector is right (it offers X-EXPS); the authentication itself fails. " + authFailureHint(a.status)
		f.Fix = []string{
			"Compare the clocks of both servers and their domain controllers (w32tm /stripchart /computer:<dc>); Kerberos fails past 5 minutes of skew.",
			fmt.Sprintf("Check the SMTP service principal names of %s (setspn -L <server>) and that both servers' computer accounts are in the Exchange Servers group.", p.receiver),
			fmt.Sprintf("Check the certificates bound to SMTP on %s (Get-ExchangeCertificate | ? Services -match 'SMTP') for expiry and trust.", psq(p.receiver)),
			fmt.Sprintf("Then retry the queue on the sender: Get-Queue -Server %s | Retry-Queue", psq(cmp.Or(v.exchange[p.sender], addrString(p.sender))))}
		out = append(out, f)
	}
	return out
}

// authFailureHint turns the logged status texts into the likely cause.
func authFailureHint(status counter) string {
	var all strings.Builder
	for t := range status.m {
		all.WriteString(strings.ToLower(t))
		all.WriteByte(' ')
	}
	s := all.String()
	switch {
	case strings.Contains(s, "skew") || strings.Contains(s, "time"):
		return "The status points at the clocks: Kerberos refuses tickets when the servers' times differ by more than 5 minutes."
	case strings.Contains(s, "targetunknown") || strings.Contains(s, "spn") || strings.Contains(s, "kerberos") || strings.Contains(s, "logondenied"):
		return "The status points at Kerberos: a missing or duplicate SMTP service principal name, or a computer account that cannot log on."
	case strings.Contains(s, "certificate") || strings.Contains(s, "untrusted") || strings.Contains(s, "credentials"):
		return "The status points at certificates: an expired, untrusted or missing certificate for the SMTP service."
	}
	return "Usual causes: clock skew (Kerberos), a missing or duplicate SMTP service principal name, or the SMTP certificate."
}
