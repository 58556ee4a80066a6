package parser

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sentinels for errors.Is. Rejections drop one row; warnings keep the row.
var (
	// Rejections.
	ErrFieldCount     = errors.New("wrong number of fields")
	ErrBareQuote      = errors.New(`bare " in non-quoted field`)
	ErrQuote          = errors.New(`extraneous or missing " in quoted field`)
	ErrTruncated      = errors.New("last line cut short (file still being written, or cut while copying)")
	ErrLineTooLong    = errors.New("line too long")
	ErrBadTimestamp   = errors.New("bad date-time")
	ErrBadSessionID   = errors.New("bad session-id (want 1 to 16 hex digits)")
	ErrBadSequence    = errors.New("bad sequence-number")
	ErrBadEvent       = errors.New("bad event (want one of + - < > *)")
	ErrNULBytes       = errors.New("NUL bytes where a row should be (a crash left the file preallocated or half-written)")
	ErrFieldsHeader   = errors.New("#Fields header lacks a required field")
	ErrNotProtocolLog = errors.New("not an Exchange SMTP protocol log")

	// Warnings: the row is kept.
	ErrBadEndpoint  = errors.New("endpoint is not ip:port; address stored as null")
	ErrInvalidUTF8  = errors.New("invalid UTF-8 replaced by U+FFFD")
	ErrNoLineEnd    = errors.New("last line has no line end; kept, but it may be incomplete")
	ErrNULStripped  = errors.New("NUL bytes removed from the line (left by a crash or preallocation)")
	ErrUnknownField = errors.New("#Fields names a field logscan does not know; ignored")
	// A notice at the #Fields line: the analyses that need these columns
	// cannot run on the rows under it (FileResult.MissingColumns).
	ErrMissingColumns = errors.New("#Fields lacks columns the analyses need")

	// Errors that end a file early (I/O); every row before them is kept.
	ErrDamaged = errors.New("input damaged")
)

// Error says where a problem is: file, 1-based line, and 1-based byte column
// (0 when the whole line is at fault). It prints as "file:line:col: msg".
type Error struct {
	File   string
	Line   int64
	Column int
	Err    error
}

func (e *Error) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// DefaultMaxProblems is how many places of each kind of problem a Reader
// keeps in full; past that it only counts them. Counts are always exact.
const DefaultMaxProblems = 100

// Problems holds the first places of each kind of rejection and warning of
// one stream, and exact counts of all of them by kind (the sentinel: see
// Kind). Each kind keeps its own places, so a kind that comes late in a file
// full of another is still shown where it is.
type Problems struct {
	Rejects       []*Error // at most max of each kind, in the order read
	Warnings      []*Error // warnings and notices, at most max of each kind
	RejectCounts  map[error]int64
	WarningCounts map[error]int64
	max           int
}

func (p *Problems) add(list *[]*Error, counts *map[error]int64, e *Error, kind error) {
	if *counts == nil {
		*counts = make(map[error]int64)
	}
	(*counts)[kind]++
	if (*counts)[kind] <= int64(p.max) {
		*list = append(*list, e)
	}
}

// full says no more places of kind are kept: more of it are only counted.
func (p *Problems) full(counts map[error]int64, kind error) bool {
	return counts != nil && counts[kind] >= int64(p.max)
}

// Severity says what a kind of problem cost.
type Severity int8

const (
	Rejected Severity = iota // the row was dropped
	Warning                  // the row was kept; something in it was lost or is doubtful
	Notice                   // about a header line or the file, not a row (e.g. #Fields lacks a column)
)

func (s Severity) String() string {
	return [...]string{"rejected", "warning", "notice"}[s]
}

// SeverityOf says whether a kind (a sentinel, see Kind) rejects a row,
// warns on a kept one, or is a notice about the file.
func SeverityOf(kind error) Severity {
	switch kind {
	case ErrBadEndpoint, ErrInvalidUTF8, ErrNoLineEnd, ErrNULStripped:
		return Warning
	case ErrUnknownField, ErrMissingColumns:
		return Notice
	}
	return Rejected
}

// KindCount is one kind of problem: its exact count and its first places.
type KindCount struct {
	Kind     error // a sentinel (see Kind)
	Severity Severity
	Count    int64
	Files    int      // files it was seen in (1 for one stream)
	First    []*Error // the first places, in the order read
}

// Kinds returns every kind of problem with its exact count and first places:
// rejections, then warnings, then notices; within those the most frequent
// first, then by message, so the order never depends on map order.
func (p *Problems) Kinds() []KindCount {
	var out []KindCount
	for _, c := range []struct {
		counts map[error]int64
		list   []*Error
	}{{p.RejectCounts, p.Rejects}, {p.WarningCounts, p.Warnings}} {
		for k, n := range c.counts {
			kc := KindCount{Kind: k, Severity: SeverityOf(k), Count: n, Files: 1}
			for _, e := range c.list {
				if Kind(e) == k {
					kc.First = append(kc.First, e)
				}
			}
			out = append(out, kc)
		}
	}
	sortKinds(out)
	return out
}

func sortKinds(ks []KindCount) {
	slices.SortFunc(ks, func(a, b KindCount) int {
		return cmp.Or(cmp.Compare(a.Severity, b.Severity), cmp.Compare(b.Count, a.Count), strings.Compare(a.Kind.Error(), b.Kind.Error()))
	})
}

// mergeKinds adds up the kinds of problem of many streams, keeping at most
// max first places of each, in the order of the streams.
func mergeKinds(files []FileResult, max int) []KindCount {
	byKind := map[error]*KindCount{}
	var order []error
	for _, f := range files {
		if f.Problems == nil {
			continue
		}
		for _, k := range f.Problems.Kinds() {
			t := byKind[k.Kind]
			if t == nil {
				t = &KindCount{Kind: k.Kind, Severity: k.Severity}
				byKind[k.Kind] = t
				order = append(order, k.Kind)
			}
			t.Count += k.Count
			t.Files++
			t.First = append(t.First, k.First[:min(len(k.First), max-len(t.First))]...)
		}
	}
	out := make([]KindCount, 0, len(order))
	for _, k := range order {
		out = append(out, *byKind[k])
	}
	sortKinds(out)
	return out
}

// Kind returns the sentinel an error wraps, or the error itself. ErrTruncated,
// ErrDamaged and ErrNULBytes come first: they say why the other sentinel
// happened.
func Kind(err error) error {
	for _, s := range []error{ErrTruncated, ErrDamaged, ErrNULBytes, ErrFieldCount, ErrBareQuote, ErrQuote, ErrLineTooLong,
		ErrBadTimestamp, ErrBadSessionID, ErrBadSequence, ErrBadEvent, ErrFieldsHeader,
		ErrNotProtocolLog, ErrBadEndpoint, ErrInvalidUTF8, ErrNoLineEnd, ErrNULStripped,
		ErrUnknownField, ErrMissingColumns} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}
