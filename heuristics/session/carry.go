package session

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/logscan/logscan/parser"
)

// Open is a session still open when an incremental run ends. It is
// kept in the run's state and given back to the next run's builder, so a
// session that a nightly cut splits is still analysed whole, once.
type Open struct {
	Server    string         `json:"server"`
	LogType   parser.LogType `json:"log_type"`
	ID        uint64         `json:"id"`
	Connector string         `json:"connector"`
	Local     netip.AddrPort `json:"local"`
	Remote    netip.AddrPort `json:"remote"`
	LocalAt   uint32         `json:"local_at"`
	RemoteAt  uint32         `json:"remote_at"`
	Rows      []OpenRow      `json:"rows"`
}

// OpenRow is one row of an open session.
type OpenRow struct {
	Seq     uint32 `json:"seq"`
	Event   byte   `json:"event"`
	T       int64  `json:"t"`
	File    string `json:"file"`
	Line    int64  `json:"line"`
	Data    string `json:"data"`
	Context string `json:"context"`
}

// DefaultCarry is how long an open session may have been idle, before the
// newest row of the run, and still be carried to the next run. Exchange
// drops a session idle for 10 minutes (ConnectionInactivityTimeout 5-10
// min); a session idle for an hour will get no more rows.
const DefaultCarry = time.Hour

// Drain ends an incremental run instead of Finish: open sessions idle for
// less than carry before the run's newest row are returned for Restore in
// the next run; the rest, and every session that the join made complete,
// are emitted as Finish would.
func (b *Builder) Drain(carry time.Duration) []Open {
	b.flushAll()
	newest := b.newest()
	var out []Open
	var scratch emitScratch
	for _, j := range b.joinOpen() {
		k, f := j.k, j.f
		if f.complete() || f.lastT < newest-carry.Milliseconds() {
			b.emitFragment(k, f, &scratch)
			continue
		}
		o := Open{Server: b.names.name(k.server), LogType: k.logType, ID: k.id, Connector: b.names.name(f.connector),
			Local: f.local, Remote: f.remote, LocalAt: f.localAt, RemoteAt: f.remoteAt}
		for _, r := range f.rows {
			o.Rows = append(o.Rows, OpenRow{Seq: r.seq, Event: r.event, T: r.t, File: b.names.name(r.file), Line: r.line,
				Data: string(f.buf[r.off : r.off+r.dLen]), Context: string(f.buf[r.off+r.dLen : r.off+r.dLen+r.cLen])})
		}
		slices.SortFunc(o.Rows, func(x, y OpenRow) int {
			return cmp.Or(cmp.Compare(x.Seq, y.Seq), cmp.Compare(x.File, y.File), cmp.Compare(x.Line, y.Line))
		})
		out = append(out, o)
	}
	scratch.publish(&b.stats)
	return out
}

// Restore gives the builder the sessions a previous run left open. Call it
// before the first Add.
func (b *Builder) Restore(open []Open) {
	p := b.parts[0]
	for _, o := range open {
		ids := b.names.intern(o.Server, o.Connector)
		// File 0: carried rows join this run's rows of the session in
		// Finish or Drain, whichever file those come from.
		k := fragKey{sessKey: sessKey{server: ids[0], logType: o.LogType, id: o.ID}, remote: o.Remote}
		f := p.newFragment(ids[1])
		f.local, f.remote, f.localAt, f.remoteAt = o.Local, o.Remote, o.LocalAt, o.RemoteAt
		for _, r := range o.Rows {
			off := uint32(len(f.buf))
			f.buf = append(append(f.buf, r.Data...), r.Context...)
			f.rows = append(f.rows, frow{seq: r.Seq, event: r.Event, t: r.T, file: b.names.intern(r.File)[0], line: r.Line,
				off: off, dLen: uint32(len(r.Data)), cLen: uint32(len(r.Context))})
			f.start = f.start || r.Seq == 0
			f.end = f.end || r.Event == '-'
			f.maxSeq = max(f.maxSeq, r.Seq)
			f.lastT = max(f.lastT, r.T)
			p.newest = max(p.newest, r.T)
		}
		p.openBytes += len(f.buf) + len(f.rows)*frowBytes
		if old := p.open.get(k); old != nil {
			old.absorb(f)
		} else {
			p.open.put(k, f)
		}
	}
}

// intern gives names their ids ("" stays 0).
func (in *interner) intern(names ...string) []uint32 {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]uint32, len(names))
	for i, v := range names {
		if v != "" {
			out[i] = in.add(v)
		}
	}
	return out
}
