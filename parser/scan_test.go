package parser

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

const recvLog = "#Software: Microsoft Exchange Server\r\n#Version: 15.2.1544.4\r\n#Log-type: SMTP Receive Protocol Log\r\n#Date: 2026-11-02T10:00:00.000Z\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n" +
	"2026-11-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE000000000001,0,10.20.0.11:25,203.0.113.7:5000,+,,\r\n" +
	"2026-11-02T10:00:01.010Z,EX01\\Default Frontend EX01,08DE000000000001,1,10.20.0.11:25,203.0.113.7:5000,<,EHLO a.example,\r\n"

const sendLog = "#Software: Microsoft Exchange Server\r\n#Version: 15.2.1544.4\r\n#Log-type: SMTP Send Protocol Log\r\n#Date: 2026-11-02T10:00:00.000Z\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n" +
	"2026-11-02T10:00:02.000Z,Outbound to Internet,08DE000000000002,0,,198.51.100.1:25,*,,attempting to connect\r\n" +
	"2026-11-02T10:00:02.100Z,Outbound to Internet,08DE000000000002,1,10.20.0.12:40000,198.51.100.1:25,+,,\r\n"

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func zipOf(t *testing.T, files map[string]string) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, body := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(body))
	}
	w.Close()
	return b.Bytes()
}

// TestScanFolder: a folder copied off several servers, with the usual
// strays, just works; every file is accounted for.
func TestScanFolder(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, body []byte) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	damaged := gz(strings.Repeat(recvLog, 200))
	for i := len(damaged) / 2; i < len(damaged)/2+32; i++ {
		damaged[i] ^= 0xFF
	}
	write("EX01/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110210-1.LOG", []byte(recvLog))
	write("EX02/Hub/ProtocolLog/SmtpSend/SEND2026110210-1.LOG.gz", gz(sendLog))
	write("EX03.zip", zipOf(t, map[string]string{`EX03\Hub\ProtocolLog\SmtpSend\SEND2026110210-1.LOG`: sendLog, "readme.txt": "hello"}))
	write("EX01/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110211-1.LOG", nil)
	write("EX01/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110212-1.LOG", []byte("\xEF\xBB\xBF#Software: Microsoft Exchange Server\r\n#Log-type: SMTP Receive Protocol Log\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n"))
	write("notes.txt", []byte("copied from EX01 on Monday\n"))
	write("empty.txt", nil)
	write("old.7z", []byte("7z\xBC\xAF\x27\x1Crest"))
	write("broken.zip", []byte("PK\x03\x04garbage"))
	write("damaged/RECV2026110213-1.LOG.gz", damaged)
	write("excerpt/recv-pasted.log", []byte(strings.Split(recvLog, "\r\n")[5]+"\r\n"))
	write("MessageTracking/MSGTRK2026110210-1.LOG", []byte("#Software: Microsoft Exchange Server\r\n#Version: 15.2.1544.4\r\n#Log-type: Message Tracking Log\r\n#Fields: date-time,client-ip\r\n"))

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var mu sync.Mutex
	servers := map[string]bool{}
	var rows atomic.Int64
	res, err := Scan(context.Background(), []string{dir, filepath.Join(dir, "missing")},
		ScanOptions{Workers: 3, Reader: []Option{WithAllocator(mem)}},
		func(w int, rec arrow.Record) error {
			if w < 0 || w >= 3 {
				t.Errorf("worker %d", w)
			}
			rows.Add(rec.NumRows())
			col := rec.Column(ColServer).(*array.Dictionary)
			mu.Lock()
			for i := range int(rec.NumRows()) {
				s, _ := DictString(col, i)
				servers[s] = true
			}
			mu.Unlock()
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]FileStatus{
		"EX01/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110210-1.LOG":   FileParsed,
		"EX02/Hub/ProtocolLog/SmtpSend/SEND2026110210-1.LOG.gz":        FileParsed,
		`EX03.zip!/EX03\Hub\ProtocolLog\SmtpSend\SEND2026110210-1.LOG`: FileParsed,
		"EX03.zip!/readme.txt": FileSkipped,
		"EX01/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110211-1.LOG": FileEmpty,
		"EX01/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110212-1.LOG": FileEmpty,
		"notes.txt":                              FileSkipped,
		"empty.txt":                              FileSkipped,
		"old.7z":                                 FileSkipped,
		"broken.zip":                             FileFailed,
		"damaged/RECV2026110213-1.LOG.gz":        FileParsed,
		"excerpt/recv-pasted.log":                FileParsed,
		"MessageTracking/MSGTRK2026110210-1.LOG": FileSkipped,
		"missing":                                FileFailed,
	}
	got := map[string]FileResult{}
	for _, f := range res.Files {
		rel, _ := filepath.Rel(dir, f.Path)
		if strings.Contains(f.Path, "!/") {
			rel, _ = filepath.Rel(dir, f.Path[:strings.Index(f.Path, "!/")])
			rel += f.Path[strings.Index(f.Path, "!/"):]
		}
		got[filepath.ToSlash(rel)] = f
	}
	for path, status := range want {
		f, ok := got[path]
		if !ok {
			t.Errorf("%s: not in the result", path)
			continue
		}
		if f.Status != status {
			t.Errorf("%s: %v (%s), want %v", path, f.Status, f.Reason, status)
		}
		if (status == FileSkipped || status == FileFailed) && f.Reason == "" {
			t.Errorf("%s: %v without a reason", path, status)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d results, want %d", len(got), len(want))
	}
	if f := got["old.7z"]; !strings.Contains(f.Reason, "7-Zip") {
		t.Errorf("7z reason %q", f.Reason)
	}
	if f := got["damaged/RECV2026110213-1.LOG.gz"]; f.Err == nil || !errors.Is(f.Err, ErrDamaged) || f.Stats.RowsEmitted == 0 {
		t.Errorf("damaged gzip: err %v, %d rows kept", f.Err, f.Stats.RowsEmitted)
	}
	if f := got["excerpt/recv-pasted.log"]; f.LogType != LogTypeReceive || f.Stats.RowsEmitted != 1 {
		t.Errorf("headerless excerpt: %v, %d rows", f.LogType, f.Stats.RowsEmitted)
	}
	for _, s := range []string{"EX01", "EX02", "EX03"} {
		if !servers[s] {
			t.Errorf("server %s not in the rows (have %v)", s, servers)
		}
	}
	if got := got["EX02/Hub/ProtocolLog/SmtpSend/SEND2026110210-1.LOG.gz"]; got.ServerFrom != "path" || got.LogType != LogTypeSend {
		t.Errorf("send log: server %q from %q, %v", got.Server, got.ServerFrom, got.LogType)
	}
	tot := res.Totals
	if tot.RowsRead != tot.RowsEmitted+tot.RowsRejected || rows.Load() != tot.RowsEmitted {
		t.Errorf("totals do not add up: %+v, handler saw %d", tot, rows.Load())
	}
}

// TestScanServerFlag: --server names the server of send logs wherever they are.
func TestScanServerFlag(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "SEND.LOG"), []byte(sendLog), 0o644)
	var server string
	res, err := Scan(context.Background(), []string{dir}, ScanOptions{Server: "EX09"}, func(_ int, rec arrow.Record) error {
		server, _ = DictString(rec.Column(ColServer).(*array.Dictionary), 0)
		return nil
	})
	if err != nil || server != "EX09" || res.Files[0].ServerFrom != "--server" {
		t.Errorf("server %q from %q, err %v", server, res.Files[0].ServerFrom, err)
	}
}

