package gen

import (
	"io"
	"strings"
	"testing"
	"time"
)

// rowsOf returns the data rows of the files under dir (a path prefix),
// split into their nine fields (quoted fields unquoted).
func rowsOf(files map[string][]byte, dir string) [][]string {
	var out [][]string
	for name, b := range files {
		if !strings.HasPrefix(name, dir) {
			continue
		}
		for _, l := range strings.Split(string(b), "\r\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			f := strings.SplitN(l, ",", 8)
			if len(f) < 8 {
				continue
			}
			data := f[7]
			if strings.HasPrefix(data, `"`) {
				end := strings.LastIndex(data, `",`)
				data = strings.ReplaceAll(data[1:max(end, 1)], `""`, `"`)
			} else {
				data, _, _ = strings.Cut(data, ",")
			}
			out = append(out, append(f[:7:7], data))
		}
	}
	return out
}

func generateStats(t *testing.T, cfg Config) (map[string][]byte, Stats) {
	t.Helper()
	files := map[string][]byte{}
	st, err := Generate(cfg, func(p string) (io.WriteCloser, error) { return &memFile{files: files, name: p}, nil })
	if err != nil {
		t.Fatal(err)
	}
	return files, st
}

// TestBlacklistingAsExchangeWritesIt: some hours after the Internet first
// relays through EX02, EX02's send log holds the receivers' refusals as
// "<" rows, the multi-line ones joined on one row; Stats counts them.
func TestBlacklistingAsExchangeWritesIt(t *testing.T) {
	files, st := generateStats(t, Config{Hours: 24, Scale: 0.2, Seed: 3})
	bt := st.Incidents.Blocklisting
	if bt.IP != "203.0.113.12" || bt.ListedAt.Sub(bt.FirstRelay) != listedAfterRelay || bt.FirstRelay.Hour() != 1 || !bt.First.Equal(bt.ListedAt) {
		t.Fatalf("listing %+v", bt)
	}
	if st.Incidents.Relays[`EX02\Anonymous Relay EX02`].First != bt.FirstRelay {
		t.Errorf("the listing follows %s, the relay began %s", bt.FirstRelay, st.Incidents.Relays[`EX02\Anonymous Relay EX02`].First)
	}
	want := map[string]string{
		"Spamhaus ZEN":      "554 5.7.1 Service unavailable; Client host [203.0.113.12] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.12",
		"Microsoft (S3150)": "550 5.7.1 Unfortunately, messages from [203.0.113.12] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [",
		"Gmail":             "421-4.7.0 [203.0.113.12      15] Our system has detected an unusual rate of 421-4.7.0 unsolicited mail originating from your IP address. To protect our 421-4.7.0 users from spam, mail sent from your IP address has been temporarily 421-4.7.0 rate limited. Please visit 421-4.7.0  https://support.google.com/mail/?p=UnsolicitedRateLimitError to 421 4.7.0 review our Bulk Email Senders Guidelines. ",
	}
	got := map[string]int{}
	for _, r := range rowsOf(files, "") {
		for list, prefix := range want {
			if !strings.HasPrefix(r[7], prefix) {
				continue
			}
			got[list]++
			at, _ := time.Parse("2006-01-02T15:04:05.000Z", r[0])
			if r[6] != "<" || r[1] != "Outbound to Internet" || !strings.HasPrefix(r[4], "10.20.0.12:") || at.Before(bt.ListedAt) {
				t.Errorf("refusal row %v", r)
			}
		}
	}
	for _, dir := range []string{"EX01/", "EX03/", "EX02/FrontEnd/", "EX02/Hub/ProtocolLog/SmtpReceive/"} {
		for _, r := range rowsOf(files, dir) {
			if strings.Contains(r[7], "203.0.113.12]") && !strings.Contains(r[7], "Hello") {
				t.Errorf("%s: a refusal outside EX02's send log: %v", dir, r)
			}
		}
	}
	total := 0
	for list, n := range got {
		total += n
		if n != bt.Lists[list] || n == 0 {
			t.Errorf("%s: %d rows, Stats says %d", list, n, bt.Lists[list])
		}
	}
	if total != bt.Refusals || bt.Refusals != bt.RecipientsRefused || bt.Permanent+bt.Temporary != bt.Refusals || bt.Temporary != got["Gmail"] {
		t.Errorf("%d refusal rows; Stats %+v", total, bt)
	}
	byHour := 0
	for _, n := range bt.ByHour {
		byHour += n
	}
	if byHour != bt.Refusals {
		t.Errorf("refusals per hour add up to %d, not %d", byHour, bt.Refusals)
	}

	// The clean organisation is not listed.
	clean, cst := generateStats(t, Config{Hours: 24, Scale: 0.2, Seed: 3, Clean: true})
	if cst.Incidents.Blocklisting.Refusals != 0 || len(cst.Incidents.Relays) != 0 {
		t.Errorf("clean: %+v", cst.Incidents)
	}
	for _, r := range rowsOf(clean, "") {
		if strings.Contains(r[7], "spamhaus") || strings.Contains(r[7], "S3150") {
			t.Fatalf("clean: %v", r)
		}
	}
}

