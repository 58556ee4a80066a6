// Package parser turns Exchange SMTP protocol logs (Receive and Send, Exchange
// 2007 to 2019) into Apache Arrow record batches of one fixed schema.
// It knows bytes, lines and columns; it knows nothing about sessions or detectors.
//
// A Reader is an array.RecordReader over one stream. Scan walks files and
// directories (plain, .gz, .bz2 and .zip), recognises logs by their content and runs
// one Reader per file on a pool of workers.
//
// Every bad row is rejected whole and reported as an *Error with file and line;
// the counts always satisfy RowsRead == RowsEmitted + RowsRejected + RowsOutside
// (rows left out by WithTimeRange).
package parser
