package exconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrUnknownShape means the input is none of the shapes ReadFile knows.
var ErrUnknownShape = errors.New("not a configuration logscan can read")

// MaxConfigBytes bounds what ReadFile reads: a real organisation's export
// is a few megabytes (Export-Clixml of 5 connectors is 300 KB).
const MaxConfigBytes = 256 << 20

// ReadFile reads an export from a file. See Read.
func ReadFile(name string) (*Config, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxConfigBytes {
		return nil, fmt.Errorf("%s: %d bytes is more than any configuration export (limit %d)", name, st.Size(), MaxConfigBytes)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	c, err := Read(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// Read reads an export in any of the shapes logscan knows, told apart by
// content: the collector's JSON (collect/Get-LogscanConfig.ps1), the JSON
// of Get-ReceiveConnector | ConvertTo-Json, Export-Clixml, or Export-Csv.
// UTF-8 (with or without a BOM) and UTF-16 (LE or BE, with a BOM, or
// without one when every other byte is NUL) are read.
func Read(b []byte) (*Config, error) {
	text, err := decodeText(b)
	if err != nil {
		return nil, err
	}
	t := strings.TrimLeft(text, " \t\r\n")
	var c *Config
	switch {
	case strings.HasPrefix(t, "<"):
		c, err = readClixml(t)
	case strings.HasPrefix(t, "{") || strings.HasPrefix(t, "["):
		c, err = readJSON(t)
	case strings.HasPrefix(t, "#TYPE") || strings.HasPrefix(t, `"`) || strings.HasPrefix(strings.ToLower(t), "identity") || strings.Contains(firstLine(t), ","):
		c, err = readCSV(t)
	default:
		return nil, fmt.Errorf("%w: expected JSON, Clixml (<Objs ...>) or CSV", ErrUnknownShape)
	}
	if err != nil {
		return nil, err
	}
	c.finish()
	return c, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// decodeText turns the bytes into UTF-8 text.
func decodeText(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE, 0, 0}) || bytes.HasPrefix(b, []byte{0, 0, 0xFE, 0xFF}):
		return "", fmt.Errorf("%w: the file is UTF-32; save it as UTF-8 or UTF-16", ErrUnknownShape)
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return utf16Text(b[2:], false), nil
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return utf16Text(b[2:], true), nil
	case len(b) >= 4 && b[0] != 0 && b[1] == 0 && b[3] == 0:
		return utf16Text(b, false), nil
	case len(b) >= 4 && b[0] == 0 && b[1] != 0 && b[2] == 0:
		return utf16Text(b, true), nil
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	}
	return string(b), nil
}

func utf16Text(b []byte, be bool) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		if be {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
	}
	return string(utf16.Decode(u))
}

// readJSON reads the collector's JSON or a ConvertTo-Json of receive
// connectors (one object, an array, or PowerShell 5.1's {"value": [...],
// "Count": n} wrapping).
func readJSON(t string) (*Config, error) {
	v, err := decodeJSON([]byte(t))
	if err != nil {
		return nil, fmt.Errorf("%w: not valid JSON: %v", ErrUnknownShape, err)
	}
	if o, ok := v.(*object); ok {
		if s, ok := o.get("schema"); ok {
			if name, _ := scalar(s); name == CollectorSchema {
				return readCollector(o)
			}
		}
		if inner, ok := o.get("value"); ok {
			if _, isList := inner.([]any); isList {
				v = inner
			}
		}
	}
	var objs []*object
	for _, it := range list(v) {
		if o, ok := it.(*object); ok {
			objs = append(objs, o)
		}
	}
	c := &Config{Source: "ConvertTo-Json"}
	for i, o := range objs {
		if !isReceiveConnector(o) {
			return nil, fmt.Errorf("%w: JSON item %d has neither Bindings nor RemoteIPRanges: not Get-ReceiveConnector output", ErrUnknownShape, i+1)
		}
		c.ReceiveConnectors = append(c.ReceiveConnectors, connectorFrom(o, fmt.Sprintf("item %d", i+1), &c.Notes))
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%w: the JSON holds no objects", ErrUnknownShape)
	}
	return c, nil
}

func isReceiveConnector(o *object) bool {
	_, b := o.get("Bindings")
	_, r := o.get("RemoteIPRanges")
	return b || r
}

// finish fills what the other parts imply and says what is missing.
func (c *Config) finish() {
	if len(c.ReceiveConnectors) == 0 {
		c.Missing = append(c.Missing, "receive connectors: nothing to audit")
	}
	known := false
	for _, rc := range c.ReceiveConnectors {
		known = known || rc.PermissionsKnown
	}
	if !known && len(c.ReceiveConnectors) > 0 {
		c.Missing = append(c.Missing, "AD permissions (Get-ADPermission): who holds ms-Exch-SMTP-Accept-Any-Recipient is not in this export, so anonymous relay rights cannot be checked; collect/Get-LogscanConfig.ps1 gathers them")
	}
	addrs, gws := false, false
	for _, s := range c.Servers {
		addrs = addrs || len(s.Addresses) > 0
		gws = gws || len(s.Gateways) > 0
	}
	if !addrs {
		c.Missing = append(c.Missing, "Exchange servers' addresses: which connector takes another Exchange server's mail is checked only for the servers the logs show (logscan connectors CONFIG PATH...)")
	}
	if !gws {
		c.Missing = append(c.Missing, "default gateways: a connector capturing the gateway's address cannot be checked")
	}
	if len(c.AcceptedDomains) == 0 {
		c.Missing = append(c.Missing, "accepted domains (Get-AcceptedDomain)")
	}
}
