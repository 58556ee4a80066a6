package run

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/parser"
)

// SessionConfig asks for one session: by its id (and server), or by one of
// its rows (file and line, as every finding's samples print them).
type SessionConfig struct {
	Paths   []string
	Server  string // names the server of send logs, as Config.Server; not a filter
	Workers int
	// ID is the session-id; OnServer, when set, the server it is on.
	ID       uint64
	OnServer string
	// At is a row of the session; it replaces ID and OnServer.
	At *session.Ref
	// Follow finds the sessions XPROXYFROM ties to it: the client's
	// session on the Front End, the Front End's proxy session (its send
	// log) and the Hub session it proxied to.
	Follow bool
}

// Transcript is one session: its rows as logged, in sequence order across
// files, and what logscan rebuilt from them.
type Transcript struct {
	Role    string // what the session is in the chain, e.g. "client to Front End"
	Asked   bool   // the session asked for
	Session *session.Session
	Rows    []LogRow
}

// LogRow is one row as the log holds it (data and context unquoted, as
// the parser reads them).
type LogRow struct {
	File      string
	Line      int64
	Time      time.Time
	Connector string
	Seq       uint32
	// Local and Remote are the endpoints as logged: netip.AddrPort when
	// the address was logged; LocalPort/RemotePort alone when it was not
	// an address (redacted); both zero when empty.
	Local, Remote         netip.AddrPort
	LocalPort, RemotePort int32 // -1 when empty
	Event                 string
	Data, Context         string
}

// SessionResult is the session asked for, or the candidates when the id
// is on several servers or in both logs, and the sessions tied to it.
type SessionResult struct {
	Files      *parser.ScanResult // of the first full read
	Candidates []Transcript       // more than one: the id is ambiguous; give the server or a row
	Chain      []Transcript       // the session asked for, and (Follow) the sessions XPROXYFROM ties to it, client side first
	FollowNote string             // why the chain is shorter than it could be
	Reads      int                // passes over the logs
	Elapsed    time.Duration
}

// SessionNotFoundError says no session matched.
type SessionNotFoundError struct {
	ID     uint64
	Server string
	At     *session.Ref
	Paths  []string
}

func (e *SessionNotFoundError) Error() string {
	if e.At != nil {
		return fmt.Sprintf("no row at %s", e.At)
	}
	if e.Server != "" {
		return fmt.Sprintf("no session %016X on %s in %q", e.ID, e.Server, e.Paths)
	}
	return fmt.Sprintf("no session %016X in %q", e.ID, e.Paths)
}

type sessKey struct {
	server string
	lt     parser.LogType
	id     uint64
}

func (k sessKey) less(o sessKey) int {
	return cmp.Or(cmp.Compare(k.server, o.server), cmp.Compare(k.lt, o.lt), cmp.Compare(k.id, o.id))
}

