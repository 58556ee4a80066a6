package heuristics

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logscan/logscan/heuristics/session"
)

// RelayDetector finds anonymous relay: an unauthenticated session in which
// Exchange accepted (2xx) a RCPT TO for a domain the organisation is not
// authoritative for. That is an open relay for whoever can reach the
// connector, and the usual road to a blacklist.
//
// Sessions are counted per server, connector and client, and judged per
// client the way an Exchange engineer would: an internal host relaying
// through a connector few sources use is how admins are told to let
// printers and applications send (SeverityInfo, an inventory). It is an
// alarm when the source is public, when the connector also takes Internet
// mail, when the source is a hidden NAT address (everyone behind it
// relays), or when one source sends to ManyRelayDomains or more outside
// domains.
//
// Findings are one per cause, not per client: the cause is the connector's
// permission, so the clients of one connector that share a verdict (public
// sources, internal alarms, the inventory) make one finding, with each
// client as evidence (Finding.Sources: its sessions, recipients, first and
// last time). A botnet of 1,600 addresses through one connector is one
// finding. A NAT address stays a finding of its own per connector, tied to
// its hidden-NAT finding (CausedBy). Each finding has a Timeline of the
// sessions that relayed and the recipients relayed per hour.
//
// Refused attempts (550 5.7.54 / 550 5.7.1 Unable to relay) are reported
// apart, per connector, as relay probing.
//
// Exchange itself accepts a recipient from an anonymous session that lacks
// SMTPAcceptAnyRecipient only in an accepted domain, so only sessions that
// held that permission (or whose permissions were not logged) can relay.
//
// Sessions proxied by a Front End (XPROXYFROM) are not counted: the relay is
// counted once, on the Front End connector where the client connected.
type RelayDetector struct {
	groups  map[relayKey]*relayGroup
	refused map[connRef]*refusedGroup
	// Per-hour entries kept over all groups, per hour and in all. Past
	// hourCap the latest hour is dropped from every group and no later
	// hour is kept (hourCutoff): what is kept is then the earliest hours
	// whatever the order sessions arrive in, each complete
	// (Timeline.Partial says hours are missing).
	hourEntries map[int64]int
	hourTotal   int
	hourCap     int
	hourCutoff  int64 // hours at or after it are not kept
	// deadHours counts the entries of dropped hours still in the groups'
	// maps: nothing reads or adds to them, and they are taken out all at
	// once (purgeHours) when they reach a quarter of hourCap, and before
	// the report, instead of in a pass over every group's entries at
	// each hour dropped (a 4.3 GB botnet scan dropped hours by the
	// hundred).
	deadHours int
	// The recipient domain names the groups keep, once each, by number
	// (a botnet's clients relay to the same domains): a group keeps the
	// numbers, four bytes a domain.
	nameIDs  map[string]uint32
	nameList []string
	// The log files the groups' example sessions name, by number.
	files relayFiles
	// Scratch reused from session to session (observe runs under the
	// Analyzer's lock): the domain sets of a session and of a message, and
	// a set's key.
	sessDomains, msgDomains domainSet
	key                     []byte
	// What a message relayed to each of its domains, in step with
	// msgDomains.list (countMessage).
	msgRcpts []domainRcpts
	// The domains of a session's first relaying message, while it is
	// not known whether another message relays (observe).
	firstMsgDomains []string
	// Other domains told apart over all groups (evict).
	evictBound hashBound
	// Distinct recipient addresses kept over all groups (addRcpt), and
	// scratch for sorting a group's (rcptSet.compact).
	rcptBound   hashBound
	rcptScratch []rcptPair
	// The named domains, domain sets and partial signatures a group
	// keeps, shrinking so that all groups together stay within their
	// budget (a botnet of thousands of clients relaying for weeks).
	domLimit, sigLimit, partLimit groupLimit
}

// Thresholds of RelayDetector.
const (
	// ManyRelayDomains outside domains from one source is mass mailing,
	// whatever the source: a scanner mails a handful of partners.
	ManyRelayDomains = 10
	// FewRelaySources: a connector used by at most this many clients is a
	// dedicated relay connector.
	FewRelaySources = 5

	// What the detector keeps per client and connector is bounded, so
	// that a botnet of thousands of addresses relaying for days costs a
	// few tens of KB per address, not more each day. Each bound keeps the
	// smallest names (or hashes), whatever the order sessions arrive in.
	maxRelayDomains  = 128 // recipient domains counted apart; the rest together as "(other domains)"
	maxDetailDomains = 8   // of those, the first by name keep their own examples and senders; the rest share one set
	maxRelaySigs     = 64  // distinct recipient-domain sets (sessions; messages likewise); the rest counted by their first domain
	maxSigDomains    = 64  // a larger set is counted by its first domain, like the sets past maxRelaySigs
	// The per-client bounds above shrink, for all clients alike, when
	// all clients together would keep more than the budgets below
	// (groupLimit), down to these minimums: 1,600 botnet addresses
	// relaying for 20 days keep about 20 MB of sets instead of 40.
	minRelayDomains = 16 // at least maxDetailDomains
	minRelaySigs    = 8
	minPartialSigs  = 8
	// maxEvictedDomains of the other domains, over all clients, are told
	// apart by hash (about 30 bytes each), so that recipients in accepted
	// ones are not counted as relayed; past it, recipient counts are
	// lower bounds. (1,600 clients relaying for 4 days need 87,000.)
	maxEvictedDomains = 1 << 17
	// maxPartialSigs first domains of sets not kept are told apart, per
	// client and connector; past it, the sessions counted as relayed are
	// a lower bound.
	maxPartialSigs = 128
	// The budgets of all clients together; tests lower them.
	MaxRelayDomainsAll = 1 << 18 // named domains: about 50 bytes each
	MaxRelaySigsAll    = 1 << 15 // domain sets: about 300 bytes each (the key names every domain)
	MaxPartialSigsAll  = 1 << 16 // partial signatures: about 60 bytes each
	// maxRelayRcpts bounds the distinct recipient addresses kept over
	// all groups (16 bytes each, about 12 MB); past it, distinct counts
	// are lower bounds (see RelayDetector.addRcpt).
	maxRelayRcpts     = 1 << 18
	maxDistinctValues = 1 << 16 // EHLO names, sender domains, sources per group: exact up to here
	// maxRelayHourEntries bounds the (hour, domain) and (hour, domain
	// set) counts kept for timelines over all groups: about 20 MB. Past
	// it the latest hours are left out (see RelayDetector.hourCutoff).
	maxRelayHourEntries = 1 << 18
)

// Budget tables of the relay detector.
const (
	budgetRelayDomains = "anonymous relay: recipient domains named per client and connector"
	budgetRelaySigs    = "anonymous relay: recipient-domain sets per client and connector"
	budgetRelayParts   = "anonymous relay: first domains of the sets not kept, per client and connector"
)

// The relay budgets in force; tests lower them (SetRelayBudgetsForTest).
var (
	maxRelayDomainsAll = MaxRelayDomainsAll
	maxRelaySigsAll    = MaxRelaySigsAll
	maxPartialSigsAll  = MaxPartialSigsAll
)

// SetRelayBudgetsForTest sets the relay detector's budgets over all
// clients (0 leaves one as it is) and returns a function that restores
// them. For tests only.
func SetRelayBudgetsForTest(domains, sigs, parts int) (restore func()) {
	d, s, p := maxRelayDomainsAll, maxRelaySigsAll, maxPartialSigsAll
	maxRelayDomainsAll = cmp.Or(domains, d)
	maxRelaySigsAll = cmp.Or(sigs, s)
	maxPartialSigsAll = cmp.Or(parts, p)
	return func() { maxRelayDomainsAll, maxRelaySigsAll, maxPartialSigsAll = d, s, p }
}

type relayKey struct {
	server, connector string
	client            netip.Addr
}

type relayGroup struct {
	sessions  int64 // anonymous sessions of this client on this connector
	relayPerm bool  // some session held SMTPAcceptAnyRecipient
	ehlo      smallCounter
	// The domains kept apart: their numbers (RelayDetector.nameList), and
	// what was sent to each, in the same order. Slices of values, not a
	// map of pointers: 1,600 clients keeping 128 domains each cost a
	// third as much.
	domIDs  []uint32
	doms    []relayDomain
	domFull nameHeap    // the kept domains' names, largest first, once the group's limit is kept
	other   relayDomain // recipients in domains past maxRelayDomains
	// evicted counts the other domains' recipients by the FNV-1a hash of
	// the domain name, so that those in accepted domains are not counted
	// as relayed (RelayDetector.evict bounds them over all clients);
	// evictedOver counts the rest, whose domains are not known.
	evicted     map[uint64]int64
	evictedOver int64
	detailed    nameHeap      // names of the domains with their own detail, largest first
	details     []relayDetail // the domains' own details (relayDomain.detail); those not inUse are free
	otherDet    relayDetail   // examples and senders of the kept domains past maxDetailDomains, and of the other domains
	// sigs counts sessions and messages by their domain set, one entry
	// per set; sigFull holds the kept keys, largest first, once the
	// group's limit is kept. A slice searched by the sets' hashes, not a
	// map: a group keeps at most maxRelaySigs sets, and a botnet's 1,600
	// clients each growing a map of a dozen cost the map's probes and
	// growth for every session.
	sigs    []relaySig
	sigFull nameHeap
	// Sessions and messages whose domain set is not kept — past
	// maxRelaySigs sets, or more than maxSigDomains domains — are counted
	// under their first domain (a partial signature): they relayed if that
	// domain is outside; if it is accepted, whether they relayed is not
	// known, and the counts are lower bounds.
	part  partialSigs
	rcpts rcptSet // accepted recipient addresses, over all domains
	// (The names of the hashes that key rcpts, the hours and the partial
	// signatures are RelayDetector.nameList: every domain a group kept apart.)
	// Per hour: accepted recipients per domain, and sessions per domain
	// set; which are outside is decided at report, as for the totals.
	// Per hour: accepted recipients per domain (by the hash of its name),
	// and sessions per domain set (by the hashes of the set and of its
	// first domain: a set not kept is judged by its first domain, as the
	// totals are). Keys by hash, not by what the group keeps, so that they
	// do not depend on when a domain or set stopped being kept.
	rcptHours hourCounts[uint64]
	sessHours hourCounts[setHash]
}

// setHash names a domain set by the hashes of its key and of its first domain.
type setHash struct{ set, first uint64 }

// hourKey is a Unix hour and what is counted in it.
type hourKey[T any] struct {
	hour int64
	of   T
}

// relayDomain is what one group sent to one recipient domain (accepted RCPTs).
type relayDomain struct {
	id uint32 // RelayDetector.nameList; unused in relayGroup.other
	// shared: the name sorts after the last of the group's maxDetailDomains
	// detailed names, so its examples and senders are the shared ones
	// (relayGroup.otherDet) for good: that last name only ever moves to
	// a smaller one (detailOf). Kept so that detailOf need not compare
	// the names again for each message; it fits in id's padding.
	shared bool
	// detail is 1 + the position of the domain's examples and senders in
	// relayGroup.details; 0 past the group's maxDetailDomains first names
	// (relayGroup.otherDet holds theirs). A position, not a pointer, so
	// that relayDomain holds none: 32 bytes the collector need not scan,
	// where a pointer and a flagged span made 48 (a botnet's groups keep
	// 90,000). A detail belongs to a kept domain, and a group keeps at
	// most maxRelayDomains, so its details take at most that many
	// positions (freed ones are reused): a byte holds them.
	detail uint8
	rcpts  int64
	span   msSpan
}

// relayDetail is what a relay finding shows as examples of a domain's
// recipients: the sessions and the senders.
type relayDetail struct {
	senders smallCounter // MAIL FROM, by recipients accepted in this domain
	samples relaySamples
	inUse   bool // a domain's (relayGroup.details)
}

func (x *relayDetail) merge(o *relayDetail, files []string) {
	x.samples.merge(o.samples, files)
	if o.senders.many != nil {
		for v, n := range o.senders.many.m {
			x.senders.add(v, *n, 64)
		}
		x.senders.addOver(o.senders.many)
		return
	}
	for _, vc := range o.senders.few {
		x.senders.add(vc.v, vc.n, 64)
	}
}

