package heuristics

import (
	"slices"
	"strings"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// relaySample is an example session as a relay detail keeps it: a
// sampleRec without its pointers. The server is the group's (every session
// of a group is on its server), the start is in Unix milliseconds (as
// session.Session's are: time.UnixMilli(ms).UTC() gives it back) and the
// file is a number (relayFiles). 32 bytes the collector need not scan,
// where a sampleRec is 80 with three pointers: a botnet's groups keep
// five for each of 14,000 details.
type relaySample struct {
	id    uint64
	start int64 // Unix milliseconds
	line  int64
	file  uint32 // relayFiles.names
}

// relayFiles numbers the log files that relay samples name, once each.
type relayFiles struct {
	ids   map[string]uint32
	names []string
	// The file last numbered: a session's rows, and the sessions of a
	// batch, are mostly of one file.
	last   string
	lastID uint32
}

// id is the number of file, which it keeps (a copy) the first time.
func (f *relayFiles) id(file string) uint32 {
	if len(f.names) > 0 && file == f.last {
		return f.lastID
	}
	id, ok := f.ids[file]
	if !ok {
		if f.ids == nil {
			f.ids = map[string]uint32{}
		}
		kept := strings.Clone(file)
		id = uint32(len(f.names))
		f.ids[kept] = id
		f.names = append(f.names, kept)
	}
	f.last, f.lastID = f.names[id], id
	return id
}

// sample is what the detail keeps of the example row at of session s.
func (f *relayFiles) sample(s *session.Session, at session.Ref) relaySample {
	return relaySample{id: s.ID, start: s.Start.UnixMilli(), line: at.Line, file: f.id(at.File)}
}

// rec is x as a sampleRec of a session on server.
func (x relaySample) rec(server string, files []string) sampleRec {
	return sampleRec{server: server, id: x.id, start: time.UnixMilli(x.start).UTC(), ref: session.Ref{File: files[x.file], Line: x.line}}
}

// less orders samples as sampleLess orders their sampleRecs (all of one
// server, and each of a session).
func (x relaySample) less(y relaySample, files []string) bool {
	if x.start != y.start {
		return x.start < y.start
	}
	if x.file != y.file {
		return files[x.file] < files[y.file]
	}
	if x.line != y.line {
		return x.line < y.line
	}
	return x.id < y.id
}

// relaySamples keeps the earliest maxSamples example sessions of a relay
// detail, one per session, as samples does with their sampleRecs.
type relaySamples struct {
	list []relaySample
}

// add offers x, as samples.add does.
func (s *relaySamples) add(x relaySample, files []string) {
	if len(s.list) == maxSamples && !x.less(s.list[len(s.list)-1], files) {
		return
	}
	for i, y := range s.list {
		if y.id == x.id {
			// One example per session: its earliest row.
			if x.less(y, files) {
				s.list[i] = x
				slices.SortFunc(s.list, func(a, b relaySample) int {
					if a.less(b, files) {
						return -1
					}
					return 1
				})
			}
			return
		}
	}
	i := len(s.list)
	for i > 0 && x.less(s.list[i-1], files) {
		i--
	}
	if i >= maxSamples {
		return
	}
	if len(s.list) < maxSamples {
		// Grown to at most maxSamples: append would round five up to eight.
		if len(s.list) == cap(s.list) {
			grown := make([]relaySample, len(s.list), min(max(2*cap(s.list), 1), maxSamples))
			copy(grown, s.list)
			s.list = grown
		}
		s.list = append(s.list, relaySample{})
	}
	copy(s.list[i+1:], s.list[i:]) // when full, the last falls off
	s.list[i] = x
}

// merge offers o's samples.
func (s *relaySamples) merge(o relaySamples, files []string) {
	for _, x := range o.list {
		s.add(x, files)
	}
}

// addTo offers s's samples, of sessions on server, to dst.
func (s *relaySamples) addTo(dst *samples, server string, files []string) {
	for _, x := range s.list {
		dst.add(x.rec(server, files))
	}
}
