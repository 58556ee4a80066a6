package parser

import (
	"bytes"
	"fmt"
	"path"
	"strings"
)

// Detection says what the first bytes of a stream are.
type Detection struct {
	LogType LogType // from #Log-type, or LogTypeUnknown
	Empty   bool    // nothing but blank lines, NULs or a BOM
}

// Detect tells from the first bytes of a (decompressed) stream whether it is
// an Exchange SMTP protocol log. Files are recognised by their header: a
// "#Log-type: SMTP Receive/Send Protocol Log" line, or a #Fields line naming
// connector-id, session-id and event. Excerpts without a header (rows pasted
// from a log) are recognised when any line of head is a well-formed row of
// the standard layout: a damaged first line (cut by a forum, or the poster's
// own words) costs that line, not the file. Scan passes the first 64 KiB.
// Anything else returns an error wrapping ErrNotProtocolLog.
func Detect(head []byte) (Detection, error) {
	var d Detection
	head = bytes.TrimPrefix(bytes.TrimLeft(head, "\x00"), bom)
	sawHeader, sawLogType := false, false
	var probe *Reader
	var firstErr error
	for len(head) > 0 {
		line, rest, _ := bytes.Cut(head, []byte("\n"))
		head = rest
		line = bytes.TrimRight(bytes.Trim(line, "\x00"), "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[0] == '#' {
			name, value, _ := bytes.Cut(line[1:], []byte(":"))
			value = bytes.TrimSpace(value)
			switch strings.ToLower(string(bytes.TrimSpace(name))) {
			case "log-type":
				d.LogType = logTypeOf(string(value))
				if d.LogType == LogTypeUnknown {
					return d, fmt.Errorf("%w: #Log-type is %q", ErrNotProtocolLog, clip(value))
				}
				sawHeader, sawLogType = true, true
			case "software":
				if !bytes.Contains(bytes.ToLower(value), []byte("exchange")) {
					return d, fmt.Errorf("%w: #Software is %q", ErrNotProtocolLog, clip(value))
				}
			case "fields":
				if sawLogType {
					// A protocol log by its #Log-type: the Reader says
					// which columns it lacks, and rejects rows it cannot place.
					return d, nil
				}
				v := strings.ToLower(string(value))
				for _, need := range []string{"connector-id", "session-id", "event"} {
					if !strings.Contains(v, need) {
						return d, fmt.Errorf("%w: #Fields lacks %s", ErrNotProtocolLog, need)
					}
				}
				return d, nil
			}
			continue
		}
		if sawHeader {
			return d, nil
		}
		// A headerless excerpt: accept it when one of its lines is a row.
		if probe == nil {
			probe = newReader("probe", WithBatchRows(1))
		}
		_, err := probe.parseRow(line)
		if err == nil {
			return d, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if sawHeader {
		return d, nil
	}
	if firstErr != nil {
		return d, fmt.Errorf("%w (no #Log-type or #Fields header, and no log row in the first %d KiB; the first line: %v)", ErrNotProtocolLog, detectBytes>>10, firstErr)
	}
	d.Empty = true
	return d, nil
}

// detectBytes is how much of a stream Scan gives Detect.
const detectBytes = 64 << 10

// LogTypeFromPath guesses a log's type from where Exchange keeps it: a
// SmtpReceive or SmtpSend folder, or a RECV*/SEND* file name. It is a hint
// for headerless files only; a #Log-type header wins.
func LogTypeFromPath(p string) LogType {
	parts := splitPath(p)
	for i := len(parts) - 1; i >= 0; i-- {
		switch strings.ToLower(parts[i]) {
		case "smtpreceive":
			return LogTypeReceive
		case "smtpsend":
			return LogTypeSend
		}
	}
	if len(parts) > 0 {
		base := strings.ToLower(parts[len(parts)-1])
		switch {
		case strings.HasPrefix(base, "recv"):
			return LogTypeReceive
		case strings.HasPrefix(base, "send"):
			return LogTypeSend
		}
	}
	return LogTypeUnknown
}

// exchangeFolders are the folder names of the log tree between a server's
// name and its log files, in any case: ...\EX01\c$\Program Files\Microsoft\
// Exchange Server\V15\TransportRoles\Logs\FrontEnd\ProtocolLog\SmtpSend.
var exchangeFolders = map[string]bool{
	"smtpsend": true, "smtpreceive": true, "protocollog": true, "frontend": true, "hub": true,
	"edge": true, "mailbox": true, "logs": true, "transportroles": true, "v15": true, "v14": true,
	"v8": true, "v08": true, "exchange server": true, "exchangeserver": true, "microsoft": true,
	"program files": true, "connectivity": true,
}

// ServerFromPath names the server a send log belongs to from its path, for
// send logs whose connector-id has no server prefix: the host of a UNC path
// (\\EX01\c$\...), or the folder just above the Exchange log tree
// (collected/EX01/FrontEnd/ProtocolLog/SmtpSend/SEND...LOG gives EX01).
// It returns "" when the path does not pass through an SmtpSend or
// SmtpReceive folder, rather than guess from an arbitrary folder name.
func ServerFromPath(p string) string {
	if strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, "//") {
		if parts := splitPath(p[2:]); len(parts) > 0 && hostLike(parts[0]) {
			return parts[0]
		}
	}
	parts := splitPath(p)
	if len(parts) < 2 {
		return ""
	}
	parts = parts[:len(parts)-1] // the file
	inTree := false
	for i := len(parts) - 1; i >= 0; i-- {
		name := strings.ToLower(parts[i])
		if name == "smtpsend" || name == "smtpreceive" || name == "connectivity" {
			inTree = true
		}
		if exchangeFolders[name] || isDriveOrShare(name) {
			continue
		}
		if inTree && hostLike(parts[i]) {
			return parts[i]
		}
		return ""
	}
	return ""
}

// splitPath splits on both separators: logs copied off Windows keep
// backslashes in zip entries and in paths typed by users.
func splitPath(p string) []string {
	p = strings.ReplaceAll(p, `\`, "/")
	var out []string
	for _, s := range strings.Split(path.Clean(p), "/") {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}

func isDriveOrShare(s string) bool {
	return len(s) == 2 && (s[1] == ':' || s[1] == '$') && s[0] >= 'a' && s[0] <= 'z'
}

// hostLike accepts NetBIOS and DNS names: letters, digits, '-', '_', '.'.
func hostLike(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