// relaySig counts the sessions and messages of one set of domains they had
// recipients accepted in; which of those are outside is decided at the end,
// once the accepted domains are known. key is the domains, sorted, one
// per line, and hash its bytesHash.
type relaySig struct {
	key                  string
	hash                 uint64
	sessions, msgs, qued int64
}

func (x relaySig) plus(o relaySig) relaySig {
	return relaySig{x.key, x.hash, x.sessions + o.sessions, x.msgs + o.msgs, x.qued + o.qued}
}

type refusedGroup struct {
	sessions, rcpts int64
	sources         counter
	eop             counter // sources in Exchange Online Protection's ranges
	domains         counter
	span            span
	samples         samples
}

func newRelayDetector() *RelayDetector {
	return &RelayDetector{groups: map[relayKey]*relayGroup{}, refused: map[connRef]*refusedGroup{},
		hourEntries: map[int64]int{}, hourCap: maxRelayHourEntries, hourCutoff: math.MaxInt64,
		rcptBound: newHashBound(maxRelayRcpts), evictBound: newHashBound(maxEvictedDomains), nameIDs: map[string]uint32{},
		domLimit:  groupLimit{r: maxRelayDomains, min: minRelayDomains, budget: maxRelayDomainsAll},
		sigLimit:  groupLimit{r: maxRelaySigs, min: minRelaySigs, budget: maxRelaySigsAll},
		partLimit: groupLimit{r: maxPartialSigs, min: minPartialSigs, budget: maxPartialSigsAll}}
}

func (d *RelayDetector) observe(s *session.Session) {
	if !s.IsReceive() || s.Proxied || s.Auth != session.AuthNone || len(s.Messages) == 0 {
		return
	}
	// Exchange accepts a recipient from an anonymous session without
	// SMTPAcceptAnyRecipient only in an accepted domain: such sessions
	// cannot relay, whatever the domain list says. Only sessions that
	// held the relay right (or whose permissions were not logged) are kept.
	anyRecipient := s.HasPermission(permAnyRecipient) // a search of the text: once a session
	canRelay := s.Permissions == "" || anyRecipient
	k := relayKey{s.Server, s.Connector, s.Client}
	g := d.groups[k]
	// The sets are the detector's, reused from session to session: observe
	// runs under the Analyzer's lock.
	sessDomains, msgDomains := &d.sessDomains, &d.msgDomains
	sessDomains.reset()
	refusedHere := false
	// Nearly every relaying session has one message: its set of domains
	// is the session's, so one sig call counts the message with the
	// session (a sort, a key and a set's map update fewer). The first
	// relaying message's counts wait in firstMsg until the end of the
	// session, or until a second message relays: sig calls touch nothing
	// the recipients' counting does, so only their order among
	// themselves matters, and it stays the same (TestRelayOneSigPerSession).
	relayMsgs := 0
	var firstMsg relaySig
	hour := unixHour(s.Start)
	for _, m := range s.Messages {
		msgDomains.reset()
		d.msgRcpts = d.msgRcpts[:0]
		for _, r := range m.Rcpts {
			if r.RelayRefused() {
				rg := d.refusedGroup(s)
				rg.rcpts++
				rg.domains.add(r.Domain, 1, maxDistinctValues)
				if !refusedHere {
					refusedHere = true
					rg.sessions++
					rg.sources.add(s.Client.String(), 1, maxDistinctValues)
					if isEOP(s.Client) {
						rg.eop.add(s.Client.String(), 1, maxDistinctValues)
					}
					rg.span.add(s.Start, s.End)
					rg.samples.add(sampleOf(s, r.At))
				}
				continue
			}
			if !canRelay || !r.Accepted() || r.Domain == "" {
				continue
			}
			if g == nil {
				g = &relayGroup{}
				d.groups[relayKey{strings.Clone(s.Server), strings.Clone(s.Connector), s.Client}] = g
			}
			// A message's recipients are counted per domain, at its end
			// (countMessage); only their addresses are counted one by one.
			i, added := msgDomains.index(r.Domain)
			if added {
				d.msgRcpts = append(d.msgRcpts, domainRcpts{hash: addrHash(r.Domain), first: r.At})
			}
			dr := &d.msgRcpts[i]
			dr.n++
			d.addRcpt(g, addrHash(r.Addr), dr.hash)
			if relayCountPerRecipient {
				d.countDomain(g, s, r.Domain, domainRcpts{1, dr.hash, r.At}, cmp.Or(m.From, "<>"), hour, d.sessDomains.add(r.Domain), nil)
			}
		}
		if len(msgDomains.list) > 0 {
			if !relayCountPerRecipient {
				d.countMessage(g, s, cmp.Or(m.From, "<>"), hour) // before sig sorts msgDomains.list
			}
			c := relaySig{msgs: 1}
			if m.Queued {
				c.qued = 1
			}
			relayMsgs++
			switch {
			case relaySigPerMessage:
				g.sig(msgDomains.list, c, d)
			case relayMsgs == 1:
				firstMsg = c
				d.firstMsgDomains = append(d.firstMsgDomains[:0], msgDomains.list...)
			case relayMsgs == 2:
				g.sig(d.firstMsgDomains, firstMsg, d)
				fallthrough
			default:
				g.sig(msgDomains.list, c, d)
			}
		}
	}
	clear(d.firstMsgDomains) // the names are the session's lent text
	if g == nil || len(sessDomains.list) == 0 {
		return
	}
	g.sessions++
	g.relayPerm = g.relayPerm || anyRecipient
	g.ehlo.add(s.EHLO, 1, maxDistinctValues)
	c := relaySig{sessions: 1}
	if relayMsgs == 1 && !relaySigPerMessage {
		c = c.plus(firstMsg) // the only relaying message: its set is the session's
	}
	setKeyHash := g.sig(sessDomains.list, c, d)
	// sig sorted the list: its first is the set's first domain.
	set := setHash{setKeyHash, addrHash(sessDomains.list[0])}
	g.sessHours.add(d, hour, set, 1)
}

// domainRcpts is what one message relayed to one domain.
type domainRcpts struct {
	n     int64       // recipients accepted
	hash  uint64      // addrHash of the domain
	first session.Ref // where the first of them was accepted
}

// countMessage counts, for each domain of a message (msgDomains, in the
// order the message named them), the recipients the message relayed to
// it, sent by from: once per domain, not once per recipient. A group's
// domains, details, evicted domains and hours are kept the same whatever
// the order recipients come in (as whatever the order sessions come in),
// so counting a domain's n recipients at once keeps what counting them
// one by one did (TestRelayCountsPerDomainAsPerRecipient).
//
// Most of a botnet message's domains are past the group's first
// maxDetailDomains names and share its detail (relayGroup.otherDet): what
// they add to it, the sender and the session's example, is added once for
// the message (sharedDetailBatch) instead of once per domain, a counter
// lookup and a sample scan each.
func (d *RelayDetector) countMessage(g *relayGroup, s *session.Session, from string, hour int64) {
	var shared sharedDetailBatch
	// The session's first relaying message names only domains new to
	// the session (msgDomains holds each once): they need no search.
	sessionFresh := len(d.sessDomains.list) == 0
	for i, name := range d.msgDomains.list {
		firstInSession := sessionFresh
		if sessionFresh {
			d.sessDomains.push(name)
		} else {
			firstInSession = d.sessDomains.add(name)
		}
		d.countDomain(g, s, name, d.msgRcpts[i], from, hour, firstInSession, &shared)
	}
	shared.addTo(&g.otherDet, s, from, &d.files)
}

// sharedDetailBatch is what a message added to its group's shared detail
// (relayGroup.otherDet), held until the message's end: its recipients,
// all sent by the message's sender, and the earliest row among the
// domains the session names there for the first time. Adding it at once
// keeps what adding it domain by domain did: a counter keeps the same
// values and counts, and samples the same rows, whatever the order they
// come in and however a value's count is split, so the merges of
// displaced details (detailOf) in between change nothing either.
type sharedDetailBatch struct {
	rcpts   int64
	sampled bool        // first holds a row
	first   session.Ref // the earliest example row
}

// add counts dr's recipients; firstInSession says dr's domain is new to the
// session, so that its first row is an example.
func (b *sharedDetailBatch) add(s *session.Session, dr domainRcpts, firstInSession bool) {
	b.rcpts += dr.n
	if firstInSession && (!b.sampled || sampleLess(sampleOf(s, dr.first), sampleOf(s, b.first))) {
		b.first, b.sampled = dr.first, true
	}
}

// addTo adds the batch to det, the group's shared detail.
func (b *sharedDetailBatch) addTo(det *relayDetail, s *session.Session, from string, files *relayFiles) {
	if b.rcpts > 0 {
		det.senders.add(from, b.rcpts, 64)
	}
	if b.sampled {
		det.samples.add(files.sample(s, b.first), files.names)
	}
}

// relayCountPerRecipient makes observe count every recipient apart
// (countDomain with one recipient), as it did before it counted a
// message's recipients per domain; tests compare the two.
var relayCountPerRecipient = false

// countDomain counts dr, what a session's message relayed to the domain
// name, sent by from; firstInSession says the session named no recipient
// in name before (the caller added name to sessDomains). What goes to the
// group's shared detail is added to shared when it is not nil
// (countMessage adds it at the message's end).
func (d *RelayDetector) countDomain(g *relayGroup, s *session.Session, name string, dr domainRcpts, from string, hour int64, firstInSession bool, shared *sharedDetailBatch) {
	rd := g.domain(name, d)
	rd.rcpts += dr.n
	if rd == &g.other {
		d.evict(g, dr.hash, dr.n)
	}
	g.rcptHours.add(d, hour, dr.hash, dr.n)
	det := g.detailOf(rd, d)
	if firstInSession {
		// The session's first recipient in the domain counts its span,
		// and is its example (below, or in shared).
		rd.span.add(s.Start, s.End)
	}
	if det == &g.otherDet && shared != nil {
		shared.add(s, dr, firstInSession)
		return
	}
	det.senders.add(from, dr.n, 64)
	if firstInSession {
		det.samples.add(d.files.sample(s, dr.first), d.files.names)
	}
}

// relaySigPerMessage makes observe count every message's domain set by a
// sig call of its own, as it did before it counted a session's only
// relaying message with the session; tests compare the two.
var relaySigPerMessage = false

// hourRoom reports whether a new per-hour entry of hour h may be kept, and
// counts it. Past hourCap it drops the latest hour kept from every group,
// until the entries fit, and keeps no hour from there on.
func (d *RelayDetector) hourRoom(h int64) bool {
	if h >= d.hourCutoff {
		return false
	}
	d.hourEntries[h]++
	d.hourTotal++
	for d.hourTotal > d.hourCap {
		latest := int64(math.MinInt64)
		for x := range d.hourEntries {
			latest = max(latest, x)
		}
		d.hourTotal -= d.hourEntries[latest]
		d.deadHours += d.hourEntries[latest]
		delete(d.hourEntries, latest)
		d.hourCutoff = latest
	}
	if d.deadHours > d.hourCap/4 || relayPurgeEveryHour && d.deadHours > 0 {
		d.purgeHours()
	}
	return h < d.hourCutoff
}

// relayPurgeEveryHour makes hourRoom take an hour's entries out of the
// maps as it drops the hour, as it did before it left them for
// purgeHours; tests compare the two.
var relayPurgeEveryHour = false

// purgeHours takes the entries of the hours dropped (at or after
// hourCutoff) out of every group's maps.
func (d *RelayDetector) purgeHours() {
	for _, g := range d.groups {
		g.rcptHours.purge(d.hourCutoff)
		g.sessHours.purge(d.hourCutoff)
	}
	d.deadHours = 0
}

// otherDomains names the recipients in domains past maxRelayDomains.
const otherDomains = "(other domains)"

