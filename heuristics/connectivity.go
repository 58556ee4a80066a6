package heuristics

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// connectivityLog collects what Exchange's connectivity logs
// (CONNECTLOG*.LOG) say about outbound connections: which delivery
// attempts failed, why, and to which address. Protocol logs do not hold
// that text (the 451 5.7.3 of a failed Exchange Server authentication goes
// only to the queue and to this log), so it is evidence for the 451
// finding and, on its own, for mail stuck on DNS, TLS or unreachable hosts.
//
// Rows arrive from the parser's workers in any order. Failures are kept as
// events and joined with the address of their connectivity session (the
// "Established connection to <ip>" row, which may sit in another file) at
// the end, in time order, so the result does not depend on the order.
type connectivityLog struct {
	mu      sync.Mutex
	files   map[string]string // source file -> server (from its path)
	events  []connEvent
	targets map[connSessKey]connTarget
	success map[connDestKey]time.Time // last delivery that ended without failure
	dropped int64                     // failure events past maxConnEvents, counted only
	rows    int64
}

// maxConnEvents bounds the failures kept for the join: a queue retrying
// every minute for a month is 43,200; past the bound they are counted.
const maxConnEvents = 1 << 20

// maxConnDescription is the most of one description kept as evidence.
const maxConnDescription = 512

type connSessKey struct{ server, session string }

type connDestKey struct{ server, destination string }

type connTarget struct {
	addr netip.Addr
	at   session.Ref
	time time.Time
}

type connEvent struct {
	server, session, destination string
	kind                         parser.ConnFailureKind
	description                  string
	target                       netip.Addr // named by the row itself, if any
	time                         time.Time
	at                           session.Ref
}

func newConnectivityLog() *connectivityLog {
	return &connectivityLog{files: map[string]string{}, targets: map[connSessKey]connTarget{}, success: map[connDestKey]time.Time{}}
}

// add reads one record of parser.ConnectivitySchema.
func (c *connectivityLog) add(rec arrow.Record) {
	files := rec.Column(parser.ConnColSourceFile).(*array.Dictionary)
	fileNames := files.Dictionary().(*array.String)
	lines := rec.Column(parser.ConnColLine).(*array.Int64)
	times := rec.Column(parser.ConnColDateTime).(*array.Timestamp)
	sessions := rec.Column(parser.ConnColSession).(*array.String)
	dests := rec.Column(parser.ConnColDestination).(*array.String)
	dirs := rec.Column(parser.ConnColDirection).(*array.String)
	descs := rec.Column(parser.ConnColDescription).(*array.String)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i < int(rec.NumRows()); i++ {
		c.rows++
		file := fileNames.Value(files.GetValueIndex(i))
		server, ok := c.files[file]
		if !ok {
			server = parser.ServerFromPath(file)
			c.files[strings.Clone(file)] = server
		}
		desc := descs.Value(i)
		dir := ""
		if dirs.IsValid(i) {
			dir = dirs.Value(i)
		}
		if dir != ">" && dir != "-" && dir != "*" {
			continue // "+": the queue opened a connection, nothing to judge
		}
		f := parser.ClassifyConnectivity(desc)
		when := times.Value(i).ToTime(arrow.Millisecond)
		ref := session.Ref{File: file, Line: lines.Value(i)}
		sk := connSessKey{server, sessions.Value(i)}
		switch {
		case f.Kind == parser.ConnEstablished && f.Target.IsValid():
			if t, seen := c.targets[sk]; !seen || when.Before(t.time) {
				c.targets[connSessKey{strings.Clone(sk.server), strings.Clone(sk.session)}] = connTarget{f.Target, cloneRef(ref), when}
			}
		case f.Kind == parser.ConnSummary:
			dk := connDestKey{server, dests.Value(i)}
			if when.After(c.success[dk]) {
				c.success[connDestKey{strings.Clone(dk.server), strings.Clone(dk.destination)}] = when
			}
		case f.Kind.Failed():
			if len(c.events) >= maxConnEvents {
				c.dropped++
				continue
			}
			c.events = append(c.events, connEvent{server: strings.Clone(server), session: strings.Clone(sk.session),
				destination: strings.Clone(dests.Value(i)), kind: f.Kind, description: strings.Clone(clip(desc, maxConnDescription)),
				target: f.Target, time: when, at: cloneRef(ref)})
		}
	}
}

