package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logscan/logscan/samples/gen"
)

// TestSessionSample pins the transcript of the sample's first relay from
// 198.51.100.77 through EX02\Anonymous Relay EX02, followed to the Front
// End's proxy session and the Hub session, and checks that every row
// printed in JSON is the row in the file at its line.
func TestSessionSample(t *testing.T) {
	root := filepath.Join("..", "..", "samples", "contoso")
	code, out, errOut := runCLI(t, "session", root, "--id", "08DE1A20C43ACBB4", "--server", "EX02")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"3 sessions carry this message, tied by XPROXYFROM SID= (client side first):",
		"1. EX02 receive session 08DE1A20C43ACBB4: client to this server (receive log)   <- asked",
		"connector EX02\\Anonymous Relay EX02 · 198.51.100.77:",
		"<,EHLO User,",
		"relay granted: SMTPAcceptAnyRecipient while anonymous",
		"XPROXYFROM SID=08DE1A20C43ACBB4 IP=198.51.100.77",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	golden(t, filepath.Join("golden", "session-contoso-relay.text"), out)

	code, out, _ = runCLI(t, "session", root, "--id", "08de1a20c43acbb4", "--server", "ex02", "--format", "json")
	var got struct {
		Sessions []struct {
			SessionID string    `json:"session_id"`
			Rows      []jsonRow `json:"rows"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != exitOK || err != nil || len(got.Sessions) != 3 {
		t.Fatalf("exit %d, %v, %d sessions", code, err, len(got.Sessions))
	}
	lines := map[string][]string{}
	for _, s := range got.Sessions {
		for _, r := range s.Rows {
			if lines[r.File] == nil {
				b, err := os.ReadFile(r.File)
				if err != nil {
					t.Fatal(err)
				}
				lines[r.File] = strings.Split(string(b), "\r\n")
			}
			f, err := csv.NewReader(strings.NewReader(lines[r.File][r.Line-1])).Read()
			if err != nil {
				t.Fatal(err)
			}
			printed := []string{r.Time, r.Connector, s.SessionID, itoa(r.Seq), r.Local, r.Remote, r.Event, r.Data, r.Context}
			if strings.Join(printed, "\x00") != strings.Join(f, "\x00") {
				t.Errorf("%s:%d:\n printed %q\n file    %q", r.File, r.Line, printed, f)
			}
		}
	}
}

func itoa(n uint32) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestSessionHostile: escape sequences and bidi overrides from a log are
// printed escaped; an id on two servers asks for the server.
func TestSessionHostile(t *testing.T) {
	code, out, errOut := runCLI(t, "session", "--at", filepath.Join("testdata", "hostile", "ansi-escapes.log")+":6")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.ContainsAny(out, "\x1b\x07\u202e") || !strings.Contains(out, `<,EHLO \x1b]0;owned\a\x1b[2J\u202eevil,`) {
		t.Errorf("hostile EHLO not escaped:\n%s", out)
	}
	code, _, errOut = runCLI(t, "session", filepath.Join("testdata", "hostile", "sessionid-reused.log"), "--id", "08DD000000000003")
	if code != exitError || !strings.Contains(errOut, "session 08DD000000000003 is in 2 logs: EX01 (receive log, first row at ") || !strings.Contains(errOut, "Give --server") {
		t.Errorf("ambiguous id: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCLI(t, "session", filepath.Join("testdata", "hostile", "sessionid-reused.log"), "--id", "08DD000000000003", "--server", "EX09")
	if code != exitError || !strings.Contains(errOut, "no session 08DD000000000003 on EX09") {
		t.Errorf("wrong server: exit %d, %s", code, errOut)
	}
}

// TestCoverageSample: the sample's 12 cut files, its gaps, and the
// connectors EX03 does not log although EX01 and EX02 log theirs.
func TestCoverageSample(t *testing.T) {
	root := filepath.Join("..", "..", "samples", "contoso")
	code, out, errOut := runCLI(t, "coverage", root)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, ": last line cut short"); n != 12 {
		t.Errorf("%d cut files, want the 12 the generator cut", n)
	}
	for _, want := range []string{"EX03\\Default Frontend EX03 (receive; named like the connectors EX01 and EX02 log)",
		"Gaps: silences of more than 1h0m0s", "EX01    FrontEnd  receive  24"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	golden(t, filepath.Join("golden", "coverage-contoso.text"), out)
	code, out, _ = runCLI(t, "coverage", "--format", "json", "--workers", "1", root)
	var got struct {
		Streams []struct {
			Server string `json:"server"`
			Issues []struct {
				Kind string `json:"kind"`
				Line int64  `json:"line"`
			} `json:"files_cut"`
		} `json:"streams"`
		Missing []jsonMissing `json:"connectors_never_seen"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != exitOK || err != nil || len(got.Streams) != 12 || len(got.Missing) != 2 {
		t.Fatalf("exit %d, %v: %+v", code, err, got)
	}
	for _, s := range got.Streams {
		if len(s.Issues) != 1 || s.Issues[0].Kind != "cut" || s.Issues[0].Line == 0 {
			t.Errorf("%s: issues %+v", s.Server, s.Issues)
		}
	}
}

// TestSessionDataset: a dataset made by ingest gives the same transcript
// as the raw logs (its rows name the files by absolute path).
func TestSessionDataset(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", "..", "samples", "contoso"))
	ds := filepath.Join(t.TempDir(), "ds")
	if code, _, errOut := runCLI(t, "ingest", "--out", ds, root); code != exitOK {
		t.Fatalf("ingest: exit %d: %s", code, errOut)
	}
	_, raw, _ := runCLI(t, "session", root, "--id", "08DE1A20C43ACBB4", "--server", "EX02", "--format", "json")
	code, fromDS, errOut := runCLI(t, "session", ds, "--id", "08DE1A20C43ACBB4", "--server", "EX02", "--format", "json")
	if code != exitOK || fromDS != raw || !strings.Contains(raw, `"session_id": "08DE1A3009894603"`) {
		t.Fatalf("exit %d (%s); the dataset's transcript differs from the raw logs'", code, errOut)
	}
	// --at a file that the dataset names, the file itself gone.
	code, out, errOut := runCLI(t, "session", ds, "--no-follow", "--at", filepath.Join(root, "missing", "RECV2026110201-1.LOG")+":6")
	if code != exitError || !strings.Contains(errOut, "no row at") {
		t.Errorf("--at a file nobody names: exit %d %s %s", code, out, errOut)
	}
}

// TestCoverageMissingFile: a deleted hourly file is a gap from the last row
// before it to the first row after it, to the millisecond.
func TestCoverageMissingFile(t *testing.T) {
	dir := t.TempDir()
	genOrg(t, dir, gen.Config{Hours: 6, Scale: 1, Seed: 4})
	folder := filepath.Join(dir, "EX01", "FrontEnd", "ProtocolLog", "SmtpReceive")
	last := func(name string) string { // date-time of the file's last row
		b, _ := os.ReadFile(filepath.Join(folder, name))
		lines := strings.Split(strings.TrimSpace(string(b)), "\r\n")
		return lines[len(lines)-1][:24]
	}
	first := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(folder, name))
		for _, l := range strings.Split(string(b), "\r\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				return l[:24]
			}
		}
		return ""
	}
	from, to := last("RECV2026110202-1.LOG"), first("RECV2026110204-1.LOG")
	if err := os.Remove(filepath.Join(folder, "RECV2026110203-1.LOG")); err != nil {
		t.Fatal(err)
	}
	_, out, _ := runCLI(t, "coverage", dir)
	want := "EX01 FrontEnd receive: no row from " + strings.Replace(from, "T", " ", 1)
	if !strings.Contains(out, want) || !strings.Contains(out, strings.Replace(to, "T", " ", 1)) {
		t.Errorf("output lacks the gap %s to %s:\n%s", from, to, out)
	}
}
