package inventory

import (
	"cmp"
	"net/netip"
	"strings"
	"sync"
	"time"

	"go4.org/netipx"

	"github.com/logscan/logscan/heuristics/domains"
	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// Bounds on what one row keeps. Counts of sessions, messages and
// recipients are always exact; these bound the distinct values listed, and
// a row that had more says so ("at least").
const (
	maxNames         = 8  // EHLO names (receive) or banner host names (send)
	maxAccounts      = 8  // accounts authenticated as
	maxSenderDomains = 16 // MAIL FROM domains
	maxRcptDomains   = 48 // RCPT TO domains, with recipient counts
	maxTLSValues     = 6  // protocols, ciphers, errors
	maxCertificates  = 4
	maxProxies       = 4 // Front Ends that proxied a Hub session
)

// DefaultMaxClients bounds the rows an Inventory keeps: about 1 KiB each
// when every list is full, far less for the usual client. An Internet-facing
// connector under a botnet can see millions of addresses; past the bound the
// clients with the largest keys are folded into one "other clients" row per
// connector, with exact counts.
const DefaultMaxClients = 100_000

// Filter says which sessions an Inventory counts. Zero values count all.
type Filter struct {
	Servers    []string       // server names, any case
	Connectors []string       // connector-ids, any case; '*' matches any text
	Clients    *netipx.IPSet  // client addresses (the XPROXYFROM IP= on proxied Hub sessions)
	LogType    parser.LogType // receive or send; unknown: both
	// Anonymous counts only unauthenticated sessions (on a proxied Hub
	// session: AUTHSRC=Anonymous).
	Anonymous bool
}

// Options tune an Inventory.
type Options struct {
	Filter     Filter
	MaxClients int // 0: DefaultMaxClients
	// AcceptedDomains are the organisation's accepted domains
	// ("contoso.com", "*.contoso.com"); empty: inferred as logscan scan
	// infers them.
	AcceptedDomains []string
}

// Inventory aggregates sessions per (server, connector, client). Observe
// may be called from several goroutines.
type Inventory struct {
	opts Options

	mu       sync.Mutex
	strs     *strTable
	conns    map[connKey]*connInfo // every connector seen, before filters
	connList []*connInfo           // by id
	recent   [16]*connInfo         // recently seen connectors, by the lengths of their names
	rows     *smallest[rowKey, row]
	others   map[uint32]*row                    // per connector id: clients past the budget
	tallies  []idTally                          // the rows' recipient domains, by row.rcpt and row.relay
	free     []int32                            // slots of tallies whose rows were folded away
	seen     int64                              // sessions observed
	filtered int64                              // sessions the filter left out
	domains  *domains.Evidence                  // for the accepted domains, inferred as logscan scan does
	local    map[string]map[netip.Addr]struct{} // server -> its own addresses
}

type connKey struct {
	server, connector string
	logType           parser.LogType
}

// connInfo is one connector: its id, and its sessions before filters.
type connInfo struct {
	key    connKey
	id     uint32
	wanted bool // the Filter's server, connector and log type let it in
	// The last local address recorded for the server: most sessions
	// repeat it, and need not be looked up again.
	lastLocal   netip.Addr
	sessions    int64
	first, last int64
}

// rowKey is a client of a connector: no pointers, so the key heap and map
// cost the garbage collector nothing to scan.
type rowKey struct {
	conn   uint32
	client addrKey // none: not logged
}

// row is one (server, connector, client) as it is being counted. It holds
// no pointer (its two growing tallies live in Inventory.tallies), so the
// garbage collector, which runs often while the parser churns through
// buffers, marks rows without scanning them.
type row struct {
	rcpt  int32 // recipients per domain: index+1 in Inventory.tallies, 0 when none yet
	relay int32 // recipients accepted in anonymous sessions holding the relay right, per domain: likewise

	sessions, complete           int64
	anonymous, user, exchange    int64
	proxied                      int64
	messages, queued             int64
	messagesCapped               bool // a session held session.MaxMessagesPerSession messages: maybe more
	recipients, accepted         int64
	relayGranted                 int64 // anonymous sessions holding SMTPAcceptAnyRecipient
	tlsNone, tlsFailed, tlsOld   int64
	tlsModern, tlsUnknownVersion int64
	first, last                  int64 // Unix ms

	names         set8
	users         set8
	servers       set8 // accounts of Exchange Server authentication
	senderDomains set16
	protocols     tally8 // sessions per TLS protocol
	ciphers       set8
	tlsErrors     tally8
	certs         certSet
	proxies       addrSet
}

func newRow() *row { return &row{first: 1<<63 - 1} }

// Certificate is one certificate a session's TLS handshake logged, and
// whose it was.
type Certificate struct {
	session.Certificate
	// Local: this Exchange server's own (receive logs: what the connector
	// offered); else the peer's (send logs: what the remote server offered).
	Local bool
}

func compareCerts(a, b Certificate) int {
	return cmp.Or(cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Thumbprint, b.Thumbprint), cmp.Compare(a.Issuer, b.Issuer),
		cmp.Compare(a.NotAfter, b.NotAfter), compareBool(a.Local, b.Local))
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// New returns an empty Inventory.
func New(opts Options) *Inventory {
	opts.MaxClients = cmp.Or(opts.MaxClients, DefaultMaxClients)
	inv := &Inventory{opts: opts, strs: newStrTable(), conns: map[connKey]*connInfo{}, others: map[uint32]*row{},
		domains: domains.NewEvidence(), local: map[string]map[netip.Addr]struct{}{}}
	inv.rows = newSmallest[rowKey, row](opts.MaxClients, inv.compareKeys)
	return inv
}

// compareKeys orders rows by server, log type, connector, then client.
func (inv *Inventory) compareKeys(a, b rowKey) int {
	if a.conn != b.conn {
		x, y := inv.connList[a.conn].key, inv.connList[b.conn].key
		if c := cmp.Or(cmp.Compare(x.server, y.server), cmp.Compare(x.logType, y.logType), cmp.Compare(x.connector, y.connector)); c != 0 {
			return c
		}
	}
	return compareAddrKeys(a.client, b.client)
}

// anonymous reports whether the session's client did not authenticate: on
// a Hub session a Front End proxied, what XPROXYFROM AUTHSRC= says.
func anonymous(s *session.Session) bool {
	if s.Proxied && s.ProxyAuth != "" {
		return s.ProxyAuth == "Anonymous" || strings.EqualFold(s.ProxyAuth, "Anonymous")
	}
	return s.Auth == session.AuthNone
}

const permAnyRecipient = "SMTPAcceptAnyRecipient"

// Observe counts one session.
func (inv *Inventory) Observe(s *session.Session) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.seen++
	// Sessions of one connector carry the builder's one copy of its name:
	// comparing it is cheaper than hashing it.
	slot := &inv.recent[(len(s.Connector)*31+len(s.Server)+int(s.LogType))%len(inv.recent)]
	c := *slot
	if c == nil || c.key.connector != s.Connector || c.key.server != s.Server || c.key.logType != s.LogType {
		c = inv.conns[connKey{s.Server, s.Connector, s.LogType}]
	}
	if c == nil {
		c = &connInfo{key: connKey{strings.Clone(s.Server), strings.Clone(s.Connector), s.LogType}, id: uint32(len(inv.connList)),
			first: 1<<63 - 1}
		c.wanted = inv.wantedConnector(c.key)
		inv.conns[c.key] = c
		inv.connList = append(inv.connList, c)
	}
	*slot = c
	c.sessions++
	c.first, c.last = min(c.first, s.Start.UnixMilli()), max(c.last, s.End.UnixMilli())
	inv.evidence(c, s)
	if !c.wanted || !inv.wanted(s) {
		inv.filtered++
		return
	}
	r, out, outRow := inv.rows.get(rowKey{c.id, keyOf(clientOf(s))}, newRow)
	if outRow != nil {
		inv.merge(inv.other(out.conn), outRow)
	}
	if r == nil {
		r = inv.other(out.conn)
	}
	inv.add(r, s)
}