// domainSet is a set of domains in insertion order; a slice while small,
// with a map beside it once a session names many domains, so that a
// session with 100,000 recipients costs linear time.
type domainSet struct {
	list []string
	m    map[string]int // the list's positions
}

// reset empties d, keeping its memory.
func (d *domainSet) reset() {
	clear(d.list) // the names are sessions' lent text
	d.list = d.list[:0]
	d.m = nil
}

func (d *domainSet) add(s string) bool {
	_, added := d.index(s)
	return added
}

// index returns the position of s in the list, adding it at the end if it
// is not there (added).
func (d *domainSet) index(s string) (i int, added bool) {
	if d.m != nil {
		if i, ok := d.m[s]; ok {
			return i, false
		}
	} else if i := slices.Index(d.list, s); i >= 0 {
		return i, false
	}
	return d.push(s), true
}

// push adds s, which is not in the set, at the end of the list, and
// returns its position.
func (d *domainSet) push(s string) int {
	i := len(d.list)
	d.list = append(d.list, s)
	if d.m != nil {
		d.m[s] = i
	} else if len(d.list) > 16 {
		d.m = make(map[string]int, 64)
		for j, x := range d.list {
			d.m[x] = j
		}
	}
	return i
}

func (d *RelayDetector) refusedGroup(s *session.Session) *refusedGroup {
	k := connRef{s.Server, s.Connector}
	rg := d.refused[k]
	if rg == nil {
		rg = &refusedGroup{}
		d.refused[connRef{strings.Clone(s.Server), strings.Clone(s.Connector)}] = rg
	}
	return rg
}

func (g *relayGroup) domain(name string, d *RelayDetector) *relayDomain {
	id, named := d.nameIDs[name]
	if named {
		if i := g.find(id); i >= 0 {
			return &g.doms[i]
		}
	}
	if d.domLimit.room(func() int { return len(g.doms) }, d.shrinkDomains) {
		d.domLimit.n++
		if !named {
			id = d.intern(name)
		}
		return g.newDomain(id)
	}
	g.heapDomains(d)
	if name >= g.domFull[0] {
		return &g.other
	}
	// name sorts before the last domain kept: that one joins the other
	// domains, and name takes its place.
	g.dropLastDomain(d)
	rd := g.newDomain(d.intern(name))
	heap.Push(&g.domFull, d.nameList[rd.id])
	return rd
}

// find returns the index of domain id in g.doms, or -1. A linear search of
// at most maxRelayDomains numbers costs less than a map's memory.
func (g *relayGroup) find(id uint32) int {
	for i, x := range g.domIDs {
		if x == id {
			return i
		}
	}
	return -1
}

// intern returns the number of a domain name, copying the name the first
// time a group keeps it.
func (d *RelayDetector) intern(name string) uint32 {
	if id, ok := d.nameIDs[name]; ok {
		return id
	}
	id := uint32(len(d.nameList))
	kept := strings.Clone(name)
	d.nameIDs[kept] = id
	d.nameList = append(d.nameList, kept)
	return id
}

// newDomain keeps domain id apart; the pointer is valid until the group
// keeps or drops another domain.
func (g *relayGroup) newDomain(id uint32) *relayDomain {
	g.domIDs = append(g.domIDs, id)
	g.doms = append(g.doms, relayDomain{id: id})
	return &g.doms[len(g.doms)-1]
}

// heapDomains builds domFull, the kept domains' names largest first, once
// the group is at its limit (below it the heap would cost for nothing).
func (g *relayGroup) heapDomains(d *RelayDetector) {
	if len(g.domFull) == 0 {
		for _, id := range g.domIDs {
			g.domFull = append(g.domFull, d.nameList[id])
		}
		heap.Init(&g.domFull)
	}
}

// dropLastDomain moves the kept domain that sorts last (domFull's first)
// to the other domains.
func (g *relayGroup) dropLastDomain(d *RelayDetector) {
	name := heap.Pop(&g.domFull).(string)
	i := g.find(d.nameIDs[name])
	last := g.doms[i]
	n := len(g.doms) - 1
	g.doms[i], g.domIDs[i] = g.doms[n], g.domIDs[n]
	g.doms[n] = relayDomain{}
	g.doms, g.domIDs = g.doms[:n], g.domIDs[:n]
	g.other.rcpts += last.rcpts
	d.evict(g, addrHash(name), last.rcpts)
	g.other.span.merge(last.span)
	if det := g.detailAt(&last); det != nil {
		g.otherDet.merge(det, d.files.names)
		*det = relayDetail{}
	}
}

// shrinkDomains leaves every group its r domains that sort first.
func (d *RelayDetector) shrinkDomains(r int) (dropped int) {
	for _, g := range d.groups {
		if len(g.doms) <= r {
			continue
		}
		g.heapDomains(d)
		for len(g.doms) > r {
			g.dropLastDomain(d)
			dropped++
		}
	}
	return dropped
}

// evict counts n recipients of the domain hashed h (addrHash) among the
// other domains.
func (d *RelayDetector) evict(g *relayGroup, h uint64, n int64) {
	if !d.evictBound.admits(h) {
		g.evictedOver += n
		return
	}
	if g.evicted == nil {
		g.evicted = map[uint64]int64{}
	}
	_, ok := g.evicted[h]
	g.evicted[h] += n
	if !ok {
		d.evictBound.kept(func(max uint64) (dropped int) {
			for _, o := range d.groups {
				for x, c := range o.evicted {
					if x > max {
						delete(o.evicted, x)
						o.evictedOver += c
						dropped++
					}
				}
			}
			return dropped
		})
	}
}

// detailOf is where rd's examples and senders are counted: its own detail
// while it is among the group's maxDetailDomains first names, else the
// group's shared one. Whatever the order domains come in, the first names
// end up with their own detail: a name that sorts before the last detailed
// one takes its place, and that one's detail joins the shared set.
func (g *relayGroup) detailOf(rd *relayDomain, d *RelayDetector) *relayDetail {
	if det := g.detailAt(rd); det != nil {
		return det
	}
	if rd.shared || rd == &g.other {
		return &g.otherDet
	}
	name := d.nameList[rd.id]
	if len(g.detailed) < maxDetailDomains {
		heap.Push(&g.detailed, name)
		return g.newDetail(rd)
	}
	if name >= g.detailed[0] {
		rd.shared = true
		return &g.otherDet
	}
	if i := g.find(d.nameIDs[g.detailed[0]]); i >= 0 {
		if det := g.detailAt(&g.doms[i]); det != nil {
			g.otherDet.merge(det, d.files.names)
			*det = relayDetail{}
			g.doms[i].detail = 0
		}
	}
	g.detailed[0] = name
	heap.Fix(&g.detailed, 0)
	return g.newDetail(rd)
}

// detailAt is rd's own detail, or nil. The pointer is valid until the
// group gives another domain a detail (newDetail).
func (g *relayGroup) detailAt(rd *relayDomain) *relayDetail {
	if rd.detail == 0 {
		return nil
	}
	return &g.details[rd.detail-1]
}

// newDetail gives rd an empty detail of its own, in the first free
// position of g.details.
func (g *relayGroup) newDetail(rd *relayDomain) *relayDetail {
	i := slices.IndexFunc(g.details, func(x relayDetail) bool { return !x.inUse })
	if i < 0 {
		i = len(g.details)
		g.details = append(g.details, relayDetail{})
	}
	g.details[i].inUse = true
	rd.detail = uint8(i + 1)
	return &g.details[i]
}

// sig counts c (a session or a message) under its set of domains, and
// returns the hash of the set's key (bytesHash). Past the group's limit of
// sets (RelayDetector.sigLimit) the sets that sort last are not kept
// (sigFull holds the kept keys then), so that which are does not depend on
// the order sessions come in: theirs, and sets of more than maxSigDomains
// domains, are counted under their first domain (part).
func (g *relayGroup) sig(domains []string, c relaySig, d *RelayDetector) (keyHash uint64) {
	slices.Sort(domains)
	d.key = joinKey(d.key, domains)
	key := d.key
	keyHash = bytesHash(key)
	if len(domains) <= maxSigDomains {
		if i := g.findSig(keyHash, key); i >= 0 {
			g.sigs[i] = g.sigs[i].plus(c)
			return keyHash
		}
		if d.sigLimit.room(func() int { return len(g.sigs) }, d.shrinkSigs) {
			d.sigLimit.n++
			c.key, c.hash = string(key), keyHash
			g.sigs = append(g.sigs, c)
			return keyHash
		}
		g.heapSigs()
		if string(key) < g.sigFull[0] {
			// key sorts before the last set kept: that one is counted
			// in part, and key takes its place.
			g.dropLastSig(d)
			c.key, c.hash = string(key), keyHash
			g.sigs = append(g.sigs, c)
			heap.Push(&g.sigFull, c.key)
			return keyHash
		}
	}
	g.part.add(addrHash(domains[0]), c, d)
	return keyHash
}

// findSig returns the position in g.sigs of the set keyed key, hashed h,
// or -1. At most maxRelaySigs sets, a dozen in a botnet's client: a scan
// of their hashes costs less than a map's probe.
func (g *relayGroup) findSig(h uint64, key []byte) int {
	for i := range g.sigs {
		if g.sigs[i].hash == h && g.sigs[i].key == string(key) {
			return i
		}
	}
	return -1
}

// heapSigs builds sigFull, the kept sets' keys largest first, once the
// group is at its limit.
func (g *relayGroup) heapSigs() {
	if len(g.sigFull) == 0 {
		for _, sig := range g.sigs {
			g.sigFull = append(g.sigFull, sig.key)
		}
		heap.Init(&g.sigFull)
	}
}

// dropLastSig counts the kept set that sorts last (sigFull's first) under
// its first domain.
func (g *relayGroup) dropLastSig(d *RelayDetector) {
	key := heap.Pop(&g.sigFull).(string)
	i := slices.IndexFunc(g.sigs, func(x relaySig) bool { return x.key == key })
	last := g.sigs[i]
	// The sets are in no order: the last takes the dropped one's place.
	n := len(g.sigs) - 1
	g.sigs[i] = g.sigs[n]
	g.sigs[n] = relaySig{}
	g.sigs = g.sigs[:n]
	first, _, _ := strings.Cut(last.key, "\n")
	last.key, last.hash = "", 0
	g.part.add(addrHash(first), last, d)
}

// shrinkSigs leaves every group its r sets that sort first.
func (d *RelayDetector) shrinkSigs(r int) (dropped int) {
	for _, g := range d.groups {
		if len(g.sigs) <= r {
			continue
		}
		g.heapSigs()
		for len(g.sigs) > r {
			g.dropLastSig(d)
			dropped++
		}
	}
	return dropped
}

// joinKey is domains one per line, in buf.
func joinKey(buf []byte, domains []string) []byte {
	buf = buf[:0]
	for i, d := range domains {
		if i > 0 {
			buf = append(buf, '\n')
		}
		buf = append(buf, d...)
	}
	return buf
}

// partialSigs counts the sessions and messages whose domain set is not kept,
// by the hash of the set's first domain: at most the group's limit
// (RelayDetector.partLimit) of them, the smallest hashes; the rest in
// over, whether they relayed unknown.
type partialSigs struct {
	m    map[uint64]relaySig // first domain's hash -> counts (key unused)
	full hashHeap
	over relaySig
}

func (p *partialSigs) add(h uint64, c relaySig, d *RelayDetector) {
	if p.m == nil {
		p.m = map[uint64]relaySig{}
	}
	c.key, c.hash = "", 0
	if x, ok := p.m[h]; ok {
		p.m[h] = x.plus(c)
		return
	}
	if d.partLimit.room(func() int { return len(p.m) }, d.shrinkParts) {
		d.partLimit.n++
		p.m[h] = c
		return
	}
	p.heapify()
	if h >= p.full[0] {
		p.over = p.over.plus(c)
		return
	}
	p.dropLast()
	p.m[h] = c
	heap.Push(&p.full, h)
}

// heapify builds full, the kept hashes largest first, once p is at its limit.
func (p *partialSigs) heapify() {
	if len(p.full) == 0 {
		for k := range p.m {
			p.full = append(p.full, k)
		}
		heap.Init(&p.full)
	}
}

