package parser

import (
	"bufio"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Byte-order marks of the encodings Windows tools write when an admin
// re-saves a log (Notepad's "Unicode" is UTF-16LE, PowerShell 5's
// Out-File default too). UTF-32 is checked first: its LE mark begins with
// UTF-16LE's.
var (
	bomUTF32LE = []byte{0xFF, 0xFE, 0, 0}
	bomUTF32BE = []byte{0, 0, 0xFE, 0xFF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// sniffEncoding looks at the first bytes of a stream. It returns the name of
// a UTF-16 encoding it can read (with a BOM, or without one when every
// other byte is NUL, as in ASCII text saved as UTF-16), or, in unreadable,
// a sentence naming an encoding it cannot read. Both are "" for UTF-8.
func sniffEncoding(head []byte) (utf16 string, bigEndian bool, unreadable string) {
	switch {
	case len(head) >= 4 && [4]byte(head[:4]) == [4]byte(bomUTF32LE), len(head) >= 4 && [4]byte(head[:4]) == [4]byte(bomUTF32BE):
		return "", false, "encoded as UTF-32 (it starts with a UTF-32 byte-order mark), which logscan does not read: save it as UTF-8"
	case len(head) >= 2 && head[0] == bomUTF16LE[0] && head[1] == bomUTF16LE[1]:
		return "UTF-16LE", false, ""
	case len(head) >= 2 && head[0] == bomUTF16BE[0] && head[1] == bomUTF16BE[1]:
		return "UTF-16BE", true, ""
	}
	// No mark: ASCII text in UTF-16 has a NUL in every other byte, and
	// almost none in the others (a NUL block from a crash fills both).
	n := min(len(head), 512) &^ 1
	if n < 16 {
		return "", false, ""
	}
	var even, odd int
	for i := 0; i < n; i += 2 {
		if head[i] == 0 {
			even++
		}
		if head[i+1] == 0 {
			odd++
		}
	}
	half := n / 2
	switch {
	case odd*10 >= half*9 && even*10 <= half:
		return "UTF-16LE", false, ""
	case even*10 >= half*9 && odd*10 <= half:
		return "UTF-16BE", true, ""
	}
	return "", false, ""
}

// decodeUTF16 returns a reader of br transcoded to UTF-8 as it is read; a
// byte-order mark is dropped, unpaired surrogates become U+FFFD (and then
// an invalid-UTF-8-free row: the Reader sees only UTF-8).
func decodeUTF16(br *bufio.Reader, bigEndian bool) *bufio.Reader {
	order := unicode.LittleEndian
	if bigEndian {
		order = unicode.BigEndian
	}
	dec := unicode.UTF16(order, unicode.UseBOM).NewDecoder()
	return bufio.NewReaderSize(transform.NewReader(br, dec), readBufferSize)
}
