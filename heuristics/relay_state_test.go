package heuristics

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logscan/logscan/heuristics/session"
)

// The compact relay state must keep exactly what the plain types kept:
// the smallCounter what a counter keeps, the rcptSet the same distinct
// count whatever the order the addresses come in.

// TestSmallCounterCountsAsCounter: a smallCounter keeps what a counter
// keeps, and adds it to another counter (addTo) as merging it does.
func TestSmallCounterCountsAsCounter(t *testing.T) {
	for _, distinct := range []int{1, 3, smallCounterMax, smallCounterMax + 1, 70, 200} {
		var vals []string
		for i := range distinct {
			for range 1 + i%3 {
				vals = append(vals, fmt.Sprintf("user%03d@example.org", (i*37)%distinct))
			}
		}
		rng := rand.New(rand.NewPCG(uint64(distinct), 1))
		rng.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
		var plain counter
		var small smallCounter
		for _, v := range vals {
			plain.add(v, 1, 64)
			small.add(v, 1, 64)
		}
		got := small.counter()
		if got.over != plain.over || got.dropped != plain.dropped || len(got.m) != len(plain.m) {
			t.Fatalf("%d distinct: small kept %d (over %d, dropped %v), counter %d (over %d, dropped %v)",
				distinct, len(got.m), got.over, got.dropped, len(plain.m), plain.over, plain.dropped)
		}
		for v, n := range plain.m {
			if got.get(v) != *n {
				t.Fatalf("%d distinct: %s counted %d, counter %d", distinct, v, got.get(v), *n)
			}
		}
		// addTo adds to a counter what merging its counter() does.
		var merged, added counter
		for _, v := range []string{"a@example.org", "user001@example.org", "zz@example.org"} {
			merged.add(v, 2, 64)
			added.add(v, 2, 64)
		}
		merged.merge(small.counter(), 64)
		small.addTo(&added, 64)
		if added.over != merged.over || added.dropped != merged.dropped || len(added.m) != len(merged.m) {
			t.Fatalf("%d distinct: addTo kept %d (over %d, dropped %v), merge %d (over %d, dropped %v)",
				distinct, len(added.m), added.over, added.dropped, len(merged.m), merged.over, merged.dropped)
		}
		for v, n := range merged.m {
			if added.get(v) != *n {
				t.Fatalf("%d distinct: addTo counted %s %d, merge %d", distinct, v, added.get(v), *n)
			}
		}
	}
}

