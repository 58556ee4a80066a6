package inventory

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/logscan/logscan/parser"
)

// writeLogs writes files under a temporary folder and returns it.
func writeLogs(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rowsAt writes one row per time given (minutes after 2026-11-02 00:00).
func rowsAt(conn string, id int, minutes ...int) string {
	var b strings.Builder
	for i, m := range minutes {
		fmt.Fprintf(&b, "2026-11-02T%02d:%02d:%02d.000Z,%s,%016X,%d,10.0.0.11:25,203.0.113.1:1,*,,x\r\n", m/60, m%60, i%60, conn, id, i)
	}
	return b.String()
}

func coverageOf(t *testing.T, workers int, expected []string, paths ...string) *CoverageResult {
	t.Helper()
	cov := NewCoverage(workers)
	res, err := parser.Scan(context.Background(), paths, parser.ScanOptions{Workers: workers}, func(w int, rec arrow.Record) error {
		cov.Add(w, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cov.Result(res, expected)
}

func TestCoverage(t *testing.T) {
	fe := `EX01\Default Frontend EX01`
	dir := writeLogs(t, map[string]string{
		// EX01: rows at 00:00-00:10, then nothing until 02:30 (a missing
		// file), then 02:30-03:00; the last file cut mid-row.
		"EX01/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110200-1.LOG": recvHeader + rowsAt(fe, 1, 0, 5, 10),
		"EX01/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110202-1.LOG": recvHeader + rowsAt(fe, 2, 150, 170, 180) + "2026-11-02T03:00:59.000Z,EX01\\Def",
		"EX01/Hub/ProtocolLog/SmtpReceive/RECV2026110200-1.LOG":      recvHeader + rowsAt(`EX01\Default EX01`, 3, 1, 59, 61, 119, 121),
		"EX02/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110200-1.LOG": recvHeader + rowsAt(`EX02\Default Frontend EX02`, 4, 0, 1) + rowsAt(`EX02\Client Frontend EX02`, 5, 2),
		"EX03/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110200-1.LOG": recvHeader + rowsAt(`EX03\Default Frontend EX03`, 6, 3) + rowsAt(`EX03\Relay EX03`, 7, 4),
		"EX04/Hub/ProtocolLog/SmtpReceive/RECV2026110200-1.LOG":      recvHeader + rowsAt(`EX04\Default EX04`, 8, 5),
		"EX01/Hub/ProtocolLog/SmtpSend/SEND2026110200-1.LOG":         sendHeader + strings.ReplaceAll(rowsAt("Outbound to Internet", 9, 7), "10.0.0.11:25", ""),
	})
	var want *CoverageResult
	for _, workers := range []int{1, 2, 8} {
		res := coverageOf(t, workers, []string{`EX01\SMTP Relay EX01`, "Outbound to Internet", "Outbound to Partner", `EX09\Default EX09`}, dir)
		if want == nil {
			want = res
		} else if !reflect.DeepEqual(res, want) {
			t.Fatalf("%d workers: a different result", workers)
		}
	}
	var ex01 *Stream
	for i, s := range want.Streams {
		if s.Server == "EX01" && s.Role == "FrontEnd" && s.LogType == "receive" {
			ex01 = &want.Streams[i]
		}
	}
	if ex01 == nil {
		t.Fatalf("streams = %+v", want.Streams)
	}
	at := func(h, m, s int) time.Time { return time.Date(2026, 11, 2, h, m, s, 0, time.UTC) }
	// Gaps are exact: the last row before, the first after. The Hub's log
	// is apart: its rows every hour or so fill no gap of the Front End's,
	// and have none of more than an hour.
	if ex01.Rows != 6 || ex01.Files != 2 || ex01.First != at(0, 0, 0) || ex01.Last != at(3, 0, 2) ||
		!reflect.DeepEqual(ex01.Gaps, []Gap{{at(0, 10, 2), at(2, 30, 0)}}) {
		t.Errorf("EX01 receive = %+v", ex01)
	}
	if len(ex01.Issues) != 1 || ex01.Issues[0].Kind != "cut" || ex01.Issues[0].Line != 8 || !strings.HasSuffix(ex01.Issues[0].File, "RECV2026110202-1.LOG") {
		t.Errorf("EX01 issues = %+v", ex01.Issues)
	}
	var missing []string
	for _, m := range want.Missing {
		missing = append(missing, fmt.Sprintf("%s|%s|%v|%v|%v", m.Server, m.Connector, m.Given, m.LikeOn, m.ServerLogged))
	}
	// Default Frontend is on EX01, EX02, EX03: expected on EX04, which
	// has receive logs; Client Frontend and Relay are on one server each;
	// Default EXnn on two of four, which is half: expected on EX02, EX03.
	wantMissing := []string{
		`|Outbound to Partner|true|[]|true`,
		`EX01|EX01\SMTP Relay EX01|true|[]|true`,
		`EX02|EX02\Default EX02|false|[EX01 EX04]|true`,
		`EX03|EX03\Default EX03|false|[EX01 EX04]|true`,
		`EX04|EX04\Default Frontend EX04|false|[EX01 EX02 EX03]|true`,
		`EX09|EX09\Default EX09|true|[]|false`,
	}
	if !slices.Equal(missing, wantMissing) {
		t.Errorf("missing =\n%s\nwant\n%s", strings.Join(missing, "\n"), strings.Join(wantMissing, "\n"))
	}
	for _, s := range want.Streams {
		if s.Server == "EX01" && s.Role == "Hub" && s.LogType == "receive" && (len(s.Gaps) != 0 || s.Rows != 5) {
			t.Errorf("EX01 Hub receive = %+v", s)
		}
	}
	if RoleOfPath(`\\EX01\c$\Logs\Hub\ProtocolLog\SmtpSend\SEND1.LOG`) != RoleHub || RoleOfPath("a.zip!/EX01/FrontEnd/x.LOG") != RoleFrontEnd || RoleOfPath("RECV.LOG") != RoleUnknown {
		t.Error("RoleOfPath")
	}
	if len(want.Connectors) != 8 {
		t.Errorf("connectors seen = %+v", want.Connectors)
	}
}

func TestNamePattern(t *testing.T) {
	for _, c := range []struct {
		server, conn, want string
		ok                 bool
	}{
		{"EX01", `EX01\Default Frontend EX01`, "\x00\\Default Frontend \x00", true},
		{"EX01", `EX01\Client Proxy ex01`, "\x00\\Client Proxy \x00", true},
		{"EX01", `EX01\Internet`, "", false},
		{"EX01", `EX02\Default EX01`, "", false},
		{"EX01", "Outbound to Internet", "", false},
	} {
		got, ok := namePattern(c.server, c.conn)
		if got != c.want || ok != c.ok {
			t.Errorf("namePattern(%q, %q) = %q, %v", c.server, c.conn, got, ok)
		}
	}
}