// TestBotnet: Config.Botnet sources, each at least once, relay through
// EX02's Default Frontend connector from 14:10 with the relay right, and
// the listing follows them.
func TestBotnet(t *testing.T) {
	files, st := generateStats(t, Config{Hours: 24, Scale: 0.1, Seed: 4, Botnet: 1000})
	rt := st.Incidents.Relays[`EX02\Default Frontend EX02`]
	if rt == nil || rt.Sources != 1000 || rt.Recipients < 3*rt.Sessions || rt.First.Sub(st.Incidents.Blocklisting.FirstRelay) != 0 ||
		rt.First.Before(time.Date(2026, 11, 2, 14, 10, 0, 0, time.UTC)) || rt.Last.Hour() != 23 {
		t.Fatalf("botnet relay %+v", rt)
	}
	if bt := st.Incidents.Blocklisting; bt.ListedAt.Sub(rt.First) != listedAfterRelay {
		t.Errorf("listed at %s, botnet from %s", bt.ListedAt, rt.First)
	}
	ips := map[string]bool{}
	for _, r := range rowsOf(files, "EX02/FrontEnd/ProtocolLog/SmtpReceive/") {
		if r[1] == `EX02\Default Frontend EX02` && r[6] == "*" && r[7] == relayPerms {
			ips[r[5][:strings.LastIndexByte(r[5], ':')]] = true
		}
	}
	if len(ips) != 1000 {
		t.Errorf("%d sources hold the relay right on Default Frontend EX02, want 1000", len(ips))
	}
}

// TestMoreIncidents: the load balancer also fronts EX01, and EX03's mail
// to EX02 fails like EX02's to EX01, each attempt in EX03's send log and
// on EX02\Relay Hub EX02.
func TestMoreIncidents(t *testing.T) {
	files, st := generateStats(t, Config{Hours: 24, Scale: 0.1, Seed: 6, MoreIncidents: true})
	inc := st.Incidents
	if inc.NAT["EX01"] == nil || inc.NAT["EX03"] == nil || inc.NAT["EX01"].Sessions < 24 || inc.Relays[`EX01\Relay LB EX01`] == nil {
		t.Fatalf("NAT %+v, relays %v", inc.NAT, inc.Relays)
	}
	// 15:37:47 to midnight, every ten minutes and a second or so.
	if inc.SecondExchangeAuthAttempts != 51 {
		t.Errorf("second pair: %d attempts, want 51", inc.SecondExchangeAuthAttempts)
	}
	quits := 0
	for _, r := range rowsOf(files, "EX02/Hub/ProtocolLog/SmtpReceive/") {
		if r[1] == `EX02\Relay Hub EX02` && r[6] == "<" && r[7] == "QUIT" {
			quits++
			if !strings.HasPrefix(r[5], "10.20.0.13:") {
				t.Errorf("from %s", r[5])
			}
		}
	}
	if quits != inc.SecondExchangeAuthAttempts {
		t.Errorf("%d sessions QUIT on EX02\\Relay Hub EX02, want %d", quits, inc.SecondExchangeAuthAttempts)
	}
	// After the break, nothing of EX03's reaches EX02's Default connector.
	broken := time.Date(2026, 11, 2, 15, 37, 0, 0, time.UTC)
	for _, r := range rowsOf(files, "EX02/Hub/ProtocolLog/SmtpReceive/") {
		at, _ := time.Parse("2006-01-02T15:04:05.000Z", r[0])
		if r[1] == `EX02\Default EX02` && strings.HasPrefix(r[5], "10.20.0.13:") && at.After(broken) && r[6] == "+" {
			t.Fatalf("EX03 reaches EX02's Default connector after the break: %v", r)
		}
	}
}
