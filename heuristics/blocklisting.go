package heuristics

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/logscan/logscan/heuristics/blocklist"
	"github.com/logscan/logscan/heuristics/session"
)

// BlocklistDetector finds the organisation's mail being refused because its
// public IP is on a blocklist or has a bad reputation with a receiver.
//
// Signal: in send logs (where "<" rows are the remote server's replies),
// every 4xx/5xx reply to our RCPT, MAIL, DATA/BDAT or connection is read by
// blocklist.Classify. Receive logs are not read: there the replies are our
// own. One finding per cause, not per row:
//
//   - our public IP refused by a DNSBL (Spamhaus, Barracuda, ...) or by a
//     provider's reputation block (Microsoft S3150, Gmail, ...): one finding
//     per IP. The IP is the one the replies name; when a reply names none,
//     the sending server's local address if it is public (the finding says
//     which), else "not named" per sending server;
//   - SPF/DKIM/DMARC failures: one finding, its own cause and fix;
//   - 5xx 5.7.x rejections that name no list: one finding, "unrecognised
//     policy rejections", with the reply texts. They are never guessed
//     into a list.
//
// Severity, and why:
//
//   - High: at least MinPermanentListingRefusals permanent (5xx) refusals
//     by a DNSBL or a reputation block. A listing refuses every message to
//     every receiver that queries the list, so one such reply proves it.
//   - Medium: only temporary (4xx) refusals, and some deferred recipient was
//     not delivered later in the scanned logs (or the refusal was of the
//     connection, where there is no recipient to follow). Exchange retries,
//     but returns the mail once the message expiration (2 days) is reached.
//   - Low: only temporary refusals, and every deferred recipient was taken
//     (250 to RCPT, message queued by the receiver) in a later session. The
//     mail got through, but a receiver is throttling the IP: an early
//     warning.
//   - Authentication failures: Medium.
//   - Unrecognised policy rejections: Low when at least
//     PolicyRejectionDomains destination domains refused (several unrelated
//     receivers refusing points at us), else Info.
//
// Ordinary bounces (5.1.1 user unknown, mailbox full), greylisting, relay
// refusals and TLS or authentication requirements are Kind None in the
// classifier and are not counted.
//
// Cause and consequence: when the anonymous-relay detector reported a relay
// (medium or above) that began before the first refusal of a listing, the
// finding says so and names the relay finding's id in a "caused by" fact;
// likewise for an account the compromised-account detector reported, when
// its mail to outside domains began before the first refusal.
type BlocklistDetector struct {
	groups map[blKey]*blGroup
	// delivered maps a hashed recipient address to the last time a send
	// session delivered to it (RCPT 250/251 and the message queued), for
	// the retry check of deferrals.
	delivered      map[uint64]int64
	deliveredBound hashBound // maxTrackedRcpts
	deliveredOver  bool      // some deliveries were not kept (past maxTrackedRcpts)
}

// Thresholds of BlocklistDetector.
const (
	// MinPermanentListingRefusals permanent refusals by a DNSBL or a
	// reputation block make the finding High.
	MinPermanentListingRefusals = 1
	// PolicyRejectionDomains: unrecognised 5.7.x rejections from this many
	// destination domains or more are Low, fewer Info. One receiver's rule
	// is its business; several unrelated ones refusing is about us.
	PolicyRejectionDomains = 3

	// maxTrackedRcpts bounds the delivered recipients kept for the retry
	// check. Past it, a deferral whose recipient was not kept counts as not
	// delivered (Medium rather than Low) and the finding says so.
	maxTrackedRcpts = 200_000
	// maxDeferred bounds the deferred recipients kept per finding; past it
	// they count as not delivered.
	maxDeferred    = 100_000
	maxBLValues    = 1_000 // distinct domains, texts, senders per finding
	maxReplyLength = 200   // reply texts listed are cut to this many bytes
)

// detectorBlocklist names the blocklisting detector.
const detectorBlocklist = "blocklisted"

// blClass is what kind of finding a refusal goes to.
type blClass uint8

const (
	blListing blClass = iota // blocklist.Blocklist or blocklist.Reputation
	blAuth                   // blocklist.Authentication
	blPolicy                 // blocklist.PolicyUnknown
)

var blClassNames = [...]string{"listing", "authentication", "policy"}

// blKey is one finding's subject. For a listing: the IP, and whether it is
// the sending server's own address rather than one a reply named; server
// is set only when the IP is unknown (private local address, none named).
type blKey struct {
	class     blClass
	ip        netip.Addr
	fromLocal bool
	server    string
}