// Session reads the logs for one session and prints nothing: it returns
// the rows as logged and the rebuilt session. Each read of the logs costs
// about what parsing them costs; a proxied chain takes two or three reads,
// the later ones only of the folders the related sessions are in.
func Session(ctx context.Context, cfg SessionConfig) (*SessionResult, error) {
	start := time.Now()
	workers := Config{Workers: cfg.Workers}.workers()
	out := &SessionResult{}
	read := func(paths []string, c *collector) (*parser.ScanResult, error) {
		out.Reads++
		res, _, err := readAll(ctx, paths, cfg.Server, workers, time.Time{}, time.Time{}, c.add)
		if err != nil {
			return nil, err
		}
		c.b.Finish()
		return res, nil
	}
	id, onServer := cfg.ID, cfg.OnServer
	var exact *sessKey
	paths := cfg.Paths
	if cfg.At != nil {
		k, err := findRow(ctx, cfg, workers)
		out.Reads++
		if err != nil {
			return nil, err
		}
		if k == nil {
			return nil, &SessionNotFoundError{At: cfg.At, Paths: paths}
		}
		exact, id = k, k.id
		if len(paths) == 0 {
			paths = []string{logRoot(cfg.At.File)}
		}
	}
	c := newCollector([]uint64{id}, []uint64{id}, func(k sessKey) bool {
		if exact != nil {
			return k == *exact
		}
		return onServer == "" || strings.EqualFold(k.server, strings.TrimSpace(onServer))
	})
	res, err := read(paths, c)
	if err != nil {
		return nil, err
	}
	out.Files = res
	found := c.transcripts()
	switch {
	case len(found) == 0:
		return out, &SessionNotFoundError{ID: id, Server: onServer, At: cfg.At, Paths: paths}
	case len(found) > 1:
		out.Candidates = found
		out.Elapsed = time.Since(start)
		return out, nil
	}
	t := found[0]
	t.Asked = true
	if !cfg.Follow {
		t.Role = roleOf(t.Session)
		out.Chain = []Transcript{t}
		out.Elapsed = time.Since(start)
		return out, nil
	}
	s := t.Session
	root := s.ID // the client's session on the Front End
	var front *Transcript
	legRefs := map[sessKey]string{}
	if !s.Proxied {
		if !s.IsReceive() {
			t.Role = roleOf(s)
			out.Chain = []Transcript{t}
			out.FollowNote = "a send session without XPROXYFROM hands no session on"
			out.Elapsed = time.Since(start)
			return out, nil
		}
		front = &t
		for k, r := range c.refs {
			if r.sid == root && k != t.key() {
				legRefs[k] = r.file
			}
		}
	} else {
		// The client's session on the Front End has the id in SID=; its
		// proxy sessions say SID= too.
		root = s.ProxySID
		c2 := newCollector([]uint64{root}, []uint64{root}, func(k sessKey) bool { return k.lt == parser.LogTypeReceive })
		if _, err := read(paths, c2); err != nil {
			return nil, err
		}
		var fronts []Transcript
		for _, f := range c2.transcripts() {
			if !f.Session.Proxied {
				fronts = append(fronts, f)
			}
		}
		front = pickFront(fronts, s)
		for k, r := range c2.refs {
			if k != t.key() && (front == nil || k != front.key()) {
				legRefs[k] = r.file
			}
		}
		if front == nil {
			out.FollowNote = fmt.Sprintf("the Front End session %016X (XPROXYFROM SID=) is not in these logs: give its server's FrontEnd\\ProtocolLog folder", root)
		}
	}
	legs := []Transcript{t}
	if len(legRefs) > 0 {
		var ids []uint64
		dirs := map[string]bool{}
		for k, f := range legRefs {
			ids = append(ids, k.id)
			dirs[folderOf(f)] = true
		}
		c3 := newCollector(ids, nil, func(k sessKey) bool { _, ok := legRefs[k]; return ok })
		if _, err := read(slices.Sorted(func(yield func(string) bool) {
			for d := range dirs {
				if !yield(d) {
					return
				}
			}
		}), c3); err != nil {
			return nil, err
		}
		for _, l := range c3.transcripts() {
			if l.key() != t.key() && belongs(l.Session, front, root) {
				legs = append(legs, l)
			}
		}
	}
	if front != nil && front.key() != t.key() {
		legs = append(legs, *front)
	}
	for i := range legs {
		legs[i].Role = roleOf(legs[i].Session)
	}
	slices.SortStableFunc(legs, func(a, b Transcript) int {
		return cmp.Or(cmp.Compare(chainOrder(a.Session), chainOrder(b.Session)), a.Session.Start.Compare(b.Session.Start), a.key().less(b.key()))
	})
	out.Chain = legs
	var send, hub *session.Session
	for _, l := range legs {
		switch {
		case l.Session.Proxied && l.Session.IsReceive():
			hub = l.Session
		case l.Session.Proxied:
			send = l.Session
		}
	}
	switch {
	case out.FollowNote != "":
	case send != nil && hub == nil:
		out.FollowNote = fmt.Sprintf("the Hub session the Front End proxied to (%s) is not in the logs read: give that server's logs too", send.Remote)
	case send == nil && hub != nil && front != nil:
		out.FollowNote = "the Front End's send log (its proxy session) is not in the logs read"
	case send == nil && hub == nil && s.IsReceive() && len(s.Messages) > 0:
		out.FollowNote = "no proxy session names this one in XPROXYFROM SID=: it was not proxied to a Hub, or the logs of its Front End's send log and the Hub were not read"
	}
	out.Elapsed = time.Since(start)
	return out, nil
}

func (t Transcript) key() sessKey {
	return sessKey{t.Session.Server, t.Session.LogType, t.Session.ID}
}

// pickFront chooses, among receive sessions with the Front End's id, the
// one on the server whose address the proxied session came from.
func pickFront(fronts []Transcript, proxied *session.Session) *Transcript {
	if len(fronts) == 0 {
		return nil
	}
	for i, f := range fronts {
		if proxied.IsReceive() && f.Session.Local.Addr() == proxied.Remote.Addr() ||
			!proxied.IsReceive() && strings.EqualFold(f.Session.Server, proxied.Server) {
			return &fronts[i]
		}
	}
	if len(fronts) == 1 {
		return &fronts[0]
	}
	return nil
}

