// Package blocklist classifies the reply a remote SMTP server gave our Exchange
// server (a "<" row of a Send protocol log) and says whether it rejects our
// sending IP or domain because of a DNSBL/RBL listing or the receiver's reputation.
package blocklist

import (
	"bytes"
	"net/netip"
)

// Kind is what a reply says about our sender.
type Kind uint8

const (
	// None: not a blocklist or reputation rejection (or not a 4xx/5xx reply).
	None Kind = iota
	// Blocklist: a named third-party DNSBL/RBL (Spamhaus, SpamCop, ...)
	// lists our IP or domain; delisting happens at that list.
	Blocklist
	// Reputation: the receiving provider's own reputation or spam verdict on
	// our IP or domain (Microsoft, Gmail, Yahoo, Proofpoint, Cisco ...).
	Reputation
	// Authentication: the receiver refused our mail because SPF, DKIM or
	// DMARC failed. The fix is DNS records and signing, not delisting.
	Authentication
	// PolicyUnknown: a 5xx 5.7.x policy rejection the table does not
	// recognise, or recognises as a receiver policy that is not a verdict on
	// our reputation. Group these apart; do not guess.
	PolicyUnknown
)

var kindNames = [...]string{"none", "blocklist", "reputation", "authentication", "policy-unknown"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Match is the classification of one reply.
type Match struct {
	Kind Kind
	// List is the canonical name of the list or provider ("Spamhaus ZEN",
	// "Gmail", "generic DNSBL" ...); empty for None and for an unrecognised
	// PolicyUnknown.
	List string
	// Zone is the DNSBL zone named in the text (lower case), e.g.
	// "zen.spamhaus.org"; empty when the text names none.
	Zone string
	// ListedIP is the IP the text says is listed or refused (ours); the zero
	// Addr when the text gives none. Only set for Blocklist, Reputation and
	// Authentication.
	ListedIP netip.Addr
	// Code, Enhanced and Temporary are filled whenever the reply starts with
	// a 4xx/5xx code, whatever the Kind.
	Code      int    // 421, 450, 550, 554 ...
	Enhanced  string // "5.7.1" etc. when present (a substring of the reply)
	Temporary bool   // 4xx
}

// maxScan bounds the work per reply: only the first maxScan bytes are read.
// Real rejection texts, even Gmail's joined six-line replies, are under 1 KiB.
const maxScan = 4096

// Classify classifies one remote reply, e.g. "554 5.7.1 Service unavailable;
// Client host [198.51.100.10] blocked using zen.spamhaus.org; ...". It reads
// at most maxScan bytes, never panics, and allocates nothing for replies that
// do not match. Multi-line replies joined on one row ("550-5.7.1 ... 550-5.7.1
// ... 550 5.7.1 ...") are read as one text.
func Classify(reply string) Match {
	m, _ := classify(reply)
	return m
}

// classify is Classify that also returns the index of the table row that
// decided, or -1.
func classify(reply string) (m Match, row int) {
	if len(reply) > maxScan {
		reply = reply[:maxScan]
	}
	code, rest, ok := parseCode(reply)
	if !ok {
		return m, -1
	}
	m.Code = code
	m.Temporary = code < 500
	m.Enhanced, rest = parseEnhanced(rest)
	policy := len(m.Enhanced) >= 5 && m.Enhanced[2] == '7' && m.Enhanced[3] == '.'

	// Two buffer sizes: most replies are short, and zeroing 4 KiB per call
	// would cost more than the rest of the work.
	var text []byte
	if len(rest) <= 256 {
		var small [256]byte
		text = normalize(small[:0], rest, reply[:3], m.Enhanced)
	} else {
		var big [maxScan]byte
		text = normalize(big[:0], rest, reply[:3], m.Enhanced)
	}
	found := scan(text)
	if !policy && found.empty() {
		return m, -1 // cheap pre-filter: not x.7.x and no needle of the table
	}

	for i := range table {
		p := &table[i]
		if !p.matches(&found, m.Enhanced) {
			continue
		}
		if p.kind == None || (p.kind == PolicyUnknown && m.Temporary) {
			return m, i
		}
		m.Kind = p.kind
		m.List = p.list
		if p.kind == PolicyUnknown {
			return m, i
		}
		if zone := findZone(text); zone != nil {
			m.Zone, m.List = zoneName(zone, p)
		} else if p.needZone {
			m.Kind, m.List = None, ""
			continue // generic "listed at X" with no zone after it
		}
		m.ListedIP = findIP(text)
		return m, i
	}
	if policy && !m.Temporary {
		m.Kind = PolicyUnknown
	}
	return m, -1
}

// parseCode reads a 4xx/5xx reply code at the start of s (after spaces).
func parseCode(s string) (code int, rest string, ok bool) {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	if len(s) < 3 || (s[0] != '4' && s[0] != '5') || !isDigit(s[1]) || !isDigit(s[2]) {
		return 0, "", false
	}
	if len(s) > 3 && isDigit(s[3]) {
		return 0, "", false
	}
	return int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0'), s[3:], true
}

// parseEnhanced reads an RFC 3463 status ("5.7.1", "#5.7.1") after the code.
func parseEnhanced(s string) (enh, rest string) {
	i := 0
	for i < len(s) && i < 2 && (s[i] == ' ' || s[i] == '-' || s[i] == '#') {
		i++
	}
	j := i
	if j >= len(s) || (s[j] != '2' && s[j] != '4' && s[j] != '5') {
		return "", s
	}
	j++
	for part := 0; part < 2; part++ {
		if j >= len(s) || s[j] != '.' {
			return "", s
		}
		j++
		k := j
		for j < len(s) && j-k < 3 && isDigit(s[j]) {
			j++
		}
		if j == k {
			return "", s
		}
	}
	if j < len(s) && (isDigit(s[j]) || s[j] == '.') {
		return "", s
	}
	return s[i:j], s[j:]
}

// normalize lower-cases s into dst, turns control bytes into spaces, collapses
// runs of spaces, and drops the continuation prefixes of a joined multi-line
// reply ("550-5.7.1 ", "550 5.7.1 ", "421-4.7.0 ") so that phrases broken
// across lines match. dst has capacity maxScan and s is at most that long.
func normalize(dst []byte, s, code, enh string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			c = ' '
		}
		if c == ' ' {
			if len(dst) > 0 && dst[len(dst)-1] != ' ' {
				dst = append(dst, ' ')
			}
			continue
		}
		if len(dst) == 0 || dst[len(dst)-1] == ' ' {
			if n := contPrefix(s[i:], code, enh); n > 0 {
				i += n - 1
				continue
			}
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	for len(dst) > 0 && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	return dst
}

// contPrefix returns the length of a repeated "<code>[- ][<enh>]" or a bare
// "<enh>" (some clients strip the code from continuation lines) at the start
// of s, or 0.
func contPrefix(s, code, enh string) int {
	n := 0
	if len(s) >= 4 && s[:3] == code && (s[3] == '-' || s[3] == ' ') {
		n = 4
	}
	if enh != "" && len(s) >= n+len(enh) && s[n:n+len(enh)] == enh &&
		(len(s) == n+len(enh) || s[n+len(enh)] == ' ' || s[n+len(enh)] < 0x20) {
		n += len(enh)
	}
	return n
}

// findZone returns the first DNSBL zone named after a marker such as
// "blocked using " or "listed at ", or nil.
func findZone(text []byte) []byte {
	best, bestAt := []byte(nil), len(text)+1
	for _, mk := range zoneMarkers {
		at := bytes.Index(text, mk)
		if at < 0 || at >= bestAt {
			continue
		}
		if z := domainAt(text[at+len(mk):]); z != nil {
			best, bestAt = z, at
		}
	}
	return best
}

// domainAt returns the host name that starts b ("zen.spamhaus.org" in
// "zen.spamhaus.org; https://..."), or nil when b does not start with one that
// has at least two labels and a letter in its last label.
func domainAt(b []byte) []byte {
	n := 0
	for n < len(b) && n < 253 && (isAlnum(b[n]) || b[n] == '.' || b[n] == '-') {
		n++
	}
	d := b[:n]
	for len(d) > 0 && (d[len(d)-1] == '.' || d[len(d)-1] == '-') {
		d = d[:len(d)-1]
	}
	dot := bytes.LastIndexByte(d, '.')
	if dot <= 0 || dot == len(d)-1 {
		return nil
	}
	for _, c := range d[dot+1:] {
		if 'a' <= c && c <= 'z' {
			return d
		}
	}
	return nil
}

// zoneName returns the zone as a string and the list name for it: the zone
// table's name when it knows the zone and the pattern is generic or of the
// same family, else the pattern's own name.
func zoneName(zone []byte, p *pattern) (string, string) {
	for i := range zones {
		z := &zones[i]
		if bytes.Equal(zone, z.suffix) || (bytes.HasSuffix(zone, z.suffix) && zone[len(zone)-len(z.suffix)-1] == '.') {
			if p.generic || hasPrefix(z.list, p.list) {
				return string(zone), z.list
			}
			return string(zone), p.list
		}
	}
	if p.generic {
		return string(zone), genericDNSBL
	}
	return string(zone), p.list
}

// findIP returns the first IPv4 or IPv6 address in text that stands as a token
// of its own ("[198.51.100.10]", "ip=198.51.100.10", "from 198.51.100.10"),
// not as part of a host name such as "10.100.51.198.zen.spamhaus.org".
func findIP(text []byte) netip.Addr {
	for i := 0; i < len(text); {
		if !isIPByte(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && isIPByte(text[j]) {
			j++
		}
		tok := text[i:j]
		before := i == 0 || !isWordByte(text[i-1])
		after := j == len(text) || !isWordByte(text[j])
		for len(tok) > 0 && tok[len(tok)-1] == '.' {
			tok = tok[:len(tok)-1] // sentence full stop; "1.2.3.4.zen..." fails after
		}
		if len(tok) >= 7 && len(tok) <= 45 {
			if a, ok := parseIP(tok); ok && before && after {
				return a
			}
			// "rbl:198.51.100.10", "198.51.100.10:25": an IPv4 beside a colon.
			if c := bytes.LastIndexByte(tok, ':'); c >= 0 && after {
				if a, ok := parseIPv4(tok[c+1:]); ok {
					return a
				}
			}
			if c := bytes.IndexByte(tok, ':'); c >= 0 && before {
				if a, ok := parseIPv4(tok[:c]); ok {
					return a
				}
			}
		}
		i = j
	}
	return netip.Addr{}
}

func parseIP(tok []byte) (netip.Addr, bool) {
	colons := bytes.Count(tok, []byte{':'})
	if colons == 0 {
		return parseIPv4(tok)
	}
	if colons < 2 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(tok))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// parseIPv4 parses exactly four dot-separated decimal octets without
// allocating.
func parseIPv4(tok []byte) (netip.Addr, bool) {
	var ip [4]byte
	part, val, digits := 0, 0, 0
	for _, c := range tok {
		switch {
		case isDigit(c):
			if digits > 0 && val == 0 {
				return netip.Addr{}, false // leading zero
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return netip.Addr{}, false
			}
		case c == '.':
			if digits == 0 || part == 3 {
				return netip.Addr{}, false
			}
			ip[part] = byte(val)
			part, val, digits = part+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if part != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	ip[3] = byte(val)
	return netip.AddrFrom4(ip), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'z') }

// isIPByte: bytes an IPv4 or IPv6 literal is made of (text is lower case).
func isIPByte(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'f') || c == '.' || c == ':' }

// isWordByte: bytes that, next to an IP-looking token, make it part of a word
// or host name instead.
func isWordByte(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }
