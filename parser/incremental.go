package parser

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"time"
)

// FileState identifies a file and says where its last read stopped, so that
// a nightly run reads only what Exchange appended since. Exchange only ever
// appends to a log; a file whose first bytes changed, or that shrank, was
// replaced (deleted by retention and created again, or rotated) and is read
// from the start.
type FileState struct {
	Size       int64     `json:"size"`
	ModTime    time.Time `json:"mod_time"`
	PrefixLen  int64     `json:"prefix_len"`
	PrefixHash string    `json:"prefix_hash"`     // sha256 of the first PrefixLen bytes
	Whole      bool      `json:"whole,omitempty"` // compressed or archived: read whole, never resumed
	Point      ResumePoint
	// Skipped is why the file was skipped (not a protocol log); while it
	// is unchanged the next run skips it again without reading it.
	Skipped string `json:"skipped,omitempty"`
}

// sameAs says st is the file p describes, unchanged.
func (st *FileState) sameAs(p FileState) bool {
	return p.Size == st.Size && p.PrefixHash == st.PrefixHash && p.ModTime.Equal(st.ModTime)
}

// skippedAgain marks a file skipped by the last run and unchanged since.
func (res *FileResult) skippedAgain(p FileState) {
	res.Status, res.Reason, res.Unchanged = FileSkipped, p.Skipped, true
	s := p
	res.State = &s
}

// prefixBytes is how much of a file's start identifies it: the header
// block, with its #Date, and the first rows.
const prefixBytes = 4096

func prefixHash(r io.ReaderAt, n int64) (string, error) {
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 0); err != nil && err != io.EOF {
		return "", err
	}
	h := sha256.Sum256(buf)
	return hex.EncodeToString(h[:]), nil
}

// incremental decides how an incremental scan reads u: it records the
// file's identity in res.State, positions rc, and returns where to resume
// (nil: from the start), or done when there is nothing new to read.
func (res *FileResult) incremental(u unit, rc io.ReadCloser, prev map[string]FileState) (resume *ResumePoint, done bool) {
	p, seen := prev[u.path]
	if u.entry != nil { // a zip entry: immutable by nature
		st := &FileState{Size: int64(u.entry.UncompressedSize64), ModTime: u.entry.Modified.UTC(), PrefixHash: hex.EncodeToString([]byte{byte(u.entry.CRC32 >> 24), byte(u.entry.CRC32 >> 16), byte(u.entry.CRC32 >> 8), byte(u.entry.CRC32)}), Whole: true}
		res.State = st
		if seen && p.Skipped != "" && p.Size == st.Size && p.PrefixHash == st.PrefixHash {
			res.skippedAgain(p)
			return nil, true
		}
		if seen && p.Whole && p.Size == st.Size && p.PrefixHash == st.PrefixHash {
			res.unchanged(p)
			return nil, true
		}
		return nil, false
	}
	f, ok := rc.(*os.File)
	if !ok {
		return nil, false
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, false
	}
	var magic [6]byte
	n, _ := f.ReadAt(magic[:], 0)
	// Compressed and UTF-16 files are read whole: offsets in what the
	// Reader sees are not offsets in the file.
	enc, _, _ := sniffEncoding(magic[:n])
	whole := bytes.HasPrefix(magic[:n], magicGzip) || bytes.HasPrefix(magic[:n], magicBzip2) || enc != ""
	st := &FileState{Size: fi.Size(), ModTime: fi.ModTime().UTC(), PrefixLen: min(fi.Size(), prefixBytes), Whole: whole}
	if st.PrefixHash, err = prefixHash(f, st.PrefixLen); err != nil {
		return nil, false
	}
	res.State = st
	if !seen {
		return nil, false
	}
	if p.Skipped != "" {
		if st.sameAs(p) {
			res.skippedAgain(p)
			return nil, true
		}
		return nil, false // changed: is it a log now? Read from the start.
	}
	if p.Point.Offset == 0 && p.Point.Pending == 0 {
		return nil, false // nothing was read: read from the start, with detection
	}
	if whole || p.Whole {
		if p.Whole && whole && p.Size == st.Size && p.PrefixHash == st.PrefixHash {
			res.unchanged(p)
			return nil, true
		}
		res.Restarted = "changed since the last run: read whole again"
		return nil, false
	}
	same := fi.Size() >= p.Point.Offset && p.PrefixLen <= fi.Size()
	if same {
		h, err := prefixHash(f, p.PrefixLen)
		same = err == nil && h == p.PrefixHash
	}
	if !same {
		res.Restarted = "replaced or rotated since the last run (its first bytes differ, or it shrank): read from the start"
		return nil, false
	}
	res.Resumed = true
	if fi.Size() == p.Point.Offset+p.Point.Pending && !(u.final && p.Point.Pending > 0) {
		// (A cut last line of a file that has stopped growing is read now
		// and reported as lost, rather than waited for for ever.)
		st.Point = p.Point
		res.unchanged(*st)
		return nil, true
	}
	if _, err := f.Seek(p.Point.Offset, io.SeekStart); err != nil {
		res.Restarted = "could not go to where the last run stopped: read from the start"
		res.Resumed = false
		return nil, false
	}
	return &p.Point, false
}

// unchanged marks a file with nothing new since the last run.
func (res *FileResult) unchanged(p FileState) {
	res.Status, res.Reason, res.Unchanged = FileParsed, "no new lines since the last run", true
	res.LogType = p.Point.LogType
	s := p
	res.State = &s
}
