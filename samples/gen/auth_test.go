package gen

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sessionRows groups the rows of receive logs by folder and session-id,
// each row cut to its event, data and context fields.
func sessionRows(files map[string][]byte) map[string][]string {
	out := map[string][]string{}
	for name, b := range files {
		if !strings.Contains(name, "SmtpReceive") {
			continue
		}
		for _, l := range strings.Split(string(b), "\r\n") {
			f := strings.SplitN(l, ",", 7)
			if len(f) < 7 || strings.HasPrefix(l, "#") {
				continue
			}
			k := filepath.Dir(name) + "|" + f[2]
			out[k] = append(out[k], f[6])
		}
	}
	return out
}

// realRows returns the event, data and context of rows lo..hi (1-based
// line numbers) of a real excerpt.
func realRows(t *testing.T, name string, lo, hi int) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "parser", "testdata", "realdata", name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	var out []string
	for _, l := range lines[lo-1 : hi] {
		out = append(out, strings.SplitN(l, ",", 7)[6])
	}
	return out
}

// TestAuthRowsAsExchangeWrites: a failed and a successful AUTH LOGIN are
// written row for row as in the real excerpts (the user name and the
// permissions aside).
func TestAuthRowsAsExchangeWrites(t *testing.T) {
	files := generate(t, Config{Hours: 2, Seed: 3, Auth: true})
	failed := realRows(t, "recv-mixed-ipban-fixture-auth-unsuccessful.log", 13, 19) // AUTH LOGIN .. 535
	success := realRows(t, "recv-2016-ipban-fixture-auth-successful.log", 18, 21)   // AUTH login .. authenticated
	var sawFailed, sawSuccess bool
	for _, rows := range sessionRows(files) {
		for i := range rows {
			if i+len(failed) <= len(rows) && strings.HasPrefix(rows[i+4], "*,,User Name: ") {
				got := slices.Clone(rows[i : i+len(failed)])
				got[4] = failed[4]
				sawFailed = sawFailed || slices.Equal(got, failed)
			}
			if i+5 <= len(rows) && rows[i+3] != "" && strings.HasSuffix(rows[i+3], ",authenticated") && strings.HasPrefix(rows[i], "<,AUTH LOGIN") {
				// The excerpt's client wrote "AUTH login"; its permissions are
				// a custom connector's. The order is Exchange's.
				sawSuccess = sawSuccess || (rows[i+1] == success[1] && strings.HasSuffix(rows[i+2], ",Set Session Permissions") &&
					rows[i+4] == ">,235 2.7.0 Authentication successful,")
			}
		}
	}
	if !sawFailed || !sawSuccess {
		t.Errorf("failed login as in the excerpt: %v; successful: %v", sawFailed, sawSuccess)
	}
}

// TestCompromiseTruth: the truth Generate reports is what the files hold,
// and the compromise only adds to the organisation: the population's
// logins are the same with and without it.
func TestCompromiseTruth(t *testing.T) {
	cfg := Config{Hours: 24, Scale: 0.2, Seed: 7, Auth: true, Compromise: true}
	files := map[string][]byte{}
	st, err := Generate(cfg, func(p string) (w io.WriteCloser, err error) { return &memFile{files: files, name: p}, nil })
	if err != nil {
		t.Fatal(err)
	}
	c := st.Auth.Compromise
	if c == nil || st.Auth.Accounts < 200 || st.Auth.RemoteAccounts == 0 || st.Auth.ServiceAccounts != 4 || st.Auth.BruteForceSources == 0 {
		t.Fatalf("stats %+v", st.Auth)
	}
	if len(c.Sources) < 3 || len(c.FailedFirst) != 1 || !slices.Contains(c.Sources, c.FailedFirst[0]) || c.Recipients < 500 ||
		len(c.From) < 2 || !slices.Contains(c.From, c.Account) || !c.First.Before(c.Last) || !c.Refused.After(c.First) {
		t.Fatalf("truth %+v", c)
	}
	// Sessions that logged in as the account from the attacker's
	// addresses, and the names the guessing address tried.
	logins := map[string]int{} // login name -> sessions, all accounts
	attackerSessions, guesses := 0, 0
	for _, rows := range sessionRows(files) {
		for _, r := range rows {
			if name, ok := strings.CutSuffix(strings.TrimPrefix(r, "*,"), ",authenticated"); ok && !strings.HasSuffix(name, "$") {
				logins[name]++
			}
			if r == "*,,User Name: "+c.Account {
				guesses++
			}
		}
	}
	for name, b := range files {
		if !strings.Contains(name, "FrontEnd/ProtocolLog/SmtpReceive") {
			continue
		}
		seen := map[string]bool{}
		for _, l := range strings.Split(string(b), "\r\n") {
			f := strings.SplitN(l, ",", 9)
			if len(f) == 9 && f[6] == "*" && f[7] == c.Account && f[8] == "authenticated" && slices.Contains(c.Sources, strings.Split(f[5], ":")[0]) && !seen[f[2]] {
				seen[f[2]] = true
				attackerSessions++
			}
		}
	}
	if attackerSessions != c.Sessions || guesses != 2 {
		t.Errorf("attacker sessions %d (truth %d), guesses for the account %d (want 2)", attackerSessions, c.Sessions, guesses)
	}
	// Without the compromise: the same logins, less the attacker's.
	plain := Config{Hours: cfg.Hours, Scale: cfg.Scale, Seed: cfg.Seed, Auth: true}
	files2 := map[string][]byte{}
	st2, err := Generate(plain, func(p string) (w io.WriteCloser, err error) { return &memFile{files: files2, name: p}, nil })
	if err != nil || st2.Auth.Compromise != nil {
		t.Fatal(err, st2.Auth.Compromise)
	}
	logins2 := map[string]int{}
	for _, rows := range sessionRows(files2) {
		for _, r := range rows {
			if name, ok := strings.CutSuffix(strings.TrimPrefix(r, "*,"), ",authenticated"); ok && !strings.HasSuffix(name, "$") {
				logins2[name]++
			}
		}
	}
	logins[c.Account] -= c.Sessions
	if logins[c.Account] == 0 {
		delete(logins, c.Account)
	}
	if !mapsEqual(logins, logins2) {
		t.Errorf("the population differs with the compromise (%d vs %d names)", len(logins), len(logins2))
	}
	st.Auth.Compromise, st2.Auth.Compromise = nil, nil
	if st.Auth != st2.Auth {
		t.Errorf("population stats differ: %+v vs %+v", st.Auth, st2.Auth)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
