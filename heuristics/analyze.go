package heuristics

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/logscan/logscan/heuristics/session"
)

// Analyzer rebuilds sessions from records and runs the detectors over them.
// Add may be called concurrently for different workers.
type Analyzer struct {
	org     Org
	builder *session.Builder

	// apartMu guards the detectors that observe apart (registration.apart).
	apartMu sync.Mutex
	apart   []detector

	mu        sync.Mutex // guards everything below: sessions arrive from all workers
	ev        *orgEvidence
	use       *connectorUsage
	logs      *logSpans
	detectors []detector // one per registration, in order
	shared    []detector // those that observe under mu, in order
	conn      *connectivityLog
	sum       *Summary
	kinds     SessionCounts
	top       int
	maxOpen   int // open sessions per worker
}

// MaxOpenSessionsAll bounds the sessions the builder holds open, all
// workers together (a worker keeps its share, at most
// session.DefaultMaxOpenSessions and at least 1,000): an open session costs
// about 560 bytes (a million that never disconnect: 56 MiB at this
// bound), whatever the number of cores. Real servers have a few hundred
// open per worker (285 at most in 4.3 GB of logs).
const MaxOpenSessionsAll = 100_000

// AnalyzerOptions tune an Analyzer.
type AnalyzerOptions struct {
	Workers         int
	MaxOpenSessions int // per worker; 0: MaxOpenSessionsAll shared by the workers
	TopRemote       int // remote addresses listed per connector in the summary (default 5)
}

// SessionCounts describe the sessions rebuilt.
type SessionCounts struct {
	Total      int64 `json:"total"`
	Complete   int64 `json:"complete"`   // first row and disconnect seen, no gap
	Incomplete int64 `json:"incomplete"` // cut by the start or end of the logs (or a missing file)
	Evicted    int64 `json:"evicted"`    // closed early because too many were open at once
	Split      int64 `json:"split"`      // longer than MaxSessionRows rows or MaxSessionBytes of text, analysed in parts
	Receive    int64 `json:"receive"`
	Send       int64 `json:"send"`
	Proxied    int64 `json:"proxied"` // Hub sessions handed on by a Front End (XPROXYFROM)
	Messages   int64 `json:"messages_queued"`
	// FieldsTruncated counts rows whose data or context field was cut to
	// session.MaxFieldBytes for the analysis (the parser's records keep them whole).
	FieldsTruncated int64 `json:"fields_truncated"`
	// EvictedAt and TruncatedAt are the first places (file:line) of each.
	EvictedAt   []string `json:"evicted_at,omitempty"`
	TruncatedAt []string `json:"truncated_at,omitempty"`
	SplitAt     []string `json:"split_at,omitempty"`
	// EndpointConflicts counts sessions split off because their
	// session-id was in use by a session from another remote endpoint
	// (damaged or merged logs); EndpointConflictsAt are the first places.
	EndpointConflicts   int64    `json:"endpoint_conflicts"`
	EndpointConflictsAt []string `json:"endpoint_conflicts_at,omitempty"`
	// MaxOpenPerWorker is the open-session budget of a worker, given when
	// sessions were evicted.
	MaxOpenPerWorker int64 `json:"max_open_per_worker,omitempty"`
	// EvictedForText counts those of Evicted closed because the text of
	// the sessions open in a worker passed its share of
	// session.MaxOpenBytes (MaxOpenBytesPerWorker).
	EvictedForText        int64 `json:"evicted_for_text,omitempty"`
	MaxOpenBytesPerWorker int64 `json:"max_open_bytes_per_worker,omitempty"`
}

