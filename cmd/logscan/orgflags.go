package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"unicode/utf16"
)

// expandList turns flag values into entries: each value is a comma list, or
// @FILE with one entry per line (# starts a comment). Files written by
// Windows PowerShell's Out-File are UTF-16 with a BOM; those are read too.
func expandList(flag string, values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		if name, ok := strings.CutPrefix(v, "@"); ok {
			b, err := os.ReadFile(name)
			if err != nil {
				return nil, &FlagError{fmt.Errorf("--%s: %w", flag, err)}
			}
			for _, line := range strings.Split(decodeText(b), "\n") {
				line, _, _ = strings.Cut(line, "#")
				out = append(out, splitEntries(line)...)
			}
			continue
		}
		out = append(out, splitEntries(v)...)
	}
	return out, nil
}

func splitEntries(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\r' })
}

// decodeText reads UTF-8 (with or without BOM) or UTF-16 with a BOM.
func decodeText(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return string(b[3:])
	case len(b) >= 2 && (b[0] == 0xFF && b[1] == 0xFE || b[0] == 0xFE && b[1] == 0xFF):
		le := b[0] == 0xFF
		b = b[2:]
		u := make([]uint16, len(b)/2)
		for i := range u {
			if le {
				u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
			} else {
				u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			}
		}
		return string(utf16.Decode(u))
	}
	return string(b)
}