type blGroup struct {
	refusals, permanent, temporary int64
	rcpts, msgs, conns, sessions   int64

	lists      counter // list or provider -> refusals
	zones      counter // DNSBL zones named
	domains    counter // destination domain -> refused recipients
	senders    counter // MAIL FROM domain -> refused recipients (authentication)
	texts      counter // reply texts, cut
	via        counter // "server / send connector" -> refusals
	servers    counter // server -> refusals
	connectors counter // send connector -> refusals
	locals     counter // sending server's local address -> refusals

	span      span
	first     time.Time // the earliest refusal's session start
	firstList string    // and its list (ties: the smallest name)
	samples   samples

	deferred      map[uint64]deferral // hashed recipient -> its deferrals
	deferredBound hashBound           // maxDeferred
	deferredOver  int64               // temporary refusals that cannot be followed
	hours         hourly              // sessions with a refusal, recipients refused, refusals
}

func newBlocklistDetector() *BlocklistDetector {
	return &BlocklistDetector{groups: map[blKey]*blGroup{}, delivered: map[uint64]int64{}, deliveredBound: newHashBound(maxTrackedRcpts)}
}

func (d *BlocklistDetector) observe(s *session.Session) {
	if s.IsReceive() {
		return
	}
	start := s.Start.UnixMilli()
	for _, m := range s.Messages {
		if !m.Queued {
			continue
		}
		for _, r := range m.Rcpts {
			if !rcptTaken(r) {
				continue
			}
			d.deliver(rcptHash(r.Addr), start)
		}
	}
	if len(s.Errors) == 0 {
		return
	}
	// used marks recipients already counted, so that a message refused at
	// DATA does not count the recipient refused at RCPT again.
	used := make([][]bool, len(s.Messages))
	for i := range s.Messages {
		used[i] = make([]bool, len(s.Messages[i].Rcpts))
	}
	type msgRef struct {
		g *blGroup
		i int
	}
	var seenGroups []*blGroup
	var seenMsgs []msgRef
	// A session refused for a listing is mostly refused with one text, a
	// RCPT after another: the last text's class is reused (the session's
	// text lives as long as this call).
	var lastText string
	var lastMatch blocklist.Match
	classified := false
	handle := func(e session.Reply) {
		if !classified || e.Text != lastText {
			lastText, lastMatch, classified = e.Text, blocklist.Classify(e.Text), true
		}
		mt := lastMatch
		class, ok := blClassOf(mt.Kind)
		if !ok {
			return
		}
		k := blKey{class: class}
		if class == blListing {
			k.ip = mt.ListedIP.Unmap()
			if !k.ip.IsValid() {
				k.ip, k.fromLocal = s.Local.Addr().Unmap(), true
				if !k.ip.IsValid() {
					k.server = s.Server
				}
			}
		}
		g := d.group(k)
		if !slices.Contains(seenGroups, g) {
			seenGroups = append(seenGroups, g)
			g.sessions++
			g.span.add(s.Start, s.End)
			g.hours.add(s.Start, 1, 0, 0)
		}
		list := blListName(mt)
		g.refusals++
		rcptsBefore := g.rcpts
		if mt.Temporary {
			g.temporary++
		} else {
			g.permanent++
		}
		g.lists.add(list, 1, maxBLValues)
		if mt.Zone != "" {
			g.zones.add(mt.Zone, 1, maxBLValues)
		}
		g.texts.add(cutText(e.Text), 1, maxBLValues)
		g.servers.add(cmp.Or(s.Server, "(unknown server)"), 1, maxBLValues)
		g.connectors.add(s.Connector, 1, maxBLValues)
		g.via.add(cmp.Or(s.Server, "(unknown server)")+" / "+s.Connector, 1, maxBLValues)
		if a := s.Local.Addr(); a.IsValid() {
			g.locals.add(cmp.Or(s.Server, "(unknown server)")+" "+a.Unmap().String(), 1, maxBLValues)
		}
		if g.first.IsZero() || s.Start.Before(g.first) || (s.Start.Equal(g.first) && list < g.firstList) {
			g.first, g.firstList = s.Start, list
		}
		g.samples.add(sampleOf(s, e.At))

		// Which recipients the refusal stopped.
		mi := messageOf(s, e.At)
		var stopped []int
		switch e.Command {
		case "RCPT":
			if mi >= 0 {
				if j := pickRcpt(s.Messages[mi], used[mi], e.Text); j >= 0 {
					stopped = []int{j}
				}
			}
			if stopped == nil {
				g.rcpts++ // a recipient the logs did not pair; counted, not named
				g.deferUnknown(mt.Temporary)
			}
		case "MAIL", "DATA", "BDAT":
			if mi >= 0 {
				for j := range s.Messages[mi].Rcpts {
					if !used[mi][j] {
						stopped = append(stopped, j)
					}
				}
			}
			if mi < 0 {
				g.deferUnknown(mt.Temporary)
			}
		default: // the greeting, EHLO, STARTTLS: the connection was refused
			g.conns++
			g.deferUnknown(mt.Temporary)
		}
		if mi >= 0 && (e.Command == "RCPT" || e.Command == "MAIL" || e.Command == "DATA" || e.Command == "BDAT") {
			if !slices.Contains(seenMsgs, msgRef{g, mi}) {
				seenMsgs = append(seenMsgs, msgRef{g, mi})
				g.msgs++
			}
		}
		for _, j := range stopped {
			used[mi][j] = true
			r := s.Messages[mi].Rcpts[j]
			g.rcpts++
			g.domains.add(cmp.Or(r.Domain, "(no domain)"), 1, maxBLValues)
			if class == blAuth {
				g.senders.add(cmp.Or(session.DomainOf(s.Messages[mi].From), "<>"), 1, maxBLValues)
			}
			if mt.Temporary {
				g.deferRcpt(r.Addr, start)
			}
		}
		g.hours.add(s.Start, 0, g.rcpts-rcptsBefore, 1)
	}
	for _, e := range s.Errors {
		handle(e)
	}
	// Past the session's error cap, refused recipients are still in
	// Rcpts with their reply: count them from there.
	if s.ErrorsCapped > 0 {
		for i, m := range s.Messages {
			for j, r := range m.Rcpts {
				if !used[i][j] && r.Code >= 400 {
					handle(session.Reply{Command: "RCPT", Code: r.Code, Text: r.Reply, At: r.At})
				}
			}
		}
	}

}

