// Package session rebuilds SMTP sessions from the parser's record batches:
// rows keyed by server, log type and session-id, replayed in sequence order,
// commands paired with replies. It knows nothing of detectors; it also
// writes sessions as the sessions table of a dataset (export.go).
package session
