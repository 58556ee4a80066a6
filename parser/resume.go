package parser

import "bytes"

// ResumePoint is where a Reader stopped in a file that may grow: nightly
// runs read only what was appended since. It holds what the next run needs
// to go on as if it had read the file from the start: the header in force,
// the line count and the log type.
type ResumePoint struct {
	Offset  int64    `json:"offset"`            // bytes of whole lines consumed, from the start of the file
	Line    int64    `json:"line"`              // physical lines consumed
	Header  []string `json:"header,omitempty"`  // the header lines in force (#Version, #Log-type, #Fields)
	LogType LogType  `json:"log_type"`          // what the file turned out to be
	Pending int64    `json:"pending,omitempty"` // bytes of an unfinished last line, left for the next run
}

// WithResume makes the Reader go on from p: its input starts at p.Offset of
// the file, its header state is p's and its line numbers continue p's.
func WithResume(p ResumePoint) Option {
	return func(c *config) { c.resume = &p }
}

// WithHoldTail leaves an unfinished last line (no line end: the writer is
// still on it) unread, for the next run, instead of rejecting it as cut
// short. ResumePoint().Pending says how long it was.
func WithHoldTail() Option { return func(c *config) { c.holdTail = true } }

// withFinal says the file has stopped growing (a newer log is beside it): a
// cut last line will never be finished, and is rejected as lost.
func withFinal() Option { return func(c *config) { c.final = true } }

// withoutMemo makes the Reader split every row as if it were the first
// (splitMemo forgotten before each), each line found by a search of its
// own (no splitNext), and no field taken from the row before: tests compare
// its records with the fast paths', which must be the same.
func withoutMemo() Option { return func(c *config) { c.noMemo = true } }

// ResumePoint says where the next run over the same file should start.
// Call it after Next has returned false.
func (r *Reader) ResumePoint() ResumePoint {
	p := ResumePoint{Offset: r.base + r.stats.Bytes - r.pending, Line: r.lineNo, LogType: r.logType, Pending: r.pending}
	for _, h := range r.hdr {
		if h != "" {
			p.Header = append(p.Header, h)
		}
	}
	return p
}

// header lines worth carrying to the next run, in this order.
var carriedHeaders = [4][]byte{[]byte("#Software:"), []byte("#Version:"), []byte("#Log-type:"), []byte("#Fields:")}

// keepHeader remembers a header line for ResumePoint.
func (r *Reader) keepHeader(line []byte) {
	for i, p := range carriedHeaders {
		if len(line) >= len(p) && bytes.EqualFold(line[:len(p)], p) {
			r.hdr[i] = string(line)
		}
	}
}

// applyResume primes a new Reader with p.
func (r *Reader) applyResume(p *ResumePoint) {
	for _, h := range p.Header {
		r.keepHeader([]byte(h))
		r.header([]byte(h))
	}
	if p.LogType != LogTypeUnknown {
		r.logType = p.LogType
	}
	r.lineNo = p.Line
	r.base = p.Offset
}
