package parser

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
)

// FileStatus says what Scan did with one file.
type FileStatus int

const (
	FileParsed  FileStatus = iota // read as a protocol log (Err may say it ended early)
	FileEmpty                     // a protocol log file with nothing in it yet
	FileSkipped                   // not a protocol log; Reason says what it is
	FileFailed                    // could not be opened or decompressed at all
)

func (s FileStatus) String() string {
	return [...]string{"parsed", "empty", "skipped", "failed"}[s]
}

// FileResult is what Scan learned from one file or archive entry.
type FileResult struct {
	Path       string // archive entries read "archive.zip!/entry"
	Status     FileStatus
	Reason     string  // why a file was skipped or failed
	LogType    LogType // receive or send
	Version    string  // #Version, when the file has a header
	Server     string  // server given to rows whose connector-id does not name one
	ServerFrom string  // "--server", "path", or "" when unknown
	Stats      Stats
	Problems   *Problems
	Err        error // an I/O error that ended the file early; rows before it were kept
	// MissingColumns names the columns the analyses need that the file's
	// #Fields lacked (e.g. remote-endpoint, data): the analyses that need
	// them could not run on this file. A notice at the #Fields line says so.
	MissingColumns []string
	// Encoding is "UTF-16LE" or "UTF-16BE" for a log re-saved by a Windows
	// tool, read transcoded to UTF-8 (Stats.Bytes counts UTF-8 bytes then);
	// "" for UTF-8.
	Encoding string
	// State is where the next incremental run should go on (Incremental
	// scans only; nil for files that were not read).
	State *FileState
	// Resumed says the file was read from where the last run stopped;
	// Restarted, why it was read from the start although it had been seen.
	Resumed   bool
	Restarted string
	Unchanged bool // incremental: nothing new since the last run, nothing read
	// Connectivity says the file is an Exchange connectivity log
	// (CONNECTLOG*.LOG): its records went to ScanOptions.Connectivity, in
	// ConnectivitySchema, and its Stats are in ScanResult.ConnTotals.
	Connectivity bool
}

// ScanOptions configures Scan.
type ScanOptions struct {
	Workers int    // parallel files; default GOMAXPROCS
	Server  string // server name for send logs; default: from each file's path
	Reader  []Option
	// Incremental reads each plain file from where Previous says its last
	// run stopped, leaves an unfinished last line for the next run, and
	// records every file's FileResult.State. Compressed files and archive
	// entries are read whole once, and skipped while unchanged.
	Incremental bool
	Previous    map[string]FileState
	// Connectivity receives the records of Exchange connectivity logs
	// (CONNECTLOG*.LOG, in ConnectivitySchema), which hold the outbound
	// failures protocol logs do not (451 5.7.3, DNS, TLS, timeouts). Nil:
	// such files are skipped with a notice. Incremental scans skip them
	// too: their rows would be counted again each time a file grows.
	Connectivity Handler
	// FileDone, when set, is called once per file (or archive entry) when
	// it has been read, with its result, on the worker that read it: keep
	// it cheap and safe for concurrent use (progress counters).
	FileDone func(FileResult)
}

// ScanResult is every file's result, in path order, and their totals.
type ScanResult struct {
	Files  []FileResult
	Totals Stats // protocol logs
	// ConnTotals are the connectivity logs' rows, apart: they are not
	// protocol log rows.
	ConnTotals Stats
	// Problems is every kind of problem in all files with its exact count,
	// the number of files it was seen in, and its first DefaultMaxProblems
	// places in path order (see Problems.Kinds for the order of kinds).
	Problems []KindCount
}

// Count returns how many files have status s.
func (r *ScanResult) Count(s FileStatus) int {
	n := 0
	for _, f := range r.Files {
		if f.Status == s {
			n++
		}
	}
	return n
}

// Handler receives each record on the worker goroutine that read it; worker
// is in [0, Workers), so a handler can keep per-worker state without locks.
// The record is released when the handler returns: call Retain to keep it.
type Handler func(worker int, rec arrow.Record) error

