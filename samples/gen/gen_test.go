package gen

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type memFile struct {
	bytes.Buffer
	files map[string][]byte
	name  string
}

func (m *memFile) Close() error { m.files[m.name] = bytes.Clone(m.Bytes()); return nil }

func generate(t *testing.T, cfg Config) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	if _, err := Generate(cfg, func(p string) (io.WriteCloser, error) { return &memFile{files: files, name: p}, nil }); err != nil {
		t.Fatal(err)
	}
	return files
}

// The committed sample's parameters, as in the Makefile's samples target.
// sampleConfig is what make samples writes to samples/contoso: the
// Makefile's flags, field for field.
var sampleConfig = Config{Scale: 0.1, Seed: 1, LiveTail: true, ConnectivityLogs: true, Auth: true, Compromise: true, Accounts: 25}

// TestCommittedSample: samples/contoso is exactly what `make samples`
// writes, so the sample, the README and the generator cannot drift apart.
func TestCommittedSample(t *testing.T) {
	want := generate(t, sampleConfig)
	root := filepath.Join("..", "contoso")
	seen := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, want[filepath.ToSlash(rel)]) {
			t.Errorf("%s differs from the generator's output: run make samples", rel)
		}
		seen++
		return nil
	})
	if err != nil || seen != len(want) {
		t.Errorf("samples/contoso has %d files, the generator writes %d (%v): run make samples", seen, len(want), err)
	}
}

func TestDeterministic(t *testing.T) {
	a, b := generate(t, Config{Hours: 3, Seed: 9}), generate(t, Config{Hours: 3, Seed: 9})
	if len(a) != len(b) {
		t.Fatal("file sets differ")
	}
	for k := range a {
		if !bytes.Equal(a[k], b[k]) {
			t.Fatalf("%s differs between two runs with one seed", k)
		}
	}
}

func TestTargetBytesAndRollover(t *testing.T) {
	files := generate(t, Config{Hours: 1, TargetBytes: 3 << 20, MaxFileBytes: 256 << 10, Seed: 2})
	var total int
	rolled := false
	for name, b := range files {
		total += len(b)
		if strings.HasSuffix(name, "-2.LOG") {
			rolled = true
			if !bytes.HasPrefix(b, []byte("#Software: Microsoft Exchange Server\r\n")) {
				t.Errorf("%s: a rolled-over file starts without its header", name)
			}
		}
		if len(b) > 256<<10+4096 {
			t.Errorf("%s is %d bytes, past the rollover size", name, len(b))
		}
	}
	if total < 3<<20 || !rolled {
		t.Errorf("wrote %d bytes, rolled over: %v", total, rolled)
	}
}

// TestSampleHoldsWhatItPromises checks the sample has the traffic the
// samples README describes, looking at rows as a detector would.
func TestSampleHoldsWhatItPromises(t *testing.T) {
	files := generate(t, sampleConfig)
	rows := func(dirPart string) []string {
		var out []string
		for name, b := range files {
			if strings.Contains(name, dirPart) {
				out = append(out, strings.Split(string(b), "\r\n")...)
			}
		}
		return out
	}
	count := func(lines []string, all ...string) int {
		n := 0
		for _, l := range lines {
			ok := true
			for _, s := range all {
				ok = ok && strings.Contains(l, s)
			}
			if ok {
				n++
			}
		}
		return n
	}
	ex03fe := rows("EX03/FrontEnd/ProtocolLog/SmtpReceive")
	ehlos := map[string]bool{}
	for _, l := range ex03fe {
		if strings.Contains(l, ",10.20.0.5:") && strings.Contains(l, ",<,EHLO ") {
			ehlos[l[strings.Index(l, ",<,EHLO ")+8:]] = true
		}
	}
	if len(ehlos) < 30 {
		t.Errorf("SNAT: only %d distinct EHLO names behind 10.20.0.5", len(ehlos))
	}
	ex02fe := rows("EX02/FrontEnd/ProtocolLog/SmtpReceive")
	if n := count(ex02fe, "198.51.100.77", "<,RCPT TO:<"); n < 50 {
		t.Errorf("anonymous relay: %d RCPT rows from 198.51.100.77", n)
	}
	if n := count(ex02fe, "Default Frontend EX02", "550 5.7.54 SMTP; Unable to relay"); n == 0 {
		t.Error("no refused relay attempts: a detector must tell refused from accepted")
	}
	// 451 5.7.3 as Exchange writes it: no 451 row anywhere in the protocol
	// logs; EX02's send log shows sessions to EX01:2525 whose EHLO reply
	// lacks X-EXPS, then QUIT, once per queue retry.
	if n := count(rows("ProtocolLog"), "451 5.7.3"); n != 0 {
		t.Errorf("5.7.3: %d protocol log rows carry the 451 text, which Exchange never writes there", n)
	}
	ex02send := rows("EX02/Hub/ProtocolLog/SmtpSend")
	if n := count(ex02send, ",10.20.0.11:2525,<,250-EX01.contoso.com Hello [10.20.0.12] SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES AUTH NTLM 8BITMIME"); n < 3 {
		t.Errorf("5.7.3: %d EHLO replies without X-EXPS in EX02's send log", n)
	}
	relayHub := rows("EX01/Hub/ProtocolLog/SmtpReceive")
	if count(relayHub, `EX01\Relay Hub EX01`, "250-EX01.contoso.com Hello [10.20.0.12]") == 0 ||
		count(relayHub, `EX01\Relay Hub EX01`, "X-EXPS") != 0 {
		t.Error("5.7.3: the custom Hub connector must answer EHLO without X-EXPS")
	}
	if count(rows("Hub/ProtocolLog/SmtpReceive"), "<,XPROXYFROM SID=") == 0 {
		t.Error("no proxied Hub sessions")
	}
	if count(rows("SmtpReceive"), ",CONTOSO\\", ",authenticated") == 0 || count(rows("SmtpReceive"), "<,STARTTLS") == 0 {
		t.Error("no AUTH or TLS sessions")
	}
}