// NewAnalyzer returns an Analyzer for org (empty fields are inferred).
func NewAnalyzer(org Org, opts AnalyzerOptions) *Analyzer {
	a := &Analyzer{org: org, ev: newOrgEvidence(), use: newConnectorUsage(), conn: newConnectivityLog(), logs: &logSpans{}, sum: NewSummary(), top: cmp.Or(opts.TopRemote, 5)}
	for _, reg := range detectors {
		d := reg.new(org)
		a.detectors = append(a.detectors, d)
		if reg.apart {
			a.apart = append(a.apart, d)
		} else {
			a.shared = append(a.shared, d)
		}
	}
	a.maxOpen = opts.MaxOpenSessions
	if a.maxOpen <= 0 {
		a.maxOpen = min(session.DefaultMaxOpenSessions, max(MaxOpenSessionsAll/max(opts.Workers, 1), 1_000))
	}
	a.builder = session.NewBuilder(opts.Workers, a.maxOpen, a.observe)
	// Sessions come to the detectors in batches, under a lock each (two:
	// observeMany), and a worker that finds the lock taken reads on:
	// handing the lock between workers for every session cost a tenth
	// of a scan's time in waits.
	a.builder.EmitInBatches(observeBatch, a.observeMany)
	// Detectors copy what they keep (strings.Clone), so sessions can lend
	// their text: a third less allocation (LOGSCAN_CHECK_REUSE=1 tests it).
	a.builder.LendText()
	return a
}

// Add reads one record of worker's.
func (a *Analyzer) Add(worker int, rec arrow.Record) { a.builder.Add(worker, rec) }

// AddConnectivity reads one record of an Exchange connectivity log
// (parser.ConnectivitySchema). It may be called concurrently with Add.
func (a *Analyzer) AddConnectivity(worker int, rec arrow.Record) { a.conn.add(rec) }

// observeBatch is how many sessions a worker hands the detectors at a time.
const observeBatch = 64

func (a *Analyzer) observe(s *session.Session) {
	a.apartMu.Lock()
	defer a.apartMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.observeLocked(s)
}

// observeMany observes ss; unless wait, only if no other worker is
// observing the detectors apart (the worker goes on reading meanwhile).
//
// It hands them to the detectors apart first, then to the rest, under
// the other lock: while one worker is in one, another can be in the
// other. Under one lock a worker held it for half of the scan's time and
// the other, its batches piling up, waited for it. Every detector still
// sees every session once, and none depends on the order they come in.
// The rest's lock is waited for: a batch takes under a tenth of a
// millisecond there.
func (a *Analyzer) observeMany(ss []*session.Session, wait bool) bool {
	if wait {
		a.apartMu.Lock()
	} else if !a.apartMu.TryLock() {
		return false
	}
	for _, s := range ss {
		for _, d := range a.apart {
			d.observe(s)
		}
	}
	a.apartMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range ss {
		a.observeShared(s)
	}
	return true
}

// observeLocked hands s to everything that tallies sessions; a.apartMu
// and a.mu are held.
func (a *Analyzer) observeLocked(s *session.Session) {
	for _, d := range a.apart {
		d.observe(s)
	}
	a.observeShared(s)
}

// observeShared hands s to everything that tallies sessions but the
// detectors apart; a.mu is held.
func (a *Analyzer) observeShared(s *session.Session) {
	a.kinds.Total++
	if s.Complete {
		a.kinds.Complete++
	} else {
		a.kinds.Incomplete++
	}
	if s.IsReceive() {
		a.kinds.Receive++
	} else {
		a.kinds.Send++
	}
	if s.Proxied {
		a.kinds.Proxied++
	}
	if s.IsReceive() && !s.Proxied {
		for _, m := range s.Messages {
			if m.Queued {
				a.kinds.Messages++
			}
		}
	}
	a.sum.observe(s)
	a.ev.observe(s)
	a.use.observe(s)
	a.logs.observe(s)
	for _, d := range a.shared {
		d.observe(s)
	}
}

