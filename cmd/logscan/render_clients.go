package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/logscan/logscan/heuristics/inventory"
	"github.com/logscan/logscan/heuristics/run"
)

// renderClientsText prints the inventory grouped by connector, busiest
// first. Every string from the logs goes through safe.
func renderClientsText(w io.Writer, rep *clientsReport) error {
	inv, cov, opts := rep.Res.Inventory, rep.Res.Coverage, rep.Opts
	listed, other := 0, false
	for _, c := range inv.Connectors {
		listed += c.Listed
	}
	for _, c := range inv.Clients {
		if c.Other {
			listed--
			other = true
		}
	}
	what := plural(int64(listed), "client", "clients")
	if other {
		what += " and the clients past --max-clients"
	}
	fmt.Fprintf(w, "Clients: %s on %s; %s counted", what, plural(int64(len(inv.Connectors)), "connector", "connectors"),
		plural(inv.Sessions, "session", "sessions"))
	if inv.Filtered > 0 {
		fmt.Fprintf(w, " (%s left out by the filters)", num(inv.Filtered))
	}
	fmt.Fprintln(w)
	if f := filterText(opts); f != "" {
		fmt.Fprintf(w, "Filters: %s\n", f)
	}
	if q := queryText(opts); q != "" {
		fmt.Fprintf(w, "Listing: %s (%s of the clients counted are not listed)\n", q, num(int64(inv.Hidden)))
	}
	if len(inv.Clients) == 0 {
		if q := queryText(opts); q != "" {
			fmt.Fprintf(w, "\nNo client matches: no %s in these logs.\n", strings.ReplaceAll(q, "clients ", "client "))
		} else {
			fmt.Fprintln(w, "\nNo client matches.")
		}
	}
	i := 0
	for _, c := range inv.Connectors {
		one, many := "client", "clients"
		if c.LogType == "send" {
			one, many = "remote server", "remote servers"
		}
		fmt.Fprintf(w, "\n%s (%s, %s): %s, %s, %s, %s\n", safe(c.Connector), c.LogType, serverName(c.Server),
			atLeast(int64(c.Clients), c.OtherClients, one, many), plural(c.Sessions, "session", "sessions"), plural(c.Messages, "message", "messages"),
			plural(c.Recipients, "recipient", "recipients"))
		var notes []string
		if c.AllSessions > c.Sessions {
			notes = append(notes, fmt.Sprintf("of %s sessions on the connector", num(c.AllSessions)))
		}
		notes = append(notes, "seen "+fmtSpan(c.First, c.Last))
		fmt.Fprintf(w, "  %s\n", strings.Join(notes, "; "))
		if t := tlsText(c.TLS, c.LogType); t != "" {
			fmt.Fprintf(w, "  TLS: %s\n", t)
		}
		shown := 0
		for ; i < len(inv.Clients) && sameConnector(inv.Clients[i], c); i++ {
			shown++
			renderClient(w, &inv.Clients[i])
		}
		if c.Listed > shown {
			fmt.Fprintf(w, "\n  ... and %s more (--top 0 lists all; --format json or csv always does)\n", plural(int64(c.Listed-shown), "client", "clients"))
		}
	}
	renderNeverSeen(w, rep)
	if inv.Budget.Hit {
		fmt.Fprintf(w, "\nBudget: more than %s clients; %s sessions of the clients past it are counted per connector as \"(other clients)\" (exact counts; --max-clients raises it)\n",
			num(int64(inv.Budget.MaxClients)), num(inv.Budget.Spilled))
	}
	if b := rep.Res.Build; b.Evicted+b.Split > 0 {
		fmt.Fprintf(w, "\nSessions: %s closed early (too many open at once) and %s split (too long) were counted in parts: session counts are an upper bound where they fell\n",
			num(b.Evicted), num(b.Split))
	}
	if len(inv.Clients) > 0 {
		fmt.Fprintf(w, "\nAccepted domains: %s — %s\n", cmpOr(safeJoin(inv.Accepted.Values, ", "), "none"), inv.Accepted.Source)
	}
	renderCoverageBrief(w, inv, cov, opts)
	return nil
}