// TestSessionsSpanFiles: some sessions start in one hourly file and end in
// the next, as Exchange writes them.
func TestSessionsSpanFiles(t *testing.T) {
	files := generate(t, Config{Hours: 3, Seed: 4})
	where := map[string]string{}
	spans := 0
	for name, b := range files {
		for _, l := range strings.Split(string(b), "\r\n") {
			f := strings.SplitN(l, ",", 4)
			if len(f) < 4 || strings.HasPrefix(l, "#") {
				continue
			}
			key := filepath.Dir(name) + "|" + f[2]
			if prev, ok := where[key]; ok && prev != name {
				spans++
				where[key] = name
			} else if !ok {
				where[key] = name
			}
		}
	}
	if spans == 0 {
		t.Error("no session spans two files")
	}
}

// TestFailedAttemptsAsExchangeWritesThem: every failed attempt of incident
// 3 is a send-log session whose last EHLO reply lacks X-EXPS followed by
// QUIT, 221 and "-,,Local", and a receive-log session on the custom
// connector; Stats counts them.
func TestFailedAttemptsAsExchangeWritesThem(t *testing.T) {
	files := map[string][]byte{}
	st, err := Generate(Config{Hours: 12, Seed: 3}, func(p string) (io.WriteCloser, error) { return &memFile{files: files, name: p}, nil })
	if err != nil {
		t.Fatal(err)
	}
	// 09:12:47 to 12:00, one every ten minutes and a second or so.
	if st.ExchangeAuthAttempts != 17 {
		t.Errorf("ExchangeAuthAttempts = %d, want 17", st.ExchangeAuthAttempts)
	}
	sessions := map[string][]string{} // EX02 send session id -> its events
	landed := 0
	for name, b := range files {
		for _, l := range strings.Split(string(b), "\r\n") {
			f := strings.SplitN(l, ",", 9)
			if len(f) < 9 {
				continue
			}
			if strings.HasPrefix(name, "EX02/Hub/ProtocolLog/SmtpSend") && f[5] == "10.20.0.11:2525" {
				sessions[f[2]] = append(sessions[f[2]], f[6]+","+f[7]+","+f[8])
			}
			if strings.HasPrefix(name, "EX01/Hub/ProtocolLog/SmtpReceive") && f[1] == `EX01\Relay Hub EX01` && f[6] == "<" && f[7] == "QUIT" {
				landed++
			}
		}
	}
	failed := 0
	for _, ev := range sessions {
		n := len(ev)
		if n >= 4 && strings.HasPrefix(ev[n-4], "<,250-EX01.contoso.com Hello") && !strings.Contains(ev[n-4], "X-EXPS") &&
			ev[n-3] == ">,QUIT," && strings.HasPrefix(ev[n-2], "<,221 ") && ev[n-1] == "-,,Local" {
			failed++
		}
	}
	if failed != st.ExchangeAuthAttempts {
		t.Errorf("%d EX02 send sessions end EHLO reply without X-EXPS, QUIT, 221, -,,Local; want %d", failed, st.ExchangeAuthAttempts)
	}
	if landed != st.ExchangeAuthAttempts {
		t.Errorf("%d sessions QUIT on EX01\\Relay Hub EX01, want %d", landed, st.ExchangeAuthAttempts)
	}
}

// TestConnectivityLogs: with ConnectivityLogs, each server writes an hourly
// Transport connectivity log with the documented header, and every failed
// attempt is there with the queue's 451 4.4.0 / 451 5.7.3 text.
func TestConnectivityLogs(t *testing.T) {
	files := map[string][]byte{}
	st, err := Generate(Config{Hours: 12, Seed: 3, ConnectivityLogs: true}, func(p string) (io.WriteCloser, error) { return &memFile{files: files, name: p}, nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.ConnectivityFiles != 3*12 {
		t.Errorf("%d connectivity files, want 36 (3 servers, 12 hours)", st.ConnectivityFiles)
	}
	retries := 0
	for name, b := range files {
		if !strings.Contains(name, "/Hub/Connectivity/CONNECTLOG") {
			continue
		}
		s := string(b)
		if !strings.HasPrefix(s, "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: Transport Connectivity Log\r\n#Date: ") ||
			!strings.Contains(s, "\r\n#Fields: date-time,session,source,destination,direction,description\r\n") {
			t.Errorf("%s: header %q", name, s[:min(len(s), 200)])
		}
		retries += strings.Count(s, `,-,Messages: 0 Bytes: 0 (Retry : Cannot achieve Exchange Server authentication)`)
	}
	if retries != st.ExchangeAuthAttempts {
		t.Errorf("%d retry rows in the connectivity logs, want %d", retries, st.ExchangeAuthAttempts)
	}
	// Without the option the protocol logs are the same files as before.
	plain := generate(t, Config{Hours: 12, Seed: 3})
	for name, b := range plain {
		if !bytes.Equal(files[name], b) {
			t.Errorf("%s differs when connectivity logs are written", name)
		}
	}
}