// Report is what the detectors found.
type Report struct {
	// WhatHappened tells the findings as incidents, most important
	// first: each cause in one sentence with its time span and size,
	// followed by what it led to (the findings whose CausedBy names it).
	WhatHappened []Incident `json:"what_happened"`
	// Checked are the detectors that ran, so that "no finding" says what
	// was looked for.
	Checked  []Check   `json:"checked"`
	Findings []Finding `json:"findings"`
	// Probes are refused relay attempts per connector. They are reported
	// apart: bots probe every Internet-facing server, so they are the
	// background, not a finding — except that refusals of Microsoft 365
	// mail (SeverityMedium) mean real mail is being lost.
	Probes []Finding `json:"relay_probes"`
	// Inventory lists internal hosts relaying through dedicated relay
	// connectors: the documented way to let printers and applications
	// send. It says who relays, through which connector, to where.
	Inventory []Finding `json:"relay_inventory"`
	// AuthAttacks are failed logins (SMTP AUTH) per receive connector:
	// password guessing, spraying and brute force. Reported apart like the
	// probes, since every server that offers AUTH to the Internet is tried
	// all day; medium when it targets many accounts, never stops, or a
	// guessing address got in.
	AuthAttacks []Finding `json:"auth_attacks"`
	// Budgets are the tables that reached their memory budget (budget.go):
	// where, and what stays exact. Empty when everything was kept.
	Budgets     []Budget      `json:"budgets,omitempty"`
	Assumptions []Assumption  `json:"assumptions"`
	Sessions    SessionCounts `json:"sessions"`
	// Summary describes servers and connectors (rendered apart in JSON).
	Summary SummaryResult `json:"-"`
}

// Result finishes the open sessions and runs the detectors. Call it once,
// after the last Add.
func (a *Analyzer) Result() *Report {
	a.builder.Finish()
	a.apartMu.Lock()
	defer a.apartMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.apart, a.shared = nil, nil
	// What the analysis kept is released as soon as it is reported, so
	// that the report (and its rendering) does not come on top of all of
	// it: the end of a scan is where its memory peaks.
	st := a.builder.Stats()
	a.kinds.Evicted = st.Evicted.Load()
	if a.kinds.EvictedForText = st.EvictedForText.Load(); a.kinds.EvictedForText > 0 {
		a.kinds.MaxOpenBytesPerWorker = int64(a.builder.MaxOpenBytes())
	}
	if a.kinds.Evicted > 0 {
		a.kinds.MaxOpenPerWorker = int64(a.maxOpen)
	}
	a.kinds.FieldsTruncated = st.Truncated.Load()
	a.kinds.Split = st.Split.Load()
	a.kinds.EvictedAt, a.kinds.TruncatedAt, a.kinds.SplitAt = a.builder.Examples()
	a.kinds.EndpointConflicts, a.kinds.EndpointConflictsAt = st.EndpointConflicts.Load(), a.builder.ConflictExamples()
	a.builder = nil
	rep := &Report{Sessions: a.kinds}
	in := &detectorInputs{org: a.ev.resolve(a.org, a.sum.local), use: a.use, conn: a.conn.result(), logs: a.logs, results: map[string]any{}}
	a.ev, a.conn = nil, nil
	a.report(in, rep)
	a.sum = nil
	for i := range rep.Findings {
		a.logs.fallbackTimeline(&rep.Findings[i])
	}
	SortFindings(rep.Findings)
	rep.WhatHappened = whatHappened(rep.Findings)
	rep.Checked = Checks()
	SortFindings(rep.Probes)
	SortFindings(rep.Inventory)
	SortFindings(rep.AuthAttacks)
	rep.Assumptions = in.org.assumptions
	rep.Budgets = append(rep.Summary.Budgets, rep.Budgets...)
	rep.Budgets = append(rep.Budgets, a.use.budget()...)
	a.use, a.logs = nil, nil
	return rep
}