func sameConnector(c inventory.Client, k inventory.Connector) bool {
	return c.Server == k.Server && c.Connector == k.Connector && c.LogType == k.LogType
}

// renderClient prints one client: what it is, then what it did.
func renderClient(w io.Writer, c *inventory.Client) {
	who := safe(clientName(c))
	fmt.Fprintf(w, "\n  %s: %s, %s", who, plural(c.Sessions, "session", "sessions"), atLeast(c.Messages, c.MessagesAtLeast, "message", "messages"))
	if c.Messages > 0 {
		fmt.Fprintf(w, " (%s queued)", num(c.Queued))
	}
	fmt.Fprintf(w, ", %s\n", plural(c.Recipients, "recipient", "recipients"))
	label := "EHLO"
	if c.LogType == "send" {
		label = "greeted as"
	}
	var line []string
	if len(c.Names.Values) > 0 {
		line = append(line, label+" "+listText(c.Names))
	}
	if len(c.ProxiedBy.Values) > 0 {
		line = append(line, "via Front End "+listText(c.ProxiedBy))
	}
	if line != nil {
		fmt.Fprintf(w, "      %s\n", strings.Join(line, " · "))
	}
	line = line[:0]
	if c.Anonymous > 0 && c.LogType == "send" {
		line = append(line, fmt.Sprintf("no authentication (%s)", num(c.Anonymous)))
	} else if c.Anonymous > 0 {
		line = append(line, fmt.Sprintf("anonymous (%s)", num(c.Anonymous)))
	}
	if c.Authenticated > 0 {
		s := fmt.Sprintf("authenticated (%s)", num(c.Authenticated))
		if len(c.Users.Values) > 0 {
			s = fmt.Sprintf("authenticated as %s (%s)", listText(c.Users), num(c.Authenticated))
		} else if c.Proxied > 0 {
			s = fmt.Sprintf("authenticated at the Front End (%s)", num(c.Authenticated))
		}
		line = append(line, s)
	}
	if c.ExchangeServerAuth > 0 {
		s := fmt.Sprintf("Exchange Server authentication as %s (%s)", listText(c.ExchangeAccounts), num(c.ExchangeServerAuth))
		switch {
		case c.LogType == "send":
			s = fmt.Sprintf("Exchange Server authentication to it (%s)", num(c.ExchangeServerAuth))
		case len(c.ExchangeAccounts.Values) == 0:
			s = fmt.Sprintf("Exchange Server authentication (%s)", num(c.ExchangeServerAuth))
		}
		line = append(line, s)
	}
	if len(line) > 0 {
		fmt.Fprintf(w, "      %s\n", strings.Join(line, " · "))
	}
	if c.Relay.Granted > 0 {
		fmt.Fprintf(w, "      relay granted: %s held SMTPAcceptAnyRecipient while anonymous", plural(c.Relay.Granted, "session", "sessions"))
		if c.Relay.Relayed > 0 || c.Relay.AtLeast {
			fmt.Fprintf(w, "; %s to outside domains accepted", atLeast(c.Relay.Relayed, c.Relay.AtLeast, "recipient", "recipients"))
		}
		fmt.Fprintln(w)
	}
	line = line[:0]
	if len(c.SenderDomains.Values) > 0 {
		line = append(line, "from "+listText(c.SenderDomains))
	}
	if len(c.OutsideDomains.Values) > 0 || c.OutsideAtLeast && c.OutsideRecipients > 0 {
		line = append(line, fmt.Sprintf("to %s in %s outside the accepted domains: %s", atLeast(c.OutsideRecipients, c.OutsideAtLeast, "recipient", "recipients"),
			atLeast(int64(len(c.OutsideDomains.Values)), c.OutsideDomains.More, "domain", "domains"), countsText(c.OutsideDomains)))
	}
	if len(line) > 0 {
		fmt.Fprintf(w, "      %s\n", strings.Join(line, "; "))
	}
	if t := tlsText(c.TLS, c.LogType); t != "" {
		fmt.Fprintf(w, "      TLS: %s\n", t)
	}
	fmt.Fprintf(w, "      first seen %s, last seen %s\n", fmtTime(c.First), fmtTime(c.Last))
}

