package domains

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

func recv(banner, perms string, rcpts ...session.Rcpt) *session.Session {
	return &session.Session{Server: "EX01", LogType: parser.LogTypeReceive, Banner: banner, Permissions: perms,
		Messages: []session.Message{{Rcpts: rcpts}}}
}

func rcpt(domain string, code int, reply string) session.Rcpt {
	return session.Rcpt{Addr: "x@" + domain, Domain: domain, Code: code, Reply: reply}
}

// TestInfer: a domain Exchange accepted from anonymous senders without the
// relay right is accepted, unless it refused it as relay more often; a
// banner's parent domain is accepted unless refused; relaying sessions and
// proxied or send sessions say nothing.
func TestInfer(t *testing.T) {
	e := NewEvidence()
	plain := "SMTPSubmit SMTPAcceptAnySender"
	e.Observe(recv("EX01.contoso.com Microsoft ESMTP MAIL Service ready", plain, rcpt("contoso.com", 250, "250 2.1.5 Recipient OK")))
	e.Observe(recv(" ex01.Fabrikam.NET Microsoft ESMTP", plain, rcpt("fabrikam.net", 550, "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain")))
	e.Observe(recv("", plain+" SMTPAcceptAnyRecipient", rcpt("gmail.com", 250, "250 2.1.5 Recipient OK"))) // relay right: no evidence
	proxied := recv("", plain, rcpt("yahoo.com", 250, "250 2.1.5 Recipient OK"))
	proxied.Proxied = true
	e.Observe(proxied)
	send := recv("", plain, rcpt("outlook.com", 250, "250 OK"))
	send.LogType = parser.LogTypeSend
	e.Observe(send)
	got, banner := e.Infer()
	if !slices.Equal(got, []string{"contoso.com"}) || !slices.Equal(banner, []string{"contoso.com"}) {
		t.Errorf("accepted %q, from banners %q", got, banner)
	}
	if Source(got, banner, "none") == "none" || Source(nil, nil, "none") != "none" {
		t.Error("source")
	}
}

func TestMatchesAndNames(t *testing.T) {
	pats := []string{"contoso.com", "*.contoso.co.uk"}
	for d, want := range map[string]bool{"contoso.com": true, "mail.contoso.com": false, "contoso.co.uk": true, "a.contoso.co.uk": true, "xcontoso.co.uk": false} {
		if Matches(d, pats) != want {
			t.Errorf("Matches(%q) = %v", d, !want)
		}
	}
	if ParentDomain("ex01.contoso.com") != "contoso.com" || ParentDomain("contoso.com") != "contoso.com" {
		t.Error("ParentDomain")
	}
	if BannerFQDN("  EX01.Contoso.com Microsoft") != "ex01.contoso.com" || BannerFQDN("[10.0.0.1] ready") != "" || BannerFQDN("localhost ready") != "" {
		t.Error("BannerFQDN")
	}
}

// TestObserveRepeatedBanner: skipping a banner the previous session had
// (lastBanner) keeps what reading every banner keeps, at every step, also past
// maxBannerNames names per server and with servers interleaved.
func TestObserveRepeatedBanner(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	fast, slow := NewEvidence(), NewEvidence()
	servers := []string{"EX01", "EX02", ""}
	banner := ""
	for range 5000 {
		// The banner and the server change apart, each half the time.
		if rng.IntN(2) == 0 {
			banner = fmt.Sprintf("  Ex%02d.Contoso%d.com Microsoft ESMTP MAIL Service ready", rng.IntN(3), rng.IntN(10))
			switch rng.IntN(10) {
			case 0:
				banner = ""
			case 1:
				banner = "[1.2.3.4] ready"
			}
		}
		s := recv(banner, "SMTPSubmit", rcpt(fmt.Sprintf("d%d.com", rng.IntN(5)), 250, "250 2.1.5 Recipient OK"))
		s.Server = servers[rng.IntN(len(servers))]
		for range 1 + rng.IntN(3) { // a server's sessions come in runs
			fast.Observe(s)
			slow.lastBanner, slow.lastServer = "\x00", "\x00" // never the last: every banner is read
			slow.Observe(s)
			if !reflect.DeepEqual(fast.fqdns, slow.fqdns) || !reflect.DeepEqual(fast.domains, slow.domains) {
				t.Fatalf("after %q on %q: banners %v, reading every one %v", s.Banner, s.Server, fast.fqdns, slow.fqdns)
			}
		}
	}
	if len(fast.fqdns["EX01"]) != maxBannerNames {
		t.Errorf("EX01 kept %d names, want the bound %d: the test misses the bound", len(fast.fqdns["EX01"]), maxBannerNames)
	}
}