// report makes the summary and has every detector report, in the order
// of registration, into rep and in.results.
//
// It is the end of a scan, on one core, but for this: the summary and the
// detectors that report alone (registration.alone) report on a goroutine
// of their own while the others report in order, the relay detector's
// (a tenth of a second at the end of a scan) among them. Each of those
// writes into a Report of its own, which is added to rep at its place in
// the order, so that rep is the same as when all report one after the
// other (reportInOrder), however the two goroutines meet.
func (a *Analyzer) report(in *detectorInputs, rep *Report) {
	if reportInOrder {
		rep.Summary = a.sum.Result(a.top)
		for i, reg := range detectors {
			in.results[reg.name] = a.detectors[i].report(in, rep)
			a.detectors[i] = nil
		}
		return
	}
	type reported struct {
		part   *Report
		result any
	}
	done := make([]chan reported, len(detectors)) // nil: reports in order
	alone := make([]detector, len(detectors))     // the goroutine's, by registration
	for i, reg := range detectors {
		if reg.alone {
			done[i] = make(chan reported, 1)
			alone[i], a.detectors[i] = a.detectors[i], nil
		}
	}
	summary := make(chan SummaryResult, 1)
	go func() {
		summary <- a.sum.Result(a.top)
		for i, d := range alone {
			if d != nil {
				alone[i] = nil // released once reported, as below
				part := &Report{}
				res := d.report(in, part)
				done[i] <- reported{part, res}
			}
		}
	}()
	for i, reg := range detectors {
		if done[i] != nil {
			d := <-done[i]
			rep.add(d.part)
			in.results[reg.name] = d.result
		} else {
			in.results[reg.name] = a.detectors[i].report(in, rep)
		}
		a.detectors[i] = nil
	}
	rep.Summary = <-summary
}

// reportInOrder makes Analyzer.report run every report one after the
// other, on one goroutine: what the concurrent reports must equal. For
// tests.
var reportInOrder = false

// add appends what a detector reported into part to r.
func (r *Report) add(part *Report) {
	r.Findings = append(r.Findings, part.Findings...)
	r.Probes = append(r.Probes, part.Probes...)
	r.Inventory = append(r.Inventory, part.Inventory...)
	r.AuthAttacks = append(r.AuthAttacks, part.AuthAttacks...)
	r.Budgets = append(r.Budgets, part.Budgets...)
}

// detectorOrder puts causes before their consequences at equal severity
// and impact: a hidden NAT explains the relay through it, a relay or a
// compromised account the blocklisting.
var detectorOrder = map[string]int{detectorConnectorConfig: 0, detectorSNAT: 0, detectorRelay: 1, detectorCompromise: 2, detectorBlocklist: 3, detectorInboundRefused: 4,
	detectorExchangeAuth: 5, detectorFrontEndProxy: 6, detectorOutbound: 7, "relay-probe": 8, detectorAuthAttack: 9}

// impactKeys name, per detector, the count that ranks its findings among
// others of the same severity: what the incident did (recipients relayed,
// refused, attempts failed). The first key present counts.
var impactKeys = map[string][]string{
	detectorSNAT:           {"relayed_recipients", "sessions"},
	detectorRelay:          {"recipients"},
	detectorBlocklist:      {"recipients_refused", "refusals"},
	detectorInboundRefused: {"recipients_refused"},
	detectorExchangeAuth:   {"failed_attempts", "sessions_in_send_logs", "sessions_on_connector_without_x_exps"},
	detectorFrontEndProxy:  {"replies"},
	"relay-probe":          {"recipients_refused"},
	detectorCompromise:     {"outside_recipients", "recipients"},
	detectorOutbound:       {"failures"},
	detectorAuthAttack:     {"failures"},
}

// Impact is the figure a finding is ranked by among findings of its
// severity (see impactKeys); 0 when its detector names none.
func Impact(f Finding) int64 {
	for _, k := range impactKeys[f.Detector] {
		if n, ok := f.Counts[k]; ok {
			return n
		}
	}
	return 0
}

// SortFindings orders findings most severe first, then by impact (the
// recipients relayed or refused, the attempts failed: Impact), then causes
// before consequences, then by server, connector, source and id, so that
// output is stable between runs. Addresses never decide before impact.
func SortFindings(f []Finding) {
	slices.SortFunc(f, func(x, y Finding) int {
		return cmp.Or(cmp.Compare(y.Severity, x.Severity), cmp.Compare(Impact(y), Impact(x)), cmp.Compare(detectorOrder[x.Detector], detectorOrder[y.Detector]),
			cmp.Compare(x.Server, y.Server), cmp.Compare(x.Connector, y.Connector), compareAddrText(x.Source, y.Source), cmp.Compare(x.ID, y.ID))
	})
}

// Check is one detector that ran and what it looks for.
type Check struct {
	Detector string `json:"detector"`
	What     string `json:"what"`
}

