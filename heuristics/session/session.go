package session

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/logscan/logscan/parser"
)

// Session is one SMTP session rebuilt from its rows, in sequence order.
// It holds copies only: no Arrow memory.
type Session struct {
	Server    string // "" when a send log's server could not be told
	LogType   parser.LogType
	ID        uint64 // session-id
	Connector string // connector-id as logged

	Start, End    time.Time
	Local, Remote netip.AddrPort // zero when never logged (or redacted)

	// Client is who really sent: the IP= of XPROXYFROM on a proxied Hub
	// session, else the remote address.
	Client    netip.Addr
	Proxied   bool   // XPROXYFROM seen: a Front End handed this session on
	ProxySID  uint64 // the Front End's session-id, from XPROXYFROM SID=
	ProxyAuth string // XPROXYFROM AUTHSRC= (Anonymous, Organization, ...)

	EHLO   string // the last EHLO/HELO name; on a proxied session the original client's (XPROXYFROM DOMAIN=)
	Banner string // the 220 greeting text

	TLS         bool
	TLSProtocol string // e.g. "TLS1.2"; "" when the negotiation row was not logged
	// TLSCipher is the bulk cipher, MAC hash and key exchange of the
	// negotiation row, CALG_ dropped: "AES_256 SHA_384 ECDHE".
	TLSCipher string
	// TLSFailure is the error of the last "TLS negotiation failed with
	// error X" row (X, e.g. UnknownCredentials); "" when none.
	TLSFailure string
	// LocalCert is the certificate this server offered ("Sending
	// certificate"), RemoteCert the one the peer offered ("Received
	// certificate"). Receive logs write a certificate as one combined row,
	// send logs one row per field; both are read. Field rows logged before
	// any such heading (a session cut at the front) are taken as the local
	// certificate: Exchange logs its own first. Zero when not logged.
	LocalCert, RemoteCert Certificate

	Auth          AuthKind
	AuthUser      string // DOMAIN\user or DOMAIN\SERVER$ from the "authenticated" row
	AuthMechanism string // LOGIN, NTLM, GSSAPI, ...
	// AuthFailures counts failed AUTH attempts: an AUTH answered 5xx (not
	// 504, an unsupported mechanism), or followed by "Inbound AUTH LOGIN
	// failed because of ...", by a tarpit "due to '535 ...'" or by a "User
	// Name: ..." row. Each attempt counts once, whichever of its rows the
	// log kept (an excerpt may end before the 535).
	AuthFailures int
	// AuthFailedUsers are the user names of failed attempts, from the
	// "User Name: ..." rows Exchange writes after LogonDenied (the name the
	// client sent; the base64 exchange itself is logged as "334
	// <authentication response>"). Distinct, in order, at most
	// maxAuthFailedUsers.
	AuthFailedUsers []string

	// Permissions is the last "Set Session Permissions" (they change after
	// STARTTLS, AUTH and X-EXPS; the last one is what the session could do).
	Permissions string

	EHLOReplied  bool // an EHLO reply was logged
	OfferedEXPS  bool // some EHLO reply offered X-EXPS (Exchange Server authentication)
	Messages     []Message
	Errors       []Reply // 4xx and 5xx replies, paired with their command
	ErrorsCapped int     // errors past maxErrors, counted only

	// ExchangeAuthFailures are the rows that say "451 5.7.3 Cannot achieve
	// Exchange Server authentication", wherever the log put them.
	ExchangeAuthFailures []Ref
	// ExchangeAuthInfo are the information rows that say Exchange Server
	// authentication was tried and failed: "Outbound Exchange
	// Authentication failed with <status>" (sender) and "Inbound
	// ExchangeAuth negotiation failed because of <...>" (receiver). The
	// text is the log's, unescaped. At most maxAuthInfo are kept.
	ExchangeAuthInfo []InfoRow
	// QuitAfterEHLO: the command right after an EHLO was QUIT, and the
	// session carried no MAIL FROM. On a send log this is how Exchange
	// gives up on a peer whose EHLO reply lacks what it needs (X-EXPS for
	// 451 5.7.3): no failure text is written to the protocol log.
	QuitAfterEHLO bool

	Disconnect string // context of the '-' row (Local, Remote, ...); "" if not logged
	Complete   bool   // sequence 0 and the disconnect were both seen, with no gap
	Rows       int

	First, Last Ref // the session's first and last row
}

// InfoRow is an information ('*') row's text and place.
type InfoRow struct {
	Text string
	At   Ref
}

// AuthKind says how a session authenticated.
type AuthKind uint8

const (
	AuthNone     AuthKind = iota // anonymous
	AuthUser                     // AUTH with a user's credentials
	AuthExchange                 // X-EXPS: another Exchange server
)

func (a AuthKind) String() string {
	switch a {
	case AuthUser:
		return "user"
	case AuthExchange:
		return "exchange-server"
	}
	return "none"
}

// Certificate is what a protocol log says of a TLS certificate, as logged.
type Certificate struct {
	Subject    string // "CN=mail.contoso.com"
	Issuer     string
	Thumbprint string
	NotAfter   string // "2023-11-10T09:39:23.000Z"; "" when not logged
}

// IsZero reports whether nothing of the certificate was logged.
func (c Certificate) IsZero() bool { return c == Certificate{} }

// Ref points at one row: file and line.
type Ref struct {
	File string
	Line int64
}

func (r Ref) String() string {
	if r.File == "" {
		return ""
	}
	return r.File + ":" + strconv.FormatInt(r.Line, 10)
}

// Message is one MAIL FROM transaction.
type Message struct {
	From        string // the address inside <>; "" for the null sender
	FromMissing bool   // the MAIL FROM was not in the logs read (session cut at the front)
	Rcpts       []Rcpt
	Queued      bool // the server took the message ("250 ... Queued mail for delivery" or the DATA/BDAT LAST 250)
	At          Ref
	// RcptsOver counts RCPT TO past maxRcptsPerMessage: counted, not kept.
	RcptsOver int
}