// dropLast counts the largest hash kept in over.
func (p *partialSigs) dropLast() {
	h := heap.Pop(&p.full).(uint64)
	p.over = p.over.plus(p.m[h])
	delete(p.m, h)
}

// shrinkParts leaves every group its r smallest partial signatures.
func (d *RelayDetector) shrinkParts(r int) (dropped int) {
	for _, g := range d.groups {
		if len(g.part.m) <= r {
			continue
		}
		g.part.heapify()
		for len(g.part.m) > r {
			g.part.dropLast()
			dropped++
		}
	}
	return dropped
}

// relayStats are a group's figures once the accepted domains are known.
type relayStats struct {
	sessions, messages, queued, rcpts int64
	// rcpts does not count the recipients of other domains that were not
	// told apart (see relayGroup.evicted): it is a lower bound.
	rcptsLower bool
	// Some sessions (messages) were counted by their first domain only,
	// which is accepted: whether they relayed is not known.
	sessionsLower, messagesLower bool
	domains                      []domainCount // outside domains, in no order (sumDomains sums and sorts them)
	span                         span
	samples                      samples
	senders                      senderCounts
	hours                        hourSums // sessions that relayed, recipients relayed
	// The group's distinct recipient addresses (their hashes) in outside
	// domains, and whether some could not be judged (a pattern accepted)
	// or were not kept (rcptSet.dropped): distinctOutside counts them
	// over a finding's clients.
	outRcpts      []uint64
	outRcptsLower bool
}

// senderCounts are the senders a client's outside domains counted, as a
// counter limited to some number of values keeps them (keep): a sorted
// slice instead of a map, built by appending the details' values and
// sorting them once, where a map per client cost an insert, a copy of the
// value and an allocation per sender (a botnet's 1,600 clients count
// twenty each).
type senderCounts struct {
	vals    []valueCount // by value, once each (after keep)
	over    int64        // what values not kept counted
	dropped bool         // some value was not kept
}

// add appends what c counted; keep then sums and bounds it.
func (s *senderCounts) add(c *smallCounter) {
	if s.vals == nil && c.distinct() > 0 {
		// A client's details count some twenty senders each: room for
		// a few details' at once, not grown one by one.
		s.vals = make([]valueCount, 0, max(32, c.distinct()))
	}
	if c.many == nil {
		s.vals = append(s.vals, c.few...)
		return
	}
	for v, n := range c.many.m {
		s.vals = append(s.vals, valueCount{v, *n})
	}
	s.over += c.many.over
	s.dropped = s.dropped || c.many.dropped
}

// keep sums the counts of each value and keeps the limit values that sort
// first, as counter.merge of every counter added, limited to limit, does:
// a counter keeps those values, each with its whole count (a value among
// them was kept from its first count on), counts the rest in over, and
// is dropped when there were more values (or a counter added was).
func (s *senderCounts) keep(limit int) {
	slices.SortFunc(s.vals, func(a, b valueCount) int { return strings.Compare(a.v, b.v) })
	summed := s.vals[:0]
	for _, x := range s.vals {
		if n := len(summed); n > 0 && summed[n-1].v == x.v {
			summed[n-1].n += x.n
			continue
		}
		summed = append(summed, x)
	}
	if len(summed) > limit {
		s.dropped = true
		for _, x := range summed[limit:] {
			s.over += x.n
		}
		summed = summed[:limit]
	}
	s.vals = summed
}

// addTo adds what s counted to dst, as dst.merge of s's counter does.
func (s *senderCounts) addTo(dst *counter, limit int) {
	for _, x := range s.vals {
		dst.add(x.v, x.n, limit)
	}
	dst.over += s.over
	dst.dropped = dst.dropped || s.dropped
}

// hourSums are a client's counts per hour, as hourly counts them, in a
// slice: a client's hours are few, and a map per client, then merging
// 1,600 of them into a finding's, cost a map update per client and hour.
// After sort, each hour is there once, in order.
type hourSums []hourSum

type hourSum struct {
	hour int64    // Unix hour (unixHour)
	c    [3]int64 // sessions, recipients, failures: hourly's
}

// add adds sessions and rcpts to hour's counts, as hourly.add does; sort
// then sums each hour's.
func (h *hourSums) add(hour, sessions, rcpts int64) {
	*h = append(*h, hourSum{unixHour(time.Unix(hour, 0)), [3]int64{sessions, rcpts, 0}})
}

// sort orders the hours and sums the counts of each.
func (h *hourSums) sort() {
	slices.SortFunc(*h, func(a, b hourSum) int { return cmp.Compare(a.hour, b.hour) })
	summed := (*h)[:0]
	for _, x := range *h {
		if n := len(summed); n > 0 && summed[n-1].hour == x.hour {
			for i := range x.c {
				summed[n-1].c[i] += x.c[i]
			}
			continue
		}
		summed = append(summed, x)
	}
	*h = summed
}

// sumHours is the hourly of every client's hours (sorted), as merging
// them one by one makes it: an hour is there when a client's is, with the
// sum of their counts. They are summed in an array spanning the hours
// (a botnet's clients relay in the same few hours), unless the hours are
// too far apart for one.
func sumHours(all []hourSums) hourly {
	first, last, n := int64(math.MaxInt64), int64(math.MinInt64), 0
	for _, h := range all {
		if len(h) > 0 {
			first, last = min(first, h[0].hour), max(last, h[len(h)-1].hour)
			n += len(h)
		}
	}
	if n == 0 {
		return nil // as merging nothing leaves it
	}
	out := hourly{}
	span := (last-first)/3600 + 1
	if span > int64(max(4*n, 1<<12)) {
		for _, h := range all {
			for _, x := range h {
				out.add(time.Unix(x.hour, 0), x.c[0], x.c[1], x.c[2])
			}
		}
		return out
	}
	type slot struct {
		c    [3]int64
		seen bool
	}
	sums := make([]slot, span)
	for _, h := range all {
		for _, x := range h {
			s := &sums[(x.hour-first)/3600]
			s.seen = true
			for i := range x.c {
				s.c[i] += x.c[i]
			}
		}
	}
	for i, s := range sums {
		if s.seen {
			out[first+int64(i)*3600] = s.c
		}
	}
	return out
}

type domainCount struct {
	name string
	n    int64
}

func (g *relayGroup) outside(v *orgView, j *domainJudge, list []string, server string, files []string) relayStats {
	var st relayStats
	outside := func(key string) bool {
		for d := range strings.SplitSeq(key, "\n") {
			if !v.isAccepted(d) {
				return true
			}
		}
		return false
	}
	// Each set is judged once: its sessions' hours ask again (below),
	// naming a set by its hash (bytesHash of the key). A set counting
	// messages only is not a session's. (A key's hash was its addrHash
	// there once: the same for a key of lower-case ASCII, as domains are;
	// another is compared.)
	type setVerdict struct{ outside, sessions bool }
	sets := make([]setVerdict, len(g.sigs))
	// Most relaying clients (a botnet's) relay only to outside domains:
	// then every set, hour and address relayed, and their counts are
	// summed without judging each (domainJudge.allOutside).
	allOutside := j.allOutside(g)
	for i, sig := range g.sigs {
		out := allOutside || outside(sig.key)
		// Whether it is a session's set is asked only of the hours judged
		// one by one (below): a long key's scan is spared when all relayed.
		sets[i] = setVerdict{out, !allOutside && sig.sessions != 0 && (isLowerASCII(sig.key) || addrHash(sig.key) == sig.hash)}
		if out {
			st.sessions += sig.sessions
			st.messages += sig.msgs
			st.queued += sig.qued
		}
	}
	// Partial signatures relayed if their first domain is outside; if it
	// is accepted (or cannot be judged), whether they did is not known.
	for h, sig := range g.part.m {
		if out, _ := j.outside(h); out {
			st.sessions += sig.sessions
			st.messages += sig.msgs
			st.queued += sig.qued
		} else {
			st.sessionsLower = st.sessionsLower || sig.sessions > 0
			st.messagesLower = st.messagesLower || sig.msgs > 0
		}
	}
	st.sessionsLower = st.sessionsLower || g.part.over.sessions > 0
	st.messagesLower = st.messagesLower || g.part.over.msgs > 0
	// The example sessions of the outside domains' details, kept as the
	// details keep them until the earliest are known: only those become
	// sampleRecs (relaySamples orders them as samples does).
	var smp relaySamples
	for i := range g.doms {
		rd := &g.doms[i]
		if !j.outsideID[rd.id] {
			continue
		}
		name := list[rd.id]
		if st.domains == nil {
			// Room for the rest at once: growing the slice domain by
			// domain cost 1,600 clients several allocations each, in
			// the scan's last moments, where they paid the collector's
			// assists.
			st.domains = make([]domainCount, 0, len(g.doms)-i+1)
		}
		st.domains = append(st.domains, domainCount{name, rd.rcpts})
		st.rcpts += rd.rcpts
		st.span.add(rd.span.times())
		if det := g.detailAt(rd); det != nil {
			smp.merge(det.samples, files)
			st.senders.add(&det.senders)
		}
	}
	if g.other.rcpts > 0 {
		// Counted as relayed: the other domains told apart by hash that
		// are not accepted. Those past maxEvictedDomains, and those never
		// named when a pattern (*.contoso.com) is accepted, cannot be
		// judged and are not counted: the count is then a lower bound.
		var n int64
		for h, c := range g.evicted {
			out, known := j.outside(h)
			if out {
				n += c
			}
			st.rcptsLower = st.rcptsLower || !known
		}
		st.rcptsLower = st.rcptsLower || g.evictedOver > 0
		if n > 0 {
			st.domains = append(st.domains, domainCount{otherDomains, n})
			st.rcpts += n
			st.span.add(g.other.span.times())
		}
	}
	if st.rcpts > 0 {
		// The shared detail: the domains past the first names, which
		// relayed (outside) or not is not told apart there.
		smp.merge(g.otherDet.samples, files)
		st.senders.add(&g.otherDet.senders)
	}
	st.senders.keep(64)
	smp.addTo(&st.samples, server, files)
	// An hour's entries are summed before they are added to st.hours, once
	// per hour instead of once per entry (a botnet's clients keep a
	// hundred entries an hour each): the sums are the same, and an hour is
	// in st.hours when an entry of it relayed, as when each was added.
	if n := len(g.rcptHours.slots) + len(g.sessHours.slots); allOutside && n > 0 {
		st.hours = make(hourSums, 0, n) // each slot adds one
	}
	for _, slot := range g.rcptHours.slots {
		if allOutside {
			st.hours.add(slot.hour, 0, slot.total)
			continue
		}
		var n int64
		relayed := false
		for _, e := range slot.entries {
			if out, _ := j.outside(e.of); out {
				n += e.n
				relayed = true
			}
		}
		if relayed {
			st.hours.add(slot.hour, 0, n)
		}
	}
	// A session's hours are judged as its set is, when it is kept, else
	// by the set's first domain.
	for _, slot := range g.sessHours.slots {
		if allOutside {
			st.hours.add(slot.hour, slot.total, 0)
			continue
		}
		var n int64
		relayed := false
		for _, e := range slot.entries {
			i := -1
			for x := range g.sigs {
				if g.sigs[x].hash == e.of.set && sets[x].sessions {
					i = x
					break
				}
			}
			var out bool
			if i >= 0 {
				out = sets[i].outside
			} else {
				out, _ = j.outside(e.of.first)
			}
			if out {
				n += e.n
				relayed = true
			}
		}
		if relayed {
			st.hours.add(slot.hour, n, 0)
		}
	}
	st.hours.sort()
	if allOutside {
		if n := len(g.rcpts.list); n > 0 { // nil when none, as below
			st.outRcpts = make([]uint64, n)
			for i, p := range g.rcpts.list {
				st.outRcpts[i] = p.addr
			}
		}
		st.outRcptsLower = g.rcpts.dropped
		return st
	}
	for _, p := range g.rcpts.list {
		out, known := j.outside(p.domain)
		if out {
			st.outRcpts = append(st.outRcpts, p.addr)
		}
		// An address whose domain cannot be judged is not counted.
		st.outRcptsLower = st.outRcptsLower || !known
	}
	st.outRcptsLower = st.outRcptsLower || g.rcpts.dropped
	return st
}