// clientName is "10.20.0.12 (EX02)", "(not logged)" or "(other clients)".
func clientName(c *inventory.Client) string {
	switch {
	case c.Other:
		return "(other clients, past --max-clients)"
	case !c.Addr.IsValid():
		return "(address not logged)"
	case c.ExchangeServer != "":
		return c.Addr.String() + " (" + c.ExchangeServer + ")"
	}
	return c.Addr.String()
}

// tlsText is "TLS1.2 41, none 19 · AES_256 SHA_384 ECDHE · certificate
// CN=mail.contoso.com (this server's)".
func tlsText(t inventory.TLS, logType string) string {
	var use []string
	for _, p := range t.Protocols.Values {
		use = append(use, fmt.Sprintf("%s %s", safe(p.Value), num(p.N)))
	}
	if t.Protocols.More {
		use = append(use, fmt.Sprintf("other versions %s", num(t.Protocols.Rest)))
	}
	if t.None > 0 {
		use = append(use, "no TLS "+num(t.None))
	}
	if t.Failed > 0 {
		use = append(use, fmt.Sprintf("negotiation failed %s (%s)", num(t.Failed), countsText(t.Errors)))
	}
	if len(use) == 0 {
		return ""
	}
	parts := []string{strings.Join(use, ", ")}
	if t.Old > 0 {
		parts[0] += fmt.Sprintf(" — %s below TLS 1.2", plural(t.Old, "session", "sessions"))
	}
	if len(t.Ciphers.Values) > 0 {
		parts = append(parts, listText(t.Ciphers))
	}
	for _, c := range t.Certificates {
		parts = append(parts, "certificate "+certText(c, logType))
	}
	if t.CertsMore {
		parts = append(parts, "more certificates")
	}
	return strings.Join(parts, " · ")
}

func certText(c inventory.Certificate, logType string) string {
	s := safe(c.Subject)
	if c.Thumbprint != "" {
		s += " " + safe(c.Thumbprint)
	}
	if c.NotAfter != "" {
		s += " expires " + safe(c.NotAfter)
	}
	switch {
	case c.Local && logType == "receive":
		s += " (offered by this server)"
	case c.Local:
		s += " (this server's)"
	case logType == "send":
		s += " (offered by the remote server)"
	default:
		s += " (the client's)"
	}
	return s
}

// listText is "a, b, c", or "a, b, c (at least 3; more not kept)".
func listText(l inventory.List) string {
	s := safeJoin(l.Values, ", ")
	if l.More {
		s += fmt.Sprintf(" (at least %d; more not kept)", len(l.Values)+1)
	}
	return s
}

func countsText(c inventory.Counts) string {
	parts := make([]string, 0, len(c.Values)+1)
	for _, v := range c.Values {
		parts = append(parts, fmt.Sprintf("%s %s", safe(v.Value), num(v.N)))
	}
	if c.More {
		parts = append(parts, "more not kept")
	}
	return strings.Join(parts, ", ")
}

func safeJoin(vals []string, sep string) string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = safe(v)
	}
	return strings.Join(out, sep)
}

// atLeast is "3 clients", or "at least 3 clients" for a lower bound.
func atLeast(n int64, bound bool, one, many string) string {
	if bound {
		return "at least " + plural(n, one, many)
	}
	return plural(n, one, many)
}

func serverName(s string) string {
	if s == "" {
		return "server unknown"
	}
	return safe(s)
}

func fmtSpan(a, b time.Time) string {
	if a.IsZero() {
		return "never"
	}
	return fmtTime(a) + " to " + fmtTime(b)
}