// Rcpt is one RCPT TO and the reply it got.
type Rcpt struct {
	Addr   string // as given, inside <>
	Domain string // lower case
	Code   int    // 0: no reply logged
	Reply  string
	At     Ref
}

// Accepted reports whether the recipient got a 2xx reply.
func (r Rcpt) Accepted() bool { return r.Code >= 200 && r.Code < 300 }

// RelayRefused reports whether the recipient was refused as relay: 550
// 5.7.54 (2016+) or 550 5.7.1 Unable to relay (2007-2013).
func (r Rcpt) RelayRefused() bool { return r.Code >= 500 && ContainsFold(r.Reply, "relay") }

// Reply is a 4xx/5xx reply with the command it answered.
type Reply struct {
	Command string // verb: MAIL, RCPT, AUTH, ...; "" for a greeting or an unsolicited reply
	Code    int
	Text    string
	At      Ref
}

// Duration is the time from the first row to the last.
func (s *Session) Duration() time.Duration { return s.End.Sub(s.Start) }

// HasPermission reports whether the last Set Session Permissions holds p, a
// permission's name (ASCII, no space).
//
// Several detectors ask it of every session: it finds p with strings.Index
// and looks at the bytes around it, where splitting the list into fields
// decoded every byte. Only when p stands next to a non-ASCII byte does it
// split the list as strings.Fields does (Unicode spaces); hasPermissionFields
// is that, and a test compares the two.
func (s *Session) HasPermission(p string) bool {
	perms := s.Permissions
	if p == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(perms[i:], p)
		if j < 0 {
			return false
		}
		j += i
		before, after := byte(' '), byte(' ')
		if j > 0 {
			before = perms[j-1]
		}
		if end := j + len(p); end < len(perms) {
			after = perms[end]
		}
		if before >= utf8.RuneSelf || after >= utf8.RuneSelf {
			return s.hasPermissionFields(p)
		}
		if asciiSpace(before) && asciiSpace(after) {
			return true
		}
		i = j + 1
	}
}

// hasPermissionFields is HasPermission by splitting the list into fields.
func (s *Session) hasPermissionFields(p string) bool {
	for f := range strings.FieldsSeq(s.Permissions) {
		if f == p {
			return true
		}
	}
	return false
}

// asciiSpace reports whether c is an ASCII byte strings.Fields splits on.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// Caps on what one session keeps, so that a hostile session (100,000 RCPT
// TO, endless errors) costs bounded memory. Counts stay exact.
const (
	maxErrors          = 32
	maxRcptsPerMessage = 100_000
	maxMessagesPerSes  = 10_000
	maxAuthInfo        = 8
	maxAuthFailedUsers = 64
)

// MaxMessagesPerSession is how many MAIL FROM transactions one session
// keeps; a session holding this many may have had more, not counted.
const MaxMessagesPerSession = maxMessagesPerSes

// row is one logged event of a session, as buildSession reads it: a view
// of one frow and its text.
type row struct {
	seq     uint32
	event   byte // one of parser.Events, or 0 when the log left it empty
	t       int64
	ref     Ref
	data    string
	context string
}

// command is a command still waiting for (the end of) its reply.
type command struct {
	verb     string
	arg      string
	partial  bool // a continuation line ("250-...") was seen
	greeting bool // the pseudo-command that waits for the 220 greeting
	msg      int  // index into Messages for MAIL, RCPT, DATA, BDAT; -1 otherwise
	rcpt     int  // index into the message's Rcpts for RCPT
	ref      Ref
}

// commandQueue holds the commands waiting for their reply, first in first
// out. A few wait at a time (pipelining); one queue per worker is reused
// for every session, so that a long session does not grow a new slice each
// time its head moves past the end.
type commandQueue struct {
	buf  []command
	head int // buf[head:] wait
}

func (q *commandQueue) len() int        { return len(q.buf) - q.head }
func (q *commandQueue) front() *command { return &q.buf[q.head] }

func (q *commandQueue) pop() {
	q.buf[q.head] = command{}
	if q.head++; q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	}
}

