package heuristics

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// TestRelayOutsideAsOneByOne: relayGroup.outside sums a client's hours per
// hour, merges its samples before they become sampleRecs, and, when every
// domain the client counted is outside (domainJudge.allOutside), takes
// every set, hour and address as relayed without judging each. Its
// figures are those of judging and adding everything one by one
// (relayOutsideOneByOne, the report's way before), for clients relaying
// only outside, to accepted domains (by name and by pattern) among
// others, with more senders than a client keeps, and past every budget (other domains, dropped hours and
// addresses, sets counted by their first domain).
func TestRelayOutsideAsOneByOne(t *testing.T) {
	for _, tc := range []struct {
		name     string
		accepted []string
	}{
		{"names", []string{"contoso.com", "zz-accepted.example"}},
		{"pattern", []string{"contoso.com", "*.zz-accepted.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore := SetRelayBudgetsForTest(3000, 800, 300)
			defer restore()
			a := NewAnalyzer(Org{AcceptedDomains: tc.accepted}, AnalyzerOptions{Workers: 1})
			d := a.detectors[1].(*RelayDetector)
			d.hourCap, d.evictBound, d.rcptBound = 2500, newHashBound(60), newHashBound(4000)
			rng := rand.New(rand.NewPCG(7, 23))
			const fe = `EX01\Default Frontend EX01`
			line := int64(0)
			for c := range 150 {
				client := fmt.Sprintf("198.51.100.%d:%d", 1+c, 2000)
				// A third relay only outside; the others now and then to
				// an accepted domain, which sorts last among their
				// domains, so that it is among the other domains once the
				// budget cuts them.
				mixed := c%3 != 0
				sessions := 1 + rng.IntN(12)
				if c%10 == 1 {
					sessions = 100 // more than 64 senders
				}
				for i := range sessions {
					var to []string
					for range 1 + rng.IntN(14) {
						r := fmt.Sprintf("u%d@d%03d.example", rng.IntN(200), rng.IntN(140))
						if mixed && rng.IntN(8) == 0 {
							r = fmt.Sprintf("u%d@%s", rng.IntN(5), []string{"zz-accepted.example", "mx.zz-accepted.example", "contoso.com"}[rng.IntN(3)])
						}
						to = append(to, r)
					}
					s := sess("EX01", fe, "10.1.0.10:25", client, perms(relayPerms), ehlo(fmt.Sprintf("bot%d", rng.IntN(4))),
						at(time.Duration(rng.IntN(72))*time.Hour+time.Duration(i)*time.Second),
						mail(fmt.Sprintf("s%d@spam.example", rng.IntN(300)), to...))
					for ri := range s.Messages[0].Rcpts {
						line++
						s.Messages[0].Rcpts[ri].At = session.Ref{File: fmt.Sprintf("RECV%d.LOG", line%3), Line: line}
					}
					a.observe(s)
				}
			}
			in := &detectorInputs{org: a.ev.resolve(a.org, a.sum.local), use: a.use, conn: a.conn.result(), logs: a.logs, results: map[string]any{}}
			judge := newDomainJudge(in.org, d.nameList)
			d.finishRcpts()
			if d.deadHours > 0 {
				d.purgeHours()
			}
			var all, other, manySenders int
			for k, g := range d.groups {
				got := g.outside(in.org, judge, d.nameList, k.server, d.files.names)
				want := relayOutsideOneByOne(g, in.org, judge, d.nameList, k.server, d.files.names)
				if judge.allOutside(g) {
					all++
				}
				if g.other.rcpts > 0 {
					other++
				}
				if want.senders.dropped {
					manySenders++
				}
				if !reflect.DeepEqual(got, want) {
					gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
					for i := range gv.NumField() {
						if fmt.Sprintf("%+v", gv.Field(i)) != fmt.Sprintf("%+v", wv.Field(i)) {
							t.Errorf("client %v: %s: outside %+v, one by one %+v", k.client, gv.Type().Field(i).Name, gv.Field(i), wv.Field(i))
						}
					}
					t.FailNow()
				}
			}
			if all < 10 || all == len(d.groups) || other < 20 || manySenders < 5 {
				t.Fatalf("%d of %d clients relayed only outside, %d to other domains, %d had more than 64 senders: want some of each", all, len(d.groups), other, manySenders)
			}
		})
	}
}