// clientOf is the row a session counts in: the client (on a proxied Hub
// session, XPROXYFROM IP=) in receive logs; the remote server in send logs.
func clientOf(s *session.Session) netip.Addr {
	if s.IsReceive() {
		return s.Client
	}
	return s.Remote.Addr()
}

// other returns the "other clients" row of a connector.
func (inv *Inventory) other(conn uint32) *row {
	r := inv.others[conn]
	if r == nil {
		r = newRow()
		inv.others[conn] = r
	}
	return r
}

// wantedConnector applies the Filter's server, connector and log type,
// once per connector.
func (inv *Inventory) wantedConnector(k connKey) bool {
	f := &inv.opts.Filter
	return (f.LogType == parser.LogTypeUnknown || k.logType == f.LogType) &&
		(len(f.Servers) == 0 || anyFold(f.Servers, k.server)) &&
		(len(f.Connectors) == 0 || MatchAny(f.Connectors, k.connector))
}

// wanted applies the rest of the Filter to a session of a wanted connector.
func (inv *Inventory) wanted(s *session.Session) bool {
	f := &inv.opts.Filter
	if f.Clients != nil && !f.Clients.Contains(clientOf(s)) {
		return false
	}
	return !f.Anonymous || anonymous(s)
}

func anyFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(strings.TrimSpace(v), strings.TrimSpace(s)) {
			return true
		}
	}
	return false
}