// TestScanHandlerError stops the scan and returns the handler's error.
func TestScanHandlerError(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.log", "b.log", "c.log"} {
		os.WriteFile(filepath.Join(dir, n), []byte(recvLog), 0o644)
	}
	stop := errors.New("stop")
	_, err := Scan(context.Background(), []string{dir}, ScanOptions{Workers: 1}, func(int, arrow.Record) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("err %v", err)
	}
}

func TestServerFromPath(t *testing.T) {
	tests := []struct{ path, want string }{
		{`collected/EX01/FrontEnd/ProtocolLog/SmtpSend/SEND2026110210-1.LOG`, "EX01"},
		{`\\EX02\c$\Program Files\Microsoft\Exchange Server\V15\TransportRoles\Logs\Hub\ProtocolLog\SmtpSend\SEND.LOG`, "EX02"},
		{`D:\logs\EX03\c$\Program Files\Microsoft\Exchange Server\V15\TransportRoles\Logs\Hub\ProtocolLog\SmtpSend\SEND.LOG`, "EX03"},
		{`EX04.contoso.com/SmtpSend/SEND.LOG`, "EX04.contoso.com"},
		{`a.zip!/EX05\Hub\ProtocolLog\SmtpSend\SEND.LOG`, "EX05"},
		{`/home/me/Downloads/SEND.LOG`, ""},    // no Exchange folder: no guess
		{`SEND.LOG`, ""},                       // nothing to go on
		{`/tmp/My Logs/SmtpSend/SEND.LOG`, ""}, // not a host name
	}
	for _, tt := range tests {
		if got := ServerFromPath(tt.path); got != tt.want {
			t.Errorf("ServerFromPath(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestLogTypeFromPath(t *testing.T) {
	tests := []struct {
		path string
		want LogType
	}{
		{`X\SmtpReceive\a.log`, LogTypeReceive},
		{`X/SmtpSend/a.log`, LogTypeSend},
		{`RECV2026110210-1.LOG`, LogTypeReceive},
		{`send-2016.log`, LogTypeSend},
		{`excerpt.log`, LogTypeUnknown},
	}
	for _, tt := range tests {
		if got := LogTypeFromPath(tt.path); got != tt.want {
			t.Errorf("LogTypeFromPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name, head string
		ok, empty  bool
		logType    LogType
	}{
		{"receive header", recvLog, true, false, LogTypeReceive},
		{"send header", sendLog, true, false, LogTypeSend},
		{"BOM and NULs first", "\x00\x00\xEF\xBB\xBF" + recvLog, true, false, LogTypeReceive},
		{"headerless row", "2026-11-02T10:00:01.000Z,EX\\Default ,0000000000000000,0,x.x.x.x:25,1.2.3.4:5,+,,\r\n", true, false, LogTypeUnknown},
		{"fields only", "#Fields: date-time,connector-id,session-id,sequence-number,event\r\n", true, false, LogTypeUnknown},
		{"empty", "", true, true, LogTypeUnknown},
		{"blank lines", "\r\n\r\n", true, true, LogTypeUnknown},
		{"message tracking", "#Software: Microsoft Exchange Server\r\n#Log-type: Message Tracking Log\r\n", false, false, LogTypeUnknown},
		{"IIS log", "#Software: Microsoft Internet Information Services 10.0\r\n#Fields: date time s-ip\r\n", false, false, LogTypeUnknown},
		{"text", "hello, world\n", false, false, LogTypeUnknown},
		{"csv of something else", "a,b,c,d,e,f,g,h,i\n", false, false, LogTypeUnknown},
		{"a row after a damaged first line", "Here is my log:\r\n2026-11-02T10:00:01.000Z,EX\\Default ,0000000000000000,0,x.x.x.x:25,1.2.3.4:5,+,,\r\n", true, false, LogTypeUnknown},
		{"protocol log whose #Fields lacks session-id", "#Log-type: SMTP Send Protocol Log\r\n#Fields: date-time,connector-id,event\r\n", true, false, LogTypeSend},
		{"no row in many lines", strings.Repeat("hello, world\n", 5000), false, false, LogTypeUnknown},
	}
	for _, tt := range tests {
		d, err := Detect([]byte(tt.head))
		if (err == nil) != tt.ok || d.Empty != tt.empty || (err == nil && d.LogType != tt.logType) {
			t.Errorf("%s: %+v, %v", tt.name, d, err)
		}
		if err != nil && !errors.Is(err, ErrNotProtocolLog) {
			t.Errorf("%s: error %v does not wrap ErrNotProtocolLog", tt.name, err)
		}
	}
}

// TestCopiesReadOnce: a log given twice, copied to another folder, or
// zipped next to its folder is read once; each repeat is skipped with a
// reason that names the file read, and nothing is counted twice.
func TestCopiesReadOnce(t *testing.T) {
	dir := t.TempDir()
	log := []byte("#Software: Microsoft Exchange Server\r\n#Log-type: SMTP Receive Protocol Log\r\n" +
		"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n" +
		"2026-11-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE1A30098945F8,0,10.20.0.11:25,203.0.113.7:50123,+,,\r\n" +
		"2026-11-02T10:00:01.020Z,EX01\\Default Frontend EX01,08DE1A30098945F8,1,10.20.0.11:25,203.0.113.7:50123,-,,Local\r\n")
	other := bytes.Replace(log, []byte("203.0.113.7"), []byte("203.0.113.9"), -1) // same size, other content
	for name, b := range map[string][]byte{"a/RECV2026110210-1.LOG": log, "b/RECV2026110210-1.LOG": log, "c/RECV2026110210-1.LOG": other} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("a/RECV2026110210-1.LOG")
	w.Write(log)
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "a.zip"), zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The folder, the folder again by another spelling, and one file of it.
	res, err := Scan(context.Background(), []string{dir, dir + string(filepath.Separator), filepath.Join(dir, "b", "RECV2026110210-1.LOG")},
		ScanOptions{Workers: 2}, func(int, arrow.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	var parsed, copies int
	for _, f := range res.Files {
		switch {
		case f.Status == FileParsed:
			parsed++
		case f.Status == FileSkipped && IsCopySkip(f.Reason):
			copies++
		default:
			t.Errorf("%s: %v %s", f.Path, f.Status, f.Reason)
		}
	}
	// Read: one of a/, b/ and a.zip's entry (the same content), and c/.
	if parsed != 2 || res.Totals.RowsRead != 4 {
		t.Errorf("%d files parsed, %d rows read; want 2 and 4", parsed, res.Totals.RowsRead)
	}
	if copies != len(res.Files)-2 || copies < 4 {
		t.Errorf("%d copies skipped of %d files", copies, len(res.Files))
	}
}

// TestCopiesOfLargeFilesReadOnce: files of one size larger than the head
// readOnce compares first are copies only when all of their bytes are the
// same: a copy is skipped, a file that differs from it only after the head,
// or only in its head, is read; a zip entry's copy of a file whose head
// no other file shares is skipped too.
func TestCopiesOfLargeFilesReadOnce(t *testing.T) {
	dir := t.TempDir()
	var body strings.Builder
	body.WriteString(recvLog)
	for i := 0; body.Len() < 3*headBytes; i++ {
		fmt.Fprintf(&body, "2026-11-02T10:00:01.010Z,EX01\\Default Frontend EX01,08DE%012X,1,10.20.0.11:25,203.0.113.7:5000,<,EHLO a.example,\r\n", i)
	}
	log := body.String()
	tail := strings.LastIndex(log, "a.example")
	lateChange := log[:tail] + "b" + log[tail+1:]                  // same head, another tail
	earlyChange := strings.Replace(log, "08DE0000", "08DF0000", 1) // another head, same tail
	files := map[string]string{
		"a/RECV2026110210-1.LOG": log, "b/RECV2026110210-1.LOG": log, // b is a's copy
		"c/RECV2026110210-1.LOG": lateChange, "d/RECV2026110210-1.LOG": earlyChange,
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scan := func() map[string]string {
		t.Helper()
		res, err := Scan(context.Background(), []string{dir}, ScanOptions{Workers: 2}, func(int, arrow.Record) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range res.Files {
			rel, _ := filepath.Rel(dir, f.Path)
			got[filepath.ToSlash(rel)] = f.Status.String()
			if f.Status == FileSkipped {
				got[filepath.ToSlash(rel)] += ": " + f.Reason
			}
		}
		return got
	}
	want := map[string]string{
		"a/RECV2026110210-1.LOG": FileParsed.String(),
		"b/RECV2026110210-1.LOG": FileSkipped.String() + ": " + copySameContent + filepath.Join(dir, "a", "RECV2026110210-1.LOG"),
		"c/RECV2026110210-1.LOG": FileParsed.String(),
		"d/RECV2026110210-1.LOG": FileParsed.String(),
	}
	if got := scan(); !maps.Equal(got, want) {
		t.Errorf("files:\n%v\nwant\n%v", got, want)
	}
	// A zip entry of the same size: the plain files are hashed whole.
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("RECV2026110210-1.LOG")
	w.Write([]byte(earlyChange))
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "e.zip"), zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want["e.zip!/RECV2026110210-1.LOG"] = FileSkipped.String() + ": " + copySameContent + filepath.Join(dir, "d", "RECV2026110210-1.LOG")
	if got := scan(); !maps.Equal(got, want) {
		t.Errorf("files:\n%v\nwant\n%v", got, want)
	}
}

// TestScanHandsOutLargestFirst: files go to the workers largest first (ties
// in path order), so that the workers end together on small files; the
// results stay in path order whatever the order of reading.
func TestScanHandsOutLargestFirst(t *testing.T) {
	dir := t.TempDir()
	row := "2026-11-02T10:00:01.010Z,EX01\\Default Frontend EX01,08DE000000000001,1,10.20.0.11:25,203.0.113.7:5000,<,EHLO a.example,\r\n"
	rows := map[string]int{"RECV2026110210-1.LOG": 1, "RECV2026110211-1.LOG": 40, "RECV2026110212-1.LOG": 7, "RECV2026110213-1.LOG": 40, "RECV2026110214-1.LOG": 3}
	for name, n := range rows {
		body := recvLog + strings.Repeat(row, n)
		if name == "RECV2026110213-1.LOG" { // as large as the 11 o'clock log, not a copy of it
			body = strings.ReplaceAll(body, "203.0.113.7", "203.0.113.8")
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var read []string
	res, err := Scan(context.Background(), []string{dir}, ScanOptions{Workers: 1, FileDone: func(f FileResult) {
		read = append(read, filepath.Base(f.Path))
	}}, func(int, arrow.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"RECV2026110211-1.LOG", "RECV2026110213-1.LOG", "RECV2026110212-1.LOG", "RECV2026110214-1.LOG", "RECV2026110210-1.LOG"}
	if strings.Join(read, " ") != strings.Join(want, " ") {
		t.Errorf("read in order %v, want largest first %v", read, want)
	}
	for i, f := range res.Files {
		if i > 0 && f.Path < res.Files[i-1].Path {
			t.Errorf("results not in path order: %s after %s", f.Path, res.Files[i-1].Path)
		}
	}
}