// belongs reports whether a session carrying XPROXYFROM SID=root is part
// of front's chain: the Front End's own send session, or a Hub session
// that came from the Front End's address.
func belongs(s *session.Session, front *Transcript, root uint64) bool {
	if !s.Proxied || s.ProxySID != root {
		return false
	}
	if front == nil {
		return true
	}
	f := front.Session
	if s.IsReceive() {
		return s.Remote.Addr() == f.Local.Addr() || !s.Remote.Addr().IsValid() || !f.Local.Addr().IsValid()
	}
	return strings.EqualFold(s.Server, f.Server)
}

func chainOrder(s *session.Session) int {
	switch {
	case !s.Proxied:
		return 0
	case !s.IsReceive():
		return 1
	}
	return 2
}

func roleOf(s *session.Session) string {
	switch {
	case s.Proxied && s.IsReceive():
		return "Front End to Hub, as the Hub's receive log has it"
	case s.Proxied:
		return "Front End to Hub, as the Front End's send log has it"
	case s.IsReceive():
		return "client to this server (receive log)"
	}
	return "this server to a remote server (send log)"
}

// folderOf is the folder to read for a file's neighbours: its folder, or
// the archive holding it.
func folderOf(file string) string {
	if a, _, ok := strings.Cut(file, "!/"); ok {
		return a
	}
	return filepath.Dir(file)
}

// logRoot is what to read when only a row is given: the server's log tree
// (the folder above FrontEnd or Hub: both services' logs, send and receive),
// else the file's folder.
func logRoot(file string) string {
	dir := folderOf(file)
	if strings.Contains(file, "!/") {
		return dir
	}
	for d := dir; ; {
		base := filepath.Base(d)
		if strings.EqualFold(base, "FrontEnd") || strings.EqualFold(base, "Hub") || strings.EqualFold(base, "Edge") {
			return filepath.Dir(d)
		}
		up := filepath.Dir(d)
		if up == d || strings.EqualFold(base, "Logs") {
			return dir
		}
		d = up
	}
}

// findRow reads the file of cfg.At and returns the key of the session of
// the row at its line.
func findRow(ctx context.Context, cfg SessionConfig, workers int) (*sessKey, error) {
	var mu sync.Mutex
	var found *sessKey
	// The file itself when it is there; else (a dataset made from it, or a
	// copy elsewhere) the paths given, whose rows name it.
	paths := []string{folderOfArchive(cfg.At.File)}
	if _, err := os.Stat(paths[0]); err != nil && len(cfg.Paths) > 0 {
		paths = cfg.Paths
	}
	_, _, err := readAll(ctx, paths, cfg.Server, workers, time.Time{}, time.Time{},
		func(_ int, rec arrow.Record) error {
			files := rec.Column(parser.ColSourceFile).(*array.Dictionary)
			lines := rec.Column(parser.ColLine).(*array.Int64).Int64Values()
			for i, l := range lines {
				if l != cfg.At.Line {
					continue
				}
				if f, _ := parser.DictString(files, i); f != cfg.At.File {
					continue
				}
				k := keyAt(rec, i)
				mu.Lock()
				found = &k
				mu.Unlock()
			}
			return nil
		})
	return found, err
}

// folderOfArchive is the path parser.Scan must read to see file: the
// archive for an entry, else the file.
func folderOfArchive(file string) string {
	if a, _, ok := strings.Cut(file, "!/"); ok {
		return a
	}
	return file
}

func keyAt(rec arrow.Record, i int) sessKey {
	server, _ := parser.DictString(rec.Column(parser.ColServer).(*array.Dictionary), i)
	lt := parser.LogTypeAt(rec.Column(parser.ColLogType).(*array.Dictionary), i)
	return sessKey{strings.Clone(server), lt, rec.Column(parser.ColSessionID).(*array.Uint64).Value(i)}
}

// collector keeps the rows of the sessions it is asked for, rebuilds them,
// and notes the sessions whose XPROXYFROM names one of sids.
type collector struct {
	ids  []uint64
	sids []uint64
	keep func(sessKey) bool

	mu       sync.Mutex
	rows     map[sessKey][]LogRow
	sessions map[sessKey]*session.Session
	refs     map[sessKey]proxyRef
	b        *session.Builder
}

