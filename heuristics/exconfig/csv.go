package exconfig

import (
	"encoding/csv"
	"fmt"
	"strings"
)

// readCSV reads Export-Csv output: an optional "#TYPE ..." line (Windows
// PowerShell writes it unless -NoTypeInformation), a header, one row per
// connector. Export-Csv writes each property's ToString(), so a list
// property holds the values only when the admin joined them
// (@{n='RemoteIPRanges';e={$_.RemoteIPRanges -join ';'}}); a .NET type
// name in its place is reported, not read as a range.
func readCSV(t string) (*Config, error) {
	c := &Config{Source: "Export-Csv"}
	if strings.HasPrefix(t, "#TYPE") {
		_, t, _ = strings.Cut(t, "\n")
	}
	r := csv.NewReader(strings.NewReader(t))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: CSV: %v", ErrUnknownShape, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%w: the CSV has no rows under its header", ErrUnknownShape)
	}
	head := rows[0]
	typeNames := map[string]bool{}
	for i, row := range rows[1:] {
		o := newObject()
		for j, h := range head {
			if j < len(row) {
				o.set(strings.TrimSpace(h), row[j])
			}
		}
		if !isReceiveConnector(o) {
			return nil, fmt.Errorf("%w: the CSV has neither a Bindings nor a RemoteIPRanges column: not Get-ReceiveConnector output", ErrUnknownShape)
		}
		var notes []string
		rc := connectorFrom(o, fmt.Sprintf("row %d", i+2), &notes)
		for _, n := range notes {
			if strings.Contains(n, "type name") {
				field, _, _ := strings.Cut(n[strings.Index(n, ": ")+2:], ":")
				typeNames[field] = true
				continue
			}
			c.Notes = append(c.Notes, n)
		}
		c.ReceiveConnectors = append(c.ReceiveConnectors, rc)
	}
	for _, f := range []string{"Bindings", "RemoteIPRanges", "PermissionGroups", "AuthMechanism"} {
		if typeNames[f] {
			c.Missing = append(c.Missing, fmt.Sprintf("%s: Export-Csv wrote the type name of the list, not its values; export with @{n='%s';e={$_.%s -join ';'}} or use collect/Get-LogscanConfig.ps1", f, f, f))
		}
	}
	return c, nil
}