// unit is one stream to read: a plain or compressed file, or a zip entry.
type unit struct {
	path  string
	entry *zip.File
	fail  error
	skip  string // not read, and why
	// final: a newer Exchange log of the same kind is in the same folder, so
	// this one has stopped growing and a cut last line will never be finished.
	final bool
}

// Scan reads every file under paths (directories recursively), recognising
// protocol logs by content, and calls handle for each record. Files are read
// in parallel: Exchange rolls logs over at 10 MB, so a log folder is many
// small files and one file per worker keeps every core busy without cutting
// files and losing their header state. Problems with single files go into the
// result; the error is only the handler's or the context's.
func Scan(ctx context.Context, paths []string, opts ScanOptions, handle Handler) (*ScanResult, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	units, closers := discover(paths)
	// Path order, whatever the order of paths: results, problems and the
	// first places of each kind must not depend on how the paths were given.
	slices.SortStableFunc(units, func(a, b unit) int { return cmp.Compare(a.path, b.path) })
	size := readOnce(units)
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	results := make([]FileResult, len(units))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	var cfg config
	for _, o := range opts.Reader {
		o(&cfg)
	}
	for w := range workers {
		// Each worker reads its files with one read buffer and one batch's
		// memory, reused from file to file.
		ws := &workerState{bufs: NewBuffers(cfg.mem), br: bufio.NewReaderSize(nil, readBufferSize)}
		defer ws.bufs.Release()
		wg.Go(func() {
			for i := range next {
				emitTo := func(h Handler) func(rec arrow.Record) error {
					return func(rec arrow.Record) error {
						if err := h(w, rec); err != nil {
							cancel(err)
							return err
						}
						return ctx.Err()
					}
				}
				var conn func(arrow.Record) error
				if opts.Connectivity != nil {
					conn = emitTo(opts.Connectivity)
				}
				results[i] = scanUnit(ctx, units[i], opts, ws, emitTo(handle), conn)
				if opts.FileDone != nil {
					opts.FileDone(results[i])
				}
			}
		})
	}
	// Hand out the largest files first: the workers then end on small
	// files, together, rather than one reading a last 10 MB log while the
	// other waits. Results stay in path order (they are stored by index).
	order := make([]int, len(units))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(size[b], size[a]) })
feed:
	for _, i := range order {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	res := &ScanResult{Files: results}
	for _, f := range results {
		if f.Connectivity {
			res.ConnTotals.Add(f.Stats)
		} else {
			res.Totals.Add(f.Stats)
		}
	}
	res.Problems = mergeKinds(results, DefaultMaxProblems)
	return res, nil
}

var (
	magicZip   = []byte("PK\x03\x04")
	magicZip0  = []byte("PK\x05\x06") // an empty archive
	magicGzip  = []byte{0x1f, 0x8b}
	magicBzip2 = []byte("BZh")
	// Formats we cannot open, named so the notice can say what to do.
	otherMagic = []struct {
		magic []byte
		name  string
	}{
		{[]byte("7z\xBC\xAF\x27\x1C"), "a 7-Zip archive: extract it first"},
		{[]byte("Rar!\x1A\x07"), "a RAR archive: extract it first"},
		{[]byte("\xFD7zXZ\x00"), "an xz file: decompress it first"},
		{[]byte{0x28, 0xB5, 0x2F, 0xFD}, "a zstd file: decompress it first"},
	}
)