func (d *BlocklistDetector) group(k blKey) *blGroup {
	if g := d.groups[k]; g != nil {
		return g
	}
	g := &blGroup{deferred: map[uint64]deferral{}, deferredBound: newHashBound(maxDeferred)}
	k.server = strings.Clone(k.server)
	d.groups[k] = g
	return g
}

// deliver notes a delivery to the recipient hashed h at (ms), within
// deliveredBound, so that which are kept (and so every count made of them)
// does not depend on the order sessions come in.
func (d *BlocklistDetector) deliver(h uint64, at int64) {
	if !d.deliveredBound.admits(h) {
		d.deliveredOver = true
		return
	}
	t, ok := d.delivered[h]
	d.delivered[h] = max(t, at)
	if !ok {
		d.deliveredBound.kept(func(max uint64) (dropped int) {
			d.deliveredOver = true
			for x := range d.delivered {
				if x > max {
					delete(d.delivered, x)
					dropped++
				}
			}
			return dropped
		})
	}
}

// deferral is one recipient's deferrals: the last (ms), and how many.
type deferral struct{ last, n int64 }

func (g *blGroup) deferRcpt(addr string, at int64) {
	g.addDeferral(rcptHash(addr), deferral{at, 1})
}

// addDeferral keeps x for the recipient hashed h, within deferredBound;
// the deferrals of those not kept count in deferredOver, whatever the
// order they came in.
func (g *blGroup) addDeferral(h uint64, x deferral) {
	if !g.deferredBound.admits(h) {
		g.deferredOver += x.n
		return
	}
	old, ok := g.deferred[h]
	g.deferred[h] = deferral{max(old.last, x.last), old.n + x.n}
	if !ok {
		g.deferredBound.kept(func(max uint64) (dropped int) {
			for k, v := range g.deferred {
				if k > max {
					delete(g.deferred, k)
					g.deferredOver += v.n
					dropped++
				}
			}
			return dropped
		})
	}
}

func (g *blGroup) deferUnknown(temporary bool) {
	if temporary {
		g.deferredOver++
	}
}

// merge adds o to g (groups whose IP turns out to be unknown).
func (g *blGroup) merge(o *blGroup) {
	g.refusals += o.refusals
	g.permanent += o.permanent
	g.temporary += o.temporary
	g.rcpts += o.rcpts
	g.msgs += o.msgs
	g.conns += o.conns
	g.sessions += o.sessions
	for _, p := range []struct{ a, b *counter }{{&g.lists, &o.lists}, {&g.zones, &o.zones}, {&g.domains, &o.domains},
		{&g.senders, &o.senders}, {&g.texts, &o.texts}, {&g.via, &o.via}, {&g.servers, &o.servers}, {&g.connectors, &o.connectors}, {&g.locals, &o.locals}} {
		p.a.merge(p.b, maxBLValues)
	}
	g.span.add(o.span.first, o.span.last)
	if g.first.IsZero() || o.first.Before(g.first) || (o.first.Equal(g.first) && o.firstList < g.firstList) {
		g.first, g.firstList = o.first, o.firstList
	}
	g.samples.merge(o.samples)
	for h, x := range o.deferred {
		g.addDeferral(h, x)
	}
	g.deferredOver += o.deferredOver
	g.hours.merge(o.hours)
}

