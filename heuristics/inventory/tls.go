package inventory

import (
	"fmt"
	"strings"

	"github.com/logscan/logscan/heuristics/session"
)

// Version is a TLS (or SSL) protocol version, ordered: SSL 3.0 < TLS 1.0 <
// TLS 1.1 < TLS 1.2 < TLS 1.3. The zero value is "unknown".
type Version struct{ Major, Minor uint8 }

// Versions as logscan orders them: SSL majors are 0 so that SSL 3.0 sorts
// below TLS 1.0.
var (
	SSL3  = Version{0, 3}
	TLS10 = Version{1, 0}
	TLS11 = Version{1, 1}
	TLS12 = Version{1, 2}
	TLS13 = Version{1, 3}
)

func (v Version) IsZero() bool { return v == Version{} }

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool {
	return v.Major < o.Major || v.Major == o.Major && v.Minor < o.Minor
}

func (v Version) String() string {
	switch v { // without allocating: it names every session's protocol
	case SSL3:
		return "SSL3"
	case TLS10:
		return "TLS1.0"
	case TLS11:
		return "TLS1.1"
	case TLS12:
		return "TLS1.2"
	case TLS13:
		return "TLS1.3"
	}
	if v.Major == 0 {
		return fmt.Sprintf("SSL%d", v.Minor)
	}
	return fmt.Sprintf("TLS%d.%d", v.Major, v.Minor)
}

// ParseVersion reads "1.2", "TLS1.2", "tls 1.0", "TLS1_1", "TLS1"
// (Exchange 2010's name for 1.0), "SSL3". The session builder's
// TLSProtocol values are of this form. It allocates nothing on success: it
// runs for every session.
func ParseVersion(s string) (Version, error) {
	u := strings.TrimSpace(s)
	ssl := false
	if len(u) >= 3 {
		switch {
		case strings.EqualFold(u[:3], "SSL"):
			ssl, u = true, u[3:]
		case strings.EqualFold(u[:3], "TLS"):
			u = u[3:]
		}
	}
	u = strings.TrimLeft(u, " vV")
	var a, b int
	var sep bool
	ok := u != ""
	for i := 0; i < len(u) && ok; i++ {
		c := u[i]
		switch {
		case c >= '0' && c <= '9' && !sep && i < 2:
			a = a*10 + int(c-'0')
		case (c == '.' || c == '_') && !sep && i > 0 && i < len(u)-1:
			sep = true
		case c >= '0' && c <= '9' && sep && b < 10:
			b = b*10 + int(c-'0')
		default:
			ok = false
		}
	}
	if !ok || ssl && (a < 2 || a > 3 || b != 0) || !ssl && (a != 1 || b > 3) {
		return Version{}, fmt.Errorf("%q is not a TLS version (want 1.0, 1.1, 1.2 or 1.3)", s)
	}
	if ssl {
		return Version{0, uint8(a)}, nil
	}
	return Version{1, uint8(b)}, nil
}

// tlsClass says how one session used TLS.
type tlsClass uint8

const (
	tlsNone           tlsClass = iota // no TLS, no failed attempt
	tlsFailed                         // "TLS negotiation failed", no TLS after
	tlsOld                            // below TLS 1.2
	tlsModern                         // TLS 1.2 or 1.3
	tlsUnknownVersion                 // STARTTLS answered 220, negotiation row not logged
)

func classify(s *session.Session) (tlsClass, Version) {
	switch s.TLSProtocol { // what Exchange 2013+ logs, without parsing
	case "TLS1.2":
		return tlsModern, TLS12
	case "TLS1.3":
		return tlsModern, TLS13
	case "":
		switch {
		case s.TLSFailure != "":
			// STARTTLS may have been answered 220 (s.TLS), but the
			// handshake failed: no TLS.
			return tlsFailed, Version{}
		case s.TLS:
			return tlsUnknownVersion, Version{}
		}
		return tlsNone, Version{}
	}
	v, err := ParseVersion(s.TLSProtocol)
	switch {
	case err != nil:
		return tlsUnknownVersion, Version{}
	case v.Less(TLS12):
		return tlsOld, v
	}
	return tlsModern, v
}
