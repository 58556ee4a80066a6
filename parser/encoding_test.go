package parser

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

func utf16Of(s string, bigEndian bool) []byte {
	u := utf16.Encode([]rune("\uFEFF" + s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		if bigEndian {
			binary.BigEndian.PutUint16(b[2*i:], c)
		} else {
			binary.LittleEndian.PutUint16(b[2*i:], c)
		}
	}
	return b
}

// TestUTF16LogIsRead: a log re-saved by a Windows tool as UTF-16 (LE or BE,
// with a BOM) is read and counted like the UTF-8 original; an encoding that
// cannot be read is named in the skip reason.
func TestUTF16LogIsRead(t *testing.T) {
	dir := t.TempDir()
	body := recvLog + "2026-11-02T10:00:01.020Z,EX01\\Default Frontend EX01,08DE000000000001,2,10.20.0.11:25,203.0.113.7:5000,>,\"250 EX01 Hello, caf\u00e9\",\r\n"
	writeFile(t, filepath.Join(dir, "RECV2026110210-1.LOG"), utf16Of(body, false))
	writeFile(t, filepath.Join(dir, "RECV2026110211-1.LOG"), utf16Of(body, true))
	utf32 := []byte{0xFF, 0xFE, 0, 0}
	for _, r := range "#Software: Microsoft Exchange Server\r\n" {
		utf32 = binary.LittleEndian.AppendUint32(utf32, uint32(r))
	}
	writeFile(t, filepath.Join(dir, "RECV2026110212-1.LOG"), utf32)
	got, _ := scanDir(t, dir, false, nil)
	for _, name := range []string{"RECV2026110210-1.LOG", "RECV2026110211-1.LOG"} {
		f := got[name]
		if f.Status != FileParsed || f.Stats.RowsEmitted != 3 || f.Stats.RowsRejected != 0 || f.Stats.Warnings != 0 || f.LogType != LogTypeReceive {
			t.Errorf("%s: %v (%s), %+v, %v", name, f.Status, f.Reason, f.Stats, f.Problems.Warnings)
		}
	}
	if f := got["RECV2026110212-1.LOG"]; f.Status != FileSkipped || !strings.Contains(f.Reason, "UTF-32") {
		t.Errorf("UTF-32 file: %v, reason %q", f.Status, f.Reason)
	}
}

// TestSniffEncoding: marks, and UTF-16 without a mark, are told apart from
// UTF-8 and from a block of NULs a crash left.
func TestSniffEncoding(t *testing.T) {
	le := utf16Of(recvLog, false)[2:] // no BOM
	be := utf16Of(recvLog, true)[2:]
	tests := []struct {
		name, head, enc string
		unreadable      bool
	}{
		{"UTF-8", recvLog, "", false},
		{"UTF-8 BOM", "\xEF\xBB\xBF" + recvLog, "", false},
		{"UTF-16LE BOM", string(utf16Of(recvLog, false)), "UTF-16LE", false},
		{"UTF-16BE BOM", string(utf16Of(recvLog, true)), "UTF-16BE", false},
		{"UTF-16LE no BOM", string(le), "UTF-16LE", false},
		{"UTF-16BE no BOM", string(be), "UTF-16BE", false},
		{"NUL block", strings.Repeat("\x00", 600) + recvLog, "", false},
		{"UTF-32LE", "\xFF\xFE\x00\x00#\x00\x00\x00", "", true},
		{"UTF-32BE", "\x00\x00\xFE\xFF\x00\x00\x00#", "", true},
	}
	for _, tt := range tests {
		enc, _, unreadable := sniffEncoding([]byte(tt.head))
		if enc != tt.enc || (unreadable != "") != tt.unreadable {
			t.Errorf("%s: %q, unreadable %q", tt.name, enc, unreadable)
		}
	}
}
