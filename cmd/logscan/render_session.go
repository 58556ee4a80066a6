package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/logscan/logscan/heuristics/run"
	"github.com/logscan/logscan/heuristics/session"
)

// renderSessionText prints each session of the chain: its rows as the log
// holds them, then what logscan concluded.
func renderSessionText(w io.Writer, res *run.SessionResult, accepted []string) error {
	if len(res.Chain) > 1 {
		fmt.Fprintf(w, "%d sessions carry this message, tied by XPROXYFROM SID= (client side first):\n", len(res.Chain))
		for i, t := range res.Chain {
			mark := ""
			if t.Asked {
				mark = "   <- asked"
			}
			fmt.Fprintf(w, "  %d. %s %s session %016X: %s%s\n", i+1, serverName(t.Session.Server), t.Session.LogType, t.Session.ID, t.Role, mark)
		}
	}
	for i, t := range res.Chain {
		if len(res.Chain) > 1 {
			fmt.Fprintf(w, "\n== %d of %d ==\n", i+1, len(res.Chain))
		} else if i > 0 {
			fmt.Fprintln(w)
		}
		renderTranscript(w, t, accepted)
	}
	if res.FollowNote != "" {
		fmt.Fprintf(w, "\nNote: %s\n", res.FollowNote)
	}
	return nil
}

func renderTranscript(w io.Writer, t run.Transcript, accepted []string) {
	s := t.Session
	files := map[string]bool{}
	for _, r := range t.Rows {
		files[r.File] = true
	}
	fmt.Fprintf(w, "Session %016X on %s: %s\n", s.ID, serverName(s.Server), t.Role)
	client, server := addrText(s.Remote, true), addrText(s.Local, false)
	if !s.IsReceive() {
		client, server = addrText(s.Local, true), addrText(s.Remote, false)
	}
	fmt.Fprintf(w, "  connector %s · %s -> %s · %s · %s in %s\n", safe(s.Connector), client, server,
		fmtSpan(s.Start, s.End)+" ("+s.Duration().Round(time.Millisecond).String()+")", plural(int64(len(t.Rows)), "row", "rows"), plural(int64(len(files)), "file", "files"))
	fmt.Fprintln(w, "\n  LINE  date-time,sequence-number,event,data,context (as logged)")
	last := ""
	for _, r := range t.Rows {
		if r.File != last {
			fmt.Fprintf(w, "  %s\n", safe(r.File))
			last = r.File
		}
		fmt.Fprintf(w, "  %6d  %s\n", r.Line, safe(rowText(r)))
	}
	fmt.Fprintln(w, "\n  What logscan concluded")
	for _, l := range conclusion(s, accepted) {
		fmt.Fprintf(w, "    %s\n", l)
	}
}

// rowText is the row's time, sequence, event, data and context in the
// log's own CSV form (quoted only when a field holds a comma or a quote, as
// Exchange writes them).
func rowText(r run.LogRow) string {
	return strings.Join([]string{r.Time.Format("2006-01-02T15:04:05.000Z"), fmt.Sprint(r.Seq), r.Event, logField(r.Data), logField(r.Context)}, ",")
}

