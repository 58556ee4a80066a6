// Package inventory answers "who uses what" from rebuilt sessions: per
// server, connector and client, the names, accounts, TLS, mail and time a
// client used (Inventory); and what the logs cover, per server and log
// type: span, gaps, files cut short, connectors never seen (Coverage).
//
// It reads package session's sessions and the parser's records, and
// nothing of the detectors: it judges no one, it counts. What it keeps is
// bounded per row and in rows, and says where a bound was reached.
package inventory