// push adds a command at the end, zero, for the caller to fill.
func (q *commandQueue) push() *command {
	if len(q.buf) == cap(q.buf) && q.head > 0 { // room at the front: move the waiting ones there
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	q.buf = append(q.buf, command{})
	return &q.buf[len(q.buf)-1]
}

// reset empties q, dropping its references to session text.
func (q *commandQueue) reset() {
	clear(q.buf)
	q.buf, q.head = q.buf[:0], 0
}

// buildSession replays rows (already in sequence order; their data and
// context are slices of text, their files named by names) through the SMTP
// conversation. In a receive log '<' rows are the client's commands and '>'
// our replies; in a send log it is the other way round. Replies are paired
// with commands first-in first-out, never by adjacency: with PIPELINING the
// reply to MAIL FROM may be logged after the RCPT TO rows.
func buildSession(s *Session, rows []frow, text string, names *interner, sc *emitScratch) {
	if len(rows) == 0 {
		return
	}
	s.Rows = len(rows)
	s.First = Ref{File: names.name(rows[0].file), Line: rows[0].line}
	s.Last = Ref{File: names.name(rows[len(rows)-1].file), Line: rows[len(rows)-1].line}
	start, end := rows[0].t, rows[0].t
	cmdEvent, replyEvent := byte('<'), byte('>')
	if s.LogType == parser.LogTypeSend {
		cmdEvent, replyEvent = '>', '<'
	}
	// The greeting is a reply without a command: a pseudo-command waits for it.
	pending := &sc.pending
	pending.reset()
	defer pending.reset() // drop the references to this session's text
	if rows[0].seq == 0 { // else the session started in a file we do not have
		*pending.push() = command{greeting: true, msg: -1}
	}
	cur := -1 // current message
	lastVerb := ""
	quitAfterEHLO := false
	var auth authAttempts
	var cert *Certificate // the certificate that per-field rows describe
	// The recipients of all the session's messages share one array, sized
	// by a count of RCPT rows, instead of each message growing its own.
	var rcptFree []Rcpt // the room left in it
	if n := countRcptRows(rows, text, cmdEvent); n > 0 {
		rcptFree = sc.rcptArray(n)
	}
	closeContinued := func() {
		for pending.len() > 0 && pending.front().partial {
			pending.pop()
		}
	}
	// Each row is read through r, made in place from the compact frow: a
	// slice of rows would be written, and cleared, for every session.
	var r row
	var lastFile uint32 // the file of the last row, named lastName
	var lastName string
	for i := range rows {
		fr := &rows[i]
		if fr.file != lastFile {
			lastFile, lastName = fr.file, names.name(fr.file)
		}
		// Field by field: r lives in memory (its address is passed on),
		// and a composite literal is built beside it with narrow stores
		// and copied with 16-byte loads that wait for those stores to
		// drain (no store forwarding), at every row.
		r.seq, r.event, r.t, r.ref = fr.seq, fr.event, fr.t, Ref{File: lastName, Line: fr.line}
		r.data, r.context = text[fr.off:fr.off+fr.dLen], text[fr.off+fr.dLen:fr.off+fr.dLen+fr.cLen]
		start, end = min(start, r.t), max(end, r.t)
		// Before the switch: a row it skips (a reply nobody asked for, or
		// one answering a MAIL FROM we did not see) still says what went wrong.
		// The sentence is searched for only in rows from a record that
		// holds it somewhere (see frow.noSentence): the search in every
		// long field cost more than the rest of the check.
		if startsWithExchangeAuthFailure(r.data) || startsWithExchangeAuthFailure(r.context) ||
			!fr.noSentence && (holdsExchangeAuthFailureText(r.data) || holdsExchangeAuthFailureText(r.context)) {
			s.ExchangeAuthFailures = append(s.ExchangeAuthFailures, r.ref)
		}
		switch r.event {
		case '+', '-':
			if r.event == '-' {
				s.Disconnect = r.context
				pending.reset()
			}
		case cmdEvent:
			closeContinued()
			if pending.len() > 0 && pending.front().greeting && !pending.front().partial {
				// Nobody speaks before the greeting: if a command comes
				// first, the greeting was not logged and never will be.
				pending.pop()
			}
			verb, arg := splitVerb(r.data)
			if verb == "QUIT" && (lastVerb == "EHLO" || lastVerb == "HELO") {
				quitAfterEHLO = true
			}
			lastVerb = verb
			waiting := pending.len() // before this one
			c := pending.push()      // zero, filled in place field by field (see r)
			c.verb, c.arg, c.msg, c.ref = verb, arg, -1, r.ref
			switch verb {
			case "EHLO", "HELO":
				s.EHLO = arg
			case "MAIL":
				if len(s.Messages) < maxMessagesPerSes {
					rcptFree = sealRcpts(s.Messages, rcptFree)
					if s.Messages == nil {
						s.Messages = sc.msgs[:0] // a released session's array (LendText), or nil
					}
					s.Messages = append(s.Messages, Message{From: angleAddr(arg), At: r.ref})
					cur = len(s.Messages) - 1
				} else {
					cur = -1
				}
				c.msg = cur
			case "RCPT":
				if cur < 0 && len(s.Messages) == 0 && waiting == 0 {
					// The session's start (and its MAIL FROM) is in a file we
					// do not have; the recipients still count.
					s.Messages = append(sc.msgs[:0], Message{FromMissing: true, At: r.ref}) // the first (see MAIL)
					cur = 0
				}
				if cur >= 0 && len(s.Messages[cur].Rcpts) >= maxRcptsPerMessage {
					s.Messages[cur].RcptsOver++
				} else if cur >= 0 {
					addr := angleAddr(arg)
					m := &s.Messages[cur]
					if m.Rcpts == nil {
						m.Rcpts = rcptFree // the message's first recipient: where the shared array's room starts
					}
					// Filled in place field by field, as r (an 80-byte
					// literal is built on the stack and copied, which waits
					// for its stores to drain), at every recipient.
					m.Rcpts = append(m.Rcpts, Rcpt{})
					rc := &m.Rcpts[len(m.Rcpts)-1]
					rc.Addr, rc.Domain, rc.At = addr, DomainOf(addr), r.ref
					c.msg, c.rcpt = cur, len(m.Rcpts)-1
				}
			case "DATA", "BDAT":
				c.msg = cur
			case "XPROXYFROM":
				s.applyProxy(arg)
			case "AUTH":
				auth.try++
			}
		case replyEvent:
			code, cont, replyText := splitReply(r.data)
			if code == 0 {
				continue // not a reply line (a send log's free text); nothing to pair
			}
			if pending.len() == 0 {
				// A reply nobody asked for: a 421 on timeout, or a session cut
				// at the front. Keep the errors; the rest carries no meaning.
				if code >= 400 {
					s.addError(Reply{Code: code, Text: r.data, At: r.ref})
				}
				continue
			}
			c := pending.front()
			if rows[0].seq != 0 && c.verb != "MAIL" && isSenderReply(replyText) && len(s.Messages) > 0 && s.Messages[0].FromMissing {
				continue // answers the MAIL FROM we did not see
			}
			if cont {
				c.partial = true
			}
			s.applyReply(c, code, cont, replyText, &r, &auth)
			if !cont && !(code >= 300 && code < 400) {
				pending.pop()
			}
		default: // '*' and rows whose event the log left empty
			s.applyInfo(&r, &auth, &cert, sc)
		}
	}
	sealRcpts(s.Messages, rcptFree)
	s.QuitAfterEHLO = quitAfterEHLO && len(s.Messages) == 0
	s.Start, s.End = time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC()
	if !s.Client.IsValid() {
		s.Client = s.Remote.Addr()
	}
}

// countRcptRows counts the command rows that may be RCPT TO: at least as
// many as there are recipients, unless a log pads its commands with
// spaces (then the recipients past the count get arrays of their own).
func countRcptRows(rows []frow, text string, cmdEvent byte) int {
	n := 0
	for i := range rows {
		if r := &rows[i]; r.event == cmdEvent && r.dLen >= 4 && text[r.off]|0x20 == 'r' && text[r.off+1]|0x20 == 'c' {
			n++
		}
	}
	return n
}

// sealRcpts ends the recipients of the last of msgs: free, the room left in
// the array recipients share, moves past those the message holds there,
// and the message's slice is capped so that appending to it cannot
// overwrite another message's.
func sealRcpts(msgs []Message, free []Rcpt) []Rcpt {
	if len(msgs) == 0 {
		return free
	}
	m := &msgs[len(msgs)-1]
	n := len(m.Rcpts)
	if n > 0 && cap(free) > 0 && unsafe.SliceData(m.Rcpts) == unsafe.SliceData(free) {
		free = free[n:n] // free has no length: its room is its capacity
	}
	m.Rcpts = m.Rcpts[:n:n]
	return free
}

func (s *Session) addError(r Reply) {
	if len(s.Errors) < maxErrors {
		s.Errors = append(s.Errors, r)
	} else {
		s.ErrorsCapped++
	}
}

// authAttempts numbers the AUTH commands of a session, so that the several
// rows one failed attempt leaves count it once.
type authAttempts struct {
	try    int // AUTH commands seen; 0 before the first (or when the log starts after it)
	failed int // the last attempt counted as failed, plus one; 0: none
}

// fail counts the current attempt as failed, once.
func (a *authAttempts) fail(s *Session) {
	if a.failed != a.try+1 {
		a.failed = a.try + 1
		s.AuthFailures++
	}
}

// applyReply records what a (final or partial) reply means for its command.
func (s *Session) applyReply(c *command, code int, cont bool, text string, r *row, auth *authAttempts) {
	if code >= 400 {
		s.addError(Reply{Command: c.verb, Code: code, Text: r.data, At: r.ref})
	}
	switch c.verb {
	case "":
		if s.Banner == "" {
			s.Banner = text
		}
	case "EHLO":
		s.EHLOReplied = true
		if !s.OfferedEXPS && hasToken(text, "X-EXPS") { // the second EHLO (after STARTTLS) offers it again
			s.OfferedEXPS = true
		}
	case "RCPT":
		if c.msg >= 0 && !cont {
			rc := &s.Messages[c.msg].Rcpts[c.rcpt]
			rc.Code, rc.Reply = code, r.data
		}
	case "DATA", "BDAT":
		// DATA's 354 is intermediate; the final 2xx after the content, and
		// the 2xx to BDAT ... LAST, mean the message was taken.
		last := c.verb == "DATA" || strings.HasSuffix(strings.ToUpper(strings.TrimSpace(c.arg)), "LAST")
		if c.msg >= 0 && code >= 200 && code < 300 && last {
			s.Messages[c.msg].Queued = true
		}
	case "AUTH":
		switch {
		case code == 235:
			s.Auth = AuthUser
			s.AuthMechanism, _ = splitVerb(c.arg)
		case code >= 500 && code != 504:
			auth.fail(s)
		}
	case "X-EXPS":
		if code == 235 {
			s.Auth = AuthExchange
			s.AuthMechanism, _ = splitVerb(c.arg)
		}
	case "STARTTLS", "X-ANONYMOUSTLS":
		if code == 220 {
			s.TLS = true
		}
	}
}

// applyInfo reads the '*' rows that matter. cert is the certificate that
// per-field certificate rows describe, set by their heading row.
//
// Two information rows in five of a receive log ("receiving message",
// "Proxy destination(s) obtained ...") are none of them: a row whose
// context and data start with no byte any of them starts with
// (infoContextStarts, infoDataStarts) is not compared with each in turn.
// A test compares it with applyInfoRow.
func (s *Session) applyInfo(r *row, auth *authAttempts, cert **Certificate, sc *emitScratch) {
	if !infoContextStarts[firstByte(r.context)] && !infoDataStarts[firstByte(r.data)] {
		return
	}
	s.applyInfoRow(r, auth, cert, sc)
}

// infoContextStarts and infoDataStarts hold the first bytes of the
// contexts and data that applyInfoRow reads.
var (
	infoContextStarts = [256]bool{
		'I': true, // Inbound AUTH, Inbound ExchangeAuth
		'U': true, // User Name:
		'S': true, // Set Session Permissions, Sending certificate
		'a': true, // authenticated
		'T': true, // TLS protocol, TLS negotiation failed
		'R': true, // Received certificate
		'C': true, // Certificate ...
		'O': true, // Outbound Exchange Authentication failed
	}
	infoDataStarts = [256]bool{
		'T': true, // Tarpit for
		'I': true, // Inbound ExchangeAuth
		'O': true, // Outbound Exchange Authentication failed
	}
)

// firstByte is s[0], or 0 for "" (which no row applyInfoRow reads starts with).
func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// applyInfoRow is applyInfo for any row.
func (s *Session) applyInfoRow(r *row, auth *authAttempts, cert **Certificate, sc *emitScratch) {
	switch {
	case strings.HasPrefix(r.context, "Inbound AUTH ") && strings.Contains(r.context, " failed"):
		// "Inbound AUTH LOGIN failed because of LogonDenied". (X-EXPS
		// failures read "Inbound ExchangeAuth ..." and are not a user's.)
		auth.fail(s)
	case strings.HasPrefix(r.context, "User Name: "):
		auth.fail(s)
		if u := strings.TrimSpace(r.context[len("User Name: "):]); u != "" && len(s.AuthFailedUsers) < maxAuthFailedUsers && !slices.Contains(s.AuthFailedUsers, u) {
			s.AuthFailedUsers = append(s.AuthFailedUsers, u)
		}
	case strings.HasPrefix(r.data, "Tarpit for ") && strings.Contains(r.data, "due to '535"):
		auth.fail(s)
	case r.context == "Set Session Permissions":
		s.Permissions = r.data
	case r.context == "authenticated":
		s.AuthUser = r.data
	case strings.HasPrefix(r.context, "TLS protocol ") && strings.Contains(r.context, "succeeded"):
		s.TLS = true
		s.TLSProtocol, s.TLSCipher = sc.tlsNames(r.context)
	case strings.HasPrefix(r.context, "TLS negotiation failed"):
		_, e, ok := strings.Cut(r.context, "with error ")
		if !ok {
			e = strings.TrimSpace(strings.TrimPrefix(r.context, "TLS negotiation failed"))
		}
		s.TLSFailure = cmp.Or(strings.TrimSpace(e), "unknown")
	case strings.HasPrefix(r.context, "Sending certificate"):
		*cert = &s.LocalCert
		if r.data != "" {
			s.LocalCert = sc.combinedCert(r.data)
		}
	case strings.HasPrefix(r.context, "Received certificate"):
		*cert = &s.RemoteCert
		if r.data != "" {
			s.RemoteCert = sc.combinedCert(r.data)
		}
	case strings.HasPrefix(r.context, "Certificate ") && r.data != "":
		c := *cert
		if c == nil {
			c = &s.LocalCert
		}
		switch strings.ToLower(strings.TrimPrefix(r.context, "Certificate ")) {
		case "subject":
			c.Subject = strings.TrimSpace(r.data)
		case "issuer name", "issuer":
			c.Issuer = strings.TrimSpace(r.data)
		case "thumbprint":
			c.Thumbprint = strings.TrimSpace(r.data)
		case "not after", "expiration date":
			c.NotAfter = strings.TrimSpace(r.data)
		}
	case isExchangeAuthInfo(r.context) || isExchangeAuthInfo(r.data):
		if len(s.ExchangeAuthInfo) < maxAuthInfo {
			text := r.context
			if !isExchangeAuthInfo(text) {
				text = r.data
			}
			s.ExchangeAuthInfo = append(s.ExchangeAuthInfo, InfoRow{Text: strings.Clone(text), At: r.ref})
		}
	}
}

// isExchangeAuthInfo reports whether an information row says that
// Exchange Server authentication (X-EXPS) was tried and failed, on the
// sending or the receiving side.
func isExchangeAuthInfo(text string) bool {
	return strings.HasPrefix(text, "Outbound Exchange Authentication failed") ||
		strings.HasPrefix(text, "Inbound ExchangeAuth negotiation failed")
}

// applyProxy reads XPROXYFROM SID=... IP=... PORT=... DOMAIN=... AUTHSRC=...
func (s *Session) applyProxy(arg string) {
	s.Proxied = true
	if !isASCII(arg) {
		for f := range strings.FieldsSeq(arg) { // Unicode spaces split fields too
			s.applyProxyField(f)
		}
		return
	}
	// ASCII, as Exchange writes it: the fields without an iterator, which
	// costs more than the rest of reading them; each field's end found
	// eight bytes at a time (asciiFieldEnd), and its '=' among its first
	// bytes, where the key is (strings.Cut searched each field again).
	for i := 0; i < len(arg); {
		for i < len(arg) && isSpace[arg[i]] {
			i++
		}
		j := asciiFieldEnd(arg, i)
		for eq := i; eq < j; eq++ {
			if arg[eq] == '=' {
				s.applyProxyKeyValue(arg[i:eq], arg[eq+1:j])
				break
			}
		}
		i = j // a field without '=' has no value: applyProxyField skips it too
	}
}

// asciiFieldEnd returns where the field that starts at s[i] ends: the
// index of the first byte from i on that strings.Fields splits at, or
// len(s). s is ASCII.
//
// It looks at eight bytes at a time for one below 0x21 (a space, or a
// control byte that is none): the lowest byte the word trick flags is
// exact (a borrow only wrongly flags bytes above it), so a word without a
// flag holds no space. A flagged word is read byte by byte; if none of its
// bytes ends the field (control bytes), the search goes on with the next
// word. A test compares it with the byte loop.
func asciiFieldEnd(s string, i int) int {
	for i+8 <= len(s) {
		w := le64(s[i : i+8])
		if (w-0x2121212121212121)&^w&0x8080808080808080 != 0 {
			for end := i + 8; i < end; i++ {
				if isSpace[s[i]] {
					return i
				}
			}
			continue
		}
		i += 8
	}
	for i < len(s) && !isSpace[s[i]] {
		i++
	}
	return i
}

// parseHex64 is strconv.ParseUint(v, 16, 64) without the error value,
// which costs more than the parse of a session-id.
func parseHex64(v string) (uint64, bool) {
	if v == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(v); i++ {
		var d byte
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			d = c | 0x20 - 'a' + 10
		default:
			return 0, false
		}
		if n>>60 != 0 {
			return 0, false // overflows 64 bits
		}
		n = n<<4 | uint64(d)
	}
	return n, true
}