func filterText(o *clientsOptions) string {
	var f []string
	if len(o.filter.Servers) > 0 {
		f = append(f, "server "+safeJoin(o.filter.Servers, ", "))
	}
	for _, c := range o.filter.Connectors {
		f = append(f, "connector '"+safe(c)+"'")
	}
	if len(o.IPs) > 0 {
		f = append(f, "client in "+safeJoin(o.IPs, ", "))
	}
	if o.Anonymous {
		f = append(f, "anonymous sessions only")
	}
	if o.LogType != "all" {
		f = append(f, o.LogType+" logs only")
	}
	if !o.Read.window.since.IsZero() || !o.Read.window.until.IsZero() {
		f = append(f, "rows in ["+whenText(o.Read.window.since, "start")+", "+whenText(o.Read.window.until, "end")+")")
	}
	return strings.Join(f, "; ")
}

func whenText(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return fmtTime(t)
}

func queryText(o *clientsOptions) string {
	var q []string
	if !o.query.IdleSince.IsZero() {
		q = append(q, "clients last seen before "+fmtTime(o.query.IdleSince))
	}
	if !o.query.TLSBelow.IsZero() {
		q = append(q, "clients that negotiated TLS below "+strings.TrimPrefix(o.query.TLSBelow.String(), "TLS"))
	}
	if o.query.NoTLS {
		q = append(q, "clients with sessions without TLS")
	}
	return strings.Join(q, "; ")
}

// renderNeverSeen answers "nobody" and "unused": connectors asked for that
// have no session, and connectors expected (given, or like other servers')
// but never seen.
func renderNeverSeen(w io.Writer, rep *clientsReport) {
	cov, opts := rep.Res.Coverage, rep.Opts
	var lines []string
	for _, p := range opts.filter.Connectors {
		var seen []inventory.ConnectorRows
		for _, c := range cov.Connectors {
			if inventory.MatchAny([]string{p}, c.Connector) {
				seen = append(seen, c)
			}
		}
		listed := false
		for _, c := range rep.Res.Inventory.Connectors {
			if inventory.MatchAny([]string{p}, c.Connector) {
				listed = true
			}
		}
		switch {
		case len(seen) == 0:
			lines = append(lines, fmt.Sprintf("'%s': no session in these logs%s. Unused in that span, or its protocol logging is off (off by default on custom connectors): %s",
				safe(p), spanOfServer(cov, serverOf(p), "receive"), loggingCheck(p)))
		case !listed:
			lines = append(lines, fmt.Sprintf("'%s': %s in the logs, but none matches the other filters", safe(p), plural(sumRows(seen), "row", "rows")))
		}
	}
	for _, m := range cov.Missing {
		if len(opts.filter.Servers) > 0 && !anyFoldCmd(opts.filter.Servers, m.Server) ||
			len(opts.filter.Connectors) > 0 && !inventory.MatchAny(opts.filter.Connectors, m.Connector) {
			continue
		}
		why := "given by --connectors"
		if !m.Given {
			why = "named like the connectors " + safeJoin(m.LikeOn, " and ") + " log"
		}
		if !m.ServerLogged {
			lines = append(lines, fmt.Sprintf("%s (%s; %s): no %s logs of its server were read, so nothing can be told", safe(m.Connector), m.LogType, why, m.LogType))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s (%s; %s): never seen%s. Unused in that span, or protocol logging is off on it: %s",
			safe(m.Connector), m.LogType, why, spanOfServer(cov, m.Server, m.LogType), loggingCheck(m.Connector)))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nConnectors without sessions (the decommissioning answers: unused, or not logging)")
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

func sumRows(cs []inventory.ConnectorRows) int64 {
	var n int64
	for _, c := range cs {
		n += c.Rows
	}
	return n
}

func anyFoldCmd(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(strings.TrimSpace(v), s) {
			return true
		}
	}
	return false
}

