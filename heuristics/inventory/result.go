package inventory

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/logscan/logscan/heuristics/domains"
	"github.com/logscan/logscan/parser"
)

// Query selects, among the clients counted, the ones to list. Zero values
// list all.
type Query struct {
	// IdleSince lists clients last seen before it: the ones that stopped.
	IdleSince time.Time
	// TLSBelow lists clients with sessions that negotiated an older TLS
	// version (TLS 1.0 and 1.1 below 1.2).
	TLSBelow Version
	// NoTLS lists clients with sessions that used no TLS, or whose TLS
	// negotiation failed.
	NoTLS bool
	// Top keeps, per connector, only the Top busiest of the clients
	// selected in Result.Clients (0: all); Connector.Listed counts them all.
	Top int
}

// Result is the inventory: connectors, and the clients of each.
type Result struct {
	// Connectors that have a listed client, busiest first (receive
	// before send).
	Connectors []Connector
	// Clients listed, grouped in the order of Connectors, busiest first.
	Clients  []Client
	Accepted Assumption
	// Sessions counted, and left out by the Filter.
	Sessions, Filtered int64
	// Hidden counts the clients counted but not listed by the Query.
	Hidden int
	Budget Budget
	// Servers are the scanned servers' own addresses, by name.
	Servers []Server
}

// Assumption is what the inventory took as given, and how it knows.
type Assumption struct {
	Values []string
	Source string
}

// Budget says whether the rows kept reached Options.MaxClients.
type Budget struct {
	MaxClients int
	Hit        bool
	// Spilled counts the sessions counted in "other clients" rows.
	Spilled int64
}

// Server is one scanned server and its own (local) addresses.
type Server struct {
	Name  string
	Addrs []netip.Addr
}

// List is a bounded list of distinct values, smallest first. More says
// that there were more than listed: a count of Values is then a lower bound.
type List struct {
	Values []string
	More   bool
}

// Count is one value and how many times it was seen.
type Count struct {
	Value string
	N     int64
}

// Counts is a bounded list of values with exact counts; Rest counts the
// occurrences of values not listed, and More says there were such values.
type Counts struct {
	Values []Count
	Rest   int64
	More   bool
}

// Client is one row: a client of one connector of one server.
type Client struct {
	Server    string
	LogType   string // receive or send
	Connector string
	// Addr is the client: the remote address, or on a Hub session a Front
	// End proxied, the original client (XPROXYFROM IP=). On send logs, the
	// remote server. Invalid when not logged (redacted), or for Other.
	Addr netip.Addr
	// Other is the row of the clients past the budget, counted together.
	Other bool
	// ExchangeServer names the scanned server Addr belongs to, if any.
	ExchangeServer string
	// ProxiedBy are the Front Ends that handed its sessions to this Hub
	// connector, as "EX01 (10.20.0.11)".
	ProxiedBy List
	// Names are the EHLO names it gave (receive), or the names the remote
	// server gave in its 220 greeting (send).
	Names List
	// Users are the accounts it authenticated as; ExchangeAccounts the
	// accounts of Exchange Server authentication (X-EXPS: CONTOSO\EX02$).
	Users, ExchangeAccounts List

	Sessions, Complete int64
	// Sessions by authentication: anonymous, authenticated as a user,
	// authenticated as an Exchange server, and (of any kind) proxied by a
	// Front End (whose AUTHSRC decides anonymous or not).
	Anonymous, Authenticated, ExchangeServerAuth, Proxied int64

	Messages        int64
	MessagesAtLeast bool // a session reached session.MaxMessagesPerSession
	Queued          int64
	Recipients      int64
	Accepted        int64 // recipients that got 2xx
	SenderDomains   List
	// OutsideDomains are recipient domains outside the accepted domains,
	// with their recipient counts; OutsideRecipients their sum, a lower
	// bound when OutsideAtLeast (some recipient domains were not kept).
	OutsideDomains    Counts
	OutsideRecipients int64
	OutsideAtLeast    bool

	Relay Relay
	TLS   TLS

	First, Last time.Time
}

// Relay says whether the connector let the client relay.
type Relay struct {
	// Granted counts anonymous sessions holding SMTPAcceptAnyRecipient:
	// the connector lets this client send to any domain.
	Granted int64
	// Relayed counts recipients outside the accepted domains that got 2xx
	// in those sessions; a lower bound when AtLeast.
	Relayed int64
	AtLeast bool
	Domains Counts
}

