package heuristics

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
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
// Rows arrive from the parser's workers in any order. A connectivity
// session counts once, by its earliest failure, which is kept and joined
// with the address the session connected to (the "Established connection
// to <ip>" row, which may sit in another file) at the end, in time order,
// so the result does not depend on the order. A session that ended without
// failure lets its address go: what is kept grows with the failed
// sessions, not with all of them.
type connectivityLog struct {
	mu        sync.Mutex
	files     map[string]connFile          // source file -> its name (kept once) and server
	servers   map[string]uint32            // server -> index, for targets' keys
	failed    map[connTargetKey]connEvent  // the earliest failure of each connectivity session
	noSession []connEvent                  // failures on rows of no session: each counts
	targets   map[connTargetKey]connTarget // sessions that connected, until they end without failure
	success   map[connDestKey]time.Time    // last delivery that ended without failure
	// Failed sessions (and failures of no session) kept: past
	// maxConnEvents, those whose key hashes lowest (connHash), whatever
	// the order; the others are not counted (dropped) and the counts
	// read as lower bounds.
	bound, boundNoSession hashBound
	dropped               int64
	rows                  int64
}

// maxConnEvents bounds the failed connectivity sessions kept for the join
// (about 200 bytes each with their text): a queue retrying every minute
// for six months is 262,000; past the bound failures are lower bounds.
const maxConnEvents = 1 << 18

// maxConnDescription is the most of one description kept as evidence.
const maxConnDescription = 512

type connSessKey struct{ server, session string }

type connDestKey struct{ server, destination string }

type connFile struct {
	name, server string
}

// connTargetKey is a connectivity session: its server's index and its id,
// as a number when it is Exchange's 16 upper-case hex digits (no string
// kept), else as text.
type connTargetKey struct {
	server uint32
	id     uint64
	text   string
}

// connTarget is the address a session connected to first, and when
// (Unix milliseconds).
type connTarget struct {
	addr netip.Addr
	ms   int64
}

// targetKey returns the key of session on server index srv; clone says
// whether a text id must be copied (it is kept).
func targetKey(srv uint32, session string, clone bool) connTargetKey {
	if id, ok := hexID(session); ok {
		return connTargetKey{server: srv, id: id}
	}
	if clone {
		session = strings.Clone(session)
	}
	return connTargetKey{server: srv, text: session}
}

// hexID reads 16 upper-case hex digits, the only spelling it accepts, so
// that two ids that differ as text never share a key.
func hexID(s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'A' && c <= 'F':
			v = v<<4 | uint64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// serverIndex returns server's index, adding it when add.
func (c *connectivityLog) serverIndex(server string, add bool) (uint32, bool) {
	i, ok := c.servers[server]
	if !ok && add {
		i = uint32(len(c.servers))
		c.servers[server] = i
		ok = true
	}
	return i, ok
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
	return &connectivityLog{files: map[string]connFile{}, servers: map[string]uint32{}, failed: map[connTargetKey]connEvent{},
		targets: map[connTargetKey]connTarget{}, success: map[connDestKey]time.Time{},
		bound: newHashBound(maxConnEvents), boundNoSession: newHashBound(maxConnEvents / 16)}
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
		cf, ok := c.files[fileNames.Value(files.GetValueIndex(i))]
		if !ok {
			name := strings.Clone(fileNames.Value(files.GetValueIndex(i)))
			cf = connFile{name, parser.ServerFromPath(name)}
			c.files[name] = cf
		}
		file, server := cf.name, cf.server
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
		ref := session.Ref{File: file, Line: lines.Value(i)} // file is kept once, in c.files
		sk := connSessKey{server, sessions.Value(i)}
		switch {
		case f.Kind == parser.ConnEstablished && f.Target.IsValid():
			srv, _ := c.serverIndex(server, true)
			tk := targetKey(srv, sk.session, false)
			if t, seen := c.targets[tk]; !seen || when.UnixMilli() < t.ms {
				if tk.text != "" {
					// Also when seen: assigning stores the key again.
					tk.text = strings.Clone(tk.text)
				}
				c.targets[tk] = connTarget{f.Target, when.UnixMilli()}
			}
		case f.Kind == parser.ConnSummary:
			dk := connDestKey{server, dests.Value(i)}
			if when.After(c.success[dk]) {
				c.success[connDestKey{strings.Clone(dk.server), strings.Clone(dk.destination)}] = when
			}
			// The session ended without failure: no later row is its, and
			// its address serves only a failure already kept.
			if srv, ok := c.serverIndex(server, false); ok && sk.session != "" {
				tk := targetKey(srv, sk.session, false)
				if _, failed := c.failed[tk]; !failed {
					delete(c.targets, tk)
				}
			}
		case f.Kind.Failed():
			e := connEvent{server: server, session: sk.session, destination: dests.Value(i), kind: f.Kind,
				description: clip(desc, maxConnDescription), target: f.Target, time: when, at: ref}
			c.keepFailure(e)
		}
	}
}