// serverOf is the server of a receive connector-id ("EX01\..."), "" for a
// send connector or a pattern with a wildcard there.
func serverOf(connector string) string {
	s, _, ok := strings.Cut(connector, `\`)
	if !ok || strings.Contains(s, "*") {
		return ""
	}
	return strings.TrimSpace(s)
}

// spanOfServer is " (EX01's receive logs cover A to B)" over all its
// services, or "" when the server's logs were not read.
func spanOfServer(cov *inventory.CoverageResult, server, logType string) string {
	var first, last time.Time
	for _, s := range cov.Streams {
		if s.LogType == logType && server != "" && strings.EqualFold(s.Server, server) {
			if first.IsZero() || s.First.Before(first) {
				first = s.First
			}
			if s.Last.After(last) {
				last = s.Last
			}
			server = s.Server
		}
	}
	switch {
	case !first.IsZero():
		return fmt.Sprintf(" (%s's %s logs cover %s)", safe(server), logType, fmtSpan(first, last))
	case server != "":
		return fmt.Sprintf(" (no %s logs of %s were read)", logType, safe(server))
	}
	return ""
}

// loggingCheck is the Exchange Management Shell line that shows whether a
// connector logs; the name is single-quoted so nothing in it can run.
func loggingCheck(connector string) string {
	cmdlet := "Get-ReceiveConnector"
	if !strings.Contains(connector, `\`) {
		cmdlet = "Get-SendConnector"
	}
	return fmt.Sprintf("%s -Identity %s | Format-List ProtocolLoggingLevel", cmdlet, safe(psQuote(connector)))
}

func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// renderCoverageBrief says what time the counts cover, per server and log
// type, and how many files were cut or gaps found.
func renderCoverageBrief(w io.Writer, inv *inventory.Result, cov *inventory.CoverageResult, opts *clientsOptions) {
	if len(cov.Streams) == 0 {
		return
	}
	// The servers the listing is about: those filtered on, else those of
	// the connectors listed, else all.
	servers := opts.filter.Servers
	if len(servers) == 0 && (len(opts.filter.Connectors) > 0) {
		for _, c := range inv.Connectors {
			servers = append(servers, c.Server)
		}
		for _, p := range opts.filter.Connectors {
			if s := serverOf(p); s != "" {
				servers = append(servers, s)
			}
		}
	}
	fmt.Fprintln(w, "\nLogs read (what the counts cover; logscan coverage PATH... tells where the gaps and cut files are)")
	for _, s := range cov.Streams {
		if len(servers) > 0 && !anyFoldCmd(servers, s.Server) {
			continue
		}
		var notes []string
		if n := len(s.Gaps); n > 0 {
			notes = append(notes, plural(int64(n), "gap", "gaps")+" of more than an hour")
		}
		if n := len(s.Issues); n > 0 {
			notes = append(notes, plural(int64(n), "file", "files")+" cut short or damaged")
		}
		if !opts.idleSince.IsZero() && s.Last.Before(opts.idleSince) {
			notes = append(notes, "ends before --idle-since: its clients cannot be told idle from not logged")
		}
		fmt.Fprintf(w, "  %s %s %s  %s  %s", serverName(s.Server), roleName(s.Role), s.LogType, fmtSpan(s.First, s.Last), plural(int64(s.Files), "file", "files"))
		if len(notes) > 0 {
			fmt.Fprintf(w, "; %s", strings.Join(notes, "; "))
		}
		fmt.Fprintln(w)
	}
}

// JSON

type jsonList struct {
	Values []string `json:"values"`
	// More: there were more values than listed, so a count of the values
	// is a lower bound.
	More bool `json:"more"`
}

type jsonCount struct {
	Value string `json:"value"`
	N     int64  `json:"count"`
}

type jsonCounts struct {
	Values []jsonCount `json:"values"`
	Rest   int64       `json:"rest"` // occurrences of values not listed
	More   bool        `json:"more"`
}

type jsonCert struct {
	Subject    string `json:"subject"`
	Issuer     string `json:"issuer,omitempty"`
	Thumbprint string `json:"thumbprint,omitempty"`
	NotAfter   string `json:"not_after,omitempty"`
	Whose      string `json:"whose"` // local (this Exchange server's) or remote
}

type jsonTLS struct {
	None           int64      `json:"sessions_without_tls"`
	Failed         int64      `json:"sessions_tls_failed"`
	Old            int64      `json:"sessions_tls_below_1_2"`
	Modern         int64      `json:"sessions_tls_1_2_or_1_3"`
	UnknownVersion int64      `json:"sessions_tls_version_not_logged"`
	Protocols      jsonCounts `json:"protocols"`
	Ciphers        jsonList   `json:"ciphers"`
	Errors         jsonCounts `json:"errors"`
	Certificates   []jsonCert `json:"certificates"`
	CertsMore      bool       `json:"certificates_more"`
}

type jsonClient struct {
	Server             string     `json:"server"`
	LogType            string     `json:"log_type"`
	Connector          string     `json:"connector"`
	Client             string     `json:"client"` // address; "" when not logged or for other_clients
	OtherClients       bool       `json:"other_clients,omitempty"`
	ExchangeServer     string     `json:"exchange_server,omitempty"`
	ProxiedBy          jsonList   `json:"proxied_by"`
	Names              jsonList   `json:"names"` // EHLO (receive) or 220 greeting host (send)
	Users              jsonList   `json:"accounts"`
	ExchangeAccounts   jsonList   `json:"exchange_accounts"`
	Sessions           int64      `json:"sessions"`
	Complete           int64      `json:"sessions_complete"`
	Anonymous          int64      `json:"sessions_anonymous"`
	Authenticated      int64      `json:"sessions_authenticated"`
	ExchangeServerAuth int64      `json:"sessions_exchange_server"`
	Proxied            int64      `json:"sessions_proxied"`
	Messages           int64      `json:"messages"`
	MessagesAtLeast    bool       `json:"messages_at_least,omitempty"`
	Queued             int64      `json:"messages_queued"`
	Recipients         int64      `json:"recipients"`
	Accepted           int64      `json:"recipients_accepted"`
	SenderDomains      jsonList   `json:"sender_domains"`
	OutsideDomains     jsonCounts `json:"outside_domains"`
	OutsideRecipients  int64      `json:"outside_recipients"`
	OutsideAtLeast     bool       `json:"outside_recipients_at_least"`
	RelayGranted       int64      `json:"relay_granted_sessions"`
	Relayed            int64      `json:"relayed_recipients"`
	RelayedAtLeast     bool       `json:"relayed_recipients_at_least"`
	RelayDomains       jsonCounts `json:"relayed_domains"`
	TLS                jsonTLS    `json:"tls"`
	First              time.Time  `json:"first_seen"`
	Last               time.Time  `json:"last_seen"`
}

type jsonInvConnector struct {
	Server       string    `json:"server"`
	LogType      string    `json:"log_type"`
	Connector    string    `json:"connector"`
	Clients      int       `json:"clients"`
	OtherClients bool      `json:"clients_at_least"`
	Listed       int       `json:"clients_listed"`
	Sessions     int64     `json:"sessions"`
	AllSessions  int64     `json:"sessions_before_filters"`
	Messages     int64     `json:"messages"`
	Recipients   int64     `json:"recipients"`
	First        time.Time `json:"first_seen"`
	Last         time.Time `json:"last_seen"`
	TLS          jsonTLS   `json:"tls"`
}

type jsonClientsReport struct {
	FormatVersion int                `json:"format_version"`
	Report        string             `json:"report"` // "clients"
	RowsRead      int64              `json:"rows_read"`
	RowsRejected  int64              `json:"rows_rejected"`
	Sessions      int64              `json:"sessions"`
	Filtered      int64              `json:"sessions_filtered_out"`
	NotListed     int                `json:"clients_not_listed"`
	Connectors    []jsonInvConnector `json:"connectors"`
	Clients       []jsonClient       `json:"clients"`
	NeverSeen     []jsonMissing      `json:"connectors_never_seen"`
	Accepted      jsonAssumption     `json:"accepted_domains"`
	Budget        jsonBudget         `json:"budget"`
	Build         run.BuildNote      `json:"sessions_built"`
	Coverage      jsonCoverage       `json:"coverage"`
	Datasets      []run.DatasetRead  `json:"datasets,omitempty"`
}

type jsonAssumption struct {
	Values []string `json:"values"`
	Source string   `json:"source"`
}

type jsonBudget struct {
	MaxClients int   `json:"max_clients"`
	Hit        bool  `json:"hit"`
	Spilled    int64 `json:"sessions_in_other_clients"`
}

func listJSON(l inventory.List) jsonList {
	return jsonList{Values: append([]string{}, l.Values...), More: l.More}
}

func countsJSON(c inventory.Counts) jsonCounts {
	out := jsonCounts{Values: []jsonCount{}, Rest: c.Rest, More: c.More}
	for _, v := range c.Values {
		out.Values = append(out.Values, jsonCount{v.Value, v.N})
	}
	return out
}

func tlsJSON(t inventory.TLS) jsonTLS {
	out := jsonTLS{None: t.None, Failed: t.Failed, Old: t.Old, Modern: t.Modern, UnknownVersion: t.UnknownVersion,
		Protocols: countsJSON(t.Protocols), Ciphers: listJSON(t.Ciphers), Errors: countsJSON(t.Errors), Certificates: []jsonCert{}, CertsMore: t.CertsMore}
	for _, c := range t.Certificates {
		whose := "remote"
		if c.Local {
			whose = "local"
		}
		out.Certificates = append(out.Certificates, jsonCert{c.Subject, c.Issuer, c.Thumbprint, c.NotAfter, whose})
	}
	return out
}

func clientJSON(c *inventory.Client) jsonClient {
	j := jsonClient{Server: c.Server, LogType: c.LogType, Connector: c.Connector, OtherClients: c.Other, ExchangeServer: c.ExchangeServer,
		ProxiedBy: listJSON(c.ProxiedBy), Names: listJSON(c.Names), Users: listJSON(c.Users), ExchangeAccounts: listJSON(c.ExchangeAccounts),
		Sessions: c.Sessions, Complete: c.Complete, Anonymous: c.Anonymous, Authenticated: c.Authenticated, ExchangeServerAuth: c.ExchangeServerAuth,
		Proxied: c.Proxied, Messages: c.Messages, MessagesAtLeast: c.MessagesAtLeast, Queued: c.Queued, Recipients: c.Recipients, Accepted: c.Accepted,
		SenderDomains: listJSON(c.SenderDomains), OutsideDomains: countsJSON(c.OutsideDomains), OutsideRecipients: c.OutsideRecipients,
		OutsideAtLeast: c.OutsideAtLeast, RelayGranted: c.Relay.Granted, Relayed: c.Relay.Relayed, RelayedAtLeast: c.Relay.AtLeast,
		RelayDomains: countsJSON(c.Relay.Domains), TLS: tlsJSON(c.TLS), First: c.First, Last: c.Last}
	if c.Addr.IsValid() {
		j.Client = c.Addr.String()
	}
	return j
}

func renderClientsJSON(w io.Writer, rep *clientsReport) error {
	inv, res := rep.Res.Inventory, rep.Res
	out := jsonClientsReport{FormatVersion: jsonFormatVersion, Report: "clients", RowsRead: res.Files.Totals.RowsRead,
		RowsRejected: res.Files.Totals.RowsRejected, Sessions: inv.Sessions, Filtered: inv.Filtered, NotListed: inv.Hidden,
		Connectors: []jsonInvConnector{}, Clients: []jsonClient{}, NeverSeen: missingJSON(res.Coverage),
		Accepted: jsonAssumption{append([]string{}, inv.Accepted.Values...), inv.Accepted.Source},
		Budget:   jsonBudget{inv.Budget.MaxClients, inv.Budget.Hit, inv.Budget.Spilled}, Build: res.Build,
		Coverage: coverageJSON(res.Coverage), Datasets: res.Datasets}
	for _, c := range inv.Connectors {
		out.Connectors = append(out.Connectors, jsonInvConnector{Server: c.Server, LogType: c.LogType, Connector: c.Connector,
			Clients: c.Clients, OtherClients: c.OtherClients, Listed: c.Listed, Sessions: c.Sessions, AllSessions: c.AllSessions,
			Messages: c.Messages, Recipients: c.Recipients, First: c.First, Last: c.Last, TLS: tlsJSON(c.TLS)})
	}
	for i := range inv.Clients {
		out.Clients = append(out.Clients, clientJSON(&inv.Clients[i]))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// CSV

// clientsCSVHeader is the column list of clients --format csv: one row per
// client. Lists are joined with "; ", and "(more)" ends a list that had
// more values than kept.
var clientsCSVHeader = []string{"server", "log_type", "connector", "client", "exchange_server", "proxied_by", "names",
	"accounts", "exchange_accounts", "sessions", "sessions_anonymous", "sessions_authenticated", "sessions_exchange_server",
	"sessions_proxied", "messages", "messages_queued", "recipients", "recipients_accepted", "sender_domains",
	"outside_domains", "outside_recipients", "relay_granted_sessions", "relayed_recipients", "tls_none", "tls_failed",
	"tls_below_1_2", "tls_1_2_or_1_3", "tls_version_not_logged", "tls_protocols", "tls_ciphers", "tls_errors",
	"certificates", "first_seen", "last_seen"}

// renderClientsCSV writes one row per client. Every cell from the logs is
// escaped (control characters as \x1b) and neutralised (a leading = + - @
// gets an apostrophe), so the file opens in a spreadsheet as text.
func renderClientsCSV(w io.Writer, rep *clientsReport) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(clientsCSVHeader); err != nil {
		return err
	}
	for i := range rep.Res.Inventory.Clients {
		c := &rep.Res.Inventory.Clients[i]
		j := clientJSON(c)
		client := j.Client
		if c.Other {
			client = "(other clients)"
		}
		var certs []string
		for _, ct := range c.TLS.Certificates {
			certs = append(certs, certText(ct, c.LogType))
		}
		row := []string{c.Server, c.LogType, c.Connector, client, c.ExchangeServer, csvList(c.ProxiedBy), csvList(c.Names),
			csvList(c.Users), csvList(c.ExchangeAccounts), n(c.Sessions), n(c.Anonymous), n(c.Authenticated), n(c.ExchangeServerAuth),
			n(c.Proxied), bound(c.Messages, c.MessagesAtLeast), n(c.Queued), n(c.Recipients), n(c.Accepted), csvList(c.SenderDomains),
			csvCounts(c.OutsideDomains), bound(c.OutsideRecipients, c.OutsideAtLeast), n(c.Relay.Granted), bound(c.Relay.Relayed, c.Relay.AtLeast),
			n(c.TLS.None), n(c.TLS.Failed), n(c.TLS.Old), n(c.TLS.Modern), n(c.TLS.UnknownVersion), csvCounts(c.TLS.Protocols),
			csvList(c.TLS.Ciphers), csvCounts(c.TLS.Errors), strings.Join(certs, "; "), csvTime(c.First), csvTime(c.Last)}
		for k := range row {
			row[k] = csvCell(safe(row[k]))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func n(v int64) string { return strconv.FormatInt(v, 10) }

// bound is "12", or ">=12" for a lower bound (a cell a spreadsheet keeps
// as text).
func bound(v int64, atLeast bool) string {
	if atLeast {
		return ">=" + n(v)
	}
	return n(v)
}

func csvList(l inventory.List) string {
	s := strings.Join(l.Values, "; ")
	if l.More {
		s += "; (more)"
	}
	return s
}

func csvCounts(c inventory.Counts) string {
	parts := make([]string, 0, len(c.Values)+1)
	for _, v := range c.Values {
		parts = append(parts, v.Value+" "+n(v.N))
	}
	if c.More {
		parts = append(parts, "(more)")
	}
	return strings.Join(parts, "; ")
}