type proxyRef struct {
	sid  uint64
	file string
}

func newCollector(ids, sids []uint64, keep func(sessKey) bool) *collector {
	c := &collector{ids: ids, sids: sids, keep: keep, rows: map[sessKey][]LogRow{}, sessions: map[sessKey]*session.Session{}, refs: map[sessKey]proxyRef{}}
	// The builder joins one session's rows from any worker; one part is
	// enough for the few rows fed to it, under the collector's lock.
	c.b = session.NewBuilder(1, 0, func(s *session.Session) {
		c.sessions[sessKey{s.Server, s.LogType, s.ID}] = s
	})
	return c
}

func (c *collector) add(_ int, rec arrow.Record) error {
	sids := rec.Column(parser.ColSessionID).(*array.Uint64).Uint64Values()
	data := rec.Column(parser.ColData).(*array.String)
	for i, id := range sids {
		if slices.Contains(c.ids, id) {
			if k := keyAt(rec, i); c.keep(k) {
				c.take(rec, i, k)
			}
		}
		if len(c.sids) > 0 {
			if d := data.Value(i); strings.HasPrefix(d, "XPROXYFROM ") {
				if sid, ok := proxySID(d); ok && slices.Contains(c.sids, sid) {
					k := keyAt(rec, i)
					f, _ := parser.DictString(rec.Column(parser.ColSourceFile).(*array.Dictionary), i)
					c.mu.Lock()
					c.refs[k] = proxyRef{sid, strings.Clone(f)}
					c.mu.Unlock()
				}
			}
		}
	}
	return nil
}

// proxySID reads SID= of an XPROXYFROM command.
func proxySID(d string) (uint64, bool) {
	for f := range strings.FieldsSeq(d) {
		if v, ok := strings.CutPrefix(f, "SID="); ok {
			id, err := strconv.ParseUint(v, 16, 64)
			return id, err == nil
		}
	}
	return 0, false
}

// take copies row i (it outlives the record) and feeds it to the builder.
func (c *collector) take(rec arrow.Record, i int, k sessKey) {
	file, _ := parser.DictString(rec.Column(parser.ColSourceFile).(*array.Dictionary), i)
	conn, _ := parser.DictString(rec.Column(parser.ColConnectorID).(*array.Dictionary), i)
	ev, _ := parser.DictString(rec.Column(parser.ColEvent).(*array.Dictionary), i)
	r := LogRow{File: strings.Clone(file), Line: rec.Column(parser.ColLine).(*array.Int64).Value(i),
		Time:      time.UnixMilli(int64(rec.Column(parser.ColDateTime).(*array.Timestamp).Value(i))).UTC(),
		Connector: strings.Clone(conn), Seq: rec.Column(parser.ColSequenceNumber).(*array.Uint32).Value(i),
		Event: ev, Data: strings.Clone(rec.Column(parser.ColData).(*array.String).Value(i)),
		Context: strings.Clone(rec.Column(parser.ColContext).(*array.String).Value(i))}
	r.Local, r.LocalPort = endpoint(rec, i, parser.ColLocalIP, parser.ColLocalPort)
	r.Remote, r.RemotePort = endpoint(rec, i, parser.ColRemoteIP, parser.ColRemotePort)
	one := rec.NewSlice(int64(i), int64(i+1))
	defer one.Release()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows[k] = append(c.rows[k], r)
	c.b.Add(0, one)
}

func endpoint(rec arrow.Record, i, ipCol, portCol int) (netip.AddrPort, int32) {
	ip := parser.IPAt(rec.Column(ipCol).(*array.FixedSizeBinary), i)
	ports := rec.Column(portCol).(*array.Uint16)
	if ports.IsNull(i) {
		return netip.AddrPort{}, -1
	}
	p := ports.Value(i)
	if ip.IsValid() {
		return netip.AddrPortFrom(ip, p), int32(p)
	}
	return netip.AddrPort{}, int32(p)
}

// transcripts returns the sessions collected, each with its rows in
// sequence order (then file and line, as the builder orders them).
func (c *collector) transcripts() []Transcript {
	var out []Transcript
	for k, rows := range c.rows {
		s := c.sessions[k]
		if s == nil {
			continue
		}
		slices.SortStableFunc(rows, func(a, b LogRow) int {
			return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
		})
		out = append(out, Transcript{Session: s, Rows: rows})
	}
	slices.SortFunc(out, func(a, b Transcript) int { return a.key().less(b.key()) })
	return out
}