// keepFailure keeps e (its text lent by the record) if it is its session's
// earliest failure and within the bound.
func (c *connectivityLog) keepFailure(e connEvent) {
	own := func(e connEvent) connEvent {
		e.session, e.destination, e.description = strings.Clone(e.session), strings.Clone(e.destination), strings.Clone(e.description)
		return e
	}
	if e.session == "" {
		if !c.boundNoSession.admits(connHash(e.at.File, uint64(e.at.Line))) {
			c.dropped++
			return
		}
		c.noSession = append(c.noSession, own(e))
		c.boundNoSession.kept(func(max uint64) int {
			n := len(c.noSession)
			c.noSession = slices.DeleteFunc(c.noSession, func(x connEvent) bool { return connHash(x.at.File, uint64(x.at.Line)) > max })
			c.dropped += int64(n - len(c.noSession))
			return n - len(c.noSession)
		})
		return
	}
	srv, _ := c.serverIndex(e.server, true)
	tk := targetKey(srv, e.session, false)
	if !c.bound.admits(tk.hash()) {
		c.dropped++
		return
	}
	old, seen := c.failed[tk]
	if seen && connEventOrder(e, old) >= 0 {
		return
	}
	if tk.text != "" {
		tk.text = strings.Clone(tk.text) // also when seen: assigning stores the key again
	}
	c.failed[tk] = own(e)
	if seen {
		return
	}
	c.bound.kept(func(max uint64) (dropped int) {
		for k := range c.failed {
			if k.hash() > max {
				delete(c.failed, k)
				dropped++
			}
		}
		c.dropped += int64(dropped)
		return dropped
	})
}

// connEventOrder is the order failures are counted in: time, file, line.
func connEventOrder(a, b connEvent) int {
	return cmp.Or(a.time.Compare(b.time), cmp.Compare(a.at.File, b.at.File), cmp.Compare(a.at.Line, b.at.Line))
}

// hash is the key's FNV-1a hash, which chooses the sessions kept past
// maxConnEvents.
func (k connTargetKey) hash() uint64 { return connHash(k.text, k.id, uint64(k.server)) }

// connHash hashes s and the numbers ns together (FNV-1a, 64 bits).
func connHash(s string, ns ...uint64) uint64 {
	h := fnvAdd(fnvOffset, s)
	var b [8]byte
	for _, n := range ns {
		binary.LittleEndian.PutUint64(b[:], n)
		h = fnvAdd(h, b[:])
	}
	return h
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
	for _, f := range c.files {
		out.servers[f.server] = true
	}
	events := slices.Collect(maps.Values(c.failed))
	events = append(events, c.noSession...)
	slices.SortFunc(events, connEventOrder)
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
	for _, e := range events {
		if e.session != "" {
			sk := connSessKey{e.server, e.session}
			if counted[sk] {
				continue
			}
			counted[sk] = true
		}
		target := e.target
		if !target.IsValid() {
			if srv, ok := c.serverIndex(e.server, false); ok {
				target = c.targets[targetKey(srv, e.session, false)].addr
			}
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
		f.setCount("failures_in_connectivity_log", n, cf.dropped > 0)
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
