package parser

import (
	"bytes"
	"fmt"
	"io"
)

// newMappedReader returns a Reader of the mapped file m, whose first window
// is mapped (see mappedFile). The caller unmaps m once the Reader is done
// with: nothing the Reader gives out aliases the mapping (records, problems
// and errors hold copies).
func newMappedReader(m *mappedFile, src string, opts ...Option) *Reader {
	rd := newReader(src, opts...)
	rd.mapped = m
	// Scan's read buffer returns every line that fits in it whole, and
	// rejects with ErrLineTooLong only a line longer than both it and
	// maxLine: so does a mapping, which holds far longer lines whole.
	rd.lineLimit = max(rd.cfg.maxLine, readBufferSize)
	rd.ahead, rd.aheadPos = m.mem, 0
	return rd
}

// readMappedLine is readLine for a mapped file, whose window mapped is
// ahead: a line that runs past the window's end is found in the next
// window, mapped from the line's start, and one longer than a window is
// assembled in r.long.
func (r *Reader) readMappedLine() ([]byte, bool, error) {
	m := r.mapped
	rest := r.ahead[r.aheadPos:]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 && !m.atEnd() {
		if err := r.moveWindow(); err != nil {
			return nil, false, err
		}
		rest = r.ahead
		i = bytes.IndexByte(rest, '\n')
		if i < 0 && !m.atEnd() {
			return r.readLongMappedLine()
		}
	}
	n, err := len(rest), error(io.EOF) // the last line, without a line end
	if i >= 0 {
		n, err = i+1, nil
	}
	r.aheadPos += n
	r.stats.Bytes += int64(n)
	if n > r.lineLimit {
		r.rejectTooLong()
		return nil, false, err
	}
	return rest[:n], err == nil, err
}

// readLongMappedLine reads a line longer than a window, which starts at
// ahead, into r.long, window after window; a line longer than lineLimit is
// skipped without being held.
func (r *Reader) readLongMappedLine() ([]byte, bool, error) {
	r.long = r.long[:0]
	total, tooLong := 0, false
	for {
		rest := r.ahead[r.aheadPos:]
		i := bytes.IndexByte(rest, '\n')
		n := len(rest)
		if i >= 0 {
			n = i + 1
		}
		total += n
		if !tooLong && total > r.lineLimit {
			tooLong = true
			r.long = r.long[:0]
		}
		if !tooLong {
			r.long = append(r.long, rest[:n]...)
		}
		r.aheadPos += n
		r.stats.Bytes += int64(n)
		var err error
		switch {
		case i >= 0:
		case r.mapped.atEnd():
			err = io.EOF
		default:
			err = r.moveWindow()
			if err == nil {
				continue
			}
		}
		if tooLong {
			r.rejectTooLong()
			return nil, false, err
		}
		return r.long, i >= 0, err
	}
}

// rejectTooLong rejects the line just skipped, as readLine does.
func (r *Reader) rejectTooLong() {
	r.lineNo++
	r.stats.Lines++
	r.stats.RowsRead++
	r.reject(0, fmt.Errorf("%w (over %d bytes); skipped", ErrLineTooLong, r.cfg.maxLine))
}

// moveWindow maps the window that starts with the first byte not yet
// taken (ahead[aheadPos]) in place of the one mapped.
func (r *Reader) moveWindow() error {
	m := r.mapped
	at := m.off + int64(len(m.mem)-len(r.ahead)+r.aheadPos)
	r.ahead, r.aheadPos = nil, 0 // the window is unmapped: nothing may alias it
	mem, skip, err := m.mapAt(at)
	if err != nil {
		return err
	}
	r.ahead = mem[skip:]
	return nil
}

// faulted ends a mapped file at a memory fault p, recovered in Next: the
// file shrank while it was read (someone truncated it), and the pages past
// its new end are gone. The rows before are kept, as after a read error,
// and it reports whether they make a record.
//
// The fault came either in finding the next line (the first touch of its
// bytes), with every row before it complete, or, when the file shrank
// between that and parsing the line, in parsing the row counted read at
// lineNo: that row is taken back out of the batch, half added or not, and
// rejected. A warning given to it before the fault stays counted.
func (r *Reader) faulted(p any) bool {
	if _, ok := faultAddr(p); !ok {
		panic(p)
	}
	at := r.lineNo + 1
	if s := &r.stats; s.RowsRead > s.RowsEmitted+s.RowsRejected+s.RowsOutside {
		if r.b.n > 0 && r.b.line[r.b.n-1] == r.lineNo {
			r.b.dropLast()
		}
		r.prevFull = false
		r.reject(0, fmt.Errorf("%w: the file shrank while this line was read", ErrTruncated))
		at = r.lineNo
	}
	r.err = &Error{File: r.src, Line: at, Err: fmt.Errorf("%w: memory fault reading the mapped file (it shrank while it was read); every good row before this line was kept", ErrDamaged)}
	r.done = true
	r.ahead, r.aheadPos = nil, 0
	if r.b.n == 0 {
		return false
	}
	r.cur = r.b.build(r.src)
	r.stats.Batches++
	return true
}

// dropLast takes the last row back out of the batch, which a memory fault
// may have left half added (see Reader.faulted). A dictionary value it
// added stays, unused.
func (b *batch) dropLast() {
	i := b.n - 1
	for k := range b.valid {
		m := &b.valid[k]
		if bit := byte(1) << (i & 7); m.bits[i>>3]&bit == 0 {
			m.bits[i>>3] |= bit
			m.nulls--
		}
	}
	b.data.used = int(b.data.offsets[i])
	b.ctxt.used = int(b.ctxt.offsets[i])
	b.n = i
}