// release drops what only outside reads; relayFinding reads the rest
// (EHLO names, whether recipients were dropped, domains and the other
// domains' hashes).
func (g *relayGroup) release() {
	g.sigs, g.sigFull, g.part = nil, nil, partialSigs{}
	g.rcptHours, g.sessHours = hourCounts[uint64]{}, hourCounts[setHash]{}
	g.rcpts.list = nil // outside listed those in outside domains
	g.detailed, g.details, g.otherDet, g.domFull = nil, nil, relayDetail{}, nil
	for i := range g.doms {
		g.doms[i].detail = 0
	}
}

// distinctOutside counts the distinct recipient addresses of a finding's
// clients in domains the organisation does not accept (relayStats.outRcpts),
// and whether that is a lower bound. The addresses (their hashes) are put
// in one slice, sorted, and the runs of equal hashes counted: a radix
// sort of a botnet finding's 180,000 hashes costs a third of building a
// set of them, and no map's fresh memory.
func distinctOutside(members []relayMember) (int64, bool) {
	total, lower := 0, false
	for _, m := range members {
		total += len(m.st.outRcpts)
		lower = lower || m.st.outRcptsLower
	}
	all := make([]uint64, 0, total)
	for _, m := range members {
		all = append(all, m.st.outRcpts...)
	}
	all = radixSortHashes(all, make([]uint64, total))
	var n int64
	for i, h := range all {
		if i == 0 || h != all[i-1] {
			n++
		}
	}
	return n, lower
}

// radixSortHashes sorts a, using buf (as long as a) as scratch, and returns
// the sorted slice, which is a or buf: a least-significant-digit radix
// sort, eleven bits a pass (six passes; a pass's counts fit in the L1
// cache).
func radixSortHashes(a, buf []uint64) []uint64 {
	const digitBits = 11
	const digits = 1 << digitBits
	var starts [digits]int
	for shift := uint(0); shift < 64; shift += digitBits {
		clear(starts[:])
		for _, h := range a {
			starts[(h>>shift)&(digits-1)]++
		}
		sum := 0
		for i, c := range starts {
			starts[i] = sum
			sum += c
		}
		for _, h := range a {
			k := (h >> shift) & (digits - 1)
			buf[starts[k]] = h
			starts[k]++
		}
		a, buf = buf, a
	}
	return a
}

// outsideDomains counts the distinct domains outside the accepted ones that
// groups relayed to, named or told apart by hash, and whether that is a
// lower bound (other domains past the budget, or a pattern accepted).
func outsideDomains(j *domainJudge, list []string, groups []*relayGroup) (int64, bool) {
	seen := map[uint64]struct{}{}
	lower := false
	for _, g := range groups {
		for _, id := range g.domIDs {
			if j.outsideID[id] {
				seen[addrHash(list[id])] = struct{}{}
			}
		}
		for h := range g.evicted {
			out, known := j.outside(h)
			if out && known {
				seen[h] = struct{}{}
			}
			lower = lower || !known
		}
		lower = lower || g.evictedOver > 0
	}
	return int64(len(seen)), lower
}

// msSpan is a span of session times (Unix milliseconds, as logged and as
// session.Session holds them) in 16 bytes instead of 48: a relay detector
// keeps one per client and recipient domain. The zero value is empty:
// the bounds are kept XOR the values an empty span has, first
// math.MaxInt64 and last math.MinInt64 (no time's milliseconds), so
// that the first span added, through min and max, sets them.
type msSpan struct {
	firstX, lastX int64
}

// bounds are the first and last times, math.MaxInt64 and math.MinInt64
// when empty.
func (s *msSpan) bounds() (first, last int64) {
	return s.firstX ^ math.MaxInt64, s.lastX ^ math.MinInt64
}

func (s *msSpan) setBounds(first, last int64) {
	s.firstX, s.lastX = first^math.MaxInt64, last^math.MinInt64
}

func (s *msSpan) empty() bool { return s.firstX == 0 }

func (s *msSpan) add(t0, t1 time.Time) {
	first, last := s.bounds()
	s.setBounds(min(first, t0.UnixMilli()), max(last, t1.UnixMilli()))
}

func (s *msSpan) merge(o msSpan) {
	if o.empty() {
		return
	}
	first, last := s.bounds()
	oFirst, oLast := o.bounds()
	s.setBounds(min(first, oFirst), max(last, oLast))
}

// times is the span as session.Session's times (UTC); zero when empty.
func (s *msSpan) times() (first, last time.Time) {
	if s.empty() {
		return time.Time{}, time.Time{}
	}
	f, l := s.bounds()
	return time.UnixMilli(f).UTC(), time.UnixMilli(l).UTC()
}

// smallCounter is a counter that stays a short list while it counts few
// values: a relay detector keeps one per client and recipient domain (the
// senders), and most count one to three, where a map cost 250 bytes. Its
// kept values and counts are the counter's, since a counter's are the same
// whatever order values come in.
type smallCounter struct {
	few  []valueCount
	many *counter
}

type valueCount struct {
	v string
	n int64
}

// smallCounterMax values are kept in the list; more go to a counter.
const smallCounterMax = 8

func (c *smallCounter) add(v string, n int64, limit int) {
	if c.many != nil {
		c.many.add(v, n, limit)
		return
	}
	for i := range c.few {
		if c.few[i].v == v {
			c.few[i].n += n
			return
		}
	}
	if len(c.few) < min(smallCounterMax, limit) {
		c.few = append(c.few, valueCount{strings.Clone(v), n})
		return
	}
	c.many = &counter{}
	for _, x := range c.few {
		c.many.add(x.v, x.n, limit)
	}
	c.few = nil
	c.many.add(v, n, limit)
}

// addOver adds what o counted without keeping, as counter.merge does.
func (c *smallCounter) addOver(o *counter) {
	if o.over == 0 && !o.dropped {
		return
	}
	if c.many == nil {
		c.many = &counter{}
		for _, x := range c.few {
			c.many.add(x.v, x.n, 64)
		}
		c.few = nil
	}
	c.many.over += o.over
	c.many.dropped = c.many.dropped || o.dropped
}

// addTo adds what c counted to dst, as dst.merge(c.counter(), limit)
// does, without building a counter of the short list: which values a
// counter keeps does not depend on the order they come in.
func (c *smallCounter) addTo(dst *counter, limit int) {
	if c.many != nil {
		dst.merge(c.many, limit)
		return
	}
	for _, x := range c.few {
		dst.add(x.v, x.n, limit)
	}
}

// only is the value c counted, when it counted one (distinct() == 1).
func (c *smallCounter) only() string {
	if c.many != nil {
		for v := range c.many.m {
			return v
		}
	}
	return c.few[0].v
}

// distinct is how many distinct values c kept.
func (c *smallCounter) distinct() int {
	if c.many != nil {
		return len(c.many.m)
	}
	return len(c.few)
}

// counter is what c counted, as a counter.
func (c *smallCounter) counter() *counter {
	if c.many != nil {
		return c.many
	}
	var out counter
	for _, x := range c.few {
		out.add(x.v, x.n, smallCounterMax)
	}
	return &out
}

// rcptSet is a group's distinct recipient addresses, each kept as the
// 64-bit FNV-1a hash of the address in lower case with the hash of its
// domain: 16 bytes and no pointer per address, where a string key cost
// about 80 bytes, pinned a clone, and was scanned by every garbage
// collection (a botnet's groups held most of a scan's heap). Two addresses
// share a hash with odds of about 1 in 10^8 at a million addresses, and
// would be counted once. What is kept over all groups is bounded by
// RelayDetector.addRcpt.
//
// The addresses are a slice, not a map: a prefix sorted by address hash,
// one entry each, and the addresses added since, in any order, which are
// sorted into the prefix (compact) once they are as many as it holds. A
// botnet's 1,600 clients each relaying to a hundred addresses cost a map
// probe and insert per recipient, the maps' growth, and a pass over 1,600
// maps at the report; the slice costs an append, a sort of a few dozen
// entries now and then, and is read in order.
type rcptSet struct {
	list    []rcptPair // [:sorted] sorted by address hash, distinct; the rest not yet
	sorted  int
	dropped bool // some distinct address was not kept: counts are lower bounds
}

// rcptPair is a recipient address's hash and its domain's (addrHash).
type rcptPair struct{ addr, domain uint64 }

// rcptCompactMin is the fewest addresses added to a set before they are
// sorted into it: sorting a handful at a time would cost more than it saves.
const rcptCompactMin = 8

// compact sorts the addresses added since the last compaction into the
// sorted prefix, dropping repeats, and returns how many of them are new to
// the set. buf is scratch, returned for the next call. Of two entries
// with the same address hash (a hash collision, or the same address
// twice), the one with the smaller domain hash is kept, whatever the order
// they came in.
func (s *rcptSet) compact(buf []rcptPair) (fresh int, _ []rcptPair) {
	tail := s.list[s.sorted:]
	if len(tail) == 0 {
		return 0, buf
	}
	slices.SortFunc(tail, func(a, b rcptPair) int {
		// The domains are compared only for equal addresses: cmp.Or
		// would compare them every time (its arguments are evaluated).
		if a.addr != b.addr {
			return cmp.Compare(a.addr, b.addr)
		}
		return cmp.Compare(a.domain, b.domain)
	})
	// Merge the prefix and the sorted tail into buf, one entry per
	// address; on a tie the prefix's entry is kept when its domain hash
	// is not larger (the tail's is then a repeat or a later collision).
	head := s.list[:s.sorted]
	buf = buf[:0]
	i, j := 0, 0
	for i < len(head) || j < len(tail) {
		var next rcptPair
		switch {
		case j == len(tail) || i < len(head) && (head[i].addr < tail[j].addr || head[i].addr == tail[j].addr && head[i].domain <= tail[j].domain):
			next = head[i]
			i++
		default:
			next = tail[j]
			j++
		}
		if n := len(buf); n > 0 && buf[n-1].addr == next.addr {
			continue // the smaller domain hash came first
		}
		buf = append(buf, next)
	}
	fresh = len(buf) - len(head)
	s.list = append(s.list[:0], buf...)
	s.sorted = len(s.list)
	return fresh, buf
}

// purge drops the addresses hashed above max, and returns how many of the
// sorted ones it dropped (those added since are not counted yet).
func (s *rcptSet) purge(max uint64) (dropped int) {
	cut, _ := slices.BinarySearchFunc(s.list[:s.sorted], max, func(p rcptPair, max uint64) int {
		if p.addr > max {
			return 1
		}
		return -1
	})
	dropped = s.sorted - cut
	n := len(s.list)
	tail := slices.DeleteFunc(s.list[s.sorted:], func(p rcptPair) bool { return p.addr > max })
	s.list = append(s.list[:cut], tail...)
	s.sorted = cut
	s.dropped = s.dropped || len(s.list) < n
	return dropped
}

// addRcpt keeps the address hashed h (in the domain hashed domain) for g,
// all groups together within rcptBound: which addresses are kept is the
// same whatever the order sessions come in, and a group that lost one
// counts a lower bound.
//
// rcptBound counts only the sorted addresses (rcptSet.compact), which are
// told apart; those added since may repeat some. It therefore counts no
// more than the distinct addresses added, and halves its bound no sooner
// than counting each address as it came did; finishRcpts, before the
// report, sorts and counts the rest, and halves the bound as often as
// that did. What is kept in the end is the same: the addresses whose hash
// is at most the largest bound (MaxUint64 halved k times) under which
// they fit the budget.
func (d *RelayDetector) addRcpt(g *relayGroup, h, domain uint64) {
	if !d.rcptBound.admits(h) {
		g.rcpts.dropped = true
		return
	}
	s := &g.rcpts
	s.list = append(s.list, rcptPair{h, domain})
	if len(s.list)-s.sorted >= max(s.sorted, rcptCompactMin) {
		var fresh int
		fresh, d.rcptScratch = s.compact(d.rcptScratch)
		d.countRcpts(fresh)
	}
}