func TestRcptBudgetSameWhateverTheOrder(t *testing.T) {
	type add struct {
		group int
		addr  string
	}
	var adds []add
	for i := range 600 {
		adds = append(adds, add{i % 3, fmt.Sprintf("Rcpt%d@Example%d.COM", i, i%7)})
	}
	adds = append(adds, add{0, "rcpt3@example3.com"}) // the same address again, in other case
	kept := func(budget int, order []add) ([3][]uint64, [3]bool) {
		d := newRelayDetector()
		d.rcptBound = newHashBound(budget)
		var groups [3]*relayGroup
		for i := range groups {
			groups[i] = &relayGroup{}
			d.groups[relayKey{server: fmt.Sprint(i)}] = groups[i]
		}
		for _, a := range order {
			d.addRcpt(groups[a.group], addrHash(a.addr), 0)
		}
		d.finishRcpts()
		var k [3][]uint64
		var dropped [3]bool
		total := 0
		for i, g := range groups {
			for _, p := range g.rcpts.list {
				k[i] = append(k[i], p.addr)
			}
			slices.Sort(k[i])
			dropped[i] = g.rcpts.dropped
			total += len(k[i])
		}
		if total > budget || total != d.rcptBound.n {
			t.Fatalf("budget %d: kept %d, counted %d", budget, total, d.rcptBound.n)
		}
		return k, dropped
	}
	for _, budget := range []int{1000, 600, 300, 50} {
		want, wantDropped := kept(budget, adds)
		for seed := range uint64(4) {
			order := slices.Clone(adds)
			rand.New(rand.NewPCG(seed, 2)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			got, gotDropped := kept(budget, order)
			if !equalKeys(got, want) || gotDropped != wantDropped {
				t.Fatalf("budget %d, order %d: kept %d/%d/%d (dropped %v), in order %d/%d/%d (dropped %v)", budget, seed,
					len(got[0]), len(got[1]), len(got[2]), gotDropped, len(want[0]), len(want[1]), len(want[2]), wantDropped)
			}
		}
		n := len(want[0]) + len(want[1]) + len(want[2])
		if budget >= 600 && (n != 600 || wantDropped != [3]bool{}) {
			t.Fatalf("budget %d: kept %d of 600 distinct (dropped %v), want all", budget, n, wantDropped)
		}
		if budget < 600 && (n == 0 || wantDropped != [3]bool{true, true, true}) {
			t.Fatalf("budget %d: kept %d (dropped %v), want some, each group a lower bound", budget, n, wantDropped)
		}
	}
}

// TestRcptSetAsAMap: addRcpt, which appends addresses and sorts them into
// each group's set now and then, counting only those sorted against the
// budget, keeps what the map it replaced kept counting each address as it
// came (rcptMapModel): the same addresses, with the same domain, the same
// groups marked as lower bounds, and the same bound; with repeats, several
// groups, and budgets that bite once, many times, or not at all.
func TestRcptSetAsAMap(t *testing.T) {
	for _, budget := range []int{5, 40, 300, 1000, 5000} {
		for seed := range uint64(6) {
			rng := rand.New(rand.NewPCG(seed, uint64(budget)))
			groups := 1 + rng.IntN(6)
			d := newRelayDetector()
			d.rcptBound = newHashBound(budget)
			model := newRcptMapModel(budget, groups)
			gs := make([]*relayGroup, groups)
			for i := range gs {
				gs[i] = &relayGroup{}
				d.groups[relayKey{server: fmt.Sprint(i)}] = gs[i]
			}
			for range 3000 {
				gi := rng.IntN(groups)
				if gi > 0 && rng.IntN(3) == 0 {
					gi = 0 // one group larger than the others
				}
				addr := fmt.Sprintf("u%d@d%d.example", rng.IntN(400*(1+gi)), rng.IntN(5))
				_, dom, _ := strings.Cut(addr, "@")
				d.addRcpt(gs[gi], addrHash(addr), addrHash(dom))
				model.add(gi, addrHash(addr), addrHash(dom))
			}
			d.finishRcpts()
			if d.rcptBound != model.bound {
				t.Fatalf("budget %d, seed %d: bound %+v, the map's %+v", budget, seed, d.rcptBound, model.bound)
			}
			for i, g := range gs {
				want := make([]rcptPair, 0, len(model.sets[i]))
				for h, dom := range model.sets[i] {
					want = append(want, rcptPair{h, dom})
				}
				slices.SortFunc(want, func(a, b rcptPair) int { return cmp.Compare(a.addr, b.addr) })
				if !slices.Equal(g.rcpts.list, want) || g.rcpts.sorted != len(want) || g.rcpts.dropped != model.dropped[i] {
					t.Fatalf("budget %d, seed %d, group %d: kept %d (dropped %v), the map %d (dropped %v)",
						budget, seed, i, len(g.rcpts.list), g.rcpts.dropped, len(want), model.dropped[i])
				}
			}
		}
	}
}

// rcptMapModel is how addRcpt kept addresses before rcptSet was a slice: a
// map per group, each distinct address counted against the bound as it
// came.
type rcptMapModel struct {
	bound   hashBound
	sets    []map[uint64]uint64
	dropped []bool
}

func newRcptMapModel(budget, groups int) *rcptMapModel {
	m := &rcptMapModel{bound: newHashBound(budget), dropped: make([]bool, groups)}
	for range groups {
		m.sets = append(m.sets, map[uint64]uint64{})
	}
	return m
}

func (m *rcptMapModel) add(g int, h, domain uint64) {
	if !m.bound.admits(h) {
		m.dropped[g] = true
		return
	}
	if _, ok := m.sets[g][h]; ok {
		return
	}
	m.sets[g][h] = domain
	m.bound.kept(func(max uint64) (dropped int) {
		for i, set := range m.sets {
			for x := range set {
				if x > max {
					delete(set, x)
					m.dropped[i] = true
					dropped++
				}
			}
		}
		return dropped
	})
}

// sigsByKey is g's sets by key: the order of the slice is that of their
// first session.
func sigsByKey(g *relayGroup) map[string]relaySig {
	m := map[string]relaySig{}
	for _, sig := range g.sigs {
		m[sig.key] = sig
	}
	return m
}

func equalKeys(a, b [3][]uint64) bool {
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestAddrHashIgnoresCase(t *testing.T) {
	if addrHash("Rcpt1@Example1.COM") != addrHash("rcpt1@example1.com") {
		t.Fatal("the hash is not of the address in lower case")
	}
	if addrHash("Ünï@Example.com") != addrHash("ünï@example.com") {
		t.Fatal("a non-ASCII address is not hashed in lower case")
	}
}

// TestRcptHashIsFNV: rcptHash, which decides which delivered and deferred
// recipients the blocklisting detector keeps, is hash/fnv's FNV-1a of the
// address in lower case, whatever the text: ASCII, upper case, non-ASCII,
// invalid UTF-8.
func TestRcptHashIsFNV(t *testing.T) {
	for _, addr := range []string{"", "a", "Rcpt1@Example1.COM", "rcpt1@example1.com", "Ünï@Example.com",
		"ÀÉÎ@ÕÜ.DE", "bad\xff\xfe@X.com", "\xe2\x80@Y.org", "İstanbul@Tr.com", "\u212aelvin@X.com", "<>", "a b@c d"} {
		h := fnv.New64a()
		h.Write([]byte(strings.ToLower(addr)))
		if got, want := rcptHash(addr), h.Sum64(); got != want {
			t.Errorf("rcptHash(%q) = %x, FNV-1a of its lower case %x", addr, got, want)
		}
	}
}

// TestRelayBoundsSameWhateverTheOrder: one public client relays to more
// domains and more domain sets than the detector keeps apart. Its finding
// is the same whatever the order its sessions come in, and says which
// counts are lower bounds: sessions whose set was not kept and whose first
// domain is accepted may or may not have relayed. The domains past
// maxRelayDomains are counted together, but told apart by hash, so the
// recipients and domains relayed stay exact.
func TestRelayBoundsSameWhateverTheOrder(t *testing.T) {
	const fe = `EX01\Default Frontend EX01`
	var relayed []*session.Session
	outsideDomains := map[string]bool{}
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 3 * maxRelaySigs {
		var rcpts []string
		for j := range 3 {
			d := fmt.Sprintf("a%03d.example", rng.IntN(2*maxRelayDomains))
			outsideDomains[d] = true
			rcpts = append(rcpts, fmt.Sprintf("u%d@%s", j, d))
		}
		relayed = append(relayed, sess("EX01", fe, "10.1.0.10:25", fmt.Sprintf("198.51.100.9:%d", 1000+i), perms(relayPerms), mail("x@spam.example", rcpts...)))
	}
	// Sets whose first domain is accepted: they sort after every a…
	// set, so they are not kept apart.
	for i := range 10 {
		relayed = append(relayed, sess("EX01", fe, "10.1.0.10:25", fmt.Sprintf("198.51.100.9:%d", 5000+i), perms(relayPerms), mail("x@spam.example", "bob@contoso.com", fmt.Sprintf("v%d@zz%d.example", i, i))))
		outsideDomains[fmt.Sprintf("zz%d.example", i)] = true
	}
	base := internet("EX01", "10.1.0.10", 20)
	var first []byte
	for seed := range uint64(3) {
		order := slices.Clone(relayed)
		if seed > 0 {
			rand.New(rand.NewPCG(seed, 3)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		rep := analyze(Org{}, base, order)
		var f *Finding
		for i := range rep.Findings {
			if rep.Findings[i].Detector == detectorRelay {
				f = &rep.Findings[i]
			}
		}
		if f == nil {
			t.Fatalf("order %d: no relay finding", seed)
		}
		if !slices.Contains(f.LowerBounds, "sessions") {
			t.Errorf("order %d: sessions = %d not marked a lower bound (lower bounds %v)", seed, f.Counts["sessions"], f.LowerBounds)
		}
		// The domains past the first names are told apart by hash: their
		// count stays exact.
		if n := f.Counts["recipient_domains"]; n != int64(len(outsideDomains)) || slices.Contains(f.LowerBounds, "recipient_domains") {
			t.Errorf("order %d: %d recipient domains (lower bounds %v), want exactly %d", seed, n, f.LowerBounds, len(outsideDomains))
		}
		if n := f.Counts["sessions"]; n < int64(3*maxRelaySigs) || n > int64(len(relayed)) {
			t.Errorf("order %d: %d relayed sessions, want between %d and %d", seed, n, 3*maxRelaySigs, len(relayed))
		}
		if f.Counts["recipients"] != int64(3*3*maxRelaySigs+10) {
			t.Errorf("order %d: %d recipients relayed, want %d (all outside, the other domains included)", seed, f.Counts["recipients"], 3*3*maxRelaySigs+10)
		}
		got, err := json.Marshal(rep.Findings)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = got
		} else if !bytes.Equal(got, first) {
			t.Fatalf("order %d: findings differ from the first order's", seed)
		}
	}
}

// TestRelayBudgetsOverAllClientsSameWhateverTheOrder: many clients relay
// to more domains and domain sets than the budgets of all clients allow,
// so the per-client bounds shrink. What is kept, and the report, are the
// same whatever the order sessions come in; the bound each ends at is the
// largest under which all clients fit; recipient totals stay exact; the
// report says which budgets were reached.
func TestRelayBudgetsOverAllClientsSameWhateverTheOrder(t *testing.T) {
	const fe = `EX01\Default Frontend EX01`
	const clients = 30
	restore := SetRelayBudgetsForTest(clients*24, clients*12, clients*10)
	defer restore()
	var relayed []*session.Session
	domainsOf := make([]map[string]bool, clients)
	rcpts := 0
	rng := rand.New(rand.NewPCG(11, 11))
	for c := range clients {
		domainsOf[c] = map[string]bool{}
		for i := range 20 + c {
			var to []string
			for j := range 1 + rng.IntN(4) {
				d := fmt.Sprintf("d%03d.example", rng.IntN(60))
				domainsOf[c][d] = true
				to = append(to, fmt.Sprintf("u%d@%s", j, d))
			}
			rcpts += len(to)
			relayed = append(relayed, sess("EX01", fe, "10.1.0.10:25", fmt.Sprintf("198.51.100.%d:%d", 10+c, 1000+i), perms(relayPerms), mail("x@spam.example", to...)))
		}
	}
	// The domain bound the clients must end at: the largest r (from
	// maxRelayDomains down) under which they keep the budget.
	wantR := maxRelayDomains
	for ; wantR > minRelayDomains; wantR-- {
		n := 0
		for _, ds := range domainsOf {
			n += min(len(ds), wantR)
		}
		if n <= maxRelayDomainsAll {
			break
		}
	}
	base := internet("EX01", "10.1.0.10", 20)
	var first []byte
	for seed := range uint64(4) {
		order := slices.Clone(relayed)
		if seed > 0 {
			rand.New(rand.NewPCG(seed, 5)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		d := newRelayDetector()
		for _, s := range order {
			d.observe(s)
		}
		if d.domLimit.r != wantR {
			t.Errorf("order %d: clients name %d domains each, want %d", seed, d.domLimit.r, wantR)
		}
		if d.sigLimit.r >= maxRelaySigs || d.partLimit.r >= maxPartialSigs {
			t.Errorf("order %d: set bounds %d and %d did not shrink", seed, d.sigLimit.r, d.partLimit.r)
		}
		for k, g := range d.groups {
			if len(g.doms) > d.domLimit.r || len(g.sigs) > d.sigLimit.r || len(g.part.m) > d.partLimit.r {
				t.Fatalf("order %d: %v keeps %d domains, %d sets, %d partial: over the bounds %d, %d, %d", seed, k.client,
					len(g.doms), len(g.sigs), len(g.part.m), d.domLimit.r, d.sigLimit.r, d.partLimit.r)
			}
		}
		rep := analyze(Org{}, base, order)
		var recipients int64
		for _, f := range rep.Findings {
			if f.Detector == detectorRelay {
				recipients += f.Counts["recipients"]
			}
		}
		if recipients != int64(rcpts) {
			t.Errorf("order %d: %d recipients relayed, want all %d", seed, recipients, rcpts)
		}
		var tables []string
		for _, b := range rep.Budgets {
			tables = append(tables, b.Table)
		}
		for _, want := range []string{budgetRelayDomains, budgetRelaySigs, budgetRelayParts} {
			if !slices.Contains(tables, want) {
				t.Errorf("order %d: budgets %q do not say %q", seed, tables, want)
			}
		}
		got, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = got
		} else if !bytes.Equal(got, first) {
			t.Fatalf("order %d: report differs from the first order's", seed)
		}
	}
}

// TestRelayDistinctRecipientsEstimated: past the bound on distinct
// recipient addresses, the finding keeps a lower bound and estimates the
// whole from the sample the hashes chose, within a few percent.
func TestRelayDistinctRecipientsEstimated(t *testing.T) {
	const fe = `EX01\Default Frontend EX01`
	const n = 4000
	a := NewAnalyzer(Org{}, AnalyzerOptions{Workers: 1})
	a.detectors[slices.IndexFunc(detectors, func(r registration) bool { return r.name == detectorRelay })].(*RelayDetector).rcptBound = newHashBound(500)
	for _, s := range internet("EX01", "10.1.0.10", 20) {
		a.observe(s)
	}
	for i := range n {
		a.observe(sess("EX01", fe, "10.1.0.10:25", fmt.Sprintf("198.51.100.9:%d", 1000+i), perms(relayPerms), mail("x@spam.example", fmt.Sprintf("victim%d@d%d.example", i, i%50))))
	}
	var f *Finding
	rep := a.Result()
	for i := range rep.Findings {
		if rep.Findings[i].Detector == detectorRelay {
			f = &rep.Findings[i]
		}
	}
	if f == nil {
		t.Fatal("no relay finding")
	}
	kept := f.Counts["distinct_recipients"]
	if kept >= n || kept < 250 || !slices.Contains(f.LowerBounds, "distinct_recipients") {
		t.Fatalf("distinct_recipients %d (lower bounds %v), want a lower bound of %d", kept, f.LowerBounds, n)
	}
	var estimate int64
	for _, fact := range f.Facts {
		if fact.Name == "distinct recipients, estimated" {
			if _, err := fmt.Sscanf(strings.ReplaceAll(fact.Values[0], ",", ""), "about %d:", &estimate); err != nil {
				t.Fatalf("%q: %v", fact.Values[0], err)
			}
		}
	}
	if estimate < n*85/100 || estimate > n*115/100 {
		t.Errorf("estimated %d distinct recipients from %d kept, want about %d", estimate, kept, n)
	}
}

// TestRelayOneSigPerSession: observe counts a session's only relaying
// message with the session, in one sig call, where it made one call per
// message and one for the session (relaySigPerMessage). Both keep the same
// sets, partial signatures and bounds, and report the same findings, with
// sessions of one to three messages (some relaying nothing, some naming
// more than maxSigDomains domains) and budgets low enough that sets are
// dropped, counted in part and past the bounds.
func TestRelayOneSigPerSession(t *testing.T) {
	const fe = `EX01\Default Frontend EX01`
	restore := SetRelayBudgetsForTest(200, 40, 30)
	defer restore()
	rng := rand.New(rand.NewPCG(5, 9))
	var relayed []*session.Session
	for i := range 1500 {
		var msgs []sessOpt
		for range 1 + rng.IntN(3) {
			var to []string
			n := 1 + rng.IntN(4)
			if rng.IntN(40) == 0 {
				n = maxSigDomains + 1 + rng.IntN(5)
			}
			for j := range n {
				r := fmt.Sprintf("u%d@d%03d.example", j, rng.IntN(150))
				switch rng.IntN(10) {
				case 0:
					r += ":550" // refused as relay
				case 1:
					r = fmt.Sprintf("u%d@contoso.com", j) // accepted
				}
				to = append(to, r)
			}
			msgs = append(msgs, mail(fmt.Sprintf("s%d@spam.example", rng.IntN(5)), to...))
		}
		opts := append([]sessOpt{perms(relayPerms), at(time.Duration(rng.IntN(72)) * time.Hour)}, msgs...)
		relayed = append(relayed, sess("EX01", fe, "10.1.0.10:25", fmt.Sprintf("198.51.100.%d:%d", 1+rng.IntN(20), 1000+i), opts...))
	}
	run := func(perMessage bool) (*RelayDetector, []byte) {
		defer func(was bool) { relaySigPerMessage = was }(relaySigPerMessage)
		relaySigPerMessage = perMessage
		d := newRelayDetector()
		for _, s := range relayed {
			d.observe(s)
		}
		rep, err := json.Marshal(analyze(Org{}, internet("EX01", "10.1.0.10", 20), relayed))
		if err != nil {
			t.Fatal(err)
		}
		return d, rep
	}
	general, generalRep := run(true)
	fast, fastRep := run(false)
	if general.sigLimit != fast.sigLimit || general.partLimit != fast.partLimit || general.domLimit != fast.domLimit {
		t.Errorf("bounds %v %v %v, counting every message apart %v %v %v",
			fast.sigLimit, fast.partLimit, fast.domLimit, general.sigLimit, general.partLimit, general.domLimit)
	}
	partial := false
	for k, g := range general.groups {
		f := fast.groups[k]
		if f == nil || !maps.Equal(sigsByKey(f), sigsByKey(g)) || !maps.Equal(f.part.m, g.part.m) || f.part.over != g.part.over || f.sessions != g.sessions {
			t.Fatalf("%v: sets %v, partial %v (over %v), counting every message apart: %v, %v (over %v)",
				k.client, f.sigs, f.part.m, f.part.over, g.sigs, g.part.m, g.part.over)
		}
		partial = partial || len(g.part.m) > 0 && g.part.over.sessions > 0
	}
	if len(general.groups) != len(fast.groups) {
		t.Errorf("%d groups, counting every message apart %d", len(fast.groups), len(general.groups))
	}
	if !partial || fast.sigLimit.r >= maxRelaySigs {
		t.Errorf("the sessions did not reach the bounds (sets bound %d, no group past its partial signatures): the test tests less than it says", fast.sigLimit.r)
	}
	if !bytes.Equal(fastRep, generalRep) {
		t.Error("the reports differ")
	}
}