func blClassOf(k blocklist.Kind) (blClass, bool) {
	switch k {
	case blocklist.Blocklist, blocklist.Reputation:
		return blListing, true
	case blocklist.Authentication:
		return blAuth, true
	case blocklist.PolicyUnknown:
		return blPolicy, true
	}
	return 0, false
}

// blListName names the list of a match; an unrecognised policy rejection
// has none.
func blListName(m blocklist.Match) string {
	if m.List != "" {
		return m.List
	}
	if m.Enhanced != "" {
		return "unrecognised " + m.Enhanced
	}
	return fmt.Sprintf("unrecognised %d", m.Code)
}

// rcptTaken: the receiver took the recipient (250, or 251 will forward).
func rcptTaken(r session.Rcpt) bool { return r.Code == 250 || r.Code == 251 }

// rcptHash is the 64-bit FNV-1a hash of addr in lower case. addrHash is
// the same hash without hash/fnv's copy of the lowered address, which
// cost an allocation per delivered recipient (TestRcptHashIsFNV).
func rcptHash(addr string) uint64 { return addrHash(addr) }

// messageOf returns the index of the message a reply row belongs to: the
// last MAIL FROM logged before it, or -1.
func messageOf(s *session.Session, at session.Ref) int {
	mi := -1
	for i, m := range s.Messages {
		if refBefore(m.At, at) {
			mi = i
		}
	}
	return mi
}

func refBefore(a, b session.Ref) bool {
	return a.File < b.File || (a.File == b.File && a.Line < b.Line)
}

// pickRcpt returns the recipient a RCPT refusal belongs to: the first one
// not yet counted whose logged reply is this text, else the first one not
// yet counted that the receiver did not take. (Exchange logs a multi-line
// reply as one "550-..." row, which the session builder leaves unpaired or
// pairs with the next command; the refusal itself is in Errors either way.)
func pickRcpt(m session.Message, used []bool, text string) int {
	for j, r := range m.Rcpts {
		if !used[j] && r.Code >= 400 && r.Reply == text {
			return j
		}
	}
	for j, r := range m.Rcpts {
		if !used[j] && !rcptTaken(r) {
			return j
		}
	}
	return -1
}

func cutText(s string) string {
	if len(s) <= maxReplyLength {
		return s
	}
	cut := maxReplyLength
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut-- // do not split a UTF-8 sequence
	}
	return s[:cut] + "..."
}

// blocklistResult is what the blocklist detector tells detectors that need
// it: its findings' ids.
type blocklistResult []string

func (d *BlocklistDetector) report(in *detectorInputs, r *Report) any {
	relays, _ := in.result(detectorRelay).(relayResult)
	hacked, _ := in.result(detectorCompromise).(compromiseResult)
	hacked = slices.Clone(hacked)
	slices.SortFunc(hacked, func(a, b compromiseRun) int { return cmp.Or(a.first.Compare(b.first), cmp.Compare(a.id, b.id)) })
	// A local address that is not public says nothing about our public IP:
	// those refusals go to "IP not named", per sending server.
	groups := map[blKey]*blGroup{}
	for k, g := range d.groups {
		if k.fromLocal && (!k.ip.IsValid() || in.org.isInternal(k.ip) || !k.ip.IsGlobalUnicast()) {
			k = blKey{class: k.class, server: topName(&g.servers)}
		}
		if have := groups[k]; have != nil {
			have.merge(g)
		} else {
			groups[k] = g
		}
	}
	var ids blocklistResult
	for k, g := range groups {
		var f Finding
		switch k.class {
		case blListing:
			f = d.listingFinding(k, g, relays, hacked)
		case blAuth:
			f = authFinding(k, g, in.org)
		default:
			f = policyFinding(k, g)
		}
		f.Timeline = g.hours.timeline(MeasureFailures, g.span.first, g.span.last, in.logs.of(true, topValues(&g.servers, len(g.servers.m))...))
		ids = append(ids, f.ID)
		r.Findings = append(r.Findings, f)
	}
	slices.Sort(ids)
	return ids
}