// applyProxyField reads one KEY=value field of XPROXYFROM.
func (s *Session) applyProxyField(f string) {
	k, v, ok := strings.Cut(f, "=")
	if !ok {
		return
	}
	s.applyProxyKeyValue(k, v)
}

// applyProxyKeyValue reads the field k=v of XPROXYFROM.
func (s *Session) applyProxyKeyValue(k, v string) {
	switch k { // the fields Exchange writes, as it writes them: not upper-cased again
	case "PORT", "SEQNUM", "PERMS":
		return
	case "IP", "SID", "AUTHSRC", "DOMAIN":
	default:
		k = strings.ToUpper(k)
	}
	switch k {
	case "IP":
		if v != "" && (v[0] == '[' || v[0] == ']' || v[len(v)-1] == '[' || v[len(v)-1] == ']') {
			v = strings.Trim(v, "[]") // else nothing to trim: Trim costs as much as the parse
		}
		if a, err := netip.ParseAddr(v); err == nil {
			s.Client = a.Unmap()
		}
	case "SID":
		if id, ok := parseHex64(v); ok {
			s.ProxySID = id
		}
	case "AUTHSRC":
		s.ProxyAuth = v
	case "DOMAIN":
		s.EHLO = v // the original client's EHLO name
	}
}

// isExchangeAuthFailure reports whether text is the 5.7.3 Exchange Server
// authentication failure. "535 5.7.3 Authentication unsuccessful" is a
// user's bad password and is not.
//
// It is asked of every row's data and context, and most of them (four in
// five in the sample) are too short to hold the sentence: the length checks
// come first and are inlined at each call, so that only long fields pay for
// the search.
func isExchangeAuthFailure(text string) bool {
	return startsWithExchangeAuthFailure(text) || holdsExchangeAuthFailureText(text)
}