// TLS is how the sessions used TLS.
type TLS struct {
	None           int64 // no TLS
	Failed         int64 // "TLS negotiation failed", no TLS after
	Old            int64 // below TLS 1.2
	Modern         int64 // TLS 1.2 or 1.3
	UnknownVersion int64 // TLS, version not logged
	Protocols      Counts
	Ciphers        List
	Errors         Counts
	Certificates   []Certificate
	CertsMore      bool
}

// Connector is one connector of one server, with its clients' totals.
type Connector struct {
	Server    string
	LogType   string
	Connector string
	// Clients counted on it (a lower bound when OtherClients), and listed.
	Clients, Listed int
	OtherClients    bool
	// Totals over its clients (after the Filter).
	Sessions, Messages, Recipients int64
	First, Last                    time.Time
	TLS                            TLS
	// AllSessions counts its sessions before the Filter.
	AllSessions int64
}

// Result finishes the inventory and lists the clients q selects. Call it
// after the last Observe.
func (inv *Inventory) Result(q Query) *Result {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	t := inv.strs
	res := &Result{Sessions: inv.seen - inv.filtered, Filtered: inv.filtered,
		Budget: Budget{MaxClients: inv.opts.MaxClients, Hit: inv.rows.refused > 0}}
	for _, r := range inv.others {
		res.Budget.Spilled += r.sessions
	}
	res.Accepted = inv.accepted()
	serverOf := map[netip.Addr]string{}
	for _, name := range slices.Sorted(maps.Keys(inv.local)) {
		sv := Server{Name: name}
		for a := range inv.local[name] {
			sv.Addrs = append(sv.Addrs, a)
			if _, taken := serverOf[a]; !taken {
				serverOf[a] = name
			}
		}
		slices.SortFunc(sv.Addrs, netip.Addr.Compare)
		res.Servers = append(res.Servers, sv)
	}
	type listed struct {
		k     rowKey
		r     *row
		other bool
	}
	var out []listed
	conns := make([]*Connector, len(inv.connList))
	tls := make([]*row, len(inv.connList))
	add := func(k rowKey, r *row, other bool) {
		ci := inv.connList[k.conn]
		cn := conns[k.conn]
		if cn == nil {
			cn = &Connector{Server: ci.key.server, LogType: ci.key.logType.String(), Connector: ci.key.connector, AllSessions: ci.sessions}
			conns[k.conn], tls[k.conn] = cn, newRow()
		}
		cn.Clients++
		cn.OtherClients = cn.OtherClients || other
		cn.Sessions += r.sessions
		cn.Messages += r.messages
		cn.Recipients += r.recipients
		tr := tls[k.conn]
		tr.first, tr.last = min(tr.first, r.first), max(tr.last, r.last)
		tr.mergeTLS(r, t)
		if !q.selects(r, t) {
			res.Hidden++
			return
		}
		cn.Listed++
		out = append(out, listed{k, r, other})
	}
	for k, r := range inv.rows.m {
		add(k, r, false)
	}
	for conn, r := range inv.others {
		add(rowKey{conn: conn}, r, true)
	}
	rank := make([]int, len(conns))
	for i, cn := range conns {
		if cn == nil {
			continue
		}
		cn.First, cn.Last = msTime(tls[i].first), msTime(tls[i].last)
		cn.TLS = tls[i].tlsResult(t)
		if cn.Listed > 0 {
			res.Connectors = append(res.Connectors, *cn)
		}
	}
	slices.SortFunc(res.Connectors, compareConnectors)
	for i, c := range res.Connectors {
		rank[inv.conns[connKey{c.Server, c.Connector, parser.ParseLogType(c.LogType)}].id] = i
	}
	slices.SortFunc(out, func(a, b listed) int {
		return cmp.Or(cmp.Compare(rank[a.k.conn], rank[b.k.conn]), compareBool(a.other, b.other), cmp.Compare(b.r.sessions, a.r.sessions),
			compareAddrKeys(a.k.client, b.k.client))
	})
	shown := make([]int, len(conns))
	for _, l := range out {
		if q.Top > 0 && shown[l.k.conn] >= q.Top {
			continue
		}
		shown[l.k.conn]++
		res.Clients = append(res.Clients, inv.client(l.k, l.r, l.other, res.Accepted.Values, serverOf))
	}
	return res
}

func compareConnectors(a, b Connector) int {
	return cmp.Or(cmp.Compare(logTypeOf(a.LogType), logTypeOf(b.LogType)), cmp.Compare(b.Sessions, a.Sessions),
		cmp.Compare(a.Server, b.Server), cmp.Compare(a.Connector, b.Connector))
}