// discover expands paths into units in lexical order. Zip archives are
// opened here, so their entries become units of their own.
func discover(paths []string) ([]unit, []io.Closer) {
	var units []unit
	var closers []io.Closer
	add := func(p string) {
		var head [4]byte
		f, err := os.Open(p)
		if err != nil {
			units = append(units, unit{path: p, fail: err})
			return
		}
		n, _ := io.ReadFull(f, head[:])
		f.Close()
		if !bytes.HasPrefix(head[:n], magicZip) && !bytes.HasPrefix(head[:n], magicZip0) {
			units = append(units, unit{path: p})
			return
		}
		z, err := zip.OpenReader(p)
		if err != nil {
			units = append(units, unit{path: p, fail: fmt.Errorf("%w: zip archive unreadable: %v", ErrDamaged, err)})
			return
		}
		closers = append(closers, z)
		for _, e := range z.File {
			if !e.FileInfo().IsDir() {
				units = append(units, unit{path: p + "!/" + e.Name, entry: e})
			}
		}
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			units = append(units, unit{path: p, fail: err})
			continue
		}
		if !info.IsDir() {
			if !info.Mode().IsRegular() {
				// Opening a pipe with no writer would hang for ever.
				units = append(units, unit{path: p, skip: "not a regular file (device, pipe or socket)"})
				continue
			}
			add(p)
			continue
		}
		root := p
		if real, err := filepath.EvalSymlinks(p); err == nil {
			root = real // a PATH that is a link to a folder is read through it
		}
		filepath.WalkDir(root, func(q string, d fs.DirEntry, err error) error {
			if root != p {
				if rel, rerr := filepath.Rel(root, q); rerr == nil {
					q = filepath.Join(p, rel) // name files as the user gave the folder
				}
			}
			switch {
			case err != nil:
				// An unreadable folder or file: say so and go on.
				units = append(units, unit{path: q, fail: err})
			case d.Type().IsRegular():
				add(q)
			case d.Type()&fs.ModeSymlink != 0:
				// Links to files are followed. Links to folders are not:
				// a link back up the tree would loop for ever.
				fi, err := os.Stat(q)
				switch {
				case err != nil:
					units = append(units, unit{path: q, fail: fmt.Errorf("broken or looping symbolic link: %w", err)})
				case fi.IsDir():
					units = append(units, unit{path: q, skip: "symbolic link to a folder, not followed (it could loop); give it as a PATH to read it"})
				case fi.Mode().IsRegular():
					add(q)
				default:
					units = append(units, unit{path: q, skip: "symbolic link to a device, pipe or socket"})
				}
			case !d.IsDir():
				units = append(units, unit{path: q, skip: "not a regular file (device, pipe or socket)"})
			}
			return nil
		})
	}
	markFinal(units)
	return units, closers
}

// The reasons of the files readOnce skips start with these.
const (
	copyGivenTwice  = "given twice: read once, as "
	copySameContent = "a copy (same size and CRC-32) of "
)

// IsCopySkip reports whether a skipped file's reason says it repeats a file
// read (see readOnce).
func IsCopySkip(reason string) bool {
	return strings.HasPrefix(reason, copyGivenTwice) || strings.HasPrefix(reason, copySameContent)
}