// startsWithExchangeAuthFailure and holdsExchangeAuthFailureText are the
// two halves of isExchangeAuthFailure: the 5.7.3 code at the start of a
// text of 20 bytes or more, and the sentence anywhere in it. The replay
// asks the second only of rows whose record may hold the sentence.
func startsWithExchangeAuthFailure(text string) bool {
	return len(text) >= 20 && text[:len(exchangeAuthFailurePrefix)] == exchangeAuthFailurePrefix
}

func holdsExchangeAuthFailureText(text string) bool {
	return len(text) >= len(exchangeAuthFailureText) && containsExchangeAuthFailureText(text)
}

// The 5.7.3 failure as Exchange writes it, in one spelling: a case-sensitive
// search is several times faster on every row than a folded one.
const (
	exchangeAuthFailurePrefix = "451 5.7.3"
	exchangeAuthFailureText   = "Cannot achieve Exchange Server authentication"
)

// containsExchangeAuthFailureText is strings.Contains(text,
// exchangeAuthFailureText), but looks for the sentence's 'x' (of
// "Exchange"), rare in the logs, where the standard search looks for its
// 'C', frequent in certificate and TLS rows ("CN=", "CALG_"), and stops
// at each to compare.
func containsExchangeAuthFailureText(text string) bool {
	const at, n = exchangeAuthFailureRare, len(exchangeAuthFailureText)
	end := len(text) - (n - at) + 1 // the rare byte of a match comes before end
	for i := at; i < end; i++ {
		j := strings.IndexByte(text[i:end], exchangeAuthFailureText[at])
		if j < 0 {
			return false
		}
		i += j
		if text[i-at:i-at+n] == exchangeAuthFailureText {
			return true
		}
	}
	return false
}

