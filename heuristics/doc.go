// Package heuristics turns the parser's record batches into what an Exchange
// admin asks about: sessions, per-server and per-connector summaries, and
// (in later files) detectors. It reads typed columns by parser's Col*
// constants, copies the few facts it needs and never keeps a record.
package heuristics