func logField(s string) string {
	if !strings.ContainsAny(s, ",\"") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// addrText is "198.51.100.7:50123 (client)" style text for an endpoint.
func addrText(a interface {
	IsValid() bool
	String() string
}, client bool) string {
	role := "server"
	if client {
		role = "client"
	}
	if !a.IsValid() {
		return "(" + role + " address not logged)"
	}
	return a.String() + " (" + role + ")"
}

// conclusion is what logscan made of a session, one line each.
func conclusion(s *session.Session, accepted []string) []string {
	var out []string
	if s.IsReceive() {
		c := "client " + s.Client.String()
		if !s.Client.IsValid() {
			c = "client address not logged"
		}
		if s.EHLO != "" {
			c += ", EHLO " + safe(s.EHLO)
		}
		if s.Proxied {
			c += fmt.Sprintf("; handed on by a Front End (XPROXYFROM SID=%016X from %s, AUTHSRC=%s)", s.ProxySID, addrOrUnknown(s.Remote.Addr().String(), s.Remote.IsValid()), safe(cmpOr(s.ProxyAuth, "not given")))
		}
		out = append(out, c)
	} else {
		c := "remote server " + addrOrUnknown(s.Remote.String(), s.Remote.IsValid())
		if s.Banner != "" {
			c += ", greeting " + safe(s.Banner)
		}
		if s.Proxied {
			c += fmt.Sprintf("; proxying the Front End session %016X (XPROXYFROM)", s.ProxySID)
		}
		out = append(out, c)
	}
	switch {
	case s.TLSProtocol == "" && s.TLSFailure != "":
		out = append(out, "TLS negotiation failed: "+safe(s.TLSFailure)+" (no TLS)")
	case s.TLS:
		t := "TLS " + cmpOr(safe(s.TLSProtocol), "(version not logged)")
		if s.TLSCipher != "" {
			t += ", " + safe(s.TLSCipher)
		}
		out = append(out, t)
	case s.TLSFailure != "":
		out = append(out, "TLS negotiation failed: "+safe(s.TLSFailure))
	default:
		out = append(out, "no TLS")
	}
	if !s.LocalCert.IsZero() {
		out = append(out, "certificate of this server: "+certLine(s.LocalCert))
	}
	if !s.RemoteCert.IsZero() {
		out = append(out, "certificate of the peer: "+certLine(s.RemoteCert))
	}
	auth := "anonymous"
	switch s.Auth {
	case session.AuthUser:
		auth = "authenticated as " + cmpOr(safe(s.AuthUser), "(account not logged)") + " (" + safe(s.AuthMechanism) + ")"
	case session.AuthExchange:
		auth = "Exchange Server authentication as " + cmpOr(safe(s.AuthUser), "(account not logged)") + " (" + safe(s.AuthMechanism) + ")"
	}
	if s.AuthFailures > 0 {
		auth += fmt.Sprintf("; %s refused", plural(int64(s.AuthFailures), "AUTH attempt", "AUTH attempts"))
	}
	out = append(out, auth)
	if s.Permissions != "" {
		p := "permissions " + safe(s.Permissions)
		if s.IsReceive() && s.Auth == session.AuthNone && s.HasPermission("SMTPAcceptAnyRecipient") {
			p += " — relay granted: SMTPAcceptAnyRecipient while anonymous"
		}
		out = append(out, p)
	}
	domains := safeJoin(accepted, ", ")
	if len(accepted) == 0 && s.IsReceive() {
		if f, _, _ := strings.Cut(s.Banner, " "); strings.Count(f, ".") >= 1 {
			accepted = []string{parentDomainCmd(strings.ToLower(f))}
			domains = safe(accepted[0]) + ", assumed from the server's banner; give --accepted-domains to be exact"
		}
	}
	for i, m := range s.Messages {
		from := "<" + safe(m.From) + ">"
		if m.FromMissing {
			from = "(MAIL FROM not in the logs read)"
		}
		n := len(m.Rcpts) + m.RcptsOver
		q := "not queued"
		if m.Queued {
			q = "queued"
		}
		out = append(out, fmt.Sprintf("message %d: MAIL FROM %s at %s, %s, %s", i+1, from, safe(m.At.String()), plural(int64(n), "recipient", "recipients"), q))
		var relayed []string
		for _, r := range m.Rcpts {
			out = append(out, fmt.Sprintf("  RCPT TO <%s>: %s", safe(r.Addr), replyText(r)))
			if s.IsReceive() && r.Accepted() && r.Domain != "" && !acceptedDomain(r.Domain, accepted) {
				relayed = append(relayed, safe(r.Addr))
			}
		}
		if m.RcptsOver > 0 {
			out = append(out, fmt.Sprintf("  ... and %s more (counted, not kept)", plural(int64(m.RcptsOver), "recipient", "recipients")))
		}
		if len(relayed) > 0 {
			how := "accepted for"
			if s.Auth == session.AuthNone && !s.Proxied {
				how = "relayed anonymously to"
			}
			out = append(out, fmt.Sprintf("  %s %s outside the accepted domains (%s): %s", how, plural(int64(len(relayed)), "recipient", "recipients"), domains, strings.Join(relayed, ", ")))
		}
	}
	if len(s.Messages) == 0 {
		out = append(out, "no message")
	}
	for _, e := range s.Errors {
		cmd := e.Command
		if cmd == "" {
			cmd = "(no command)"
		}
		out = append(out, fmt.Sprintf("error %s -> %s at %s", safe(cmd), safe(e.Text), safe(e.At.String())))
	}
	if s.ErrorsCapped > 0 {
		out = append(out, fmt.Sprintf("... and %s more errors (counted, not kept)", num(int64(s.ErrorsCapped))))
	}
	end := "ended: "
	switch {
	case s.Disconnect != "":
		end += "disconnected (" + safe(s.Disconnect) + ")"
	default:
		end += "no disconnect logged (the logs end first, or the session is still open)"
	}
	if s.Complete {
		end += "; complete: first row and disconnect seen, no row missing"
	} else {
		end += "; incomplete: its first row, its disconnect or a row between is not in the logs read"
	}
	return append(out, end)
}

func replyText(r session.Rcpt) string {
	if r.Code == 0 {
		return "no reply logged"
	}
	return safe(r.Reply)
}

func certLine(c session.Certificate) string {
	s := safe(c.Subject)
	if c.Issuer != "" {
		s += ", issued by " + safe(c.Issuer)
	}
	if c.Thumbprint != "" {
		s += ", thumbprint " + safe(c.Thumbprint)
	}
	if c.NotAfter != "" {
		s += ", expires " + safe(c.NotAfter)
	}
	return s
}

func addrOrUnknown(s string, ok bool) string {
	if !ok {
		return "(address not logged)"
	}
	return s
}

func parentDomainCmd(fqdn string) string {
	if strings.Count(fqdn, ".") <= 1 {
		return fqdn
	}
	_, p, _ := strings.Cut(fqdn, ".")
	return p
}

func acceptedDomain(d string, patterns []string) bool {
	for _, p := range patterns {
		if base, ok := strings.CutPrefix(p, "*."); ok {
			if d == base || strings.HasSuffix(d, "."+base) {
				return true
			}
		} else if d == p {
			return true
		}
	}
	return false
}

type jsonRow struct {
	File      string `json:"file"`
	Line      int64  `json:"line"`
	Time      string `json:"date_time"`
	Connector string `json:"connector_id"`
	Seq       uint32 `json:"sequence_number"`
	Local     string `json:"local_endpoint"`
	Remote    string `json:"remote_endpoint"`
	Event     string `json:"event"`
	Data      string `json:"data"`
	Context   string `json:"context"`
}

type jsonTranscript struct {
	Role       string    `json:"role"`
	Asked      bool      `json:"asked"`
	Server     string    `json:"server"`
	LogType    string    `json:"log_type"`
	SessionID  string    `json:"session_id"`
	Connector  string    `json:"connector"`
	Start      string    `json:"start"`
	End        string    `json:"end"`
	Complete   bool      `json:"complete"`
	Rows       []jsonRow `json:"rows"`
	Concluded  []string  `json:"concluded"` // what logscan made of it, as the text prints it
	Client     string    `json:"client,omitempty"`
	Auth       string    `json:"auth"`
	AuthUser   string    `json:"auth_user,omitempty"`
	TLS        bool      `json:"tls"`
	TLSProto   string    `json:"tls_protocol,omitempty"`
	TLSFailure string    `json:"tls_failure,omitempty"`
	ProxySID   string    `json:"proxy_session_id,omitempty"`
	Messages   int       `json:"messages"`
	Disconnect string    `json:"disconnect,omitempty"`
}

func endpointText(a interface {
	IsValid() bool
	String() string
}, port int32) string {
	switch {
	case a.IsValid():
		return a.String()
	case port >= 0:
		return fmt.Sprintf(":%d", port) // logged, but not an address (redacted)
	}
	return ""
}

func renderSessionJSON(w io.Writer, res *run.SessionResult, accepted []string) error {
	out := struct {
		FormatVersion int              `json:"format_version"`
		Report        string           `json:"report"`
		Sessions      []jsonTranscript `json:"sessions"`
		Note          string           `json:"note,omitempty"`
	}{FormatVersion: jsonFormatVersion, Report: "session", Sessions: []jsonTranscript{}, Note: res.FollowNote}
	for _, t := range res.Chain {
		s := t.Session
		jt := jsonTranscript{Role: t.Role, Asked: t.Asked, Server: s.Server, LogType: s.LogType.String(), SessionID: fmt.Sprintf("%016X", s.ID),
			Connector: s.Connector, Start: s.Start.Format(time.RFC3339Nano), End: s.End.Format(time.RFC3339Nano), Complete: s.Complete,
			Rows: []jsonRow{}, Auth: s.Auth.String(), AuthUser: s.AuthUser, TLS: s.TLS, TLSProto: s.TLSProtocol, TLSFailure: s.TLSFailure,
			Messages: len(s.Messages), Disconnect: s.Disconnect}
		if s.Client.IsValid() {
			jt.Client = s.Client.String()
		}
		if s.Proxied {
			jt.ProxySID = fmt.Sprintf("%016X", s.ProxySID)
		}
		for _, r := range t.Rows {
			jt.Rows = append(jt.Rows, jsonRow{File: r.File, Line: r.Line, Time: r.Time.Format("2006-01-02T15:04:05.000Z"), Connector: r.Connector,
				Seq: r.Seq, Local: endpointText(r.Local, r.LocalPort), Remote: endpointText(r.Remote, r.RemotePort), Event: r.Event, Data: r.Data, Context: r.Context})
		}
		jt.Concluded = conclusion(s, accepted)
		out.Sessions = append(out.Sessions, jt)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