// topName is the most frequent value of c (ties: the smallest).
func topName(c *counter) string {
	best, n := "", int64(-1)
	for v, p := range c.m {
		if k := *p; k > n || (k == n && v < best) {
			best, n = v, k
		}
	}
	return best
}

// blBase fills what every finding of this detector has.
func blBase(k blKey, g *blGroup) Finding {
	f := Finding{
		ID:       findingID(detectorBlocklist, blClassNames[k.class], addrOrEmpty(k.ip), k.server),
		Detector: detectorBlocklist,
		Server:   topName(&g.servers), Connector: topName(&g.connectors), Source: addrOrEmpty(k.ip),
		First: g.span.first, Last: g.span.last,
		Counts: map[string]int64{"refusals": g.refusals, "permanent": g.permanent, "temporary": g.temporary,
			"recipients_refused": g.rcpts, "messages_refused": g.msgs, "connections_refused": g.conns,
			"sessions": g.sessions, "destination_domains": int64(len(g.domains.m))},
		Samples: g.samples.out(),
	}
	if g.servers.get("(unknown server)") > 0 && f.Server == "(unknown server)" {
		f.Server = ""
	}
	return f
}

func addrOrEmpty(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// followUp counts the deferred recipients delivered later and not.
func (d *BlocklistDetector) followUp(g *blGroup) (delivered, not int64) {
	for h, x := range g.deferred {
		if at, ok := d.delivered[h]; ok && at > x.last {
			delivered++
		} else {
			not++
		}
	}
	return delivered, not + g.deferredOver
}

func (d *BlocklistDetector) listingFinding(k blKey, g *blGroup, relays relayResult, hacked compromiseResult) Finding {
	f := blBase(k, g)
	delivered, notDelivered := d.followUp(g)
	f.Counts["deferred_recipients_delivered_later"] = delivered
	f.Counts["deferred_not_delivered"] = notDelivered
	lists := g.lists.top("lists and providers (refusals)", 10)
	names := listNames(&g.lists)
	who := "Our public IP " + k.ip.String()
	ipNote := "named in the remote servers' replies (the address they saw us connect from)"
	switch {
	case !k.ip.IsValid():
		who = "The public IP of " + cmp.Or(k.server, "an unnamed server")
		ipNote = "not named by any reply, and the sending server's own address is private (NAT): look it up with the EHLO reply in the send log (\"Hello ... [IP]\") or https://ifconfig.me from the server"
	case k.fromLocal:
		ipNote = "no reply named an IP; this is the sending server's own (public) address"
	}
	shown := joinFirst(names, 3)
	domains := g.domains.top("destination domains (refused recipients)", 10)

	switch {
	case g.permanent >= MinPermanentListingRefusals:
		f.Severity = SeverityHigh
		f.Title = fmt.Sprintf("%s is blocklisted (%s): %d recipient(s) refused", who, shown, g.rcpts)
	case notDelivered > 0:
		f.Severity = SeverityMedium
		f.Title = fmt.Sprintf("%s is being deferred for its reputation (%s): %d recipient(s) not yet delivered", who, shown, notDelivered)
	default:
		f.Severity = SeverityLow
		f.Title = fmt.Sprintf("%s was deferred for its reputation (%s), then delivered", who, shown)
	}
	f.Explanation = fmt.Sprintf("Between %s and %s, remote servers refused our mail %d time(s) in %d session(s) because of a blocklist listing or the receiver's reputation verdict on the IP: %d recipient(s) in %d message(s) to %d domain(s) (%s)",
		stamp(g.span.first), stamp(g.span.last), g.refusals, g.sessions, g.rcpts, g.msgs, len(g.domains.m), joinFirst(topValues(&g.domains, len(g.domains.m)), 5))
	if g.conns > 0 {
		f.Explanation += fmt.Sprintf(", and %d connection(s) refused outright", g.conns)
	}
	f.Explanation += fmt.Sprintf(". %d refusal(s) were permanent (5xx: the senders got NDRs) and %d temporary (4xx: Exchange retries until the message expires, 2 days by default).", g.permanent, g.temporary)
	if g.temporary > 0 {
		f.Explanation += fmt.Sprintf(" Of the deferred recipients, %d were delivered in a later session and %d were not (in the scanned logs).", delivered, notDelivered)
	}
	f.Explanation += " The IP is " + ipNote + "."
	// The relays that began before the first refusal, the likeliest
	// cause (most recipients) first.
	var compromised []string
	for _, c := range hacked {
		if c.first.Before(g.first) {
			compromised = append(compromised, c.id)
		}
	}
	var caused []string
	refusedFrom := topValues(&g.servers, len(g.servers.m))
	preceding := relays.before(g.first, refusedFrom...)
	if len(compromised) > 0 {
		// A compromised account explains the listing; a relay on another
		// server most likely left through another public IP.
		preceding = slices.DeleteFunc(preceding, func(rr relayRun) bool { return !slices.Contains(refusedFrom, rr.server) })
	}
	for _, rr := range preceding {
		caused = append(caused, rr.id)
	}
	if len(caused) > 0 {
		rr := preceding[0]
		f.CausedBy = caused
		f.Explanation += fmt.Sprintf(" Relay through %s from %s began %s; first blocklist rejection %s (%s, %s).",
			rr.connector, rr.from(), stamp(rr.first), stamp(g.first), g.firstList, cmp.Or(addrOrEmpty(k.ip), "IP not named"))
	}
	if len(caused)+len(compromised) > 0 {
		f.CausedBy = append(slices.Clone(caused), compromised...)
	}
	if len(compromised) > 0 {
		c := hacked[slices.IndexFunc(hacked, func(x compromiseRun) bool { return x.id == compromised[0] })]
		f.Explanation += fmt.Sprintf(" Mail to outside domains from the compromised account %s began %s; first blocklist rejection %s (%s, %s).",
			c.account, stamp(c.first), stamp(g.first), g.firstList, cmp.Or(addrOrEmpty(k.ip), "IP not named"))
	}
	f.Facts = append(f.Facts, lists, domains, g.via.top("sent by (server / send connector: refusals)", 10),
		Fact{Name: "our IP", Values: []string{cmp.Or(addrOrEmpty(k.ip), "not named"), ipNote}})
	if len(g.zones.m) > 0 {
		f.Facts = append(f.Facts, g.zones.top("DNSBL zones named", 5))
	}
	if len(g.locals.m) > 0 {
		f.Facts = append(f.Facts, g.locals.top("sending server local addresses", 5))
	}
	if len(caused)+len(compromised) > 0 {
		f.Facts = append(f.Facts, Fact{Name: "caused by", Values: append(slices.Clone(caused), compromised...)})
	}
	if d.deliveredOver || g.deferredOver > 0 {
		f.Facts = append(f.Facts, Fact{Name: "note", Values: []string{"refusals of a whole connection, or past a memory cap, cannot be followed to a later delivery; they count as not delivered"}})
	}

	f.Cause = "A receiver refuses an IP when a blocklist it queries lists it, or when its own reputation system has seen spam, spam-trap hits or complaints from it. Lists react to what left the IP, so something sent spam from it: most often on Exchange an open relay (a receive connector granting anonymous relay to a range that is too wide), a mailbox whose password was stolen sending through authenticated submission, an infected PC behind the same NAT address sending directly on port 25 (Spamhaus XBL/CBL list exactly that), or backscatter (NDRs to forged senders)."
	if len(caused) > 0 {
		f.Cause += fmt.Sprintf(" Here the logs show an anonymous relay (finding %s) that began before the first refusal: that is the likely source.", strings.Join(caused, ", "))
	}
	if len(compromised) > 0 {
		f.Cause += fmt.Sprintf(" Here the logs show a compromised account (finding %s) that began sending outside before the first refusal: that is the likely source.", strings.Join(compromised, ", "))
	}
	srv := cmp.Or(f.Server, "<server>")
	f.Fix = []string{
		"Find and stop the source first; delisting before that gets the IP listed again within hours." + relayHint(caused, compromised),
		fmt.Sprintf("Authenticated senders with unusual volume (a stolen password): Get-MessageTrackingLog -Server %s -Start %s -End %s -EventId RECEIVE -ResultSize Unlimited | ? Source -eq 'SMTP' | group Sender | sort Count -Descending | select -First 20 Count,Name — reset the password and revoke sessions of any account that should not send this much.",
			psq(srv), psq(g.span.first.Add(-24*time.Hour).UTC().Format("2006-01-02 15:04")), psq(g.span.last.Add(time.Minute).UTC().Format("2006-01-02 15:04"))),
		"On the firewall, allow outbound port 25 only from the Exchange servers, so no infected PC can send under the same public IP.",
		"What is stuck: Get-Queue | ? LastError -match 'blocked|blacklist|block list|reputation|spamhaus' | ft Identity,DeliveryType,NextHopDomain,MessageCount,LastError",
	}
	for _, l := range names {
		f.Fix = append(f.Fix, delistStep(l, k.ip))
	}
	f.Fix = append(f.Fix,
		"Once delisted: Get-Queue | ? LastError -match 'blocked|blacklist|block list|reputation|spamhaus' | Retry-Queue",
		fmt.Sprintf("Check what bounced: Get-MessageTrackingLog -Start %s -EventId FAIL -ResultSize Unlimited | ? {$_.RecipientStatus -match 'blocked|listed|block list|reputation'} | ft Timestamp,Sender,Recipients,RecipientStatus",
			psq(g.span.first.UTC().Format("2006-01-02 15:04"))))
	return f
}

func relayHint(caused, compromised []string) string {
	hint := ""
	if len(caused) > 0 {
		hint = fmt.Sprintf(" Close the relay of finding %s (see its fix), then remove what it queued.", strings.Join(caused, ", "))
	} else if len(compromised) == 0 {
		return " Check for anonymous relay (Get-ReceiveConnector | ft Identity,RemoteIPRanges,PermissionGroups) and for mass mail from one sender in message tracking."
	}
	if len(compromised) > 0 {
		hint += fmt.Sprintf(" Reset the password of the compromised account of finding %s (see its fix), then remove what it queued.", strings.Join(compromised, ", "))
	}
	return hint
}

// delistStep says where to check and request removal for one list.
func delistStep(list string, ip netip.Addr) string {
	at := "the IP"
	if ip.IsValid() {
		at = ip.String()
	}
	switch {
	case strings.HasPrefix(list, "Spamhaus"), list == "CBL":
		return fmt.Sprintf("%s: look up %s at https://check.spamhaus.org and follow its removal steps (CBL is part of Spamhaus XBL; a PBL listing means the address is registered as not meant to send mail: ask the ISP or remove it there).", list, at)
	case strings.HasPrefix(list, "Microsoft"):
		return fmt.Sprintf("%s: request delisting of %s at https://sender.office.com; for S3150/S3140 (Outlook.com) also open a request at https://olcsupport.office.com.", list, at)
	case list == "Barracuda BRBL":
		return fmt.Sprintf("%s: https://www.barracudacentral.org/rbl/removal-request (look up %s first).", list, at)
	case list == "SpamCop":
		return fmt.Sprintf("%s: listings expire by themselves about 24 hours after the last report; check %s at https://www.spamcop.net/bl.shtml.", list, at)
	case list == "UCEPROTECT":
		return fmt.Sprintf("%s: level 1 expires after 7 days without spam; there is no need to pay for express removal. Check %s at https://www.uceprotect.net/en/rblcheck.php.", list, at)
	case list == "SORBS":
		return fmt.Sprintf("%s: SORBS shut down in 2024; a receiver still refusing with it is misconfigured: tell its postmaster.", list)
	case list == "Trend Micro":
		return fmt.Sprintf("%s: check %s and request removal at https://ers.trendmicro.com.", list, at)
	case list == "Gmail":
		return fmt.Sprintf("%s: Gmail has no delisting; its verdict follows what it receives. Register the domain at https://postmaster.google.com, check SPF/DKIM/DMARC, and once the spam has stopped use https://support.google.com/mail/contact/bulk_send_new.", list)
	case list == "Yahoo/AOL":
		return fmt.Sprintf("%s: see https://senders.yahooinc.com and open a sender support request once the spam has stopped.", list)
	case strings.HasPrefix(list, "Cisco"):
		return fmt.Sprintf("%s: check %s at https://talosintelligence.com/reputation_center and file a ticket there.", list, at)
	case list == "Proofpoint":
		return fmt.Sprintf("%s: check %s and request removal at https://ipcheck.proofpoint.com.", list, at)
	}
	return fmt.Sprintf("%s: find the list named in the reply (sample rows above), check %s at https://mxtoolbox.com/blacklists.aspx and use that list's own removal page.", list, at)
}

// listNames are the lists of a group, most refusals first.
func listNames(c *counter) []string { return topValues(c, len(c.m)) }

// topValues are the n most frequent values (ties by value), without counts.
func topValues(c *counter, n int) []string {
	type vc struct {
		v string
		n int64
	}
	var all []vc
	for v, k := range c.m {
		all = append(all, vc{v, *k})
	}
	sortDesc(all, func(x vc) int64 { return x.n }, func(x vc) string { return x.v })
	var out []string
	for i, x := range all {
		if i == n {
			break
		}
		out = append(out, x.v)
	}
	return out
}

func authFinding(k blKey, g *blGroup, v *orgView) Finding {
	f := blBase(k, g)
	f.Severity = SeverityMedium
	senders := topValues(&g.senders, len(g.senders.m))
	var ours, foreign []string
	for _, s := range senders {
		if v.isAccepted(s) {
			ours = append(ours, s)
		} else {
			foreign = append(foreign, s)
		}
	}
	f.Title = fmt.Sprintf("Receivers refused our mail for failed SPF/DKIM/DMARC: %d recipient(s) at %d domain(s)", g.rcpts, len(g.domains.m))
	f.Explanation = fmt.Sprintf("Between %s and %s, remote servers refused %d recipient(s) in %d message(s) because the sender domain's SPF, DKIM or DMARC check failed (%s). Sender domains: %s.",
		stamp(g.span.first), stamp(g.span.last), g.rcpts, g.msgs, strings.Join(listNames(&g.lists), ", "), joinFirst(senders, 5))
	if len(foreign) > 0 {
		f.Explanation += fmt.Sprintf(" %d sender domain(s) are not among the organisation's accepted domains (%s): that is mail sent for someone else through our servers, usually by an open relay or a compromised account.",
			len(foreign), joinFirst(foreign, 3))
	}
	f.Facts = append(f.Facts, g.lists.top("checks failed (refusals)", 5), g.senders.top("sender domains (MAIL FROM, refused recipients)", 10),
		g.domains.top("destination domains (refused recipients)", 10), g.via.top("sent by (server / send connector: refusals)", 10),
		g.texts.top("reply texts", 3))
	f.Cause = "The receiver checked the sender domain and it failed: the SPF record does not include the public IP(s) the Exchange servers send from (after NAT, or a new ISP line or relay service), the mail is not DKIM-signed (Exchange Server does not sign by itself), or the domain publishes DMARC p=reject/quarantine and neither SPF nor DKIM aligns with the From domain. For sender domains that are not yours, the mail is spoofed and was relayed through you."
	f.Fix = []string{
		"For each of your sender domains, publish SPF listing every public IP the servers send from, e.g. \"v=spf1 ip4:<public IP> include:<your relay service> -all\"; check it: Resolve-DnsName -Type TXT '<domain>'.",
		"Sign outbound mail with DKIM (a DKIM transport agent on Exchange, or the smart host / gateway that sends to the Internet) and publish the key in DNS.",
		"Publish DMARC, starting with p=none and a rua= report address, and move to quarantine/reject once the reports show all legitimate mail aligned.",
	}
	for _, s := range firstN(ours, 5) {
		f.Fix = append(f.Fix, fmt.Sprintf("Check %s: Resolve-DnsName -Type TXT %s; Resolve-DnsName -Type TXT %s", s, psq(s), psq("_dmarc."+s)))
	}
	if len(foreign) > 0 {
		f.Fix = append(f.Fix, "For the foreign sender domains: find how the mail entered (anonymous relay, a compromised account) and stop it; see the relay findings.")
	}
	return f
}

func policyFinding(k blKey, g *blGroup) Finding {
	f := blBase(k, g)
	f.Severity = SeverityInfo
	if len(g.domains.m) >= PolicyRejectionDomains {
		f.Severity = SeverityLow
	}
	f.Title = fmt.Sprintf("Unrecognised policy rejections (5.7.x): %d refusal(s) from %d destination domain(s)", g.refusals, len(g.domains.m))
	f.Explanation = fmt.Sprintf("Between %s and %s, remote servers refused our mail %d time(s) with a 5.7.x policy code whose text names no blocklist or reputation service logscan knows (%d recipient(s), %d message(s), %d connection(s)). They are listed apart and not counted as a listing: read the texts.",
		stamp(g.span.first), stamp(g.span.last), g.refusals, g.rcpts, g.msgs, g.conns)
	f.Facts = append(f.Facts, g.texts.top("top reply texts", 5), g.domains.top("destination domains (refused recipients)", 10),
		g.via.top("sent by (server / send connector: refusals)", 10))
	f.Cause = "A 5.7.x code is a policy refusal: a recipient-side rule (blocked sender or domain, content filter, attachment policy), a receiver that only accepts mail from known partners, or a listing worded in a way logscan does not recognise. One receiver's rule is its business; the same refusal from several unrelated receivers is about us."
	f.Fix = []string{
		"Read the reply texts above. If one names a list or a reputation service, check our public IP there (https://mxtoolbox.com/blacklists.aspx) and treat it as a listing.",
		fmt.Sprintf("Find the messages: Get-MessageTrackingLog -Start %s -EventId FAIL -ResultSize Unlimited | ? {$_.RecipientStatus -match '5\\.7\\.'} | ft Timestamp,Sender,Recipients,RecipientStatus",
			psq(g.span.first.UTC().Format("2006-01-02 15:04"))),
		"For a single receiver, ask its postmaster (postmaster@<domain>) with the reply text and the time.",
	}
	return f
}