// MatchAny reports whether name matches one of the patterns: any case,
// surrounding blanks ignored, '*' standing for any text.
func MatchAny(patterns []string, name string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, p := range patterns {
		if wildcard(strings.ToLower(strings.TrimSpace(p)), name) {
			return true
		}
	}
	return false
}

// wildcard matches s against p, where '*' is any text (backslashes are
// literal: connector-ids hold them).
func wildcard(p, s string) bool {
	head, rest, ok := strings.Cut(p, "*")
	if !ok {
		return p == s
	}
	if !strings.HasPrefix(s, head) {
		return false
	}
	s = s[len(head):]
	for i := 0; i <= len(s); i++ {
		if wildcard(rest, s[i:]) {
			return true
		}
	}
	return false
}

// add counts s into r.
func (inv *Inventory) add(r *row, s *session.Session) {
	t := inv.strs
	r.sessions++
	if s.Complete {
		r.complete++
	}
	r.first, r.last = min(r.first, s.Start.UnixMilli()), max(r.last, s.End.UnixMilli())
	anon := anonymous(s)
	switch {
	case anon:
		r.anonymous++
	case s.Auth == session.AuthExchange && !s.Proxied:
		r.exchange++
		if s.AuthUser != "" {
			r.servers.add(s.AuthUser, maxAccounts, t)
		}
	default:
		r.user++
		if s.Auth == session.AuthUser && s.AuthUser != "" {
			r.users.add(s.AuthUser, maxAccounts, t)
		}
	}
	if s.Proxied {
		r.proxied++
		if s.IsReceive() && s.Remote.Addr().IsValid() {
			r.proxies.add(keyOf(s.Remote.Addr()), maxProxies)
		}
	}
	if s.IsReceive() {
		if s.EHLO != "" {
			r.names.add(s.EHLO, maxNames, t)
		}
	} else if h := bannerHost(s.Banner); h != "" {
		r.names.add(h, maxNames, t)
	}
	relay := s.IsReceive() && anon && s.HasPermission(permAnyRecipient)
	if relay {
		r.relayGranted++
	}
	if len(s.Messages) >= session.MaxMessagesPerSession {
		r.messagesCapped = true
	}
	for i := range s.Messages {
		m := &s.Messages[i]
		r.messages++
		if m.Queued {
			r.queued++
		}
		if d := session.DomainOf(m.From); d != "" {
			r.senderDomains.add(d, maxSenderDomains, t)
		}
		r.recipients += int64(len(m.Rcpts) + m.RcptsOver)
		if m.RcptsOver > 0 {
			rt := inv.tally(&r.rcpt)
			rt.rest += int64(m.RcptsOver)
			rt.more = true
		}
		for j := range m.Rcpts {
			rc := &m.Rcpts[j]
			acc := rc.Accepted()
			if acc {
				r.accepted++
			}
			d := cmp.Or(rc.Domain, "(no domain)")
			inv.tally(&r.rcpt).add(d, 1, maxRcptDomains, t)
			if relay && acc {
				inv.tally(&r.relay).add(d, 1, maxRcptDomains, t)
			}
		}
	}
	class, v := classify(s)
	switch class {
	case tlsNone:
		r.tlsNone++
	case tlsFailed:
		r.tlsFailed++
	case tlsOld:
		r.tlsOld++
	case tlsModern:
		r.tlsModern++
	case tlsUnknownVersion:
		r.tlsUnknownVersion++
	}
	switch class {
	case tlsOld, tlsModern:
		r.protocols.add(v.String(), 1, maxTLSValues, t) // "TLS1" (2010) counts as TLS1.0
	case tlsUnknownVersion:
		r.protocols.add(cmp.Or(s.TLSProtocol, "(not logged)"), 1, maxTLSValues, t)
	}
	if s.TLSCipher != "" {
		r.ciphers.add(s.TLSCipher, maxTLSValues, t)
	}
	if s.TLSFailure != "" {
		r.tlsErrors.add(s.TLSFailure, 1, maxTLSValues, t)
	}
	if !s.LocalCert.IsZero() {
		r.certs.add(Certificate{s.LocalCert, true}, maxCertificates, t)
	}
	if !s.RemoteCert.IsZero() {
		r.certs.add(Certificate{s.RemoteCert, false}, maxCertificates, t)
	}
}

