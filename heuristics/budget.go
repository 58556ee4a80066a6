package heuristics

import (
	"bytes"
	"cmp"
	"container/heap"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// Memory budgets. What a scan keeps per distinct address (the summary's
// sessions per remote address per connector, the hidden-NAT detector's
// sessions per public client per server, the connector usage's sessions per
// client per connector) and per distinct session length would otherwise
// grow with the input: a million addresses cost 160 MiB. Each such table
// keeps exact counts until it reaches its budget; past it, it still counts
// every session, the ones it no longer lists together per group ("other
// addresses"), and the report says where a budget was reached (Budget).
// What is kept never depends on the order sessions arrive in, so numbers
// do not depend on the worker count or file order.
const (
	// MaxAddrEntries bounds each per-address table, all its groups
	// (connectors, servers) together: about 45 bytes an entry, 6 MiB a
	// table.
	MaxAddrEntries = 131_072
	// MaxLengthValues bounds the distinct session lengths (at the logs'
	// millisecond resolution) the summary counts per connector: about 20
	// bytes each. Real connectors have a few thousand.
	MaxLengthValues = 16_384
)

// The budgets in force; tests lower them (SetBudgetsForTest).
var (
	maxAddrEntries  = MaxAddrEntries
	maxLengthValues = MaxLengthValues
)

// SetBudgetsForTest sets the budgets (0 leaves one as it is) and returns
// a function that restores them. For tests only: it is not safe while a
// scan runs.
func SetBudgetsForTest(addrEntries, lengthValues int) (restore func()) {
	a, l := maxAddrEntries, maxLengthValues
	if addrEntries > 0 {
		maxAddrEntries = addrEntries
	}
	if lengthValues > 0 {
		maxLengthValues = lengthValues
	}
	return func() { maxAddrEntries, maxLengthValues = a, l }
}

// SetSendHoursBudgetForTest sets the compromised-account detector's budget
// of recipients-per-hour entries and returns a function that restores it.
// For tests only.
func SetSendHoursBudgetForTest(n int) (restore func()) {
	old := maxSendHours
	maxSendHours = n
	return func() { maxSendHours = old }
}

// Budget says that a table reached its budget: where, how much it kept,
// and what it counted without listing.
type Budget struct {
	// Table names what was bounded ("summary: sessions per remote address").
	Table string `json:"table"`
	// Limit is the budget: entries for all of Where together (addresses),
	// or per connector (session lengths).
	Limit int64 `json:"limit"`
	// Where are the connectors or servers the budget cut, in order.
	Where []BudgetPlace `json:"where"`
	// Meaning says what stays exact.
	Meaning string `json:"meaning"`
}

// BudgetPlace is one connector or server a budget cut.
type BudgetPlace struct {
	Server    string `json:"server"`
	Connector string `json:"connector,omitempty"`
	LogType   string `json:"log_type,omitempty"`
	// Kept is how many addresses it lists with exact counts (its lowest);
	// OtherSessions the sessions of the addresses not kept, counted
	// together (exact); there was at least one such address.
	Kept          int64 `json:"kept_addresses,omitempty"`
	OtherSessions int64 `json:"other_sessions,omitempty"`
	// ResolutionMS is the width of a session-length bucket once the
	// lengths were counted coarser than the logs' millisecond.
	ResolutionMS int64 `json:"length_resolution_ms,omitempty"`
}

// Budget tables.
const (
	budgetSummaryRemote = "summary: sessions per remote address per connector"
	budgetNATClients    = "hidden NAT: sessions per client per server (clients off the server's subnet)"
	budgetUsage         = "connector usage: sessions per direct client per receive connector"
	budgetLengths       = "summary: session lengths per connector"
	meaningAddr         = "every connector or server keeps the same number of its lowest addresses with exact session counts; the sessions of the other addresses are counted together, so session totals stay exact; distinct address counts and lists drawn from the table cover the kept addresses only"
	meaningLengths      = "lengths counted in buckets of length_resolution_ms: the median and p95 printed are the start of their bucket, at most that much below the true figure"
)

// addrTable counts sessions per (group, address) for a few groups
// (connectors, servers), keeping at most limit entries in all. Every group
// keeps the same number r of its lowest addresses, r as large as the
// limit allows (a group with fewer keeps all): an attack on one connector
// cannot push another's few clients out. r only shrinks, and a key is
// dropped only when r smaller keys of its group are kept, so what is kept
// at the end depends on the set of (group, address) seen, never on the
// order: kept counts are exact, and each group's rest counts the sessions
// of its addresses not kept.
type addrTable struct {
	groups  []*addrGroup
	total   int // entries kept in all groups
	r       int // per-group limit, once limited
	limited bool
	// noFastV4 counts IPv4 addresses in the map like the others: the
	// slow path the tests compare v4Counts with.
	noFastV4 bool
}

type addrGroup struct {
	// v4 counts the IPv4 addresses (and IPv4-mapped IPv6, the same key
	// in m) below the budget; once the table is limited they move into
	// m, and v4 is no longer used.
	v4      v4Counts
	m       map[[16]byte]int64 // IPv4 as ::ffff:a.b.c.d
	h       addrHeap           // the kept keys, largest first, once limited
	invalid int64              // sessions without an address (always kept)
	hasInv  bool
	rest    int64 // sessions of addresses not kept
	dropped bool  // some address was not kept
}

// group returns group g, creating groups up to it.
func (t *addrTable) group(g uint32) *addrGroup {
	for int(g) >= len(t.groups) {
		t.groups = append(t.groups, &addrGroup{m: map[[16]byte]int64{}})
	}
	return t.groups[g]
}

func (t *addrTable) add(g uint32, a netip.Addr, n int64) {
	x := t.group(g)
	if !a.IsValid() {
		x.invalid += n
		x.hasInv = true
		return
	}
	k := a.As16()
	if !t.limited {
		// Below the budget every address is kept: one map operation
		// counts it, where looking it up first made two (a hash and a
		// probe each) for the addresses seen before, nearly all of them.
		if v4, ok := v4Key(k); ok && !t.noFastV4 {
			if !x.v4.add(v4, n) {
				return
			}
		} else {
			before := len(x.m)
			if x.m[k] += n; len(x.m) == before {
				return
			}
		}
		t.total++
		if t.total > maxAddrEntries {
			t.shrink()
		}
		return
	}
	if c, ok := x.m[k]; ok {
		x.m[k] = c + n
		return
	}
	if len(x.m) >= t.r {
		if t.r == 0 || bytes.Compare(k[:], x.h[0][:]) >= 0 {
			x.rest += n
			x.dropped = true
			return
		}
		x.evict()
		t.total--
	}
	x.m[k] = n
	heap.Push(&x.h, k)
	t.total++
	if t.total > maxAddrEntries {
		t.shrink()
	}
}

// shrink brings the table back within the budget once an address was
// added past it.
func (t *addrTable) shrink() {
	for t.total > maxAddrEntries {
		// Shrink every group to r-1: the budget is shared alike.
		if !t.limited {
			// The heaps are built only now: below the budget they
			// would cost 16 bytes an address for nothing.
			t.limited = true
			for _, y := range t.groups {
				y.v4.moveTo(y.m)
				t.r = max(t.r, len(y.m))
				y.h = make(addrHeap, 0, len(y.m))
				for a := range y.m {
					y.h = append(y.h, a)
				}
				heap.Init(&y.h)
			}
		}
		t.r--
		for _, y := range t.groups {
			for len(y.m) > t.r {
				y.evict()
				t.total--
			}
		}
	}
}

// evict drops the group's largest kept address into its rest.
func (x *addrGroup) evict() {
	k := heap.Pop(&x.h).([16]byte)
	x.rest += x.m[k]
	x.dropped = true
	delete(x.m, k)
}

// kept lists group g's kept addresses (invalid last, as the zero Addr).
func (t *addrTable) kept(g uint32) []AddrCount {
	if int(g) >= len(t.groups) {
		return nil
	}
	x := t.groups[g]
	out := make([]AddrCount, 0, len(x.m)+1)
	for k, n := range x.m {
		out = append(out, AddrCount{netip.AddrFrom16(k).Unmap(), n})
	}
	for _, e := range x.v4.slots {
		if e.key != 0 {
			out = append(out, AddrCount{netip.AddrFrom4(e.addr()), e.n})
		}
	}
	if x.hasInv {
		out = append(out, AddrCount{netip.Addr{}, x.invalid})
	}
	return out
}

// distinct is how many distinct addresses group g kept (the invalid one
// included), and whether some were not kept (then there were more).
func (t *addrTable) distinct(g uint32) (n int, more bool) {
	if int(g) >= len(t.groups) {
		return 0, false
	}
	x := t.groups[g]
	n = len(x.m) + x.v4.n
	if x.hasInv {
		n++
	}
	return n, x.dropped
}

// rest is group g's sessions of addresses not kept, and whether any was dropped.
func (t *addrTable) rest(g uint32) (int64, bool) {
	if int(g) >= len(t.groups) {
		return 0, false
	}
	return t.groups[g].rest, t.groups[g].dropped
}

// v4Counts counts sessions per IPv4 address in an open-addressing table
// (linear probing, at most 3/4 full). It stands in for addrGroup.m below
// the budget, where nearly every session of a scan adds to one: a Go map
// reaches a slot through its header, directory, table and group, each a
// cache miss once the parser has streamed through the caches between two
// sessions, where this reaches it through the slice alone, in 16 bytes a
// slot instead of 24.
type v4Counts struct {
	slots []v4Slot // a power of two of them, or none
	n     int      // slots in use
	seed  uint64   // hash seed: addresses come from the Internet
}

// v4Slot is one address's count; key is the address with bit 32 set
// (0.0.0.0 too is an address), 0 for a free slot.
type v4Slot struct {
	key uint64
	n   int64
}

func (e v4Slot) addr() [4]byte {
	return [4]byte{byte(e.key >> 24), byte(e.key >> 16), byte(e.key >> 8), byte(e.key)}
}

// v4Key is the IPv4 address in an addrGroup.m key (::ffff:a.b.c.d), if
// it is one.
func v4Key(k [16]byte) (uint32, bool) {
	if [12]byte(k[:12]) != [12]byte{10: 0xff, 11: 0xff} {
		return 0, false
	}
	return uint32(k[12])<<24 | uint32(k[13])<<16 | uint32(k[14])<<8 | uint32(k[15]), true
}

// add counts n sessions of a and reports whether a is new.
func (c *v4Counts) add(a uint32, n int64) bool {
	if c.n >= len(c.slots)/4*3 {
		c.grow()
	}
	key := uint64(a) | 1<<32
	mask := uint64(len(c.slots) - 1)
	for i := c.hash(key) & mask; ; i = (i + 1) & mask {
		e := &c.slots[i]
		if e.key == key {
			e.n += n
			return false
		}
		if e.key == 0 {
			e.key, e.n = key, n
			c.n++
			return true
		}
	}
}

// hash mixes key with the seed (MurmurHash3's finalizer): linear
// probing needs every bit of the address to reach the low bits, and
// addresses an attacker picks must not pile onto one run of slots.
func (c *v4Counts) hash(key uint64) uint64 {
	h := key ^ c.seed
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (c *v4Counts) grow() {
	old := c.slots
	if old == nil {
		c.seed = rand.Uint64()
	}
	c.slots = make([]v4Slot, max(16, 2*len(old)))
	mask := uint64(len(c.slots) - 1)
	for _, e := range old {
		if e.key == 0 {
			continue
		}
		i := c.hash(e.key) & mask
		for c.slots[i].key != 0 {
			i = (i + 1) & mask
		}
		c.slots[i] = e
	}
}

// moveTo adds the counts to m, under addrGroup.m's keys, and empties c.
func (c *v4Counts) moveTo(m map[[16]byte]int64) {
	for _, e := range c.slots {
		if e.key != 0 {
			m[netip.AddrFrom4(e.addr()).As16()] += e.n
		}
	}
	*c = v4Counts{}
}

// addrHeap is a max-heap of addresses.
type addrHeap [][16]byte

func (h addrHeap) Len() int           { return len(h) }
func (h addrHeap) Less(i, j int) bool { return bytes.Compare(h[i][:], h[j][:]) > 0 }
func (h addrHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *addrHeap) Push(x any)        { *h = append(*h, x.([16]byte)) }
func (h *addrHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// lengthHist counts session lengths per length at the logs' resolution
// (milliseconds), so the median and percentiles are exact, in memory that
// grows with distinct lengths, not sessions. Past maxLengthValues distinct
// buckets the buckets double in width until they fit: the width reached
// depends only on the lengths seen, not their order.
type lengthHist struct {
	res int64           // bucket width in ms, a power of two (0: 1)
	m   map[int64]int64 // bucket (length in ms / res, floored) -> sessions
	n   int64
	// short counts the lengths under maxShortLength ms, by length, while
	// the buckets are 1 ms wide: most sessions last a few seconds, and an
	// index costs a fraction of a map's hash and probes (cache misses,
	// between sessions). It grows by doubling to the longest such length
	// seen, 64 KiB at most. Its distinct lengths (shortDistinct) count
	// towards maxLengthValues with the map's: the budget is reached
	// exactly when it would be without it, and then short joins the map.
	short         []int64
	shortDistinct int
}

// maxShortLength bounds the lengths lengthHist.short counts, in ms.
const maxShortLength = 8192

func (h *lengthHist) add(d time.Duration) {
	if h.m == nil {
		h.m, h.res = map[int64]int64{}, 1
	}
	ms := d.Milliseconds()
	if d < 0 && d%time.Millisecond != 0 {
		ms-- // floor
	}
	h.n++
	if h.res == 1 && ms >= 0 && ms < maxShortLength {
		if ms >= int64(len(h.short)) {
			n := min(maxShortLength, max(64, 2*len(h.short), int(ms)+1))
			h.short = append(h.short, make([]int64, n-len(h.short))...)
		}
		if h.short[ms] == 0 {
			h.shortDistinct++
		}
		h.short[ms]++
	} else {
		h.m[floorDiv(ms, h.res)]++
	}
	if len(h.m)+h.shortDistinct > maxLengthValues {
		h.foldShort()
	}
	for len(h.m) > maxLengthValues {
		old := h.m
		h.m, h.res = make(map[int64]int64, len(old)/2+1), h.res*2
		for b, n := range old {
			h.m[floorDiv(b, 2)] += n
		}
	}
}

// foldShort moves the lengths counted in short into the map.
func (h *lengthHist) foldShort() {
	for ms, n := range h.short {
		if n != 0 {
			h.m[int64(ms)] += n
		}
	}
	h.short, h.shortDistinct = nil, 0
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// quantiles returns the median (the mean of the two middle lengths for an
// even count) and the 95th percentile by nearest rank, in seconds, as
// stats.Median and stats.PercentileNearestRank compute them over every
// length; with buckets wider than 1 ms, each length is its bucket's start.
func (h *lengthHist) quantiles() (median, p95 float64) {
	if h.n == 0 {
		return math.NaN(), math.NaN()
	}
	h.foldShort() // the same counts, in the map: still within the budget
	keys := make([]int64, 0, len(h.m))
	for b := range h.m {
		keys = append(keys, b)
	}
	slices.Sort(keys)
	// at returns the i-th smallest length (0-based) in seconds.
	at := func(i int64) float64 {
		for _, b := range keys {
			if i < h.m[b] {
				return (time.Duration(b*h.res) * time.Millisecond).Seconds()
			}
			i -= h.m[b]
		}
		return math.NaN()
	}
	if h.n%2 == 0 {
		sum := 0.0
		sum += at(h.n/2 - 1)
		sum += at(h.n / 2)
		median = sum / 2
	} else {
		median = at(h.n / 2)
	}
	rank := int64(math.Ceil(float64(h.n) * 95 / 100))
	p95 = at(max(rank-1, 0))
	return median, p95
}

// resolution is the bucket width in ms (1: exact).
func (h *lengthHist) resolution() int64 { return cmp.Or(h.res, 1) }

// sortPlaces orders places by log type, server and connector.
func sortPlaces(p []BudgetPlace) []BudgetPlace {
	slices.SortFunc(p, func(a, b BudgetPlace) int {
		return cmp.Or(cmp.Compare(a.LogType, b.LogType), cmp.Compare(a.Server, b.Server), cmp.Compare(a.Connector, b.Connector))
	})
	return p
}

// hashBound bounds the values a table keeps by their 64-bit hash: past
// budget values only hashes at most max are kept, max halving until they
// fit. Which are kept then depends only on the hashes seen, not on the
// order they came in: those at most the largest halving of MaxUint64 under
// which all of them fit.
type hashBound struct {
	n, budget int
	max       uint64
}

func newHashBound(budget int) hashBound { return hashBound{budget: budget, max: math.MaxUint64} }

// admits reports whether a value hashed h may be kept.
func (b *hashBound) admits(h uint64) bool { return h <= b.max }

// kept counts one more value kept. Past the budget it halves max and calls
// purge(max), which drops the values hashed above max and returns how many
// it dropped, until the values fit.
func (b *hashBound) kept(purge func(max uint64) int) {
	b.n++
	for b.n > b.budget {
		b.max >>= 1
		b.n -= purge(b.max)
	}
}

// groupLimit is a per-group limit on entries (a relaying client's named
// domains, say) that shrinks so that all groups together keep at most
// budget: each group keeps its r smallest entries, r as large as the
// budget allows, never below min. r shrinks only when the entries kept,
// and the one about to be, would not fit at r, and each group's kept
// entries are its r smallest seen, so r and what is kept at the end depend
// only on what was seen, not on the order (as addrTable's r).
type groupLimit struct {
	r, min, n, budget int
}

// room reports whether a group holding have() entries may add one more.
// At the budget it first lowers r by one and calls shrink(r), which drops
// every group's entries past its r smallest and returns how many it
// dropped, until the entry fits or r is min. It shrinks only for a group
// below r: one at r only swaps an entry for a smaller one, which takes no
// room.
func (l *groupLimit) room(have func() int, shrink func(r int) int) bool {
	for l.r > l.min && have() < l.r && l.n >= l.budget {
		l.r--
		l.n -= shrink(l.r)
	}
	return have() < l.r
}

// lowestKeys bounds a map to limit keys, keeping its lowest keys (by cmp)
// whatever the order they arrive in, in no memory beyond the map's: when a
// new key finds the map full, the map is cut at once to its keepOf(limit)
// lowest keys (a sixteenth of room, so that cuts are rare) and from then
// on a key above the last kept is refused. finish cuts the map to
// keepOf(limit) once more, so that in the end, once more than limit keys
// came, the map holds the keepOf(limit) lowest of all keys seen, each
// since its first occurrence (a key is dropped only when keepOf(limit)
// lower ones are kept, and never comes back); with limit keys or fewer,
// all of them.
type lowestKeys[K any] struct {
	cut  bool // more than limit keys came: some were dropped or refused
	last K    // the highest key kept at the last cut; keys above it are refused
}

// keepOf is how many keys a map bounded to limit (at least 2) keeps once
// cut.
func keepOf(limit int) int { return max(1, limit-max(1, limit/16)) }

// admitKey reports whether k, a key not in m, may be added to m, which
// holds n keys subject to the bound (a caller's overflow key aside). When
// m is full it cuts it first; drop is given each key cut, before it is
// deleted, to count its value elsewhere. fixed, if not nil, names keys
// that are never cut (an overflow key).
func admitKey[K comparable, V any](b *lowestKeys[K], m map[K]V, n int, k K, limit int, cmp func(K, K) int, fixed func(K) bool, drop func(K, V)) bool {
	if b.cut && cmp(k, b.last) > 0 {
		return false
	}
	if n < limit {
		return true
	}
	cutKeys(b, m, keepOf(limit), cmp, fixed, drop)
	return cmp(k, b.last) < 0
}

// finishKeys cuts m to the keys a bound of limit keeps in the end (see
// lowestKeys).
func finishKeys[K comparable, V any](b *lowestKeys[K], m map[K]V, limit int, cmp func(K, K) int, fixed func(K) bool, drop func(K, V)) {
	if b.cut {
		cutKeys(b, m, keepOf(limit), cmp, fixed, drop)
	}
}

// cutKeys drops m's keys past its keep lowest (fixed ones aside).
func cutKeys[K comparable, V any](b *lowestKeys[K], m map[K]V, keep int, cmp func(K, K) int, fixed func(K) bool, drop func(K, V)) {
	keys := make([]K, 0, len(m))
	for k := range m {
		if fixed == nil || !fixed(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) <= keep {
		return // finishing a map that has not refilled
	}
	b.cut = true
	slices.SortFunc(keys, cmp)
	for _, k := range keys[keep:] {
		drop(k, m[k])
		delete(m, k)
	}
	b.last = keys[keep-1]
}
