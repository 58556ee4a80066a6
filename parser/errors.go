package parser

import (
	"errors"
	"fmt"
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
	ErrNULBytes       = errors.New("line holds only NUL bytes")
	ErrFieldsHeader   = errors.New("#Fields header lacks a required field")
	ErrNotProtocolLog = errors.New("not an Exchange SMTP protocol log")

	// Warnings: the row is kept.
	ErrBadEndpoint  = errors.New("endpoint is not ip:port; address stored as null")
	ErrInvalidUTF8  = errors.New("invalid UTF-8 replaced by U+FFFD")
	ErrNoLineEnd    = errors.New("last line has no line end; kept, but it may be incomplete")
	ErrNULStripped  = errors.New("NUL bytes removed from the line (left by a crash or preallocation)")
	ErrUnknownField = errors.New("#Fields names a field logscan does not know; ignored")

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

// DefaultMaxProblems is how many rejections and how many warnings a Reader
// keeps in full; past that it only counts them.
const DefaultMaxProblems = 100

// Problems holds the first rejections and warnings of one stream, and counts
// of all of them by sentinel.
type Problems struct {
	Rejects       []*Error
	Warnings      []*Error
	RejectCounts  map[error]int64
	WarningCounts map[error]int64
	max           int
}

func (p *Problems) add(list *[]*Error, counts *map[error]int64, e *Error, kind error) {
	if *counts == nil {
		*counts = make(map[error]int64)
	}
	(*counts)[kind]++
	if len(*list) < p.max {
		*list = append(*list, e)
	}
}

// full says no more places of kind are kept: more of it are only counted.
func (p *Problems) full(list []*Error, counts map[error]int64, kind error) bool {
	return counts != nil && len(list) >= p.max
}

// Kind returns the sentinel an error wraps, or the error itself. ErrTruncated
// and ErrDamaged come first: they say why the other sentinel happened.
func Kind(err error) error {
	for _, s := range []error{ErrTruncated, ErrDamaged, ErrFieldCount, ErrBareQuote, ErrQuote, ErrLineTooLong,
		ErrBadTimestamp, ErrBadSessionID, ErrBadSequence, ErrBadEvent, ErrNULBytes, ErrFieldsHeader,
		ErrNotProtocolLog, ErrBadEndpoint, ErrInvalidUTF8, ErrNoLineEnd, ErrNULStripped,
		ErrUnknownField} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}