// readOnce marks every unit that repeats one before it (in path order) as
// skipped: a path given twice (or inside two paths given), or the same
// content twice — a log copied to two folders, or a .zip next to the
// folder it was made from. Content is the same when the size and the
// CRC-32 of the (uncompressed) bytes are: zip entries carry both; a plain
// file is hashed only when its size equals another unit's. Compressed
// .gz/.bz2 files are compared as the files they are. It returns each
// unit's size (-1 for the units not read), which Scan orders the work by.
func readOnce(units []unit) []int64 {
	type identity struct {
		size int64
		crc  uint32
	}
	seenPath := map[string]string{}
	sizes := map[int64]int{}
	size := make([]int64, len(units))
	for i, u := range units {
		if u.fail != nil || u.skip != "" {
			size[i] = -1
			continue
		}
		key := u.path
		if u.entry == nil {
			if abs, err := filepath.Abs(u.path); err == nil {
				key = abs
			}
		}
		if first, dup := seenPath[key]; dup {
			units[i].skip = copyGivenTwice + first
			size[i] = -1
			continue
		}
		seenPath[key] = u.path
		switch {
		case u.entry != nil:
			size[i] = int64(u.entry.UncompressedSize64)
		default:
			fi, err := os.Stat(u.path)
			if err != nil {
				size[i] = -1
				continue
			}
			size[i] = fi.Size()
		}
		if size[i] > 0 {
			sizes[size[i]]++
		}
	}
	// A plain file is hashed whole only when another unit could have its
	// content: a zip entry of its size (whose first bytes are not at hand),
	// or a plain file of its size with the same first headBytes. Logs of
	// the same size (Exchange rolls them over near 10 MB) almost always
	// differ in their first lines, so most are read here only that far,
	// not twice over.
	type head struct {
		size int64
		crc  uint32
	}
	zipSizes := map[int64]bool{}
	for i, u := range units {
		if u.entry != nil && size[i] > 0 && sizes[size[i]] >= 2 {
			zipSizes[size[i]] = true
		}
	}
	heads := make([]uint32, len(units))
	hashed := make([]bool, len(units)) // heads[i] holds the file's head
	headCount := map[head]int{}
	for i, u := range units {
		if u.entry != nil || size[i] <= 0 || sizes[size[i]] < 2 || zipSizes[size[i]] {
			continue
		}
		crc, err := fileCRC(u.path, headBytes)
		if err != nil {
			continue // the worker reports it when it opens it
		}
		heads[i], hashed[i] = crc, true
		headCount[head{size[i], crc}]++
	}
	seen := map[identity]string{}
	for i, u := range units {
		if size[i] <= 0 || sizes[size[i]] < 2 {
			continue
		}
		var crc uint32
		switch {
		case u.entry != nil:
			crc = u.entry.CRC32
		case zipSizes[size[i]] || hashed[i] && headCount[head{size[i], heads[i]}] >= 2:
			if size[i] <= headBytes && hashed[i] {
				crc = heads[i] // the head is the whole file
				break
			}
			var err error
			if crc, err = fileCRC(u.path, -1); err != nil {
				continue
			}
		default:
			continue // no other unit can have its content
		}
		id := identity{size[i], crc}
		if first, dup := seen[id]; dup {
			units[i].skip = copySameContent + first
			continue
		}
		seen[id] = u.path
	}
	for i, u := range units {
		if u.skip != "" {
			size[i] = -1
		}
	}
	return size
}

// headBytes is how much of a plain file readOnce hashes to tell it from
// the other files of its size before it hashes any of them whole.
const headBytes = 64 << 10

// fileCRC is the CRC-32 of the file at path's first limit bytes, or of all
// of it when limit is negative.
func fileCRC(path string, limit int64) (uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var r io.Reader = f
	if limit >= 0 {
		r = io.LimitReader(f, limit)
	}
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, r); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}

// exchangeLogName reads an Exchange log file name, RECVyyyymmddhh-N.LOG or
// SENDyyyymmdd-N.LOG (any case), into its kind and its place in the order
// Exchange writes them: by date, then by N (numerically: -10 after -9).
func exchangeLogName(name string) (kind string, date, n int64, ok bool) {
	u := strings.ToUpper(name)
	if !strings.HasSuffix(u, ".LOG") || len(u) < 8+len(".LOG") {
		return "", 0, 0, false
	}
	kind, u = u[:4], u[4:len(u)-4]
	d, num, found := strings.Cut(u, "-")
	if (kind != "RECV" && kind != "SEND") || !found || len(d) < 8 || len(d) > 10 {
		return "", 0, 0, false
	}
	dv, err1 := strconv.ParseInt(d, 10, 64)
	nv, err2 := strconv.ParseInt(num, 10, 64)
	if err1 != nil || err2 != nil || dv < 0 || nv < 0 {
		return "", 0, 0, false
	}
	for len(d) < 10 { // daily names (2007/2010) sort as hour 00
		dv, d = dv*10, d+"0"
	}
	return kind, dv, nv, true
}