// exchangeAuthFailureRare is where the sentence's 'x' is.
const exchangeAuthFailureRare = 16

// ContainsFold is a case-insensitive strings.Contains for ASCII needles.
func ContainsFold(s, needle string) bool {
	n := len(needle)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], needle) {
			return true
		}
	}
	return false
}

// splitVerb splits "MAIL FROM:<a@b>" into "MAIL" and "FROM:<a@b>"; the verb
// is upper-cased.
//
// It reads every command row. A command as clients send it (ASCII, no
// space around it, the verb in capitals and one space after it) is split
// in one pass over the verb, without trimming, searching or upper-casing
// it again; anything else is split the general way (splitVerbSlow), and
// a test compares the two.
func splitVerb(s string) (verb, arg string) {
	if s == "" || !asciiWord(s[0]) || !asciiWord(s[len(s)-1]) {
		return splitVerbSlow(s) // space (maybe Unicode) to trim at an end
	}
	i := 0
	for ; i < len(s) && s[i] != ' '; i++ {
		if c := s[i]; c >= utf8.RuneSelf || c >= 'a' && c <= 'z' {
			return splitVerbSlow(s) // a verb to upper-case
		}
	}
	if i == len(s) {
		return s, ""
	}
	arg = s[i+1:]
	if !asciiWord(arg[0]) {
		return splitVerbSlow(s) // more space after the verb
	}
	return s[:i], arg
}

// asciiWord reports whether c is an ASCII byte that is not a space or a
// control character: neither TrimSpace nor Cut stops at it.
func asciiWord(c byte) bool { return c > ' ' && c < utf8.RuneSelf }

// splitVerbSlow is splitVerb for any text.
func splitVerbSlow(s string) (verb, arg string) {
	s = strings.TrimSpace(s)
	v, a, _ := strings.Cut(s, " ")
	return strings.ToUpper(v), strings.TrimSpace(a)
}

// isSenderReply reports whether a reply's enhanced status code is about the
// sender (X.1.0, "250 2.1.0 Sender OK"), which only MAIL FROM gets.
func isSenderReply(text string) bool {
	code, _, _ := strings.Cut(text, " ")
	return len(code) == 5 && code[1:] == ".1.0"
}

// splitReply parses "250-text" or "250 text": code, whether more lines
// follow, and the text. code is 0 when the line is not a reply.
func splitReply(s string) (code int, cont bool, text string) {
	if len(s) < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' {
		return 0, false, ""
	}
	code = int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	if len(s) == 3 {
		return code, false, ""
	}
	switch s[3] {
	case '-':
		return code, true, s[4:]
	case ' ':
		return code, false, s[4:]
	}
	return 0, false, ""
}