// selects reports whether q lists the client counted in r.
func (q Query) selects(r *row, t *strTable) bool {
	if !q.IdleSince.IsZero() && r.last >= q.IdleSince.UnixMilli() {
		return false
	}
	if q.NoTLS && r.tlsNone+r.tlsFailed == 0 {
		return false
	}
	if !q.TLSBelow.IsZero() {
		old := false
		for _, id := range r.protocols.ids[:r.protocols.n] {
			if v, err := ParseVersion(t.str(id)); err == nil && v.Less(q.TLSBelow) {
				old = true
			}
		}
		if !old {
			return false
		}
	}
	return true
}

// client turns a row into its Client.
func (inv *Inventory) client(k rowKey, r *row, other bool, accepted []string, serverOf map[netip.Addr]string) Client {
	t, ci := inv.strs, inv.connList[k.conn]
	c := Client{Server: ci.key.server, LogType: ci.key.logType.String(), Connector: ci.key.connector, Other: other,
		Sessions: r.sessions, Complete: r.complete, Anonymous: r.anonymous, Authenticated: r.user,
		ExchangeServerAuth: r.exchange, Proxied: r.proxied, Messages: r.messages, MessagesAtLeast: r.messagesCapped,
		Queued: r.queued, Recipients: r.recipients, Accepted: r.accepted,
		Names: r.names.list(t), Users: r.users.list(t), ExchangeAccounts: r.servers.list(t), SenderDomains: r.senderDomains.list(t),
		TLS: r.tlsResult(t), First: msTime(r.first), Last: msTime(r.last)}
	if !other {
		c.Addr = k.client.addr()
		c.ExchangeServer = serverOf[c.Addr]
	}
	for _, a := range r.proxies.addrs[:r.proxies.n] {
		name := a.addr().String()
		if sv := serverOf[a.addr()]; sv != "" {
			name = sv + " (" + name + ")"
		}
		c.ProxiedBy.Values = append(c.ProxiedBy.Values, name)
	}
	c.ProxiedBy.More = r.proxies.more
	c.OutsideDomains, c.OutsideRecipients, c.OutsideAtLeast = outside(inv.tallyOf(r.rcpt), accepted, t)
	c.Relay = Relay{Granted: r.relayGranted}
	c.Relay.Domains, c.Relay.Relayed, c.Relay.AtLeast = outside(inv.tallyOf(r.relay), accepted, t)
	return c
}

// outside picks the domains counted in c outside the accepted ones. Values
// not kept are unknown, outside or not: they make the sum a lower bound.
func outside(c *idTally, accepted []string, t *strTable) (Counts, int64, bool) {
	out := Counts{More: c.more}
	var n int64
	for i, id := range c.ids {
		if d := t.str(id); !domains.Matches(d, accepted) {
			out.Values = append(out.Values, Count{d, c.n[i]})
			n += c.n[i]
		}
	}
	return out, n, c.more
}

func (r *row) tlsResult(t *strTable) TLS {
	tl := TLS{None: r.tlsNone, Failed: r.tlsFailed, Old: r.tlsOld, Modern: r.tlsModern, UnknownVersion: r.tlsUnknownVersion,
		Protocols: r.protocols.counts(t), Ciphers: r.ciphers.list(t), Errors: r.tlsErrors.counts(t), CertsMore: r.certs.more}
	for _, c := range r.certs.certs[:r.certs.n] {
		tl.Certificates = append(tl.Certificates, c.cert(t))
	}
	return tl
}

func logTypeOf(s string) int {
	switch s {
	case "receive":
		return 1
	case "send":
		return 2
	}
	return 3
}

// accepted decides the accepted domains: given, else inferred with the rule
// logscan scan uses (domains Exchange accepted from anonymous senders
// without the relay right more often than it refused them as relay, and
// the parent domain of the servers' 220 banners unless Exchange refuses
// it).
func (inv *Inventory) accepted() Assumption {
	if len(inv.opts.AcceptedDomains) > 0 {
		return Assumption{Values: slices.Clone(inv.opts.AcceptedDomains), Source: "given (--accepted-domains)"}
	}
	vals, fromBanner := inv.domains.Infer()
	src := domains.Source(vals, fromBanner, "none could be inferred: every recipient domain counts as outside")
	return Assumption{Values: vals, Source: src + ". Give --accepted-domains to be exact"}
}