// countRcpts counts fresh addresses more kept, and past the budget halves
// the bound and drops the addresses above it, until they fit (as
// hashBound.kept does for one).
func (d *RelayDetector) countRcpts(fresh int) {
	b := &d.rcptBound
	b.n += fresh
	for b.n > b.budget {
		b.max >>= 1
		for _, o := range d.groups {
			b.n -= o.rcpts.purge(b.max)
		}
	}
}

// finishRcpts sorts and counts every group's addresses not yet sorted, and
// bounds them, so that what is kept is what counting each address as it
// came kept (addRcpt). The report calls it first.
func (d *RelayDetector) finishRcpts() {
	fresh := 0
	for _, g := range d.groups {
		var n int
		n, d.rcptScratch = g.rcpts.compact(d.rcptScratch)
		fresh += n
	}
	d.countRcpts(fresh)
	d.rcptScratch = nil
}

// hashHeap is a max-heap of hashes.
type hashHeap []uint64

func (h hashHeap) Len() int           { return len(h) }
func (h hashHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h hashHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hashHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *hashHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func hasWildcard(patterns []string) bool {
	for _, p := range patterns {
		if strings.HasPrefix(p, "*.") {
			return true
		}
	}
	return false
}

// isLowerASCII reports whether s is ASCII without an upper-case letter, so
// that its addrHash is its hash as it is (bytesHash).
func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// bytesHash is the FNV-1a hash of b as it is (addrHash of an ASCII lower
// case text).
func bytesHash(b []byte) uint64 { return fnvAdd(fnvOffset, b) }

// fnvOffset starts an FNV-1a hash (64 bits) and fnvPrime steps it; fnvAdd
// hashes b into h.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd[T ~string | ~[]byte](h uint64, b T) uint64 {
	for i := 0; i < len(b); i++ {
		h = (h ^ uint64(b[i])) * fnvPrime
	}
	return h
}