// angleAddr returns the address inside the first <...> of a MAIL or RCPT
// argument, or the first word after the colon when there are no brackets.
func angleAddr(arg string) string {
	if i := strings.IndexByte(arg, '<'); i >= 0 {
		if j := strings.IndexByte(arg[i:], '>'); j >= 0 {
			return strings.TrimSpace(arg[i+1 : i+j])
		}
		return strings.TrimSpace(arg[i+1:])
	}
	_, a, ok := strings.Cut(arg, ":")
	if !ok {
		return ""
	}
	w, _, _ := strings.Cut(strings.TrimSpace(a), " ")
	return w
}

// DomainOf returns the lower-cased domain of an address ("" when none).
//
// It reads every recipient. A domain as mail carries it (ASCII, lower
// case, no space or final dot to trim) is returned as it is after one pass
// over its bytes; anything else is trimmed and lowered the general way
// (domainOfSlow), and a test compares the two.
func DomainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	d := addr[i+1:]
	if n := len(d); n == 0 || isSpace[d[0]] || isSpace[d[n-1]] || d[n-1] == '.' {
		return domainOfSlow(d)
	}
	for j := 0; j < len(d); j++ {
		// Upper case to lower, or a byte that may be part of a Unicode
		// space or letter.
		if c := d[j]; c >= utf8.RuneSelf || c >= 'A' && c <= 'Z' {
			return domainOfSlow(d)
		}
	}
	return d
}

// domainOfSlow is DomainOf for any text after the '@'.
func domainOfSlow(d string) string {
	return strings.ToLower(strings.TrimRight(strings.TrimSpace(d), "."))
}

// hasToken reports whether the space-separated text holds tok (any case),
// as strings.Fields and strings.EqualFold would tell. It is asked of every
// EHLO reply line; text is searched for an ASCII tok without splitting it
// into fields (hasTokenASCII).
//
// What that search finds is a field in any text: a run of ASCII bytes
// that folds to tok between ASCII spaces (or the ends), and a run of bytes
// as long as tok that folds to it is ASCII (the non-ASCII letters that
// fold to ASCII ones, K and ſ, are longer). So only a text it finds nothing
// in needs to be ASCII to be done with: the text is checked for that then,
// not before, and an EHLO reply offering X-EXPS is read once.
func hasToken(text, tok string) bool {
	if tok != "" && isASCII(tok) {
		if hasTokenASCII(text, tok) {
			return true
		}
		if isASCII(text) {
			return false
		}
	}
	// Unicode spaces split fields, and some non-ASCII letters fold to
	// ASCII ones (K, the Kelvin sign, is k): the general way.
	for f := range strings.FieldsSeq(text) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}

// hasTokenASCII reports whether text holds tok, ASCII and not empty, as a
// field between ASCII spaces (any case).
func hasTokenASCII(text, tok string) bool {
	// A byte of tok that case does not change (the '-' of X-EXPS) is
	// searched for, a whole SIMD block at a time, and the field around it
	// compared.
	anchor := -1
	for i := 0; i < len(tok); i++ {
		if c := tok[i] | 0x20; c < 'a' || c > 'z' {
			anchor = i
			break
		}
	}
	if anchor < 0 {
		for i := 0; i+len(tok) <= len(text); {
			for i < len(text) && isSpace[text[i]] {
				i++
			}
			j := i
			for j < len(text) && !isSpace[text[j]] {
				j++
			}
			if j-i == len(tok) && strings.EqualFold(text[i:j], tok) {
				return true
			}
			i = j
		}
		return false
	}
	for from := 0; ; {
		k := strings.IndexByte(text[from:], tok[anchor])
		if k < 0 {
			return false
		}
		at, end := from+k-anchor, from+k-anchor+len(tok) // where tok would be
		from += k + 1
		if at < 0 {
			continue
		}
		if end > len(text) {
			return false
		}
		if (at == 0 || isSpace[text[at-1]]) && (end == len(text) || isSpace[text[end]]) && strings.EqualFold(text[at:end], tok) {
			return true
		}
	}
}

