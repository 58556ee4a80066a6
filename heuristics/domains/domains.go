// Package domains decides which domains the organisation accepts when it is
// not told: from what Exchange itself did with recipients in the rebuilt
// sessions and from the servers' 220 banners. The detectors and the client
// inventory both use it, so both answer alike.
package domains

import (
	"maps"
	"slices"
	"strings"

	"github.com/logscan/logscan/heuristics/session"
)

// Evidence is what the sessions say about the organisation's domains.
type Evidence struct {
	domains map[string]*counts
	fqdns   map[string]map[string]struct{} // server -> FQDNs in its 220 banners
	// lastBanner and lastServer are the banner's first word (as logged)
	// and the server of the last session whose banner was read: a
	// server's sessions repeat its banner, and reading it again changes
	// nothing (fqdns changes only here), where it cost a lower-casing
	// copy and two map lookups a session. Copies: sessions are lent.
	lastBanner, lastServer string
}

// counts is how Exchange itself treated recipients in one domain.
type counts struct {
	acceptedPlain int64 // accepted in an anonymous session without the relay right
	refusedRelay  int64 // refused as relay ("Unable to relay")
}

const (
	// MaxDomains bounds the domains counted against spam runs to random
	// domains; accepted domains are few by nature, and a domain already
	// counted is always counted.
	MaxDomains = 100_000
	// maxBannerNames is how many banner names a server keeps: the first by
	// name, whatever the order sessions end in.
	maxBannerNames = 16
	// permAnyRecipient is the relay right in "Set Session Permissions".
	permAnyRecipient = "SMTPAcceptAnyRecipient"
)

// NewEvidence returns empty evidence.
func NewEvidence() *Evidence {
	return &Evidence{domains: map[string]*counts{}, fqdns: map[string]map[string]struct{}{}}
}

// Observe reads one session. Only receive sessions that a Front End did
// not proxy count: they are the ones where this organisation's Exchange
// decided.
func (e *Evidence) Observe(s *session.Session) {
	if !s.IsReceive() || s.Proxied {
		return
	}
	if w := bannerWord(s.Banner); s.Server != "" && (w != e.lastBanner || s.Server != e.lastServer) {
		e.observeBanner(s.Server, w)
		e.lastBanner, e.lastServer = strings.Clone(w), strings.Clone(s.Server)
	}
	// Whether the session may relay is asked only for a session with a
	// recipient accepted: many have none (probes, refusals, no mail).
	plainKnown, plainSession := false, false
	plain := func() bool {
		if !plainKnown {
			plainKnown = true
			plainSession = s.Auth == session.AuthNone && s.Permissions != "" && !s.HasPermission(permAnyRecipient)
		}
		return plainSession
	}
	for i := range s.Messages {
		for _, r := range s.Messages[i].Rcpts {
			if r.Domain == "" {
				continue
			}
			switch {
			case r.Accepted() && plain():
				e.domain(r.Domain, true).acceptedPlain++
			case r.RelayRefused():
				if d := e.domain(r.Domain, len(e.domains) < MaxDomains); d != nil {
					d.refusedRelay++
				}
			}
		}
	}
}

// observeBanner counts the server name in the first word of a server's
// banner.
func (e *Evidence) observeBanner(server, word string) {
	if f := fqdnOf(word); f != "" {
		m := e.fqdns[server]
		if m == nil {
			m = map[string]struct{}{}
			e.fqdns[strings.Clone(server)] = m
		}
		if _, ok := m[f]; !ok {
			if len(m) >= maxBannerNames {
				if last := slices.Max(slices.Collect(maps.Keys(m))); f < last {
					delete(m, last)
				}
			}
			if len(m) < maxBannerNames {
				m[strings.Clone(f)] = struct{}{}
			}
		}
	}
}

func (e *Evidence) domain(d string, create bool) *counts {
	if c := e.domains[d]; c != nil {
		return c
	}
	if !create {
		return nil
	}
	c := &counts{}
	e.domains[strings.Clone(d)] = c
	return c
}

// Infer returns the accepted domains, sorted, and those of them taken from
// the banners: domains Exchange accepted from anonymous senders without the
// relay right more often than it refused them as relay, and the parent
// domain of each banner name unless Exchange refuses it as relay.
func (e *Evidence) Infer() (accepted, fromBanner []string) {
	for d, c := range e.domains {
		if c.acceptedPlain > c.refusedRelay {
			accepted = append(accepted, d)
		}
	}
	for _, fq := range e.fqdns {
		for f := range fq {
			p := ParentDomain(f)
			if c := e.domains[p]; c != nil && c.refusedRelay > c.acceptedPlain {
				continue // Exchange itself refuses it: not accepted, whatever the banner says
			}
			if !slices.Contains(fromBanner, p) {
				fromBanner = append(fromBanner, p)
			}
		}
	}
	slices.Sort(fromBanner)
	accepted = slices.Compact(slices.Sorted(slices.Values(append(accepted, fromBanner...))))
	return accepted, fromBanner
}

// Source says how Infer decided, for the report's "Assumed" section.
func Source(accepted, fromBanner []string, none string) string {
	if len(accepted) == 0 {
		return none
	}
	src := "inferred: domains Exchange accepted RCPT TO for from anonymous senders without relay permission"
	if len(fromBanner) > 0 {
		src += "; parent domain of the server names in the 220 banners (" + strings.Join(fromBanner, ", ") + ")"
	}
	return src
}

// Matches reports whether domain matches an accepted pattern: "contoso.com",
// or "*.contoso.com" for it and its subdomains.
func Matches(domain string, patterns []string) bool {
	for _, p := range patterns {
		if base, ok := strings.CutPrefix(p, "*."); ok {
			if domain == base || strings.HasSuffix(domain, "."+base) {
				return true
			}
		} else if domain == p {
			return true
		}
	}
	return false
}

// ParentDomain turns "ex01.contoso.com" into "contoso.com"; a two-label
// name is its own parent.
func ParentDomain(fqdn string) string {
	if strings.Count(fqdn, ".") <= 1 {
		return fqdn
	}
	_, p, _ := strings.Cut(fqdn, ".")
	return p
}

// BannerFQDN returns the host name in a 220 greeting's text
// ("EX01.contoso.com Microsoft ESMTP MAIL Service ready ..."), lower case,
// when it looks like one; 2013+ logs may put two spaces after the code.
func BannerFQDN(banner string) string { return fqdnOf(bannerWord(banner)) }

// bannerWord is the first word of a 220 greeting's text.
func bannerWord(banner string) string {
	f, _, _ := strings.Cut(strings.TrimLeft(banner, " "), " ")
	return f
}

// fqdnOf is a banner's first word as a host name (BannerFQDN).
func fqdnOf(f string) string {
	if strings.Count(f, ".") < 1 || strings.ContainsAny(f, "[]:@") {
		return ""
	}
	return strings.ToLower(f)
}