// addrHash is the FNV-1a hash of addr in lower case, without allocating
// for ASCII (addresses nearly always are). One pass hashes and watches for
// a non-ASCII byte, where it starts again on strings.ToLower's text: a
// relay scan hashes two strings per recipient, and a pass that only
// looked for one cost half as much as the hashing.
func addrHash(addr string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		if c >= utf8.RuneSelf {
			return fnvAdd(fnvOffset, strings.ToLower(addr))
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// detectorRelay names the anonymous-relay detector.
const detectorRelay = "anonymous-relay"

// relayClass is the verdict on one client's relay: what a finding groups.
type relayClass uint8

const (
	relayNAT       relayClass = iota // a hidden NAT address: everyone behind it relays
	relayPublic                      // public hosts
	relayInternal                    // internal hosts, an alarm (Internet-facing connector, mass mailing)
	relayInventory                   // internal hosts on a dedicated connector: relay by design
)

var relayClassNames = [...]string{"nat", "public", "internal", "inventory"}

// relayFindingKey is what one relay finding is about: a connector's
// permission, judged for one kind of client (and one NAT address).
type relayFindingKey struct {
	server, connector string
	class             relayClass
	nat               netip.Addr
}

// relayMember is one client of a relay finding.
type relayMember struct {
	client netip.Addr
	g      *relayGroup
	st     *relayStats // the report's, by client: not copied
}

// report judges every client once the organisation and the NAT addresses
// are known, and reports one finding per connector and verdict. Relay
// through a NAT address raises that address's NAT finding. Internal hosts
// relaying through dedicated connectors go to the inventory, and refused
// attempts per connector to the probes: neither is a finding, since every
// Internet-facing server is probed all day.
func (d *RelayDetector) report(in *detectorInputs, r *Report) any {
	nat := in.result(detectorSNAT).(natResult)
	r.Budgets = append(r.Budgets, d.budgets()...) // before the groups are released
	byKey := map[relayFindingKey][]relayMember{}
	judge := newDomainJudge(in.org, d.nameList)
	d.finishRcpts()
	if d.deadHours > 0 {
		// outside reads every entry left. With no dead hour, no entry
		// is of an hour at or after hourCutoff (addHour keeps none), and
		// the pass over every group's hours would find nothing.
		d.purgeHours()
	}
	keys := make([]relayKey, 0, len(d.groups))
	for k := range d.groups {
		keys = append(keys, k)
	}
	stats := make([]relayStats, len(keys))
	groups := make([]*relayGroup, len(keys))
	classes := make([]relayClass, len(keys))
	// Each client is judged on its own, so the clients are split over
	// goroutines: each writes its client's group, figures and verdict
	// (classify, which reads only what no report changes) by index,
	// whichever goroutine it is.
	relayParallel(len(keys), func(i int) {
		g := d.groups[keys[i]]
		groups[i] = g
		stats[i] = g.outside(in.org, judge, d.nameList, keys[i].server, d.files.names)
		// What outside has read is let go at once: the report of 1,600
		// relaying clients would otherwise come on top of all of it, at
		// the end of a scan, where its memory peaks.
		g.release()
		if stats[i].rcpts > 0 {
			classes[i] = classify(keys[i], stats[i], in.org, in.use, nat)
		}
	})
	for i, k := range keys {
		if stats[i].rcpts == 0 {
			delete(d.groups, k)
			continue
		}
		fk := relayFindingKey{server: k.server, connector: k.connector, class: classes[i]}
		if fk.class == relayNAT {
			fk.nat = k.client
		}
		byKey[fk] = append(byKey[fk], relayMember{k.client, groups[i], &stats[i]})
	}
	works := make([]*relayFindingWork, 0, len(byKey))
	for fk, members := range byKey {
		slices.SortFunc(members, func(a, b relayMember) int { return a.client.Compare(b.client) })
		works = append(works, &relayFindingWork{fk: fk, members: members})
	}
	sumFindings(works, in, judge, d.nameList, d.hourCutoff)
	var res relayResult
	for _, w := range works {
		fk, members := w.fk, w.members
		f, hours := relayFinding(w, in, nat.ids[snatKey{fk.server, fk.nat}], bits.LeadingZeros64(d.rcptBound.max))
		if fk.class == relayNAT {
			nat.relayedThrough(r, fk.nat, f.Counts["sessions"], f.Counts["recipients"], hours)
		}
		if f.Severity == SeverityInfo {
			r.Inventory = append(r.Inventory, f)
		} else {
			r.Findings = append(r.Findings, f)
		}
		if f.Severity >= SeverityMedium {
			rr := relayRun{id: f.ID, server: fk.server, connector: fk.connector, sources: len(members),
				first: f.First, last: f.Last, rcpts: f.Counts["recipients"]}
			if len(members) == 1 {
				rr.source = members[0].client
			}
			res = append(res, rr)
		}
	}
	slices.SortFunc(res, func(a, b relayRun) int { return cmp.Compare(a.id, b.id) })
	for k, rg := range d.refused {
		r.Probes = append(r.Probes, probeFinding(k, rg))
	}
	return res
}

// budgets says which of the per-client bounds shrank to stay within the
// budget of all clients, and the connectors with a client at the bound.
func (d *RelayDetector) budgets() []Budget {
	var out []Budget
	cut := func(l groupLimit, initial int, kept func(*relayGroup) int, table, meaning string) {
		if l.r >= initial {
			return
		}
		where := map[connRef]bool{}
		for k, g := range d.groups {
			if kept(g) >= l.r {
				where[connRef{k.server, k.connector}] = true
			}
		}
		places := []BudgetPlace{}
		for c := range where {
			places = append(places, BudgetPlace{Server: c.server, Connector: c.connector})
		}
		out = append(out, Budget{Table: table, Limit: int64(l.budget), Where: sortPlaces(places),
			Meaning: fmt.Sprintf(meaning, l.r, initial)})
	}
	cut(d.domLimit, maxRelayDomains, func(g *relayGroup) int { return len(g.doms) }, budgetRelayDomains,
		"each relaying client names its first %d recipient domains (by name; %d below the budget), all clients alike; "+
			"recipients in its other domains are counted as \"(other domains)\": recipient totals stay exact or are marked as lower bounds, the domain lists are shorter")
	cut(d.sigLimit, maxRelaySigs, func(g *relayGroup) int { return len(g.sigs) }, budgetRelaySigs,
		"each relaying client keeps its first %d sets of recipient domains (by name; %d below the budget); "+
			"sessions and messages with another set are judged by its first domain, and their counts are lower bounds when that domain is accepted")
	cut(d.partLimit, maxPartialSigs, func(g *relayGroup) int { return len(g.part.m) }, budgetRelayParts,
		"sessions and messages whose domain set is not kept are judged by their first domain, for each relaying client's first %d such domains (by hash; %d below the budget); "+
			"the rest cannot be judged, and the relayed session and message counts are lower bounds")
	return out
}

// classify judges one client's relay.
func classify(k relayKey, st relayStats, v *orgView, use *connectorUsage, nat natResult) relayClass {
	if _, ok := nat.ids[snatKey{k.server, k.client}]; ok {
		return relayNAT
	}
	if k.client.IsValid() && !v.isInternal(k.client) {
		return relayPublic
	}
	if use.internetFacing(v, connRef{k.server, k.connector}) || len(st.domains) >= ManyRelayDomains {
		return relayInternal
	}
	return relayInventory
}

// relayResult is what the relay detector tells the detectors that need it:
// the relay findings it reported at medium or above (not the inventory),
// by id.
type relayResult []relayRun

// relayRun is one reported relay: its finding, where, from whom, when it
// first and last relayed, and how many recipients outside the organisation.
type relayRun struct {
	id, server, connector string
	source                netip.Addr // the one source, when there is one
	sources               int
	first, last           time.Time
	rcpts                 int64
}

// from names who relayed: the address, or "1,612 sources".
func (rr relayRun) from() string {
	if rr.sources == 1 {
		return addrString(rr.source)
	}
	return countText(int64(rr.sources), false) + " sources"
}

// before returns the relays that began before t, the likeliest cause
// first: most recipients, then the earliest. When some of them are on one
// of servers (those whose mail was refused), only those: a relay on
// another server most likely left through another public IP.
func (res relayResult) before(t time.Time, servers ...string) relayResult {
	var out, here relayResult
	for _, rr := range res {
		if rr.first.Before(t) {
			out = append(out, rr)
			if slices.Contains(servers, rr.server) {
				here = append(here, rr)
			}
		}
	}
	if len(here) > 0 {
		out = here
	}
	slices.SortFunc(out, func(a, b relayRun) int {
		return cmp.Or(cmp.Compare(b.rcpts, a.rcpts), a.first.Compare(b.first), cmp.Compare(a.id, b.id))
	})
	return out
}

// relayFindingWork is one relay finding in the making: its clients, and
// the figures summed over them (sumFindings), each part written by one
// task of its own.
type relayFindingWork struct {
	fk      relayFindingKey
	members []relayMember // by client

	totals relayTotals // sumTotals
	// sumSenders, sumEHLO: the facts of the senders and EHLO names.
	senders, ehlo Fact
	hours         hourly // sumHours
	// sumDomains: the outside domains, most recipients first, their
	// names, and their fact.
	domains []domainCount
	names   []string
	domFact Fact
	// The distinct recipient addresses (distinctOutside, a task of its own).
	distinct      int64
	distinctLower bool
	// sumOtherDomains, when a client relayed to the other domains: the
	// distinct outside domains (outsideDomains).
	otherDomains      bool
	outsideDomains    int64
	outsideDomainsLow bool
}

// relayTotals are the counts, span, samples and sources of a finding's
// clients.
type relayTotals struct {
	sessions, messages, queued, rcpts        int64
	sessionsLower, messagesLower, rcptsLower bool
	partial                                  bool // some client relayed at or after the hour cutoff
	sampled                                  bool // some client's recipient addresses were not all kept
	sp                                       span
	smp                                      samples
	sources                                  []SourceStat // sorted (sourceStats)
	public, many                             int
}

// sumFindings sums the figures of every finding over its clients. Each
// figure (the totals, senders, EHLO names, hours, domains, distinct
// recipients, other domains) is a task of its own, over the clients in
// order, as one loop over them summed it: a botnet's finding of 1,600
// clients cost a third of the relay report, on one core at the end of
// the scan. The tasks are split over goroutines (relayParallelChunks);
// each writes only its own part of its finding's work, so the findings
// are the same whichever goroutine runs which task.
func sumFindings(works []*relayFindingWork, in *detectorInputs, judge *domainJudge, nameList []string, hourCutoff int64) {
	type task struct {
		w   *relayFindingWork
		run func(*relayFindingWork)
	}
	// The largest findings' tasks first, the costliest of those first
	// (the senders: thousands of values counted, then sorted), so that
	// the goroutines finish together.
	order := slices.Clone(works)
	slices.SortStableFunc(order, func(a, b *relayFindingWork) int { return cmp.Compare(len(b.members), len(a.members)) })
	var tasks []task
	for _, w := range order {
		tasks = append(tasks,
			task{w, func(w *relayFindingWork) { w.sumSenders() }},
			task{w, func(w *relayFindingWork) { w.sumTotals(in.org, hourCutoff) }},
			task{w, func(w *relayFindingWork) { w.distinct, w.distinctLower = distinctOutside(w.members) }},
			task{w, func(w *relayFindingWork) { w.sumHours() }},
			task{w, func(w *relayFindingWork) { w.sumDomains() }},
			task{w, func(w *relayFindingWork) { w.sumEHLO() }},
			task{w, func(w *relayFindingWork) { w.sumOtherDomains(judge, nameList) }})
	}
	relayParallelChunks(len(tasks), 1, func(i int) { tasks[i].run(tasks[i].w) })
}

func (w *relayFindingWork) sumTotals(v *orgView, hourCutoff int64) {
	t := &w.totals
	sources := make([]SourceStat, 0, len(w.members))
	for _, m := range w.members {
		st := m.st
		t.sessions += st.sessions
		t.messages += st.messages
		t.queued += st.queued
		t.sessionsLower = t.sessionsLower || st.sessionsLower
		t.messagesLower = t.messagesLower || st.messagesLower
		t.rcptsLower = t.rcptsLower || st.rcptsLower
		t.rcpts += st.rcpts
		t.sp.add(st.span.first, st.span.last)
		t.smp.merge(st.samples)
		t.partial = t.partial || unixHour(st.span.last) >= hourCutoff
		t.sampled = t.sampled || m.g.rcpts.dropped
		isPublic := m.client.IsValid() && !v.isInternal(m.client)
		if isPublic {
			t.public++
		}
		if len(st.domains) >= ManyRelayDomains {
			t.many++
		}
		src := SourceStat{Addr: addrString(m.client), Public: isPublic, Sessions: st.sessions, Recipients: st.rcpts, First: st.span.first, Last: st.span.last}
		if m.g.ehlo.distinct() == 1 {
			src.EHLO = m.g.ehlo.only() // topValues of one value, without building a counter of it
		}
		sources = append(sources, src)
	}
	sortSources(sources)
	t.sources = sourceStats(sources)
}

// sortSources puts sources in sourceStats's order: most recipients, then
// most sessions, then by address (compareAddrText). sourceStats parses
// both addresses' text at every comparison, 20,000 parses for a botnet's
// 1,600 sources; here each is parsed once, and sourceStats's sort then
// finds them in order (pdqsort checks an ordered run in one pass).
//
// It leaves them as they are unless every address parses and no two
// sources tie: compareAddrText orders text that does not parse (an
// unlogged address) by text among addresses ordered by value, which is
// no order every sort agrees on, and the result would be the sort's.
func sortSources(sources []SourceStat) {
	addrs := make([]netip.Addr, len(sources))
	order := make([]int32, len(sources))
	for i, src := range sources {
		a, err := netip.ParseAddr(src.Addr)
		if err != nil {
			return
		}
		addrs[i], order[i] = a, int32(i)
	}
	compare := func(i, j int32) int {
		a, b := &sources[i], &sources[j]
		return cmp.Or(cmp.Compare(b.Recipients, a.Recipients), cmp.Compare(b.Sessions, a.Sessions), addrs[i].Compare(addrs[j]))
	}
	slices.SortFunc(order, compare)
	for k := 1; k < len(order); k++ {
		if compare(order[k-1], order[k]) == 0 {
			return
		}
	}
	sorted := make([]SourceStat, len(sources))
	for k, i := range order {
		sorted[k] = sources[i]
	}
	copy(sources, sorted)
}

func (w *relayFindingWork) sumSenders() { w.senders = sendersFact(w.members) }

const sendersFactName = "top senders (MAIL FROM), by recipients accepted in outside domains"

// sendersFact is the fact of the senders of a finding's clients: what a
// counter limited to MaxListed values, merging theirs, lists (top).
//
// The senders are summed in a map of counts, which copies no value (a
// counter copies each, and allocates its count), and listed with a
// comparison of counts and values, not of keys taken by functions (as
// sortDesc does) and a string built without fmt: a botnet's 8,500 senders
// were the longest of the finding's sums. Up to MaxListed values the
// counter keeps every one, its count whole, so the lists are the same;
// past it, it keeps those that sort first, and is what lists them.
func sendersFact(members []relayMember) Fact {
	counts := map[string]int64{}
	dropped := false
	for _, m := range members {
		for _, x := range m.st.senders.vals {
			counts[x.v] += x.n
		}
		dropped = dropped || m.st.senders.dropped
	}
	if len(counts) > MaxListed {
		return sendersFactByCounter(members)
	}
	all := make([]valueCount, 0, len(counts))
	for v, n := range counts {
		all = append(all, valueCount{v, n})
	}
	// Most counts first, then by value: sortDesc's order (the values are
	// distinct, so it is a total order, and any sort gives this list).
	slices.SortFunc(all, func(a, b valueCount) int {
		if a.n != b.n {
			return cmp.Compare(b.n, a.n)
		}
		return strings.Compare(a.v, b.v)
	})
	f := Fact{Name: sendersFactName}
	if len(all) > 0 {
		f.Values = make([]string, 0, len(all)) // at most MaxListed; nil when none, as counter.top
	}
	for _, x := range all {
		f.Values = append(f.Values, x.v+" ("+strconv.FormatInt(x.n, 10)+")") // as fmt's "%s (%d)"
	}
	f.MoreAtLeast = dropped
	return f
}

// sendersFactByCounter is sendersFact through a counter.
func sendersFactByCounter(members []relayMember) Fact {
	var senders counter
	for _, m := range members {
		m.st.senders.addTo(&senders, MaxListed)
	}
	return senders.top(sendersFactName, MaxListed)
}

func (w *relayFindingWork) sumEHLO() {
	if w.fk.class == relayNAT {
		return // behind a NAT address they are the NAT's names: its finding lists them
	}
	var ehlo counter
	for _, m := range w.members {
		m.g.ehlo.addTo(&ehlo, maxDistinctValues)
	}
	w.ehlo = ehlo.top("EHLO names, by sessions", MaxListed)
}

func (w *relayFindingWork) sumHours() {
	all := make([]hourSums, len(w.members))
	for i, m := range w.members {
		all[i] = m.st.hours
	}
	w.hours = sumHours(all)
}

func (w *relayFindingWork) sumDomains() {
	doms := map[string]int64{}
	for _, m := range w.members {
		for _, dc := range m.st.domains {
			doms[dc.name] += dc.n
		}
	}
	domains := make([]domainCount, 0, len(doms))
	for name, n := range doms {
		domains = append(domains, domainCount{name, n})
	}
	sortDesc(domains, func(x domainCount) int64 { return x.n }, func(x domainCount) string { return x.name })
	names := make([]string, len(domains))
	for i, dc := range domains {
		names[i] = dc.name
	}
	w.domains, w.names = domains, names
	w.domFact = Fact{Name: "outside recipient domains, by recipients"}
	for i, dc := range domains {
		if i == MaxListed {
			w.domFact.More = len(domains) - MaxListed
			break
		}
		w.domFact.Values = append(w.domFact.Values, fmt.Sprintf("%s (%d)", dc.name, dc.n))
	}
}

func (w *relayFindingWork) sumOtherDomains(judge *domainJudge, nameList []string) {
	for _, m := range w.members {
		if slices.ContainsFunc(m.st.domains, func(dc domainCount) bool { return dc.name == otherDomains }) {
			w.otherDomains = true
			break
		}
	}
	if !w.otherDomains {
		return
	}
	groups := make([]*relayGroup, len(w.members))
	for i, m := range w.members {
		groups[i] = m.g
	}
	w.outsideDomains, w.outsideDomainsLow = outsideDomains(judge, nameList, groups)
}

// relayFinding is one finding for the clients of one connector that share
// a verdict, from their figures summed (sumFindings); it returns the hours
// relayed, for the NAT finding. natID is the NAT finding of a NAT address.
func relayFinding(w *relayFindingWork, in *detectorInputs, natID string, rcptShift int) (Finding, hourly) {
	fk, members, t := w.fk, w.members, &w.totals
	v, use := in.org, in.use
	cr := connRef{fk.server, fk.connector}
	facing := use.internetFacing(v, cr)
	clients, clientsLower := use.distinctClients(cr)
	clientsText := strconv.Itoa(clients)
	if clientsLower {
		clientsText = countText(int64(clients), true)
	}
	sessions, messages, queued, rcpts := t.sessions, t.messages, t.queued, t.rcpts
	sessionsLower, messagesLower, rcptsLower := t.sessionsLower, t.messagesLower, t.rcptsLower
	sp, public, many := t.sp, t.public, t.many
	domains, names, hours := w.domains, w.names, w.hours
	n := len(members)
	one := members[0]
	src := sourceName(one.client, *one.g.ehlo.counter())
	if n > 1 {
		src = fmt.Sprintf("%s sources (%s public, %s internal)", countText(int64(n), false), countText(int64(public), false), countText(int64(n-public), false))
	}
	subject := []string{fk.server, fk.connector, relayClassNames[fk.class]}
	if fk.class == relayNAT {
		subject = append(subject, fk.nat.String())
	}
	f := Finding{
		ID: findingID(detectorRelay, subject...), Detector: detectorRelay,
		Server: fk.server, Connector: fk.connector,
		First: sp.first, Last: sp.last,
		Counts: map[string]int64{"sessions": sessions, "messages": messages, "messages_queued": queued,
			"recipients": rcpts, "recipient_domains": int64(len(domains)), "connector_clients": int64(clients)},
		Samples: t.smp.out(),
		Sources: t.sources,
	}
	f.setCount("connector_clients", int64(clients), clientsLower)
	if n == 1 {
		f.Source = addrString(one.client)
	} else {
		f.Counts["sources"], f.Counts["public_sources"], f.Counts["internal_sources"] = int64(n), int64(public), int64(n-public)
	}
	distinct := w.distinct
	f.setCount("distinct_recipients", distinct, w.distinctLower)
	if rcptShift > 0 && t.sampled && distinct > 0 {
		// Past maxRelayRcpts the addresses kept are those whose hash is in
		// the lowest 1/2^rcptShift of all hashes, a uniform sample: the
		// count kept, scaled up, estimates the whole.
		f.Facts = append(f.Facts, Fact{Name: "distinct recipients, estimated", Values: []string{fmt.Sprintf(
			"about %s: past %s distinct addresses logscan keeps those whose hash falls in the lowest 1/%d, and %s of those were relayed; the count above is what was kept (a lower bound)",
			countText(distinct<<rcptShift, false), countText(maxRelayRcpts, false), 1<<rcptShift, countText(distinct, false))}})
	}
	f.setCount("sessions", sessions, sessionsLower)
	f.setCount("messages", messages, messagesLower)
	f.setCount("messages_queued", queued, messagesLower)
	f.setCount("recipients", rcpts, rcptsLower)
	if w.otherDomains {
		// "(other domains)" stands for domains told apart by hash: count
		// those outside, once each over the clients; a lower bound when
		// some could not be judged.
		f.setCount("recipient_domains", w.outsideDomains, w.outsideDomainsLow)
	}
	f.Facts = append(f.Facts, w.domFact, w.senders)
	if fk.class != relayNAT {
		// Behind a NAT address they are the NAT's names: its finding lists them.
		f.Facts = append(f.Facts, w.ehlo)
	}
	f.Timeline = hours.timeline(MeasureRecipients, sp.first, sp.last, in.logs.of(false, fk.server))
	if f.Timeline != nil {
		f.Timeline.Partial = t.partial
	}

	what := fmt.Sprintf("Between %s and %s, %s opened %s anonymous session(s) on %s (server %s), and Exchange accepted %s recipient(s) in %s domain(s) the organisation is not authoritative for (%s); %s of %s message(s) were queued for delivery.",
		stamp(sp.first), stamp(sp.last), src, countText(sessions, false), dq(fk.connector), fk.server, countText(rcpts, false), countText(int64(len(domains)), false),
		joinFirst(names, 5), countText(queued, false), countText(messages, false))
	addr := addrString(one.client)
	removeIP := fmt.Sprintf(`Set-ReceiveConnector -Identity %s -RemoteIPRanges @{Remove=%s}   # if a wider range covers it, split that range instead`, psq(fk.connector), psq(addr))
	if n > 1 {
		removeIP = fmt.Sprintf(`Get-ReceiveConnector -Identity %s | select -ExpandProperty RemoteIPRanges   # then Set-ReceiveConnector -Identity %s -RemoteIPRanges with only the addresses that must relay`, psq(fk.connector), psq(fk.connector))
	}
	trace := fmt.Sprintf(`Get-MessageTrackingLog -Server %s -Start %s -End %s -EventId RECEIVE -ResultSize Unlimited | ? OriginalClientIp -eq %s   # what it sent`,
		psq(fk.server), psq(sp.first.Format("2006-01-02 15:04")), psq(sp.last.Add(time.Minute).Format("2006-01-02 15:04")), psq(addr))
	if n > 1 {
		trace = fmt.Sprintf(`Get-MessageTrackingLog -Server %s -Start %s -End %s -EventId RECEIVE -ResultSize Unlimited | ? ConnectorId -eq %s | group OriginalClientIp | sort Count -Descending   # what each source sent`,
			psq(fk.server), psq(sp.first.Format("2006-01-02 15:04")), psq(sp.last.Add(time.Minute).Format("2006-01-02 15:04")), psq(fk.connector))
	}
	purge := "Remove what is still queued: Get-Queue -Server " + psq(fk.server) + " | Get-Message -ResultSize Unlimited | ? FromAddress -like '*@<sender domain>' | Remove-Message -WithNDR $false"
	delist := "Check your public IP on the blocklists (Spamhaus, Barracuda, SpamCop) and ask for delisting once the relay is closed."

	switch fk.class {
	case relayNAT:
		ip := fk.nat.String()
		f.Severity = SeverityCritical
		f.CausedBy = []string{natID}
		f.Title = fmt.Sprintf("Everyone behind the hidden NAT address %s can relay through %s", ip, fk.connector)
		f.Explanation = what + fmt.Sprintf(" %s is not one host: it is a NAT or load-balancer address (finding %s), so every client behind it inherits this connector's relay right.", ip, natID)
		f.Cause = fmt.Sprintf("%s grants anonymous relay (SMTPAcceptAnyRecipient) and its RemoteIPRanges include %s, the address the load balancer or firewall gives every client it forwards.", dq(fk.connector), ip)
		f.Fix = []string{removeIP,
			"Make the load balancer keep the client address (routed/two-arm mode or transparent proxy), or give relaying applications their own addresses on a dedicated connector.",
			trace}
	case relayPublic:
		if facing {
			f.Severity = SeverityCritical
			f.Title = fmt.Sprintf("Open relay: %s relays anonymously through the Internet-facing connector %s", addr, fk.connector)
			if n > 1 {
				f.Title = fmt.Sprintf("Open relay through %s: %s public sources relayed %s recipients to %s outside domains",
					fk.connector, countText(int64(n), false), countText(rcpts, false), countText(int64(len(domains)), false))
			}
			f.Explanation = what + " The connector takes mail from the Internet and grants relay to anonymous senders: anyone can send spam through your servers under your IP reputation."
			if n > 1 {
				f.Explanation += " So many sources at once is a botnet using the relay, not one misconfigured host."
			}
			f.Cause = fmt.Sprintf("Anonymous users hold the relay right (ms-Exch-SMTP-Accept-Any-Recipient) on %s.", dq(fk.connector))
			f.Fix = []string{
				fmt.Sprintf(`Get-ADPermission -Identity %s -User 'NT AUTHORITY\ANONYMOUS LOGON' | ? ExtendedRights -like '*Any-Recipient*' | Remove-ADPermission -Confirm:$false`, psq(fk.connector)),
				"Move relaying applications to a dedicated connector scoped to their own addresses.",
				trace, purge, delist}
			break
		}
		f.Severity = SeverityHigh
		f.Title = fmt.Sprintf("Public host %s relays anonymously through %s", addr, fk.connector)
		who := fmt.Sprintf("%s is a public address", addr)
		cause := fmt.Sprintf("its RemoteIPRanges include %s", addr)
		if n > 1 {
			f.Title = fmt.Sprintf("%s public hosts relay anonymously through %s", countText(int64(n), false), fk.connector)
			who, cause = "These are public addresses", "its RemoteIPRanges cover these public addresses"
		}
		f.Explanation = what + " " + who + ", outside the organisation's networks: mail sent from there leaves under your IP reputation, which is how organisations land on blocklists."
		f.Cause = fmt.Sprintf("%s grants anonymous relay and %s, most likely by mistake (a typo, or a range wider than the printers and applications it was made for).", dq(fk.connector), cause)
		f.Fix = []string{removeIP, trace, purge, delist}
	case relayInternal:
		f.Severity = SeverityHigh
		why := fmt.Sprintf("the connector also takes Internet mail, so its relay right is not limited to %s", cond(n > 1, "these hosts", addr))
		if !facing {
			why = fmt.Sprintf("%d outside domains from one internal host is mass mailing, not a printer or an application notifying a few partners: the host may be compromised or misused", len(domains))
			if n > 1 {
				why = fmt.Sprintf("%d of these internal hosts each mailed %d or more outside domains: mass mailing, not printers or applications notifying a few partners; they may be compromised or misused", many, ManyRelayDomains)
			}
		}
		f.Title = fmt.Sprintf("Internal host %s relays anonymously through %s to %d outside domain(s)", addr, fk.connector, len(domains))
		if n > 1 {
			f.Title = fmt.Sprintf("%s internal hosts relay anonymously through %s to %d outside domain(s)", countText(int64(n), false), fk.connector, len(domains))
		}
		f.Explanation = what + " This is an alarm because " + why + "."
		f.Cause = fmt.Sprintf("%s grants anonymous relay to %s.", dq(fk.connector), cond(n > 1, "these hosts", addr))
		f.Fix = []string{"Find out what " + src + cond(n > 1, " are and whether they", " is and whether it") + " should send to these domains.", trace,
			"Relay for applications belongs on a dedicated connector scoped to single addresses, not on a connector that takes Internet mail."}
	default:
		f.Severity = SeverityInfo
		f.Title = fmt.Sprintf("%s relays through %s to %d outside domain(s)", src, fk.connector, len(domains))
		if n > 1 {
			f.Title = fmt.Sprintf("%s internal hosts relay through %s to %d outside domain(s)", countText(int64(n), false), fk.connector, len(domains))
		}
		f.Explanation = what + fmt.Sprintf(" This is the documented way to let a printer or an application send: internal hosts on a dedicated connector (%s client(s) use it). Listed so you know who relays, through which connector, to where.", clientsText)
		f.Cause = "A relay connector set up for these hosts."
		f.Fix = []string{"Nothing to do if these hosts are meant to send to these domains. Keep the connector's RemoteIPRanges to single addresses."}
	}
	return f, hours
}

func cond(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

func probeFinding(k connRef, rg *refusedGroup) Finding {
	f := Finding{
		ID: findingID("relay-probe", k.server, k.connector), Detector: "relay-probe", Severity: SeverityInfo,
		Server: k.server, Connector: k.connector, First: rg.span.first, Last: rg.span.last,
		Counts:  map[string]int64{"sessions": rg.sessions, "recipients_refused": rg.rcpts},
		Samples: rg.samples.out(),
	}
	f.count("sources", rg.sources)
	f.count("recipient_domains", rg.domains)
	sources, sourcesLower := rg.sources.distinct()
	f.Title = fmt.Sprintf("Relay refused %d time(s) on %s, from %s source(s)", rg.rcpts, k.connector, countText(sources, sourcesLower))
	f.Explanation = fmt.Sprintf("Between %s and %s Exchange refused %d recipient(s) in %d session(s) on %s with \"Unable to relay\": the senders were anonymous and the domains are not accepted. The server did its job.",
		stamp(rg.span.first), stamp(rg.span.last), rg.rcpts, rg.sessions, dq(k.connector))
	f.Cause = "Relay probing: bots try every mail server they find for an open relay. If the refused domains include one you host, it is missing from the accepted domains and Exchange is refusing real inbound mail as relay."
	f.Fix = []string{"Nothing to do for Internet probes. Check that none of the refused recipient domains is yours (Get-AcceptedDomain); add it with New-AcceptedDomain if it is.",
		"If internal applications are among the sources, give them a dedicated relay connector scoped to their addresses."}
	f.Facts = []Fact{rg.domains.top("refused recipient domains, by refused recipients", 10), rg.sources.top("sources, by sessions with a refused recipient", 10)}
	if eop, eopLower := rg.eop.distinct(); eop > 0 {
		// Exchange Online Protection does not probe for relays: what it
		// delivers is real mail, so a refusal loses it.
		f.Severity = SeverityMedium
		f.Title = fmt.Sprintf("Mail from Microsoft 365 refused as relay on %s (%d recipient(s))", k.connector, rg.rcpts)
		f.Cause = fmt.Sprintf("%s of the sources are Exchange Online Protection servers (Microsoft 365 outbound), which deliver real mail and do not probe. Exchange refused their recipients as relay, so the recipient domain is most likely missing from the accepted domains (or mail for a domain hosted elsewhere is routed here). Other sources may still be probes.", countText(eop, eopLower))
		f.Facts = append(f.Facts, rg.eop.top("Exchange Online Protection sources, by sessions with a refused recipient", 5))
		f.Explanation = strings.TrimSuffix(f.Explanation, " The server did its job.") + " Mail from Microsoft 365 among them is real mail that was lost."
		f.Fix = []string{"Compare the refused recipient domains with Get-AcceptedDomain. For a domain you host: New-AcceptedDomain -DomainName '<domain>' -DomainType Authoritative.",
			"In a hybrid organisation, check that the Microsoft 365 outbound connector to on-premises only carries domains this organisation accepts."}
	}
	return f
}

// sourceName is "10.30.5.21 (EHLO SCAN01)" when one EHLO name dominates.
func sourceName(a netip.Addr, ehlo counter) string {
	if len(ehlo.m) == 1 {
		for n := range ehlo.m {
			if n != "" {
				return fmt.Sprintf("%s (EHLO %s)", addrString(a), n)
			}
		}
	}
	return addrString(a)
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "an unlogged address"
	}
	return a.String()
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

// eopRanges are Exchange Online Protection's published outbound ranges
// (Microsoft 365 URLs and IP address ranges, "Exchange Online" ID 2).
var eopRanges = []netip.Prefix{
	netip.MustParsePrefix("40.92.0.0/15"), netip.MustParsePrefix("40.107.0.0/16"),
	netip.MustParsePrefix("52.100.0.0/14"), netip.MustParsePrefix("104.47.0.0/17"),
	netip.MustParsePrefix("2a01:111:f400::/48"), netip.MustParsePrefix("2a01:111:f403::/48"),
}

func isEOP(a netip.Addr) bool {
	for _, p := range eopRanges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
