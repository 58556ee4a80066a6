package run

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/logscan/logscan/heuristics/session"
)

// rawRow is one row read straight from a file with encoding/csv, not with
// logscan's parser: the truth the transcripts are held against.
type rawRow struct {
	file   string
	line   int64
	fields []string // date-time .. context, as logged
}

// readRaw reads every complete row of the protocol logs under dir (a last
// line without its line end is what a live writer left, and is not a row;
// connectivity logs, with their own six columns, are not protocol logs).
func readRaw(t *testing.T, dir string) []rawRow {
	t.Helper()
	var out []rawRow
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(filepath.ToSlash(p), "/Connectivity/") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lines := strings.SplitAfter(string(b), "\n")
		for i, l := range lines {
			if !strings.HasSuffix(l, "\n") || strings.HasPrefix(l, "#") {
				continue
			}
			rec, err := csv.NewReader(strings.NewReader(l)).Read()
			if err != nil || len(rec) != 9 {
				t.Fatalf("%s:%d: %v", p, i+1, err)
			}
			out = append(out, rawRow{p, int64(i + 1), rec})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const sample = "../../samples/contoso"

// sessionRows returns the raw rows of session id on the server whose
// folder holds them, in sequence order.
func sessionRows(raw []rawRow, serverDir, id string) []rawRow {
	var out []rawRow
	for _, r := range raw {
		if r.fields[2] == id && strings.Contains(filepath.ToSlash(r.file), "/"+serverDir+"/") {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b rawRow) int {
		x, _ := strconv.Atoi(a.fields[3])
		y, _ := strconv.Atoi(b.fields[3])
		return x - y
	})
	return out
}

// sameRows checks a transcript against the raw rows: every row, in order,
// field for field, at its file and line.
func sameRows(t *testing.T, tr Transcript, raw []rawRow) {
	t.Helper()
	if len(tr.Rows) != len(raw) || len(raw) == 0 {
		t.Fatalf("transcript of %016X has %d rows, the files %d", tr.Session.ID, len(tr.Rows), len(raw))
	}
	for i, r := range tr.Rows {
		w := raw[i]
		got := []string{r.Time.Format("2006-01-02T15:04:05.000Z"), r.Connector, fmt.Sprintf("%016X", tr.Session.ID), strconv.Itoa(int(r.Seq)),
			endpointText(r.Local), endpointText(r.Remote), r.Event, r.Data, r.Context}
		if r.File != w.file || r.Line != w.line || !slices.Equal(got, w.fields) {
			t.Fatalf("row %d:\n got %s:%d %q\nwant %s:%d %q", i, r.File, r.Line, got, w.file, w.line, w.fields)
		}
	}
}

func endpointText(a interface {
	IsValid() bool
	String() string
}) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// firstWith returns the id of the first session in the server's folder
// with a row whose data is data.
func firstWith(t *testing.T, raw []rawRow, serverDir, conn, data string) string {
	t.Helper()
	for _, r := range raw {
		if strings.Contains(filepath.ToSlash(r.file), "/"+serverDir+"/") && r.fields[1] == conn && r.fields[7] == data {
			return r.fields[2]
		}
	}
	t.Fatalf("no %q on %s", data, conn)
	return ""
}

func TestSessionTranscript(t *testing.T) {
	raw := readRaw(t, sample)
	ctx := context.Background()

	t.Run("relay session, followed to the Hub it was proxied to", func(t *testing.T) {
		id := firstWith(t, raw, "EX02", `EX02\Anonymous Relay EX02`, "EHLO User")
		n, _ := strconv.ParseUint(id, 16, 64)
		res, err := Session(ctx, SessionConfig{Paths: []string{sample}, ID: n, OnServer: "ex02", Follow: true, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Chain) != 3 || !res.Chain[0].Asked || res.Chain[0].Session.Connector != `EX02\Anonymous Relay EX02` {
			t.Fatalf("chain = %+v", res.Chain)
		}
		sameRows(t, res.Chain[0], sessionRows(raw, "EX02", id))
		s := res.Chain[0].Session
		if s.Client.String() != "198.51.100.77" || s.Auth != session.AuthNone || !s.HasPermission("SMTPAcceptAnyRecipient") || len(s.Messages) != 1 || !s.Messages[0].Queued {
			t.Errorf("session = %+v", s)
		}
		// The Front End's proxy session and the Hub's session both name it.
		send, hub := res.Chain[1], res.Chain[2]
		if send.Session.IsReceive() || send.Session.Server != "EX02" || !hub.Session.IsReceive() || hub.Session.Server == "" ||
			send.Session.ProxySID != n || hub.Session.ProxySID != n || hub.Session.Client != s.Client {
			t.Fatalf("legs = %+v / %+v", send.Session, hub.Session)
		}
		sameRows(t, send, sessionRows(raw, "EX02", fmt.Sprintf("%016X", send.Session.ID)))
		sameRows(t, hub, sessionRows(raw, hub.Session.Server, fmt.Sprintf("%016X", hub.Session.ID)))

		// And back: asked for the Hub session, the same chain.
		back, err := Session(ctx, SessionConfig{Paths: []string{sample}, ID: hub.Session.ID, OnServer: hub.Session.Server, Follow: true, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(back.Chain) != 3 || !back.Chain[2].Asked || back.Chain[0].Session.ID != n || back.Chain[1].Session.ID != send.Session.ID {
			t.Fatalf("from the Hub: %+v", back.Chain)
		}
		// And by a row, as findings print them.
		at, err := Session(ctx, SessionConfig{Paths: []string{sample}, At: &session.Ref{File: hub.Rows[3].File, Line: hub.Rows[3].Line}, Follow: false})
		if err != nil || len(at.Chain) != 1 || at.Chain[0].Session.ID != hub.Session.ID {
			t.Fatalf("--at: %v %+v", err, at)
		}
	})

	t.Run("a session that spans two files", func(t *testing.T) {
		// The generator starts a session in each hour's last second.
		files := map[string]map[string]bool{}
		for _, r := range raw {
			if strings.Contains(filepath.ToSlash(r.file), "/EX01/FrontEnd/ProtocolLog/SmtpReceive/") {
				if files[r.fields[2]] == nil {
					files[r.fields[2]] = map[string]bool{}
				}
				files[r.fields[2]][r.file] = true
			}
		}
		var id string
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range files {
				if !yield(k) {
					return
				}
			}
		}) {
			if len(files[k]) == 2 {
				id = k
				break
			}
		}
		if id == "" {
			t.Fatal("no session spans two files in the sample")
		}
		n, _ := strconv.ParseUint(id, 16, 64)
		res, err := Session(ctx, SessionConfig{Paths: []string{sample}, ID: n, OnServer: "EX01", Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		tr := res.Chain[0]
		sameRows(t, tr, sessionRows(raw, "EX01", id))
		if tr.Rows[0].File == tr.Rows[len(tr.Rows)-1].File || !tr.Session.Complete {
			t.Errorf("rows from %s to %s, complete %v", tr.Rows[0].File, tr.Rows[len(tr.Rows)-1].File, tr.Session.Complete)
		}
	})
}

func TestSessionNotFoundAndAmbiguous(t *testing.T) {
	dir := t.TempDir()
	hdr := "#Software: Microsoft Exchange Server\r\n#Version: 15.2.1544.4\r\n#Log-type: SMTP Receive Protocol Log\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n"
	for _, sv := range []string{"EX01", "EX02"} {
		p := filepath.Join(dir, sv, "RECV2026110210-1.LOG")
		os.MkdirAll(filepath.Dir(p), 0o755)
		w, _ := os.Create(p)
		b := bufio.NewWriter(w)
		fmt.Fprintf(b, "%s2026-11-02T10:00:00.000Z,%s\\Default Frontend %s,08DD000000000001,0,10.0.0.1:25,203.0.113.1:1,+,,\r\n", hdr, sv, sv)
		fmt.Fprintf(b, "2026-11-02T10:00:01.000Z,%s\\Default Frontend %s,08DD000000000001,1,10.0.0.1:25,203.0.113.1:1,-,,Local\r\n", sv, sv)
		b.Flush()
		w.Close()
	}
	res, err := Session(context.Background(), SessionConfig{Paths: []string{dir}, ID: 0x08DD000000000001, Follow: true})
	if err != nil || len(res.Candidates) != 2 || len(res.Chain) != 0 {
		t.Fatalf("ambiguous id: %v %+v", err, res)
	}
	res, err = Session(context.Background(), SessionConfig{Paths: []string{dir}, ID: 0x08DD000000000001, OnServer: "ex02", Follow: true})
	if err != nil || len(res.Chain) != 1 || res.Chain[0].Session.Server != "EX02" || res.FollowNote != "" {
		t.Fatalf("with the server: %v %+v", err, res)
	}
	var nf *SessionNotFoundError
	if _, err := Session(context.Background(), SessionConfig{Paths: []string{dir}, ID: 7}); !errors.As(err, &nf) {
		t.Fatalf("missing id: %v", err)
	}
	if _, err := Session(context.Background(), SessionConfig{At: &session.Ref{File: filepath.Join(dir, "EX01", "RECV2026110210-1.LOG"), Line: 99}}); !errors.As(err, &nf) {
		t.Fatalf("missing row: %v", err)
	}
}
