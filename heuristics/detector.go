package heuristics

import "github.com/logscan/logscan/heuristics/session"

// A detector watches every rebuilt session and, once all are seen, judges
// what it saw. Each lives in its own file with a doc comment that states
// its signal, its thresholds and why.
type detector interface {
	// observe sees one session; calls never overlap.
	observe(s *session.Session)
	// report adds the detector's findings to r. It returns a result that
	// the detectors declaring this one in their needs read from in.
	report(in *detectorInputs, r *Report) any
}

// registration declares a detector: its name (the Detector field and the
// prefix of its findings' ids), the detectors whose results it reads, and
// its constructor. Detectors report in this order; a need must come
// earlier in the list.
type registration struct {
	name  string
	needs []string
	new   func(Org) detector
	// alone says that its report needs no other detector's result and
	// reads nothing in r: it only adds to r, and reads the inputs every
	// detector shares (org, use, conn, logs), which no report changes.
	// Such reports run beside the others (Analyzer.Result).
	alone bool
	// apart says that it observes under a lock of its own
	// (Analyzer.observeMany): the relay detector, whose observe is two
	// thirds of the detectors'.
	apart bool
}

// detectors is every detector logscan runs. A new detector is one file and
// one line here.
var detectors = []registration{
	{name: detectorSNAT, new: func(o Org) detector { return newSNATDetector(o) }},
	// The relay detector reads the NAT addresses, to tie a relay through
	// one to its NAT finding, and raises that finding when it relayed.
	{name: detectorRelay, needs: []string{detectorSNAT}, new: func(Org) detector { return newRelayDetector() }, apart: true},
	{name: detectorExchangeAuth, new: func(Org) detector { return newExchangeAuthDetector() }, alone: true},
	{name: detectorFrontEndProxy, new: func(Org) detector { return newFrontEndProxyDetector() }, alone: true},
	{name: detectorOutbound, new: func(Org) detector { return outboundDetector{} }, alone: true},
	{name: detectorInboundRefused, new: func(Org) detector { return newInboundRefusedDetector() }, alone: true},
	// Compromised accounts, and failed logins per connector (AuthAttacks).
	{name: detectorCompromise, new: func(o Org) detector { return newAuthAbuseDetector(o) }, alone: true},
	// The blocklist detector reads the relays and the compromised accounts,
	// to say when one preceded the first refusal of a listing.
	{name: detectorBlocklist, needs: []string{detectorRelay, detectorCompromise}, new: func(Org) detector { return newBlocklistDetector() }},
	// The connector-config detector audits Org.Config (nothing without
	// it), reads the NAT addresses, and adds to the findings of all the
	// others the configuration that causes them: it comes last.
	{name: detectorConnectorConfig, needs: []string{detectorSNAT, detectorRelay, detectorExchangeAuth, detectorBlocklist}, new: func(o Org) detector { return newConnectorConfigDetector(o) }},
}

// detectorInputs is what every detector's report may read: what the
// organisation is, how connectors were used, and the results of the
// detectors it needs.
type detectorInputs struct {
	org     *orgView
	use     *connectorUsage
	conn    *connFailures // what the connectivity logs say; nil groups when none were read
	logs    *logSpans
	results map[string]any
}

// result returns the result of a detector named in needs.
func (in *detectorInputs) result(name string) any { return in.results[name] }