// tally returns the tally *idx names, making one when it is 0. The pointer
// is good until the next call (the slice may grow).
func (inv *Inventory) tally(idx *int32) *idTally {
	if *idx == 0 {
		if n := len(inv.free); n > 0 {
			*idx, inv.free = inv.free[n-1], inv.free[:n-1]
		} else {
			inv.tallies = append(inv.tallies, idTally{})
			*idx = int32(len(inv.tallies))
		}
	}
	return &inv.tallies[*idx-1]
}

// tallyOf returns the tally idx names (an empty one for 0).
func (inv *Inventory) tallyOf(idx int32) *idTally {
	if idx == 0 {
		return &idTally{}
	}
	return &inv.tallies[idx-1]
}

// merge folds o into r (a client pushed out of the budget into its
// connector's "other clients" row); o's tallies are freed.
func (inv *Inventory) merge(r, o *row) {
	t := inv.strs
	r.sessions += o.sessions
	r.complete += o.complete
	r.anonymous += o.anonymous
	r.user += o.user
	r.exchange += o.exchange
	r.proxied += o.proxied
	r.messages += o.messages
	r.queued += o.queued
	r.messagesCapped = r.messagesCapped || o.messagesCapped
	r.recipients += o.recipients
	r.accepted += o.accepted
	r.relayGranted += o.relayGranted
	r.first, r.last = min(r.first, o.first), max(r.last, o.last)
	r.names.merge(&o.names, maxNames, t)
	r.users.merge(&o.users, maxAccounts, t)
	r.servers.merge(&o.servers, maxAccounts, t)
	r.senderDomains.merge(&o.senderDomains, maxSenderDomains, t)
	for _, p := range []struct{ dst, src *int32 }{{&r.rcpt, &o.rcpt}, {&r.relay, &o.relay}} {
		if *p.src == 0 {
			continue
		}
		d := inv.tally(p.dst)
		src := &inv.tallies[*p.src-1]
		d.merge(src, maxRcptDomains, t)
		*src = idTally{}
		inv.free = append(inv.free, *p.src)
		*p.src = 0
	}
	r.proxies.merge(&o.proxies, maxProxies)
	r.mergeTLS(o, t)
}

// mergeTLS folds o's TLS use into r.
func (r *row) mergeTLS(o *row, t *strTable) {
	r.tlsNone += o.tlsNone
	r.tlsFailed += o.tlsFailed
	r.tlsOld += o.tlsOld
	r.tlsModern += o.tlsModern
	r.tlsUnknownVersion += o.tlsUnknownVersion
	r.protocols.merge(&o.protocols, maxTLSValues, t)
	r.ciphers.merge(&o.ciphers, maxTLSValues, t)
	r.tlsErrors.merge(&o.tlsErrors, maxTLSValues, t)
	r.certs.merge(&o.certs, maxCertificates, t)
}

// evidence keeps what the logs say of the organisation, before filters:
// the servers' own addresses, their banner names, and how Exchange treated
// recipient domains.
func (inv *Inventory) evidence(c *connInfo, s *session.Session) {
	if a := s.Local.Addr(); s.Server != "" && a.IsValid() && a != c.lastLocal {
		c.lastLocal = a
		m := inv.local[s.Server]
		if m == nil {
			m = map[netip.Addr]struct{}{}
			inv.local[strings.Clone(s.Server)] = m
		}
		if len(m) < 64 {
			m[a] = struct{}{}
		}
	}
	inv.domains.Observe(s)
}

// bannerHost is the first word of a remote server's greeting (send logs):
// the name it gives itself.
func bannerHost(banner string) string {
	for banner != "" && banner[0] == ' ' { // "220  EX01...": 2013+ logs two spaces
		banner = banner[1:]
	}
	f, _, _ := strings.Cut(banner, " ")
	return f
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