// markFinal marks every plain Exchange log that has a newer one of the same
// kind in its folder: Exchange writes one file at a time, so it has stopped.
func markFinal(units []unit) {
	type key struct{ dir, kind string }
	type pos struct{ date, n int64 }
	newest := map[key]pos{}
	for _, u := range units {
		if u.entry != nil || u.fail != nil || u.skip != "" {
			continue
		}
		if kind, d, n, ok := exchangeLogName(filepath.Base(u.path)); ok {
			k := key{filepath.Dir(u.path), kind}
			if p, seen := newest[k]; !seen || d > p.date || d == p.date && n > p.n {
				newest[k] = pos{d, n}
			}
		}
	}
	for i, u := range units {
		if u.entry != nil || u.fail != nil || u.skip != "" {
			continue
		}
		if kind, d, n, ok := exchangeLogName(filepath.Base(u.path)); ok {
			if p := newest[key{filepath.Dir(u.path), kind}]; d < p.date || d == p.date && n < p.n {
				units[i].final = true
			}
		}
	}
}

// workerState is what one Scan worker reuses from file to file.
type workerState struct {
	bufs *Buffers
	br   *bufio.Reader // the file's bytes
	dec  *bufio.Reader // decompressed bytes, when the file is compressed
}

func (ws *workerState) decompressed(r io.Reader) *bufio.Reader {
	if ws.dec == nil {
		ws.dec = bufio.NewReaderSize(r, readBufferSize)
	} else {
		ws.dec.Reset(r)
	}
	return ws.dec
}

func scanUnit(ctx context.Context, u unit, opts ScanOptions, ws *workerState, emit, emitConn func(arrow.Record) error) (res FileResult) {
	res = FileResult{Path: u.path, Problems: &Problems{}}
	defer func() {
		switch {
		case res.State == nil || res.Unchanged:
		case res.Status == FileSkipped:
			// Remembered, so the next run does not read it as rows.
			res.State.Skipped = res.Reason
		case res.Status == FileFailed:
			res.State = nil // tried again next run
		}
	}()
	if u.fail != nil {
		res.Status, res.Reason = FileFailed, u.fail.Error()
		return res
	}
	if u.skip != "" {
		res.Status, res.Reason = FileSkipped, u.skip
		return res
	}
	var rc io.ReadCloser
	var err error
	if u.entry != nil {
		rc, err = u.entry.Open()
	} else {
		rc, err = os.Open(u.path)
	}
	if err != nil {
		res.Status, res.Reason = FileFailed, err.Error()
		return res
	}
	defer rc.Close()
	var resume *ResumePoint
	if opts.Incremental {
		var done bool
		resume, done = res.incremental(u, rc, opts.Previous)
		if done {
			return res
		}
	}
	br := ws.br
	br.Reset(rc)
	defer br.Reset(nil) // keep no file
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, magicGzip):
		gz, err := gzip.NewReader(br)
		if err != nil {
			res.Status, res.Reason = FileFailed, fmt.Sprintf("gzip header damaged: %v", err)
			return res
		}
		defer gz.Close()
		br = ws.decompressed(gz)
		defer br.Reset(nil)
	case bytes.HasPrefix(magic, magicBzip2):
		br = ws.decompressed(bzip2.NewReader(br))
		defer br.Reset(nil)
	default:
		for _, m := range otherMagic {
			if bytes.HasPrefix(magic, m.magic) {
				res.Status, res.Reason = FileSkipped, m.name
				return res
			}
		}
	}
	head, _ := br.Peek(512)
	enc, bigEndian, unreadable := sniffEncoding(head)
	if unreadable != "" {
		res.Status, res.Reason = FileSkipped, unreadable
		return res
	}
	if enc != "" {
		res.Encoding = enc
		br = decodeUTF16(br, bigEndian)
	}
	if resume != nil {
		return res.read(br, u, opts, ws, resume, emit)
	}
	head, peekErr := br.Peek(detectBytes)
	if IsConnectivityLog(head) {
		return res.readConnectivity(br, u, opts, emitConn)
	}
	det, err := Detect(head)
	if err != nil {
		if peekErr != nil && peekErr != io.EOF && !errors.Is(peekErr, bufio.ErrBufferFull) && len(head) == 0 {
			res.Status, res.Reason = FileFailed, fmt.Sprintf("unreadable: %v", peekErr)
			return res
		}
		res.Status, res.Reason = FileSkipped, err.Error()
		return res
	}
	if det.Empty && peekErr == io.EOF {
		// Content cannot tell an empty log from any empty file: trust the
		// name only here (Exchange creates RECV*/SEND* files before writing).
		res.Status, res.Reason = FileSkipped, "empty file"
		if LogTypeFromPath(u.path) != LogTypeUnknown {
			res.Status, res.Reason = FileEmpty, ""
		}
		res.Stats.Bytes = int64(len(head))
		return res
	}
	return res.read(br, u, opts, ws, nil, emit)
}

