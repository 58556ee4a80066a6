package heuristics

import (
	"cmp"
	"slices"
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

	mu        sync.Mutex // guards everything below: sessions arrive from all workers
	ev        *orgEvidence
	use       *connectorUsage
	detectors []detector // one per registration, in order
	conn      *connectivityLog
	sum       *Summary
	kinds     SessionCounts
	top       int
}

// AnalyzerOptions tune an Analyzer.
type AnalyzerOptions struct {
	Workers         int
	MaxOpenSessions int // per worker; 0: session.DefaultMaxOpenSessions
	TopRemote       int // remote addresses listed per connector in the summary (default 5)
}

// SessionCounts describe the sessions rebuilt.
type SessionCounts struct {
	Total      int64 `json:"total"`
	Complete   int64 `json:"complete"`   // first row and disconnect seen, no gap
	Incomplete int64 `json:"incomplete"` // cut by the start or end of the logs (or a missing file)
	Evicted    int64 `json:"evicted"`    // closed early because too many were open at once
	Split      int64 `json:"split"`      // longer than MaxSessionRows rows, analysed in parts
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
}

// NewAnalyzer returns an Analyzer for org (empty fields are inferred).
func NewAnalyzer(org Org, opts AnalyzerOptions) *Analyzer {
	a := &Analyzer{org: org, ev: newOrgEvidence(), use: newConnectorUsage(), conn: newConnectivityLog(), sum: NewSummary(), top: cmp.Or(opts.TopRemote, 5)}
	for _, reg := range detectors {
		a.detectors = append(a.detectors, reg.new(org))
	}
	a.builder = session.NewBuilder(opts.Workers, opts.MaxOpenSessions, a.observe)
	return a
}

// Add reads one record of worker's.
func (a *Analyzer) Add(worker int, rec arrow.Record) { a.builder.Add(worker, rec) }

// AddConnectivity reads one record of an Exchange connectivity log
// (parser.ConnectivitySchema). It may be called concurrently with Add.
func (a *Analyzer) AddConnectivity(worker int, rec arrow.Record) { a.conn.add(rec) }

func (a *Analyzer) observe(s *session.Session) {
	a.mu.Lock()
	defer a.mu.Unlock()
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
	for _, d := range a.detectors {
		d.observe(s)
	}
}

// Report is what the detectors found.
type Report struct {
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
	AuthAttacks []Finding     `json:"auth_attacks"`
	Assumptions []Assumption  `json:"assumptions"`
	Sessions    SessionCounts `json:"sessions"`
	// Summary describes servers and connectors (rendered apart in JSON).
	Summary SummaryResult `json:"-"`
}

// Result finishes the open sessions and runs the detectors. Call it once,
// after the last Add.
func (a *Analyzer) Result() *Report {
	a.builder.Finish()
	a.mu.Lock()
	defer a.mu.Unlock()
	rep := &Report{}
	in := &detectorInputs{org: a.ev.resolve(a.org), use: a.use, conn: a.conn.result(), results: map[string]any{}}
	for i, reg := range detectors {
		in.results[reg.name] = a.detectors[i].report(in, rep)
	}
	SortFindings(rep.Findings)
	SortFindings(rep.Probes)
	SortFindings(rep.Inventory)
	SortFindings(rep.AuthAttacks)
	st := a.builder.Stats()
	a.kinds.Evicted = st.Evicted.Load()
	a.kinds.FieldsTruncated = st.Truncated.Load()
	a.kinds.Split = st.Split.Load()
	a.kinds.EvictedAt, a.kinds.TruncatedAt, a.kinds.SplitAt = a.builder.Examples()
	a.kinds.EndpointConflicts, a.kinds.EndpointConflictsAt = st.EndpointConflicts.Load(), a.builder.ConflictExamples()
	rep.Assumptions, rep.Sessions, rep.Summary = in.org.assumptions, a.kinds, a.sum.Result(a.top)
	return rep
}

// detectorOrder puts causes before their consequences at equal severity:
// a hidden NAT explains the relay through it.
var detectorOrder = map[string]int{detectorSNAT: 0, detectorRelay: 1, detectorCompromise: 2, detectorBlocklist: 3, detectorInboundRefused: 4, detectorExchangeAuth: 5, detectorFrontEndProxy: 6, detectorOutbound: 7, "relay-probe": 8, detectorAuthAttack: 9}

// SortFindings orders findings most severe first, then by detector, server,
// connector and source, so that output is stable between runs.
func SortFindings(f []Finding) {
	slices.SortFunc(f, func(x, y Finding) int {
		return cmp.Or(cmp.Compare(y.Severity, x.Severity), cmp.Compare(detectorOrder[x.Detector], detectorOrder[y.Detector]),
			cmp.Compare(x.Server, y.Server), cmp.Compare(x.Connector, y.Connector), cmp.Compare(x.Source, y.Source), cmp.Compare(x.ID, y.ID))
	})
}

// Restore gives the analyzer the sessions a previous incremental run left
// open (see session.Builder.Restore). Call it before the first Add.
func (a *Analyzer) Restore(open []session.Open) { a.builder.Restore(open) }

// Drain ends an incremental run: it returns the sessions to carry to the
// next run and emits the rest. Call it before Result.
func (a *Analyzer) Drain(carry time.Duration) []session.Open { return a.builder.Drain(carry) }