// relayOutsideOneByOne is relayGroup.outside as it judged and added every
// set, hour, sample and address one by one.
func relayOutsideOneByOne(g *relayGroup, v *orgView, j *domainJudge, list []string, server string, files []string) (st relayStats) {
	// The senders are counted by a counter, then listed by value as
	// senderCounts lists them; the hours likewise by an hourly, then
	// listed in order as hourSums.
	var senders counter
	var hours hourly
	defer func() {
		for h, c := range hours {
			st.hours = append(st.hours, hourSum{h, c})
		}
		slices.SortFunc(st.hours, func(a, b hourSum) int { return cmp.Compare(a.hour, b.hour) })
		for v, n := range senders.m {
			st.senders.vals = append(st.senders.vals, valueCount{v, *n})
		}
		slices.SortFunc(st.senders.vals, func(a, b valueCount) int { return strings.Compare(a.v, b.v) })
		st.senders.over, st.senders.dropped = senders.over, senders.dropped
	}()
	outside := func(key string) bool {
		for d := range strings.SplitSeq(key, "\n") {
			if !v.isAccepted(d) {
				return true
			}
		}
		return false
	}
	// Each set is judged once: its sessions' hours ask again (below),
	// naming a set by its hash (bytesHash of the key). A set counting
	// messages only is not a session's. (A key's hash was its addrHash
	// there once: the same for a key of lower-case ASCII, as domains are;
	// another is compared.)
	type setVerdict struct{ outside, sessions bool }
	sets := make([]setVerdict, len(g.sigs))
	for i, sig := range g.sigs {
		out := outside(sig.key)
		sets[i] = setVerdict{out, sig.sessions != 0 && (isLowerASCII(sig.key) || addrHash(sig.key) == sig.hash)}
		if out {
			st.sessions += sig.sessions
			st.messages += sig.msgs
			st.queued += sig.qued
		}
	}
	// Partial signatures relayed if their first domain is outside; if it
	// is accepted (or cannot be judged), whether they did is not known.
	for h, sig := range g.part.m {
		if out, _ := j.outside(h); out {
			st.sessions += sig.sessions
			st.messages += sig.msgs
			st.queued += sig.qued
		} else {
			st.sessionsLower = st.sessionsLower || sig.sessions > 0
			st.messagesLower = st.messagesLower || sig.msgs > 0
		}
	}
	st.sessionsLower = st.sessionsLower || g.part.over.sessions > 0
	st.messagesLower = st.messagesLower || g.part.over.msgs > 0
	for i := range g.doms {
		rd := &g.doms[i]
		if !j.outsideID[rd.id] {
			continue
		}
		name := list[rd.id]
		st.domains = append(st.domains, domainCount{name, rd.rcpts})
		st.rcpts += rd.rcpts
		st.span.add(rd.span.times())
		if det := g.detailAt(rd); det != nil {
			det.samples.addTo(&st.samples, server, files)
			det.senders.addTo(&senders, 64)
		}
	}
	if g.other.rcpts > 0 {
		// Counted as relayed: the other domains told apart by hash that
		// are not accepted. Those past maxEvictedDomains, and those never
		// named when a pattern (*.contoso.com) is accepted, cannot be
		// judged and are not counted: the count is then a lower bound.
		var n int64
		for h, c := range g.evicted {
			out, known := j.outside(h)
			if out {
				n += c
			}
			st.rcptsLower = st.rcptsLower || !known
		}
		st.rcptsLower = st.rcptsLower || g.evictedOver > 0
		if n > 0 {
			st.domains = append(st.domains, domainCount{otherDomains, n})
			st.rcpts += n
			st.span.add(g.other.span.times())
		}
	}
	if st.rcpts > 0 {
		// The shared detail: the domains past the first names, which
		// relayed (outside) or not is not told apart there.
		g.otherDet.samples.addTo(&st.samples, server, files)
		g.otherDet.senders.addTo(&senders, 64)
	}
	for k, n := range g.rcptHours.all() {
		if out, _ := j.outside(k.of); out {
			hours.add(time.Unix(k.hour, 0), 0, n, 0)
		}
	}
	// A session's hours are judged as its set is, when it is kept, else
	// by the set's first domain.
	for k, n := range g.sessHours.all() {
		i := -1
		for x := range g.sigs {
			if g.sigs[x].hash == k.of.set && sets[x].sessions {
				i = x
				break
			}
		}
		var out bool
		if i >= 0 {
			out = sets[i].outside
		} else {
			out, _ = j.outside(k.of.first)
		}
		if out {
			hours.add(time.Unix(k.hour, 0), n, 0, 0)
		}
	}
	for _, p := range g.rcpts.list {
		out, known := j.outside(p.domain)
		if out {
			st.outRcpts = append(st.outRcpts, p.addr)
		}
		// An address whose domain cannot be judged is not counted.
		st.outRcptsLower = st.outRcptsLower || !known
	}
	st.outRcptsLower = st.outRcptsLower || g.rcpts.dropped
	return st
}