// checkNames say in a few words what each detector looks for, for the
// report's "no finding" line; a test requires one per registration.
var checkNames = map[string]string{
	detectorSNAT:            "hidden NAT",
	detectorRelay:           "anonymous relay",
	detectorExchangeAuth:    "451 5.7.3 between Exchange servers",
	detectorFrontEndProxy:   "Front End PRX errors",
	detectorInboundRefused:  "inbound mail refused as relay",
	detectorBlocklist:       "blocklisting of our IP",
	detectorCompromise:      "compromised accounts and password guessing",
	detectorOutbound:        "outbound delivery failures (connectivity logs)",
	detectorConnectorConfig: "receive connector configuration (with --config)",
}

// Checks lists every registered detector, in the order they run.
func Checks() []Check {
	out := make([]Check, 0, len(detectors))
	for _, reg := range detectors {
		out = append(out, Check{Detector: reg.name, What: cmp.Or(checkNames[reg.name], reg.name)})
	}
	return out
}

// logSpans are the first and last time of the logs read, per server and
// kind of log: what a finding's timeline is judged against. Only min and
// max are kept, so the result does not depend on the order of sessions.
type logSpans struct {
	m map[logKey]*span
}

type logKey struct {
	server string
	send   bool
}

func (l *logSpans) observe(s *session.Session) {
	if l.m == nil {
		l.m = map[logKey]*span{}
	}
	k := logKey{s.Server, !s.IsReceive()}
	sp := l.m[k]
	if sp == nil {
		sp = &span{}
		l.m[logKey{strings.Clone(s.Server), k.send}] = sp
	}
	sp.add(s.Start, s.End)
}

// of returns the span of the named servers' logs of one kind; with no
// server named or none of them seen, that of every server's logs of that
// kind; with none of that kind, of all logs.
func (l *logSpans) of(send bool, servers ...string) span {
	var sp span
	for _, name := range servers {
		if x := l.m[logKey{name, send}]; x != nil {
			sp.add(x.first, x.last)
		}
	}
	for _, kind := range []bool{send, !send} {
		if !sp.first.IsZero() {
			break
		}
		for k, x := range l.m {
			if k.send == kind {
				sp.add(x.first, x.last)
			}
		}
	}
	return sp
}

// fallbackTimeline gives a finding whose detector keeps no times per hour
// a timeline of its first and last time only (no Hours): onset, end, and
// whether it is still active at the end of its server's logs.
func (l *logSpans) fallbackTimeline(f *Finding) {
	if f.Timeline != nil || f.First.IsZero() {
		return
	}
	servers := f.Servers
	if len(servers) == 0 && f.Server != "" {
		servers = []string{f.Server}
	}
	var sp span
	for _, send := range []bool{false, true} {
		x := l.of(send, servers...)
		sp.add(x.first, x.last)
	}
	f.Timeline = hourly(nil).timeline("", f.First, f.Last, sp)
}

// failureTimeline is the timeline of failures at the given times (one
// failed attempt each) for the logs of servers; for detectors that keep
// their events' times, such as the 451 5.7.3 retries: the exchange-auth
// detector can set f.Timeline = in.failureTimeline(m.starts, p.receiver,
// senderName) where it builds a finding (until then its findings get the
// first/last-only timeline of fallbackTimeline).
func (in *detectorInputs) failureTimeline(times []time.Time, servers ...string) *Timeline {
	if len(times) == 0 {
		return nil
	}
	var h hourly
	var sp span
	for _, t := range times {
		h.add(t, 0, 0, 1)
		sp.add(t, t)
	}
	logs := in.logs.of(false, servers...)
	send := in.logs.of(true, servers...)
	logs.add(send.first, send.last)
	return h.timeline(MeasureFailures, sp.first, sp.last, logs)
}

// Restore gives the analyzer the sessions a previous incremental run left
// open (see session.Builder.Restore). Call it before the first Add.
func (a *Analyzer) Restore(open []session.Open) { a.builder.Restore(open) }

// Drain ends an incremental run: it returns the sessions to carry to the
// next run and emits the rest. Call it before Result.
func (a *Analyzer) Drain(carry time.Duration) []session.Open { return a.builder.Drain(carry) }