func cloneRef(r session.Ref) session.Ref {
	return session.Ref{File: strings.Clone(r.File), Line: r.Line}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// connFailures is the connectivity evidence the detectors read: failed
// delivery attempts (one per connectivity session) grouped by sending
// server, destination, kind and target address.
type connFailures struct {
	read    bool // connectivity logs were read at all
	servers map[string]bool
	groups  []*connGroup
	success map[connDestKey]time.Time
	dropped int64
}

type connGroup struct {
	server, destination string
	kind                parser.ConnFailureKind
	target              netip.Addr
	count               int64
	first, last         time.Time
	description         string // of the first failure
	samples             []session.Ref
}

// maxConnSamples is how many places a group keeps.
const maxConnSamples = 3

// result joins failures with their sessions' addresses and groups them.
func (c *connectivityLog) result() *connFailures {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &connFailures{read: c.rows > 0, servers: map[string]bool{}, success: c.success, dropped: c.dropped}
	for _, s := range c.files {
		out.servers[s] = true
	}
	slices.SortFunc(c.events, func(a, b connEvent) int {
		return cmp.Or(a.time.Compare(b.time), cmp.Compare(a.at.File, b.at.File), cmp.Compare(a.at.Line, b.at.Line))
	})
	type gk struct {
		server, destination string
		kind                parser.ConnFailureKind
		target              netip.Addr
	}
	byKey := map[gk]*connGroup{}
	// One failure per connectivity session (one delivery attempt): a
	// "Failed connection to ..." row and the disconnect row's reason
	// describe the same attempt; the first, most specific, is kept.
	counted := map[connSessKey]bool{}
	for _, e := range c.events {
		if e.session != "" {
			sk := connSessKey{e.server, e.session}
			if counted[sk] {
				continue
			}
			counted[sk] = true
		}
		target := e.target
		if !target.IsValid() {
			target = c.targets[connSessKey{e.server, e.session}].addr
		}
		k := gk{e.server, e.destination, e.kind, target}
		g := byKey[k]
		if g == nil {
			g = &connGroup{server: e.server, destination: e.destination, kind: e.kind, target: target, first: e.time, description: e.description}
			byKey[k] = g
			out.groups = append(out.groups, g)
		}
		g.count++
		g.last = e.time
		if len(g.samples) < maxConnSamples {
			g.samples = append(g.samples, e.at)
		}
	}
	return out
}

// exchangeAuthTo returns the connectivity log's 451 5.7.3 failures of
// sender (a server name) towards the receiver's address or name.
func (cf *connFailures) exchangeAuthTo(sender string, receiver netip.Addr, receiverName string) (n int64, first, last time.Time, desc string, samples []session.Ref) {
	if cf == nil {
		return
	}
	for _, g := range cf.groups {
		if g.kind != parser.ConnExchangeAuth451 || !strings.EqualFold(g.server, sender) {
			continue
		}
		name := strings.ToLower(receiverName)
		if g.target != receiver && (name == "" || !strings.HasPrefix(strings.ToLower(g.destination), name)) {
			continue
		}
		if n == 0 || g.first.Before(first) {
			first, desc = g.first, g.description
		}
		if g.last.After(last) {
			last = g.last
		}
		n += g.count
		for _, s := range g.samples {
			if len(samples) < maxConnSamples {
				samples = append(samples, s)
			}
		}
	}
	return
}

// connectivityEvidence adds to a 451 5.7.3 finding what the sender's
// connectivity log says, or, when it was not read, what it would add and
// where it lives.
func connectivityEvidence(f *Finding, cf *connFailures, sender string, receiver netip.Addr, receiverName string) {
	if sender == "" {
		return
	}
	n, first, last, desc, smp := cf.exchangeAuthTo(sender, receiver, receiverName)
	switch {
	case n > 0:
		f.Counts["failures_in_connectivity_log"] = n
		vals := []string{fmt.Sprintf("%d failure(s) from %s to %s between %s and %s: %q", n, sender, cmp.Or(receiverName, receiver.String()), stamp(first), stamp(last), desc)}
		for _, s := range smp {
			vals = append(vals, "at "+s.String())
		}
		f.Facts = append(f.Facts, Fact{Name: "connectivity log (the failure text Exchange does write)", Values: vals})
		f.Explanation += fmt.Sprintf(" %s's connectivity log confirms it: %d failure(s) between %s and %s reading %q.", sender, n, stamp(first), stamp(last), desc)
	case cf != nil && cf.servers[sender]:
		f.Facts = append(f.Facts, Fact{Name: "connectivity log", Values: []string{fmt.Sprintf("%s's connectivity log was read and names no 451 5.7.3 failure to %s", sender, cmp.Or(receiverName, receiver.String()))}})
	default:
		f.Facts = append(f.Facts, Fact{Name: "connectivity log", Values: []string{fmt.Sprintf(
			`not read: %s's Logs\Hub\Connectivity\CONNECTLOG*.LOG would confirm each failure, with its text`, sender)}})
	}
}