// readConnectivity reads a connectivity log whole into emit, or skips it
// when there is no handler or the scan is incremental.
func (res FileResult) readConnectivity(br *bufio.Reader, u unit, opts ScanOptions, emit func(arrow.Record) error) FileResult {
	res.Connectivity = true
	if emit == nil || opts.Incremental {
		res.Status, res.Reason = FileSkipped, "an Exchange connectivity log: read by a full scan (not by ingest or --state)"
		return res
	}
	res.Server, res.ServerFrom = opts.Server, "--server"
	if res.Server == "" {
		res.Server, res.ServerFrom = ServerFromPath(u.path), "path"
		if res.Server == "" {
			res.ServerFrom = ""
		}
	}
	rd := NewConnectivityReader(br, u.path, nil, opts.Reader...)
	defer rd.Release()
	for rd.Next() {
		if err := emit(rd.Record()); err != nil {
			break
		}
	}
	res.Status, res.Version = FileParsed, rd.Version()
	res.Stats, res.Problems, res.Err = rd.Stats(), rd.Problems(), rd.Err()
	if res.Stats.RowsRead == 0 && res.Err == nil {
		res.Status = FileEmpty
	}
	return res
}

// read parses one stream, from its start or from resume.
func (res FileResult) read(br *bufio.Reader, u unit, opts ScanOptions, ws *workerState, resume *ResumePoint, emit func(arrow.Record) error) FileResult {
	res.Server, res.ServerFrom = opts.Server, "--server"
	if res.Server == "" {
		res.Server, res.ServerFrom = ServerFromPath(u.path), "path"
		if res.Server == "" {
			res.ServerFrom = ""
		}
	}
	ropts := append(append([]Option(nil), opts.Reader...), WithLogType(LogTypeFromPath(u.path)), WithServer(res.Server), WithBuffers(ws.bufs))
	if resume != nil {
		ropts = append(ropts, WithResume(*resume))
	}
	if opts.Incremental && u.entry == nil && res.State != nil && !res.State.Whole {
		if u.final {
			ropts = append(ropts, withFinal())
		} else {
			ropts = append(ropts, WithHoldTail())
		}
	}
	rd := NewReader(br, u.path, ropts...)
	defer rd.Release()
	for rd.Next() {
		if err := emit(rd.Record()); err != nil {
			break
		}
	}
	if res.State != nil {
		res.State.Point = rd.ResumePoint()
	}
	res.Status = FileParsed
	res.LogType, res.Version = rd.LogType(), rd.Version()
	res.Stats, res.Problems, res.Err = rd.Stats(), rd.Problems(), rd.Err()
	res.MissingColumns = rd.MissingColumns()
	if res.Stats.RowsRead == 0 && res.Err == nil {
		res.Status = FileEmpty // a header and nothing else: a file just rolled over
	}
	return res
}