// isSpace holds the ASCII bytes strings.Fields splits on.
var isSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// isASCII reports whether s holds only ASCII bytes.
//
// It reads sixteen bytes at a time, as two 8-byte words (the compiler
// merges the byte loads of each); the words are sliced off the front of s
// so that the compiler sees every index in range and checks none.
func isASCII(s string) bool {
	for len(s) >= 16 {
		w := s[:16]
		if (le64(w[:8])|le64(w[8:16]))&0x8080808080808080 != 0 {
			return false
		}
		s = s[16:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// le64 is the first eight bytes of s as a little-endian word: one load.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// tlsProtocol turns "TLS protocol SP_PROT_TLS1_2_SERVER negotiation ..."
// into "TLS1.2".
func tlsProtocol(ctx string) string {
	// The third word: "TLS protocol SP_PROT_TLS1_2_SERVER negotiation ...".
	rest := ctx
	var word string
	for i := 0; i < 3; i++ {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			return ""
		}
		end := strings.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		word, rest = rest[:end], rest[end:]
	}
	p := strings.TrimPrefix(word, "SP_PROT_")
	p = strings.TrimSuffix(strings.TrimSuffix(p, "_SERVER"), "_CLIENT")
	if known, ok := tlsVersions[p]; ok {
		return known // no allocation for the versions Exchange writes
	}
	if v, ok := strings.CutPrefix(p, "TLS"); ok {
		return "TLS" + strings.ReplaceAll(v, "_", ".")
	}
	return strings.Clone(p)
}

// tlsVersions are the protocol names Schannel reports, as logscan names them.
var tlsVersions = map[string]string{"TLS1_0": "TLS1.0", "TLS1_1": "TLS1.1", "TLS1_2": "TLS1.2", "TLS1_3": "TLS1.3", "TLS1": "TLS1", "SSL3": "SSL3", "SSL2": "SSL2"}

// tlsCipher turns "... bulk encryption algorithm CALG_AES_256 with ...,
// MAC hash algorithm CALG_SHA_384 ... key exchange algorithm CALG_ECDHE ..."
// into "AES_256 SHA_384 ECDHE"; "" when the row names none of them.
func tlsCipher(ctx string) string {
	var parts []string
	for _, label := range []string{"bulk encryption algorithm ", "MAC hash algorithm ", "key exchange algorithm "} {
		if w := cipherPart(ctx, label); w != "" {
			parts = append(parts, w)
		}
	}
	return strings.Join(parts, " ")
}

// cipherPart is the algorithm after label in a TLS negotiation row, CALG_
// dropped: "AES_256"; "" when label is not there.
func cipherPart(ctx, label string) string {
	_, rest, ok := strings.Cut(ctx, label)
	if !ok {
		return ""
	}
	w, _, _ := strings.Cut(rest, " ")
	return strings.TrimPrefix(strings.TrimRight(w, ",;"), "CALG_")
}

// tlsNames is tlsProtocol(ctx) and tlsCipher(ctx), kept per worker by the
// whole row: a handful of suites serve every session, so the same few
// negotiation rows come again and again, and looking one up costs less than
// reading it (and joining the cipher's parts made a new string each time).
// The rows kept are bounded (a hostile log could name a new suite in every
// row); past that they are read each time.
func (sc *emitScratch) tlsNames(ctx string) (protocol, cipher string) {
	if v, ok := sc.tls[ctx]; ok {
		return v.protocol, v.cipher
	}
	protocol, cipher = tlsProtocol(ctx), tlsCipher(ctx)
	if len(sc.tls) < maxTLSRows {
		if sc.tls == nil {
			sc.tls = map[string]tlsNamePair{}
		}
		// ctx is lent text, and a cipher of one part a slice of it: the
		// map keeps copies.
		cipher = strings.Clone(cipher)
		sc.tls[strings.Clone(ctx)] = tlsNamePair{protocol, cipher}
	}
	return protocol, cipher
}

type tlsNamePair struct{ protocol, cipher string }

// maxTLSRows bounds the negotiation rows one worker keeps.
const maxTLSRows = 64

// combinedCert is parseCombinedCert(data), kept per worker by the whole
// row, as tlsNames keeps negotiation rows: a server offers the same
// certificate in every session that logs one (21,000 rows in the 637 MB
// of receive logs, all alike), and splitting it into fields cost more than
// all the other information rows together. The rows kept are bounded, and past that
// read each time; their certificates hold copies, never lent text.
func (sc *emitScratch) combinedCert(data string) Certificate {
	if c, ok := sc.certs[data]; ok {
		return c
	}
	c := parseCombinedCert(data)
	if len(sc.certs) < maxCertRows {
		if sc.certs == nil {
			sc.certs = map[string]Certificate{}
		}
		// data is lent text, and the fields are slices of it (or of
		// strings.Join's result): the map keeps copies.
		c = Certificate{Subject: strings.Clone(c.Subject), Issuer: strings.Clone(c.Issuer),
			Thumbprint: strings.Clone(c.Thumbprint), NotAfter: strings.Clone(c.NotAfter)}
		sc.certs[strings.Clone(data)] = c
	}
	return c
}

// maxCertRows bounds the certificate rows one worker keeps.
const maxCertRows = 64

// parseCombinedCert reads the one-row certificate of receive logs, whose
// context is "Sending certificate Subject Issuer name Serial number
// Thumbprint Not before Not after Subject alternate names" and whose data
// holds those fields joined by spaces:
//
//	CN=webmail.domain1.com CN=R3, O=Let's Encrypt, C=US 0404C0... EC5A76... 2023-08-12T10:39:24.000Z 2023-11-10T09:39:23.000Z webmail.domain1.com;...
//
// The names hold spaces themselves, so fields are found from the first
// time stamp back: before it the thumbprint and serial (hex), before those
// subject and issuer, split where a new "XX=" attribute starts without a
// comma before it. Data of another shape (redacted) is kept whole as the
// subject.
func parseCombinedCert(data string) Certificate {
	data = strings.TrimSpace(data)
	tok := strings.Fields(data)
	at := -1
	for i, t := range tok {
		if len(t) >= 19 && t[4] == '-' && t[7] == '-' && t[10] == 'T' && isDigits(t[:4]) {
			at = i
			break
		}
	}
	if at < 3 || !isHex(tok[at-1]) || !isHex(tok[at-2]) {
		return Certificate{Subject: data}
	}
	c := Certificate{Thumbprint: tok[at-1]}
	if at+1 < len(tok) {
		c.NotAfter = tok[at+1]
	}
	names := tok[:at-2]
	split := len(names)
	for i := 1; i < len(names); i++ {
		if isAttr(names[i]) && !strings.HasSuffix(names[i-1], ",") {
			split = i
			break
		}
	}
	c.Subject, c.Issuer = strings.Join(names[:split], " "), strings.Join(names[split:], " ")
	return c
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(s[i] >= '0' && s[i] <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return len(s) >= 8
}

// isAttr reports whether a word starts an X.500 attribute: "CN=", "OU=", "E=".
func isAttr(w string) bool {
	k, _, ok := strings.Cut(w, "=")
	if !ok || k == "" || len(k) > 16 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i] | 0x20; !(c >= 'a' && c <= 'z' || k[i] >= '0' && k[i] <= '9' || k[i] == '.') {
			return false
		}
	}
	return true
}

// IsReceive reports whether the session comes from a receive log (we were
// the server); otherwise we were the client, in a send log.
func (s *Session) IsReceive() bool { return s.LogType == parser.LogTypeReceive }
